/*
 * index_schema.h — the layout of the index, in one place: the prefixes of boolean terms, the
 * value slots, the within-document frequency of each field and the metadata keys.
 *
 * Shared by the layer that writes the index (kb/index, and the bulk builder through it), the one
 * that reads it (kb/search: filters, validity ranges, the document view) and anything that looks
 * terms up. Changing a prefix or a slot changes the index format: bump KB_INDEX_FORMAT
 * (kb/index.h) so the next run rewrites every document.
 */
#ifndef KB_INDEX_SCHEMA_H
#define KB_INDEX_SCHEMA_H

/* Boolean (filter) term prefixes, Xapian's convention: upper-case, X for the project's own. */
#define KB_TERM_ID "Q"        /* Q<document id>: the unique term that replaces a document */
#define KB_TERM_CATEGORY "XC" /* XC<folded category path>, one per level of every category */
#define KB_TERM_KEYWORD "XK"  /* XK<keyword> */
#define KB_TERM_SOURCE "XF"   /* XF<source file path> */
#define KB_TERM_MUST_KNOW "XM" /* on every must-know document (<must-know>, any teams; format 6) */

/* Value slots. */
enum {
    KB_SLOT_VALID_FROM = 0,  /* "YYYYMMDD", "00000000" when open */
    KB_SLOT_VALID_UNTIL = 1, /* "YYYYMMDD", "99999999" when open */
    KB_SLOT_UPDATED = 2,     /* "YYYYMMDD" or "" */
    KB_SLOT_HASH = 3,        /* hex content hash, to skip unchanged documents */
    KB_SLOT_ID = 4           /* the document id */
};

/* Within-document frequency given to each occurrence of a term, by field. */
enum {
    KB_WDF_TITLE = 6,
    KB_WDF_QUESTION = 4,
    KB_WDF_KEYWORD = 3,
    KB_WDF_CATEGORY = 2,
    KB_WDF_SECTION_TITLE = 2,
    KB_WDF_BODY = 1
};

/* Metadata: when kb-indexer published the revision (Unix seconds, decimal), and the
 * KB_INDEX_FORMAT it was written with. */
#define KB_META_FORMAT "format"
#define KB_META_PUBLISHED_AT "published_at"

#endif
