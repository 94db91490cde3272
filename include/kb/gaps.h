/*
 * kb/gaps.h — the editors' queue of unanswered questions, and content health.
 *
 * Every unresolved search, every "not found" feedback on a search the service thought it had
 * answered, and every help request judged not answerable (after a lead's review, kb/review.h)
 * becomes a question in the queue. Questions that ask the same thing, whatever the wording or
 * script, form one item (a "group"): kb_gaps_terms() turns a question into grouping terms and a
 * kb_gap_clusterer assigns it to the most similar open group or starts a new one. Items are
 * ranked by impact (questions x distinct agents), move through open -> in_progress -> answered
 * or dismissed, and after every re-index the open ones are searched again: an item the
 * knowledge base now answers confidently is marked "answered by X?" (suggested_answer).
 *
 * Storage: the gap_* tables of the event store (schema v2, kb/events/store.c), in its SQLite file
 * or its PostgreSQL database (docs/CLUSTER.md). A kb_gaps handle has its own connection (busy
 * timeout 5 s; writes in short write transactions, one writer at a time on either database) so it
 * never touches the store's writer queue; docs/GAPS.md says why. Questions are copied from the
 * store, where they were redacted before being written; notes are redacted here. With several
 * kb-searchd on one PostgreSQL store, the work that keeps the queue current runs on one of them
 * at a time (kb_gaps_role).
 *
 * A kb_gaps handle is not thread-safe: one per thread (kb-searchd opens one per request and one
 * for its background feeder).
 */
#ifndef KB_GAPS_H
#define KB_GAPS_H

#include <stddef.h>
#include <stdint.h>

#include "kb/analyzer.h"
#include "kb/status.h"
#include "kb/doc_list.h"
#include "kb/search.h"

/* ---------------------------------------------------------------- grouping */

/* Similarity (0..1) a question needs with an open group's centroid to join it. Measured on
 * tests/data/grouping.tsv; see docs/GAPS.md. */
#ifndef KB_GAPS_THRESHOLD
#define KB_GAPS_THRESHOLD 0.30
#endif
/* Weight of a single Han character relative to a word or bigram. Characters carry as much as
 * words: they match across typos (挂湿/挂失), segmentations and abbreviations (来显). */
#ifndef KB_GAPS_UNIGRAM_WEIGHT
#define KB_GAPS_UNIGRAM_WEIGHT 1.0
#endif
/* Weight of a bigram inside a longer word (信用 in 信用卡). */
#ifndef KB_GAPS_SUBWORD_WEIGHT
#define KB_GAPS_SUBWORD_WEIGHT 0.5
#endif
/* Weight of a general service word (办理, 流程, 多少钱 …). */
#ifndef KB_GAPS_GENERIC_WEIGHT
#define KB_GAPS_GENERIC_WEIGHT 0.3
#endif
/* Knowledge-base IDF assumed for a term when no index is at hand. */
#define KB_GAPS_IDF_UNKNOWN 3.0

/* The grouping terms of a question, sorted and space-separated (malloc'd; NULL when out of
 * memory; "" when nothing informative is left, e.g. only question words). See gaps_terms.c. */
char *kb_gaps_terms(kb_analyzer *a, const char *question);
/* The version of the rules kb_gaps_terms follows; bump it whenever they change what a question
 * gives, and the queue analyzes its stored questions again (gap_progress 'terms_version';
 * kb_gaps_ingest does it a batch at a time). 2: redaction placeholders and digit runs left out. */
#define KB_GAPS_TERMS_VERSION 2

/* Inverse document frequency of a term in the knowledge base, or a negative number when
 * unknown. */
typedef double (*kb_gap_idf_fn)(const char *term, void *user);

typedef struct kb_gap_clusterer kb_gap_clusterer;

