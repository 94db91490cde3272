/*
 * kb/document.h — parse knowledge-base XML files (format version 1, see docs/FORMAT.md).
 *
 * A file holds one <document> or a <documents> element holding many. Each file is validated
 * against the RELAX NG schema docs/kb-document.rng (compiled into the library, so the binaries do
 * not depend on the working directory) and then checked for what RELAX NG cannot say (id
 * syntax, dates that exist, ids unique within a file; across files the indexer decides).
 *
 * Parsing is hostile-input safe: no network access, no external entities or DTDs loaded, entity
 * expansion bounded (billion-laughs files fail fast), nesting depth and text sizes bounded.
 *
 * Every problem is reported through a callback as FILE:LINE plus a message; a bad document does
 * not stop the valid documents of the same file from being delivered, when the file is
 * well-formed XML. A file that is not well-formed XML delivers no document at all.
 */
#ifndef KB_DOCUMENT_H
#define KB_DOCUMENT_H

#include <stddef.h>
#include <string.h>

#include "kb/status.h"

/* One block of body text: a paragraph, a list item or a table row (cells joined by " | "). A
 * row whose cells are all <th> is a header row: its text is searchable like any other, and a
 * snippet shows it only together with a row it heads ("header cell: row cell"). Kinds are stored
 * in the index as their numbers (document/stored_doc.c), so new kinds go at the end. */
typedef enum { KB_BLOCK_PARAGRAPH, KB_BLOCK_ITEM, KB_BLOCK_ROW, KB_BLOCK_HEADER } kb_block_kind;

typedef struct {
    kb_block_kind kind;
    char *text; /* UTF-8, whitespace collapsed, never NULL */
    int line;   /* line in the source file */
} kb_block;

/* A <section> of the body. Paragraphs directly under <body> go into sections with id "" and
 * title "" (one such section per run of consecutive top-level blocks). */
typedef struct {
    char *id;    /* the section's id attribute, or "" */
    char *title; /* the section's title attribute, or "" */
    kb_block *blocks;
    size_t n_blocks;
} kb_section;

/* The one rule for document ids, in documents, the API and the index: 1 to KB_DOC_ID_MAX of
 * A-Z a-z 0-9 . _ : - (the contract's [A-Za-z0-9._:-]{1,128}). */
#define KB_DOC_ID_MAX 128
#define KB_DOC_ID_RULE "use 1-128 of A-Z a-z 0-9 . _ : -"
/* 1 when s[0..len) is a valid document id. */
int kb_document_id_is_valid(const char *s, size_t len);
/* Longest category path, in bytes, that a search filter or an editor's category may name
 * (documents' categories are short paths such as 业务办理/漫游). */
#define KB_CATEGORY_MAX 256

typedef struct {
    char *id;          /* [A-Za-z0-9._:-]{1,128} */
    char *lang;        /* the lang attribute, or "" */
    char *title;
    char **categories; /* each a '/'-separated path with empty parts removed, e.g. "业务办理/漫游" */
    size_t n_categories;
    char *keywords;    /* whitespace-separated, or "" */
    char valid_from[11];  /* "YYYY-MM-DD" or "" when absent */
    char valid_until[11]; /* "YYYY-MM-DD" or "" when absent */
    char updated[11];     /* "YYYY-MM-DD" or "" when absent */
    char **questions;
    size_t n_questions;
    kb_section *sections;
    size_t n_sections;
    /* <must-know> (应知应会, issue 19): 1 when every agent the document applies to must know it.
     * must_know_teams names those teams; none (n_must_know_teams 0) means every team. Teams are
     * whitespace-collapsed, unique, 1 to KB_DOCUMENT_TEAM_MAX_CHARS characters. */
    int must_know;
    char **must_know_teams;
    size_t n_must_know_teams;
    const char *source; /* the file it came from (borrowed from the parser call) */
    int line;           /* line of the <document> start tag */
} kb_document;

/* The date "YYYY-MM-DD" as "YYYYMMDD" in out, which sorts and compares as a string (the form of
 * the index's date values and of the daemon's "today"). Returns 0, leaving out untouched, when
 * date is not 10 characters long (the documents' dates are "" when absent). */
static inline int kb_document_date_compact(const char *date, char out[9])
{
    if (strlen(date) != 10) return 0;
    memcpy(out, date, 4);
    memcpy(out + 4, date + 5, 2);
    memcpy(out + 6, date + 8, 2);
    out[8] = '\0';
    return 1;
}

/* Longest team name in <must-know><team>, in characters. 32 characters are at most 128 bytes of
 * UTF-8, the agents list's limit for a team (KB_AGENT_FIELD_MAX in kb/review.h), so every team
 * a document names can be an agent's team. */
#define KB_DOCUMENT_TEAM_MAX_CHARS 32

/* The one rule of must-know (issue 19), for documents and search hits alike: 1 when must_know is
 * set and either teams is empty (every team) or team is one of them. team may be NULL or "" (an
 * agent without a team): then only an every-team document counts. */
int kb_must_know_applies(int must_know, char *const *teams, size_t n_teams, const char *team);

/* 1 when doc is a must-know document for an agent of team (kb_must_know_applies). */
int kb_document_must_know_for(const kb_document *doc, const char *team);

/* Called once per valid document; the document is freed after the callback returns.
 * Return 0 to go on, non-zero to stop parsing this file (the parse then returns KB_STOPPED). */
typedef int (*kb_document_fn)(const kb_document *doc, void *user);

/* Called once per problem, with the file, the line (0 when unknown) and a message in English
 * that says what is wrong, e.g. "document 'x': <title> is required". The line is
 * KB_PROBLEM_IO_LINE when the file itself could not be read (it could not be opened, is not a
 * regular file, or a read failed): an I/O error about the path, not a problem at a line. */
typedef void (*kb_problem_fn)(const char *file, int line, const char *message, void *user);
#define KB_PROBLEM_IO_LINE (-1)

/* Parse one file. Returns KB_OK when every document in the file was valid; KB_INVALID when some
 * problem was reported (the valid documents were still delivered); KB_ERROR when the file could
 * not be read (reported through the problem callback); KB_STOPPED when the document callback
 * asked to stop. Thread-safe (no shared state after kb_document_global_init). */
int kb_document_parse_file(const char *path, kb_document_fn on_document, kb_problem_fn on_problem,
                           void *user);

/* Parse an in-memory buffer as if it were the file named `name` (used by tests and fuzzers). */
int kb_document_parse_memory(const char *data, size_t len, const char *name,
                             kb_document_fn on_document, kb_problem_fn on_problem, void *user);

/* Initialise libxml2 and compile the schema once per process. Returns 0 on success; call before
 * any parse from the main thread. Safe to call more than once. */
int kb_document_global_init(void);

/* Largest input file accepted, in bytes; larger files are reported and skipped. */
#define KB_DOCUMENT_MAX_FILE_BYTES (512u * 1024u * 1024u)
/* Largest amount of text and attribute values in one <document>, and most elements and
 * attributes in one <document>: each document is held in memory while it is checked, so these
 * bound memory (and what a stored document may claim, document/stored_doc.h). */
#define KB_DOCUMENT_MAX_DOC_BYTES (16u * 1024u * 1024u)
#define KB_DOCUMENT_MAX_DOC_ELEMENTS 100000u
/* Largest text of one element (title, question, paragraph...), in bytes. */
#define KB_DOCUMENT_MAX_TEXT_BYTES (1u * 1024u * 1024u)

#endif
