/*
 * kb/learn.h — what the people who use the knowledge base taught it: agents' phrasings of
 * documents, from feedback, help requests, leads' reviews and editors (issue 17).
 *
 * Every teaching event is a row of the event store (kb/store.h, table `teachings`): a document,
 * a question as stored (redacted like every stored question), its source, the teacher's name
 * and role, the time. A learned phrasing is a (document, normalized phrasing) pair — the question
 * folded like the analyzer folds text (NFKC, case, Traditional → Simplified) with everything but
 * letters, digits and Han characters dropped, so "花呗怎么关？" and "花唄 怎麼關" are one
 * phrasing — with the distinct teachers that taught it.
 *
 * Whether it counts (is used by the search) is the safety rule, one place for it:
 *   - pinned by an editor: counts; removed (tombstoned) by an editor: never counts, and no event
 *     of that phrasing, old or new, teaches that document again;
 *   - a strong teaching (helpful, help_desk, review, editor) by an editor, lead or admin: counts;
 *   - otherwise votes: each distinct teacher with a strong teaching is 1, each distinct teacher
 *     who only clicked is 1/2 (KB_LEARN_CLICK_VOTE); it counts at KB_LEARN_VOTES_NEEDED (2) —
 *     two agents marking it helpful, one helpful and two other agents' clicks, or four agents'
 *     clicks. Repeats by the same teacher add nothing; a click by a lead is still only a click.
 *
 * The search never reads the store (layers): kb-searchd lists the counted phrasings here and
 * hands them to its searchers (kb_searcher_set_learned in kb/search.h).
 *
 * A kb_learn handle is one connection to the store plus an analyzer: one per thread.
 */
#ifndef KB_LEARN_H
#define KB_LEARN_H

#include <stddef.h>
#include <stdint.h>

#include "kb/status.h"

/* Votes a phrasing needs to count, and what a teacher who only clicked is worth. */
#define KB_LEARN_VOTES_NEEDED 2.0
#define KB_LEARN_CLICK_VOTE 0.5
/* Longest phrasing an editor may add or name (bytes), like a search's question. */
#define KB_LEARN_MAX_PHRASING 1024

/* Sources of teaching, as bits of kb_learned_phrasing.sources. */
enum {
    KB_LEARN_HELPFUL = 1,   /* POST /api/feedback kind helpful: strong */
    KB_LEARN_CLICK = 2,     /* POST /api/feedback kind click: weak */
    KB_LEARN_HELP_DESK = 4, /* a help request answered with a document */
    KB_LEARN_REVIEW = 8,    /* a lead's review naming the document that answered */
    KB_LEARN_EDITOR = 16    /* an editor: pinned a phrasing, or "answered by" on a gap item */
};

typedef struct kb_learn kb_learn;

typedef struct {
    char *doc_id;
    char *phrasing;     /* the normalized key */
    char *text;         /* the latest question taught with it, as stored (redacted) */
    uint32_t teachers;  /* distinct teachers */
    uint32_t strong_teachers; /* distinct teachers with a strong teaching */
    uint32_t events;    /* how often it was taught (every event) */
    unsigned sources;   /* KB_LEARN_* bits */
    int64_t first_ms, last_ms;
    int authority;      /* a strong teaching by an editor, lead or admin */
    int pinned, removed;
    int counted;        /* used by the search (the rule above) */
} kb_learned_phrasing;

typedef struct {
    kb_learned_phrasing *items;
    size_t n;
} kb_learned_list;

/* Open a handle on the store under data_dir (kb-searchd's --data; the store must have been
 * opened once by kb_store_open, which migrates it). NULL with the reason in err. */
kb_learn *kb_learn_open(const char *data_dir, char *err, size_t err_len);
void kb_learn_close(kb_learn *l);
const char *kb_learn_errmsg(const kb_learn *l);

/* The normalized key of a question (malloc'd; "" when nothing is left), or NULL when memory
 * ran out. The text is redacted first, as stored questions are. */
char *kb_learn_normalize(kb_learn *l, const char *text);

/* A number that changes whenever something was taught, removed or pinned: callers rebuild what
 * they derived from kb_learn_counted() only when it moved. -1 on error. */
int64_t kb_learn_version(kb_learn *l);

/* Every counted phrasing of every document (removed ones never), ordered by document. */
int kb_learn_counted(kb_learn *l, kb_learned_list *out);

/* Every phrasing taught to one document (removed ones too, flagged), most recently taught
 * first. */
int kb_learn_of_document(kb_learn *l, const char *doc_id, kb_learned_list *out);

/* Remove a phrasing of a document: tombstoned, it stops counting and is never learned again,
 * from old or new events. KB_NOT_FOUND when the phrasing (normalized) was never taught to that
 * document; KB_INVALID when it normalizes to nothing. */
int kb_learn_remove(kb_learn *l, const char *doc_id, const char *phrasing, const char *by,
                    int64_t time_ms);

/* Pin (pinned = 1) a phrasing of a document, so that it counts whoever taught it, or unpin it
 * (0). Pinning a phrasing nobody taught teaches it (source editor, by `by` with role `role`);
 * pinning a removed one gives KB_CONFLICT (removal is final). Unpinning one that is not pinned
 * is KB_NOT_FOUND. */
int kb_learn_pin(kb_learn *l, const char *doc_id, const char *phrasing, int pinned,
                 const char *by, const char *role, int64_t time_ms);

/* Teach: a question becomes a phrasing of a document (it is redacted here). For the sources
 * that are not feedback (kb_store_log_feedback_as writes those): help desk, review, editor. */
int kb_learn_teach(kb_learn *l, const char *doc_id, const char *question, unsigned source,
                   const char *teacher, const char *role, const char *ref, int64_t time_ms);

/* An editor says gap item gap_id (kb/gaps.h) is answered by doc_id: every question of the item
 * teaches that document (source editor; a question already taught so by this item is not taught
 * twice). The number of questions taught into *n when n is not NULL. */
int kb_learn_teach_gap(kb_learn *l, int64_t gap_id, const char *doc_id, const char *teacher,
                       const char *role, int64_t time_ms, size_t *n);

/* The one phrasing of a document with that normalized key into *out (free with
 * kb_learned_phrasing_free). KB_NOT_FOUND when there is none. */
int kb_learn_get(kb_learn *l, const char *doc_id, const char *phrasing, kb_learned_phrasing *out);

void kb_learned_phrasing_free(kb_learned_phrasing *p);
void kb_learned_list_free(kb_learned_list *list);

/* "helpful", "click", "help_desk", "review", "editor" for one KB_LEARN_* bit. */
const char *kb_learn_source_name(unsigned source);

#endif