/* An empty clusterer; idf may be NULL (every term then gets KB_GAPS_IDF_UNKNOWN). */
kb_gap_clusterer *kb_gap_clusterer_new(kb_gap_idf_fn idf, void *user);
void kb_gap_clusterer_free(kb_gap_clusterer *c);
/* Add an existing group: its id, its centroid as kb_gap_clusterer_terms() wrote it, and its
 * number of questions. Returns the group's index, or -1 when out of memory. */
long kb_gap_clusterer_load(kb_gap_clusterer *c, int64_t id, const char *terms, double members);
/* Assign a question (its kb_gaps_terms()) to the most similar group, or to a new group (id 0
 * until kb_gap_clusterer_set_group_id). Returns the group's index (-1: out of memory); *sim gets
 * the similarity that decided (0 for a new group). */
long kb_gap_clusterer_assign(kb_gap_clusterer *c, const char *terms, double *sim);
/* Add a question to a given group (rebuilding a centroid from its questions). 0, or -1. */
int kb_gap_clusterer_add_to(kb_gap_clusterer *c, long index, const char *terms);
int64_t kb_gap_clusterer_group_id(const kb_gap_clusterer *c, long index);
void kb_gap_clusterer_set_group_id(kb_gap_clusterer *c, long index, int64_t id);
size_t kb_gap_clusterer_count(const kb_gap_clusterer *c);
/* Take a question out of group `index` and assign it again, as kb_gap_clusterer_assign does,
 * against centroids that have matured since it arrived (see kb_gaps_regroup). Returns its group
 * now (maybe the same, maybe a new one with id 0), or -1. */
long kb_gap_clusterer_reassign(kb_gap_clusterer *c, long index, const char *terms, double *sim);
/* The index of the group with this id, or -1. */
long kb_gap_clusterer_find(const kb_gap_clusterer *c, int64_t id);
/* How many questions group `index` holds now (0 for an unknown index). */
double kb_gap_clusterer_members(const kb_gap_clusterer *c, long index);
/* A group's centroid as "term TAB count" lines in the terms' byte order (malloc'd), for storage:
 * the same centroid is the same text whichever clusterer holds it. */
char *kb_gap_clusterer_terms(const kb_gap_clusterer *c, long index);

/* ---------------------------------------------------------------- the queue */

/* Calls that can fail return a kb_status (kb/status.h): KB_ERROR for the database or memory,
 * KB_NOT_FOUND for no such item, KB_CONFLICT for a status change not allowed from the current
 * status, KB_INVALID for a bad argument; kb_gaps_errmsg() says what. */

typedef struct kb_gaps kb_gaps;

/* Open the event store of data_dir (DATA_DIR/events.sqlite3, schema written by kb_store_open),
 * or of a postgresql:// URI, read-only or for writing. NULL with the reason in err when it is
 * missing, of another schema version or cannot be opened. */
kb_gaps *kb_gaps_open(const char *data_dir, int readonly, char *err, size_t err_len);
void kb_gaps_close(kb_gaps *g);
const char *kb_gaps_errmsg(const kb_gaps *g);

/* As-you-type searches (kb/gaps/gaps_typing.c): an unresolved search that the same agent's next
 * search continued within this many milliseconds (a shared prefix of at least half the shorter
 * query), and that got no click or feedback, was a step of typing and does not enter the queue.
 * Searches younger than the window wait for it to pass. 0 turns this off (every unresolved
 * search is a question). */
#define KB_GAPS_TYPING_WINDOW_MS 5000
void kb_gaps_set_typing_window(kb_gaps *g, int64_t ms);
/* 1 when query b continues query a in the sense above. */
int kb_gaps_query_continues(const char *a, const char *b);

/* What the feeder needs of the knowledge base. Either member may be NULL: without an analyzer no
 * question can be taken in (ingest does nothing); without a searcher items get no category and
 * terms get KB_GAPS_IDF_UNKNOWN. */
typedef struct {
    kb_analyzer *analyzer;
    kb_searcher *searcher;
} kb_gaps_kb;

