/*
 * kb/doc_list.h — every document of an index: id, title, categories, validity, updated.
 *
 * Content health needs the documents that were *never* returned, so it needs the full list, which
 * no search gives. This reads it with xapian/xapian.h's reader API (one pass over the document
 * table, each document's stored form (document/stored_doc.h) read for the few fields above), without
 * touching the searcher. Cost: about 1 s for 100,000 documents, so callers cache it per index
 * revision.
 */
#ifndef KB_DOC_LIST_H
#define KB_DOC_LIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *id;
    char *title;
    char **categories;
    size_t n_categories;
    char valid_from[11];  /* "YYYY-MM-DD" or "" */
    char valid_until[11]; /* "YYYY-MM-DD" or "" */
    char updated[11];     /* "YYYY-MM-DD" or "" */
} kb_doc_info;

typedef struct {
    kb_doc_info *docs;   /* sorted by id */
    size_t n;
    uint64_t revision;   /* the index revision read */
} kb_doc_list;

/* Read the list of the index at index_dir. Returns 0, or -1 with the reason in err. */
int kb_doc_list_read(const char *index_dir, kb_doc_list *out, char *err, size_t err_len);
void kb_doc_list_free(kb_doc_list *l);

/* The document with this id, or NULL (binary search). */
const kb_doc_info *kb_doc_list_find(const kb_doc_list *l, const char *id);

#endif