/* Take in what the store recorded since the last call (at most max_rows rows of each source):
 * unresolved searches, "not found" feedback, help requests that are not answerable, reviews that
 * changed a verdict (a request reviewed as answerable leaves the queue), and the per-day counts
 * of returned documents. Idempotent and crash-safe: what was taken in and how far is committed
 * together. Returns the number of rows still waiting (0 when caught up), or -1 on error. */
long kb_gaps_ingest(kb_gaps *g, const kb_gaps_kb *kb, size_t max_rows);

/* The refinement pass (kb/gaps/gaps_regroup.c): take each of the newest max_questions questions of
 * open items that no editor has touched out of its item and assign it again, oldest first,
 * against the items as they are now. Items formed early from a question that named only the
 * subject give back what fuller items fit better. Items keep their ids: a question that ends up
 * with the same companions is not moved, an item the pass re-forms keeps the id of the item most
 * of its questions came from, and an item emptied into another is recorded as merged into it
 * (kb_gaps_item and kb_gaps_update follow the record). Does nothing when no question arrived
 * since the last pass. The moves are planned on a snapshot and written in one short
 * transaction, only if the queue did not change meanwhile. Returns the number of questions that
 * changed item (0 when everything stayed where it was, and then nothing is written), or -1. */
#define KB_GAPS_REGROUP_MAX 2000
long kb_gaps_regroup(kb_gaps *g, const kb_gaps_kb *kb, size_t max_questions);

/* After a re-index: search every open and in-progress item again (its most frequent phrasings)
 * and set or clear suggested_answer. revision is the index revision searched (kept, so the same
 * revision is not checked twice). Returns the number of items that now have a suggestion, or
 * -1 on error. */
long kb_gaps_recheck(kb_gaps *g, kb_searcher *s, uint64_t revision);

/* Statuses as bits, for filters. */
enum {
    KB_GAP_OPEN = 1,
    KB_GAP_IN_PROGRESS = 2,
    KB_GAP_ANSWERED = 4,
    KB_GAP_DISMISSED = 8,
    KB_GAP_ALL = 15
};
/* "open" -> KB_GAP_OPEN etc.; 0 when unknown. "all" -> KB_GAP_ALL. */
unsigned kb_gaps_status_bit(const char *name);

typedef enum { KB_GAPS_SORT_IMPACT, KB_GAPS_SORT_RECENT, KB_GAPS_SORT_COUNT } kb_gaps_sort;

typedef struct {
    unsigned statuses;      /* KB_GAP_* bits; 0 = open and in_progress */
    int64_t from_ms, to_ms; /* questions in [from_ms, to_ms); 0 = unbounded */
    const char *category;   /* category path at any level, or NULL */
    kb_gaps_sort sort;
    size_t limit, offset;   /* limit 0 = 50 */
} kb_gaps_filter;

/* ---------------------------------------------------------------- one node at a time
 *
 * Several kb-searchd on one PostgreSQL store all read and change the queue for editors, but the
 * work that keeps it current — kb_gaps_ingest, kb_gaps_regroup, kb_gaps_recheck — must run on one
 * of them at a time: two nodes grouping the same new questions would each make an item of them.
 * The node whose kb_gaps handle holds the advisory lock KB_GAPS_ROLE_LOCK does it, on that same
 * handle, so its writes commit only while its session (and with it the lock) lives. When the node
 * dies, the server ends its session and frees the lock; another node's next kb_gaps_role takes
 * it (docs/CLUSTER.md, "Work that runs on one node at a time"). */
#define KB_GAPS_ROLE_LOCK "kb.gaps"

/* Take the role, or check that this handle still holds it: *held = 1 when this handle's
 * session holds KB_GAPS_ROLE_LOCK now (do the work, on this handle, before asking again), 0 when
 * another node holds it or the database cannot be reached. A session that was lost, or replaced
 * by a reconnect, has lost the lock with it: the role is given up (*lost = 1 when it was held
 * until this call, and kb_gaps_errmsg says why) and taken again only if the lock is free. A lost
 * session is connected again on the way, so the next call can take the role. Taking the role
 * drops what the handle kept from an earlier turn (the open groups as they were then: another
 * node may have changed them). KB_OK, or KB_ERROR when the database cannot be reached or asked
 * (*held 0; kb_gaps_errmsg says why). On SQLite one machine runs one daemon: always held. lost
 * may be NULL. */
int kb_gaps_role(kb_gaps *g, int *held, int *lost);

/* ---------------------------------------------------------------- reading the queue
 *
 * What the editors see, as plain structs: kb-searchd formats them as the API's JSON
 * (searchd/json_gaps.c, docs/API.md), kb-report as CSV or the same JSON. Every string below is
 * malloc'd and owned by the struct; NULL where the API shows null. Free a struct with its _free
 * function (which leaves it zeroed, and accepts a zeroed one). */

/* A time in milliseconds since the epoch; KB_GAPS_NO_TIME where there is none (null). */
#define KB_GAPS_NO_TIME INT64_MIN

/* One phrasing of an item's questions. */
typedef struct {
    char *question;
    int64_t count;        /* times it was asked */
    int64_t last_seen_ms; /* when it was asked last */
} kb_gap_variant;

/* One question of an item, as the event store recorded it (redacted there). */
typedef struct {
    char *source;   /* "search", "not_found" or "help_request" */
    char *ref;      /* the search_id (search, not_found) or the help request's id as text */
    int64_t time_ms;
    char *agent;
    char *question;
    char *top_id;   /* the search's top hit, or NULL */
} kb_gap_question;

/* An item of the queue. The counts and first/last seen are those of the list's date window when
 * it has one, else the item's own. */
typedef struct {
    int64_t id;
    int64_t merged_from;  /* the id asked for when the regroup pass had merged it into this item
                             (kb_gaps_item, kb_gaps_update); 0 otherwise */
    char *status;         /* open, in_progress, answered, dismissed */
    char *question;       /* the representative: the most frequent phrasing, the latest on a tie
                             (then the text's byte order) */
    int64_t count;        /* questions */
    int64_t agents;       /* distinct agents who asked */
    int64_t impact;       /* count x agents, what the queue is ranked by */
    int64_t variants_total; /* distinct phrasings */
    struct {
        int64_t search, not_found, help_request;
    } sources;            /* questions by where they came from */
    int64_t first_seen_ms, last_seen_ms;
    char *category;       /* the editor's, else derived from rejected answers, else NULL */
    char *category_by;    /* who set the category; NULL: derived */
    kb_gap_variant *top_variants; /* the 3 most frequent phrasings (in the window) */
    size_t n_top_variants;
    /* "answered by X?": what the re-check after a re-index found */
    char *suggested_answer;        /* a document id, or NULL */
    char *suggested_title;
    double suggested_confidence;   /* 0..1; negative when there is no suggestion */
    int64_t suggested_ms;
    char *answer_doc_id;  /* the answer an editor recorded (status answered) */
    /* the editor's last status change */
    char *status_by;
    int64_t status_ms;
    char *note;
    /* Filled by kb_gaps_item only (empty in lists and after kb_gaps_update): */
    kb_gap_variant *variants;      /* every phrasing, most frequent first (at most max_rows) */
    size_t n_variants;
    kb_gap_question *questions;    /* the latest questions, newest first (at most max_rows) */
    size_t n_questions;
    int64_t questions_total;
} kb_gap_item;

/* One page of the ranked queue. */
typedef struct {
    kb_gap_item *items;
    size_t n;
    int64_t total;        /* items that match the filter, on every page */
    size_t offset, limit; /* as asked (limit 0 became 50) */
} kb_gap_page;

void kb_gap_item_free(kb_gap_item *item);
void kb_gap_page_free(kb_gap_page *page);

/* The ranked queue into *out. Returns KB_OK, or KB_ERROR (*out empty). */
int kb_gaps_list(kb_gaps *g, const kb_gaps_filter *f, kb_gap_page *out);

/* One item with its variants and latest questions (at most max_rows each; 0: 200) into *out.
 * Returns KB_OK, KB_NOT_FOUND when there is no such item, or KB_ERROR (*out
 * empty). An id the regroup pass merged into another item gives that item, with merged_from. */
int kb_gaps_item(kb_gaps *g, int64_t id, size_t max_rows, kb_gap_item *out);

/* An editor's change to an item. */
typedef struct {
    const char *status;   /* open, in_progress, answered, dismissed; NULL: unchanged */
    const char *doc_id;   /* the answer for "answered" (NULL: the suggestion); the caller checks
                             it exists */
    const char *note;     /* NULL: unchanged; redacted before it is stored */
    int set_category;     /* 1: `category` replaces the editor's category */
    const char *category; /* a path such as 业务办理/漫游 (redacted); NULL or blank: none, the
                             item shows the derived category again */
} kb_gaps_change;

/* Apply a change (status and category together, in one transaction). An id merged into another
 * item changes that item. by: who (the token's NAME). Returns KB_GAPS_*; on KB_OK *item
 * (if not NULL) receives the item as kb_gaps_list shows it, with merged_from when the id was
 * merged, or stays empty (id 0) when the change was stored but the item cannot be read back.
 * KB_INVALID when nothing is to change, for a bad status or category. */
int kb_gaps_update(kb_gaps *g, int64_t id, const kb_gaps_change *change, const char *by,
                   int64_t now_ms, kb_gap_item *item);

/* kb_gaps_update with a status change only. */
int kb_gaps_set_status(kb_gaps *g, int64_t id, const char *status, const char *doc_id,
                       const char *note, const char *by, int64_t now_ms, kb_gap_item *item);

/* The code of the last call that failed (KB_GAPS_*). */
int kb_gaps_last_code(const kb_gaps *g);

/* ---------------------------------------------------------------- content health */

/* A document in one of content health's lists; which fields are set depends on the list. */
typedef struct {
    char *id;
    char *title;          /* NULL: not in the index (not_answering only) */
    char **categories;    /* never_returned */
    size_t n_categories;
    char updated[11];     /* never_returned: "YYYY-MM-DD", or "" when unknown (null) */
    char valid_until[11]; /* expired: "YYYY-MM-DD" */
    int64_t not_found;      /* not_answering: searches with "not found" naming it */
    int64_t help_overrides; /* not_answering: help requests a lead overrode to not answerable */
    int64_t agents;         /* not_answering: distinct agents who reported it */
} kb_health_doc;

typedef struct {
    kb_health_doc *docs;
    size_t n;             /* listed: at most the limit */
    size_t total;         /* all that belong in the list */
} kb_health_list;

typedef struct {
    int days;             /* the window */
    size_t documents;     /* documents in the index */
    uint64_t index_revision;
    kb_health_list never_returned; /* valid today, returned by no search in the window */
    kb_health_list expired;        /* valid until before today */
    kb_health_list not_answering;  /* agents said they did not answer; most reports first */
} kb_content_health;

void kb_content_health_free(kb_content_health *h);

/* Content health over the last `days` days (see docs/API.md) into *out: never_returned, expired
 * (valid until before `today`, "YYYY-MM-DD"), not_answering; at most `limit` entries per list.
 * docs is the index's document list (kb/doc_list.h); *out keeps copies, not pointers into it.
 * Returns KB_OK or KB_ERROR (*out empty). */
int kb_gaps_health(kb_gaps *g, const kb_doc_list *docs, int days, size_t limit, int64_t now_ms,
                   const char *today, kb_content_health *out);

/* Milliseconds as "2026-10-02T08:15:30.123Z" into buf (at least 25 bytes). */
void kb_gaps_iso_time(int64_t ms, char *buf);

#endif
