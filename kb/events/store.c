/*
 * store.c — the event store: searches, feedback and help requests in SQLite (see kb/store.h and
 * docs/EVENT-STORE.md).
 *
 * Shape: callers turn an event into a heap copy with its free text already redacted, append it to
 * one FIFO queue and return (searches) or sleep until it committed (feedback, help requests). One
 * writer thread owns the only write connection; it takes up to BATCH_MAX events off the queue and
 * writes them in one transaction. Why this shape:
 *   - Searches never wait for the disk, and one transaction per batch rather than per event is
 *     what makes thousands of events per second cheap (a commit is the expensive part).
 *   - Acknowledged events share their commit with whatever else is queued (group commit), so many
 *     agents filing help requests at once still cost one fsync per batch, not one each.
 *   - A single FIFO keeps order: a search logged before its feedback is in the database by the time
 *     the feedback's "does this search exist" check runs, even if it was still queued.
 *   - Redaction happens in the caller's thread, before the event is queued: the unredacted text
 *     never reaches the writer, the database, the WAL or a temporary file, and the CPU cost is
 *     spread over the request threads instead of serialised in the writer.
 *
 * Durability: search-only batches commit with synchronous=NORMAL (in WAL mode: no fsync; a kill -9
 * loses nothing committed, a power cut may lose the last moments of search logs, as kb/store.h
 * allows). A batch holding an acknowledged event commits with synchronous=FULL, which fsyncs the
 * WAL — and with it every earlier batch.
 */
#include "kb/store.h"

#include "kb/journal.h"
#include "kb/redact.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 65536   /* searches waiting to be written; more are dropped and counted */
#define BATCH_MAX 1000    /* events per transaction */
#define LINGER_MS 50      /* how long a batch of searches only may wait to grow */
#define BUSY_TIMEOUT_MS 5000

/* ---------------------------------------------------------------- schema and migrations */

/* migrations[v] takes the schema from version v to v + 1; PRAGMA user_version records the version.
 * Never edit a released step: append a new one. */
static const char *const migrations[] = {
    /* 0 -> 1: the first schema. */
    "CREATE TABLE searches (\n"
    "  search_id  TEXT PRIMARY KEY,            -- id returned to the client\n"
    "  time_ms    INTEGER NOT NULL,            -- unix time, milliseconds\n"
    "  agent      TEXT NOT NULL,               -- the token's NAME\n"
    "  query      TEXT NOT NULL,               -- redacted\n"
    "  top_ids    TEXT NOT NULL DEFAULT '[]',  -- JSON array of document ids, best first\n"
    "  top_id     TEXT,                        -- top_ids[0], NULL when nothing was found\n"
    "  hits       INTEGER NOT NULL DEFAULT 0,  -- number of ids in top_ids\n"
    "  confidence REAL NOT NULL DEFAULT 0,     -- 0..1, belief that top_id answers the query\n"
    "  unresolved INTEGER NOT NULL DEFAULT 0,  -- 1: the KB most likely holds no answer\n"
    "  took_ms    REAL NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX searches_time ON searches(time_ms);\n"
    "CREATE INDEX searches_agent_time ON searches(agent, time_ms);\n"
    "CREATE INDEX searches_unresolved_time ON searches(time_ms) WHERE unresolved = 1;\n"
    "CREATE INDEX searches_top_id ON searches(top_id) WHERE top_id IS NOT NULL;\n"
    "CREATE TABLE feedback (\n"
    "  id        INTEGER PRIMARY KEY,\n"
    "  search_id TEXT NOT NULL REFERENCES searches(search_id),\n"
    "  agent     TEXT NOT NULL,\n"
    "  kind      TEXT NOT NULL CHECK (kind IN ('click', 'helpful', 'not_found')),\n"
    "  doc_id    TEXT,\n"
    "  time_ms   INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX feedback_search ON feedback(search_id);\n"
    "CREATE INDEX feedback_kind_time ON feedback(kind, time_ms);\n"
    "CREATE INDEX feedback_agent_time ON feedback(agent, time_ms);\n"
    "CREATE TABLE help_requests (\n"
    "  id                  INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused\n"
    "  time_ms             INTEGER NOT NULL,\n"
    "  agent               TEXT NOT NULL,     -- who asked for help\n"
    "  filed_by            TEXT NOT NULL,     -- who recorded it (token NAME)\n"
    "  question            TEXT NOT NULL,     -- redacted\n"
    "  answer              TEXT,              -- redacted; NULL when not given\n"
    "  kb_answerable       INTEGER NOT NULL,  -- the service's verdict: 1 = the KB answers it\n"
    "  doc_id              TEXT,              -- where, when answerable\n"
    "  confidence          REAL NOT NULL,\n"
    "  override_answerable INTEGER,           -- a lead's review: NULL until reviewed\n"
    "  override_by         TEXT,\n"
    "  override_time_ms    INTEGER\n"
    ");\n"
    "CREATE INDEX help_requests_time ON help_requests(time_ms);\n"
    "CREATE INDEX help_requests_agent_time ON help_requests(agent, time_ms);\n"
    "CREATE INDEX help_requests_doc ON help_requests(doc_id) WHERE doc_id IS NOT NULL;\n",
    /* 1 -> 2: the editors' gap queue, leads' reviews, agents and per-day document counts
     * (kb/gaps.h, kb/review.h, docs/GAPS.md). v1 rows are kept; the gap queue catches up on
     * them the first time kb-searchd runs. */
    "ALTER TABLE help_requests ADD COLUMN override_doc_id TEXT;\n"
    "ALTER TABLE help_requests ADD COLUMN override_note TEXT;   -- redacted\n"
    "CREATE TABLE help_request_reviews (\n"
    "  id              INTEGER PRIMARY KEY,\n"
    "  help_request_id INTEGER NOT NULL REFERENCES help_requests(id),\n"
    "  time_ms         INTEGER NOT NULL,\n"
    "  reviewer        TEXT NOT NULL,     -- the token's NAME\n"
    "  kb_answerable   INTEGER NOT NULL,\n"
    "  doc_id          TEXT,\n"
    "  note            TEXT               -- redacted\n"
    ");\n"
    "CREATE INDEX help_request_reviews_request ON help_request_reviews(help_request_id, id);\n"
    "CREATE TABLE agents (\n"
    "  agent_id TEXT PRIMARY KEY,\n"
    "  name     TEXT NOT NULL DEFAULT '',\n"
    "  team     TEXT NOT NULL DEFAULT ''\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE gap_groups (\n"
    "  id          INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  status      TEXT NOT NULL DEFAULT 'open'\n"
    "              CHECK (status IN ('open', 'in_progress', 'answered', 'dismissed')),\n"
    "  question    TEXT NOT NULL,             -- representative: the most frequent variant\n"
    "  terms       TEXT NOT NULL DEFAULT '',  -- term TAB members-with-it, LF-separated\n"
    "  n_questions INTEGER NOT NULL DEFAULT 0,\n"
    "  n_agents    INTEGER NOT NULL DEFAULT 0,\n"
    "  n_variants  INTEGER NOT NULL DEFAULT 0,\n"
    "  n_search    INTEGER NOT NULL DEFAULT 0,\n"
    "  n_not_found INTEGER NOT NULL DEFAULT 0,\n"
    "  n_help      INTEGER NOT NULL DEFAULT 0,\n"
    "  first_ms    INTEGER NOT NULL,\n"
    "  last_ms     INTEGER NOT NULL,\n"
    "  category    TEXT,                      -- most frequent first category of top hits\n"
    "  answer_doc_id TEXT,\n"
    "  suggested_doc_id TEXT,                 -- \"answered by X?\" after a re-index\n"
    "  suggested_title TEXT,\n"
    "  suggested_confidence REAL,\n"
    "  suggested_ms INTEGER,\n"
    "  checked_revision INTEGER,\n"
    "  status_by   TEXT,\n"
    "  status_ms   INTEGER,\n"
    "  note        TEXT,                      -- redacted\n"
    "  created_ms  INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX gap_groups_status_last ON gap_groups(status, last_ms);\n"
    "CREATE TABLE gap_questions (\n"
    "  id       INTEGER PRIMARY KEY,\n"
    "  group_id INTEGER NOT NULL REFERENCES gap_groups(id),\n"
    "  source   TEXT NOT NULL CHECK (source IN ('search', 'not_found', 'help_request')),\n"
    "  ref      TEXT NOT NULL,       -- search_id, or the help request id\n"
    "  time_ms  INTEGER NOT NULL,\n"
    "  agent    TEXT NOT NULL,\n"
    "  question TEXT NOT NULL,       -- redacted (copied from the store)\n"
    "  terms    TEXT NOT NULL,       -- the question's grouping terms, space-separated\n"
    "  top_id   TEXT,\n"
    "  category TEXT,\n"
    "  UNIQUE (source, ref)\n"
    ");\n"
    "CREATE INDEX gap_questions_group_time ON gap_questions(group_id, time_ms);\n"
    "CREATE INDEX gap_questions_group_question ON gap_questions(group_id, question);\n"
    "CREATE INDEX gap_questions_group_agent ON gap_questions(group_id, agent);\n"
    "CREATE INDEX gap_questions_time ON gap_questions(time_ms);\n"
    "CREATE TABLE gap_progress (\n"
    "  source  TEXT PRIMARY KEY,     -- searches, feedback, help_requests, reviews, doc_days\n"
    "  last_id INTEGER NOT NULL      -- the last rowid taken in\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE doc_days (\n"
    "  day      INTEGER NOT NULL,    -- UTC days since 1970-01-01\n"
    "  doc_id   TEXT NOT NULL,\n"
    "  returned INTEGER NOT NULL DEFAULT 0, -- searches listing it among their hits\n"
    "  top      INTEGER NOT NULL DEFAULT 0, -- searches with it as the top hit\n"
    "  PRIMARY KEY (day, doc_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX feedback_not_found ON feedback(time_ms) WHERE kind = 'not_found';\n",
    /* 2 -> 3: stable gap item ids and editors' categories (docs/GAPS.md). gap_merges records
     * which item the regroup pass merged into which, so an editor's action on an id loaded
     * before the pass reaches the item its questions joined. An item's category is now the
     * one an editor sets (category_by) or, until then, that of the confident answers agents
     * rejected (not_found); the categories v2 guessed from unresolved searches' top hits are
     * dropped. */
    "CREATE TABLE gap_merges (\n"
    "  id      INTEGER PRIMARY KEY,  -- an item that no longer exists\n"
    "  into_id INTEGER NOT NULL,     -- the item its questions joined (kept current)\n"
    "  time_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX gap_merges_into ON gap_merges(into_id);\n"
    "ALTER TABLE gap_groups ADD COLUMN category_by TEXT;   -- who set category; NULL: derived\n"
    "ALTER TABLE gap_groups ADD COLUMN category_ms INTEGER;\n"
    "UPDATE gap_questions SET category = NULL WHERE source <> 'not_found';\n"
    "UPDATE gap_groups SET category = (SELECT q.category FROM gap_questions q"
    " WHERE q.group_id = gap_groups.id AND q.category IS NOT NULL GROUP BY q.category"
    " ORDER BY count(*) DESC, max(q.time_ms) DESC LIMIT 1);\n",
    /* 3 -> 4: names and ids are redacted at rest too. Before, only free text was: an agent id,
     * a filer's name or a document id typed with a customer's number in it was stored as given
     * (issue 15, item 7). kb_redact() is the SQL function migrate() registers. */
    "UPDATE searches SET agent = kb_redact(agent);\n"
    "UPDATE feedback SET agent = kb_redact(agent), doc_id = kb_redact(doc_id);\n"
    "UPDATE help_requests SET agent = kb_redact(agent), filed_by = kb_redact(filed_by),"
    " doc_id = kb_redact(doc_id), override_doc_id = kb_redact(override_doc_id);\n"
    "UPDATE gap_questions SET agent = kb_redact(agent);\n",
    /* 4 -> 5: teaching records (issue 17, kb/learn.h, docs/EVENT-STORE.md). Every event that
     * makes a question a phrasing of a document: the document, the question as stored (already
     * redacted), where it came from, who taught it with which role, when. learned_marks holds the
     * editors' verdicts on a (document, normalized phrasing): removed (a tombstone: never learned
     * again) or pinned (counts whoever taught it). The helpful and click feedback of earlier
     * versions teaches too: copied in once here, as taught by an agent (roles were not stored). */
    "CREATE TABLE teachings (\n"
    "  id       INTEGER PRIMARY KEY,\n"
    "  doc_id   TEXT NOT NULL,\n"
    "  question TEXT NOT NULL,        -- redacted, as asked\n"
    "  source   TEXT NOT NULL CHECK (source IN ('helpful', 'click', 'help_desk', 'review', 'editor')),\n"
    "  teacher  TEXT NOT NULL,        -- the token's NAME (redacted like every name)\n"
    "  role     TEXT NOT NULL CHECK (role IN ('agent', 'editor', 'lead', 'admin')),\n"
    "  ref      TEXT,                 -- search_id, help request id or gap item id\n"
    "  time_ms  INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX teachings_doc ON teachings(doc_id, id);\n"
    "CREATE TABLE learned_marks (\n"
    "  doc_id   TEXT NOT NULL,\n"
    "  phrasing TEXT NOT NULL,        -- normalized (kb_learn_normalize)\n"
    "  state    TEXT NOT NULL CHECK (state IN ('removed', 'pinned')),\n"
    "  by_name  TEXT NOT NULL,\n"
    "  time_ms  INTEGER NOT NULL,\n"
    "  PRIMARY KEY (doc_id, phrasing)\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO teachings (doc_id, question, source, teacher, role, ref, time_ms)"
    " SELECT f.doc_id, s.query, f.kind, f.agent, 'agent', f.search_id, f.time_ms"
    " FROM feedback f JOIN searches s ON s.search_id = f.search_id"
    " WHERE f.kind IN ('helpful', 'click') AND f.doc_id IS NOT NULL ORDER BY f.id;\n",
    /* 5 -> 6: must-know documents, study lists and coaching (issue 19, kb/coaching.h,
     * docs/COACHING.md). A help request keeps a snapshot of its answering document: whether it
     * was must-know for the asking agent's team when the verdict was made, and its title, so a
     * document removed from the index later stays in the history by id and title. Requests
     * stored before have neither (must_know 0: nothing was marked must-know then). study_marks:
     * an agent marked a document of their study list studied, once, with the time.
     * coaching_sessions and coaching_docs: a lead's coaching of an agent on a day, the note
     * (redacted) and the documents covered (with their titles at the time). */
    "ALTER TABLE help_requests ADD COLUMN must_know INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE help_requests ADD COLUMN doc_title TEXT;  -- redacted, like every stored text\n"
    "CREATE TABLE study_marks (\n"
    "  agent   TEXT NOT NULL,\n"
    "  doc_id  TEXT NOT NULL,\n"
    "  time_ms INTEGER NOT NULL,      -- when the agent first marked it studied\n"
    "  PRIMARY KEY (agent, doc_id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE coaching_sessions (\n"
    "  id      INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused\n"
    "  agent   TEXT NOT NULL,         -- who was coached\n"
    "  lead    TEXT NOT NULL,         -- who coached (the token's NAME)\n"
    "  day     TEXT NOT NULL,         -- the day of the session, YYYY-MM-DD (local)\n"
    "  note    TEXT,                  -- redacted; NULL when none\n"
    "  time_ms INTEGER NOT NULL       -- when it was recorded\n"
    ");\n"
    "CREATE INDEX coaching_sessions_day ON coaching_sessions(day, id);\n"
    "CREATE INDEX coaching_sessions_agent ON coaching_sessions(agent, day);\n"
    "CREATE TABLE coaching_docs (\n"
    "  session_id INTEGER NOT NULL REFERENCES coaching_sessions(id),\n"
    "  doc_id     TEXT NOT NULL,\n"
    "  title      TEXT,               -- redacted snapshot of the title when recorded\n"
    "  UNIQUE (session_id, doc_id)     -- rowid order is the order the lead gave\n"
    ");\n",
    /* 6 -> 7: tallies that let the gap queue add a question to an item at the cost of what is
     * added, not of the item's size (kb/gaps/gaps_aggregates.c, docs/GAPS.md "What taking a
     * question in costs"). Per item and phrasing, and per item and category of a rejected
     * answer: how many of its questions, and the newest one's time; ranked through an index in
     * the order that picks the representative and the derived category. Filled once from the
     * questions already queued. The phrasing is a copy of gap_questions.question, redacted. */
    "CREATE TABLE gap_variants (\n"
    "  group_id INTEGER NOT NULL,\n"
    "  question TEXT NOT NULL,        -- redacted (as in gap_questions)\n"
    "  n        INTEGER NOT NULL,     -- questions of the item with exactly this text\n"
    "  last_ms  INTEGER NOT NULL,     -- the newest of them\n"
    "  PRIMARY KEY (group_id, question)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX gap_variants_rank ON gap_variants(group_id, n DESC, last_ms DESC, question);\n"
    "CREATE TABLE gap_categories (\n"
    "  group_id INTEGER NOT NULL,\n"
    "  category TEXT NOT NULL,        -- first category of a rejected answer (gap_questions)\n"
    "  n        INTEGER NOT NULL,\n"
    "  last_ms  INTEGER NOT NULL,\n"
    "  PRIMARY KEY (group_id, category)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX gap_categories_rank ON gap_categories(group_id, n DESC, last_ms DESC, category);\n"
    "INSERT INTO gap_variants (group_id, question, n, last_ms)"
    " SELECT group_id, question, count(*), max(time_ms) FROM gap_questions"
    " GROUP BY group_id, question;\n"
    "INSERT INTO gap_categories (group_id, category, n, last_ms)"
    " SELECT group_id, category, count(*), max(time_ms) FROM gap_questions"
    " WHERE category IS NOT NULL GROUP BY group_id, category;\n",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---------------------------------------------------------------- events and the store */

typedef enum { EV_SEARCH, EV_FEEDBACK, EV_HELP } ev_type;

typedef struct event {
    struct event *next;
    ev_type type;
    int acked;    /* a caller sleeps until done; the event lives on its stack */
    int done;     /* set by the writer, under the lock, after the commit (or failure) */
    int result;   /* kb_status: KB_OK, KB_DUPLICATE or KB_ERROR */
    int64_t id;   /* help request id */
    char *err;    /* malloc'd message when result != OK */
    int64_t time_ms;
    char *s[6];   /* owned strings, by type:
                   *   search:   search_id, agent, query, top_ids (JSON), top_id
                   *   feedback: search_id, agent, kind, doc_id, role
                   *   help:     agent, filed_by, question, answer, doc_id, doc_title */
    double confidence, took_ms;
    int flag;     /* search: unresolved; help: kb_answerable */
    int count;    /* search: hits; help: must_know */
} event;

struct kb_store {
    char *dir, *path;
    sqlite3 *db;        /* the write connection: the writer thread's alone once it runs */
    sqlite3_stmt *ins_search, *ins_feedback, *ins_help, *ins_teaching;
    int sync_full;      /* the connection's current synchronous setting */
    int failing;        /* the last batch failed: report recovery once */
    char fail_msg[256]; /* why it failed (the writer's; copied to stats under the lock) */

    pthread_t writer;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t work;   /* the writer waits for events */
    pthread_cond_t done;   /* acknowledged callers wait for their commit */
    event *head, *tail;
    size_t n_queued;    /* all events queued */
    size_t n_searches;  /* searches queued (the bounded part) */
    size_t n_acked;     /* acknowledged events queued */
    int closing;
    kb_store_stats_t stats;
};

/* The message of this thread's last failed call (kb_store_errmsg). */
static _Thread_local char tls_err[512];

static void set_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err, sizeof tls_err, fmt, ap);
    va_end(ap);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void event_free_strings(event *ev)
{
    for (size_t i = 0; i < sizeof ev->s / sizeof ev->s[0]; i++) free(ev->s[i]);
    free(ev->err);
}

/* ---------------------------------------------------------------- opening */

/* mkdir -p with mode 0700 for the directories it creates. */
static int mkdir_p(const char *dir, char *err, size_t err_len)
{
    char *p = strdup(dir);
    if (!p) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c != '\0') continue;
        char saved = *c;
        *c = '\0';
        struct stat sb;
        if (stat(p, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) {
                snprintf(err, err_len, "cannot create data directory %s: %s is not a directory",
                         dir, p);
                free(p);
                return -1;
            }
        } else if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            snprintf(err, err_len, "cannot create data directory %s: %s", dir, strerror(errno));
            free(p);
            return -1;
        }
        *c = saved;
        if (saved == '\0') break;
    }
    free(p);
    return 0;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* kb_redact(text) in SQL, for migrations that redact what earlier versions stored; NULL stays
 * NULL. */
static void sql_redact(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    char *r = text ? kb_redact(text, (size_t)sqlite3_value_bytes(argv[0]), NULL) : NULL;
    if (!r) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_text(ctx, r, -1, free);
}

/* Bring the schema to SCHEMA_VERSION, in one transaction. */
static int migrate(kb_store *st, char *err, size_t err_len)
{
    if (sqlite3_create_function(st->db, "kb_redact", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                sql_redact, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (exec_sql(st->db, "BEGIN IMMEDIATE") != SQLITE_OK) goto fail;
    sqlite3_stmt *q;
    int version = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK) goto fail;
    if (sqlite3_step(q) == SQLITE_ROW) version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version < 0) goto fail;
    if (version > SCHEMA_VERSION) {
        exec_sql(st->db, "ROLLBACK");
        snprintf(err, err_len,
                 "event store %s has schema version %d; this program knows only up to %d",
                 st->path, version, SCHEMA_VERSION);
        return -1;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char set[64];
        snprintf(set, sizeof set, "PRAGMA user_version = %d", v + 1);
        if (exec_sql(st->db, migrations[v]) != SQLITE_OK || exec_sql(st->db, set) != SQLITE_OK)
            goto fail;
    }
    if (exec_sql(st->db, "COMMIT") != SQLITE_OK) goto fail;
    return 0;
fail:
    snprintf(err, err_len, "cannot set up event store %s: %s", st->path, sqlite3_errmsg(st->db));
    exec_sql(st->db, "ROLLBACK");
    return -1;
}

static void *writer_main(void *arg);

static void store_free(kb_store *st)
{
    sqlite3_finalize(st->ins_search);
    sqlite3_finalize(st->ins_feedback);
    sqlite3_finalize(st->ins_help);
    sqlite3_finalize(st->ins_teaching);
    if (st->db) sqlite3_close(st->db);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->work);
    pthread_cond_destroy(&st->done);
    free(st->dir);
    free(st->path);
    free(st);
}

/* The handle with its locks and paths, nothing opened yet. NULL when memory ran out. */
static kb_store *store_new(const char *data_dir)
{
    kb_store *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the linger timeout ignores clock jumps */
    pthread_cond_init(&st->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&st->done, NULL);
    st->dir = strdup(data_dir);
    size_t plen = strlen(data_dir) + sizeof "/events.sqlite3";
    st->path = malloc(plen);
    if (!st->dir || !st->path) {
        store_free(st);
        return NULL;
    }
    snprintf(st->path, plen, "%s/events.sqlite3", data_dir);
    return st;
}

/* Open the database in WAL mode with FULL sync. 0, or -1 with the reason in err. */
static int open_database(kb_store *st, char *err, size_t err_len)
{
    /* Probe with plain system calls first: SQLite's own message for these cases is only "unable
     * to open database file". Creating the file here also gives it mode 0600 (SQLite creates its
     * -wal and -shm files with the database's mode). The directory must be writable too, for
     * the WAL. */
    int fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open event store %s: %s", st->path, strerror(errno));
        return -1;
    }
    close(fd);
    if (access(st->dir, W_OK | X_OK) != 0) {
        snprintf(err, err_len, "cannot open event store %s: directory %s: %s", st->path, st->dir,
                 strerror(errno));
        return -1;
    }

    if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, err_len, "cannot open event store %s: %s", st->path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    sqlite3_stmt *q;
    char mode[16] = "";
    if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    if (strcmp(mode, "wal") != 0) {
        snprintf(err, err_len, "cannot open event store %s: %s", st->path,
                 sqlite3_errcode(st->db) != SQLITE_OK ? sqlite3_errmsg(st->db)
                                                      : "cannot switch to WAL mode");
        return -1;
    }
    /* FULL until the writer decides per batch; the WAL is truncated back to 64 MB after a
     * checkpoint so a burst does not leave a huge file behind. */
    if (exec_sql(st->db, "PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 67108864") !=
        SQLITE_OK) {
        snprintf(err, err_len, "cannot open event store %s: %s", st->path, sqlite3_errmsg(st->db));
        return -1;
    }
    st->sync_full = 1;
    return 0;
}

/* The writer's INSERTs, prepared once. 0, or -1 with the reason in err. */
static int prepare_inserts(kb_store *st, char *err, size_t err_len)
{
    static const char sql_search[] =
        "INSERT INTO searches (search_id, agent, query, top_ids, top_id, time_ms, hits, "
        "confidence, unresolved, took_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    /* Written only for a logged search, and only once: the same kind and document again on the
     * same search is a repeat (a double click, a client's retry), not a second opinion. */
    static const char sql_feedback[] =
        "INSERT INTO feedback (search_id, agent, kind, doc_id, time_ms) "
        "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM searches WHERE search_id = ?1) "
        "AND NOT EXISTS (SELECT 1 FROM feedback WHERE search_id = ?1 AND kind = ?3 "
        "AND doc_id IS ?4)";
    static const char sql_help[] =
        "INSERT INTO help_requests (agent, filed_by, question, answer, doc_id, doc_title, "
        "time_ms, kb_answerable, confidence, must_know) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8, ?10)";
    /* helpful and click feedback teach: the search's question (stored redacted) becomes a
     * phrasing of the document (kb/learn.h decides whether it counts). */
    static const char sql_teaching[] =
        "INSERT INTO teachings (doc_id, question, source, teacher, role, ref, time_ms) "
        "SELECT ?4, query, ?3, ?2, ?5, ?1, ?6 FROM searches WHERE search_id = ?1";
    if (sqlite3_prepare_v3(st->db, sql_teaching, -1, SQLITE_PREPARE_PERSISTENT, &st->ins_teaching,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(st->db, sql_search, -1, SQLITE_PREPARE_PERSISTENT, &st->ins_search,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(st->db, sql_feedback, -1, SQLITE_PREPARE_PERSISTENT,
                           &st->ins_feedback, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(st->db, sql_help, -1, SQLITE_PREPARE_PERSISTENT, &st->ins_help,
                           NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot prepare event store %s: %s", st->path,
                 sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

kb_store *kb_store_open(const char *data_dir, char *err, size_t err_len)
{
    char dummy[8];
    if (!err || !err_len) err = dummy, err_len = sizeof dummy;
    if (!data_dir || !*data_dir) {
        snprintf(err, err_len, "no data directory given");
        return NULL;
    }
    /* Without working redaction nothing may be stored. */
    if (kb_redact_global_init(err, err_len) != 0) return NULL;
    if (mkdir_p(data_dir, err, err_len) != 0) return NULL;
    kb_store *st = store_new(data_dir);
    if (!st) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (open_database(st, err, err_len) != 0 || migrate(st, err, err_len) != 0 ||
        prepare_inserts(st, err, err_len) != 0)
        goto fail;
    int rc = pthread_create(&st->writer, NULL, writer_main, st);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the event store writer: %s", strerror(rc));
        goto fail;
    }
    return st;
fail:
    store_free(st);
    return NULL;
}

void kb_store_close(kb_store *st)
{
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    st->closing = 1;
    pthread_cond_signal(&st->work);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->writer, NULL); /* the writer drains the queue before it exits */
    store_free(st);
}

/* ---------------------------------------------------------------- the queue */

/* Append ev; for an acknowledged event, sleep until the writer is done with it. Returns 0, or -1
 * when a search was dropped because the queue is full. Called without the lock. */
static int enqueue(kb_store *st, event *ev)
{
    pthread_mutex_lock(&st->mu);
    if (ev->type == EV_SEARCH && st->n_searches >= QUEUE_MAX) {
        st->stats.searches_dropped++;
        pthread_mutex_unlock(&st->mu);
        return -1;
    }
    ev->next = NULL;
    if (st->tail) st->tail->next = ev;
    else st->head = ev;
    st->tail = ev;
    st->n_queued++;
    if (ev->type == EV_SEARCH) st->n_searches++;
    if (ev->acked) st->n_acked++;
    /* Wake the writer only when it has a reason to act: it sleeps on an empty queue, or lingers
     * on a small batch of searches until an acknowledged event or a full batch arrives. Waking it
     * for every search would cost a context switch per event. */
    if (st->n_queued == 1 || ev->acked || st->n_queued == BATCH_MAX)
        pthread_cond_signal(&st->work);
    if (ev->acked)
        while (!ev->done) pthread_cond_wait(&st->done, &st->mu);
    pthread_mutex_unlock(&st->mu);
    return 0;
}

/* ---------------------------------------------------------------- the writer */

/* Errors of one statement that leave the transaction usable: the event is refused, the batch
 * goes on. Anything else (disk full, I/O error, read-only, corruption) fails the batch. */
static int statement_level(int rc)
{
    return (rc & 0xff) == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_MISMATCH ||
           (rc & 0xff) == SQLITE_TOOBIG;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, i);
}

/* Write one event inside the open transaction; returns the SQLite result code. */
static int write_event(kb_store *st, event *ev)
{
    sqlite3_stmt *s;
    switch (ev->type) {
    case EV_SEARCH:
        s = st->ins_search;
        for (int i = 0; i < 5; i++) bind_text(s, i + 1, ev->s[i]);
        sqlite3_bind_int64(s, 6, ev->time_ms);
        sqlite3_bind_int(s, 7, ev->count);
        sqlite3_bind_double(s, 8, ev->confidence);
        sqlite3_bind_int(s, 9, ev->flag != 0);
        sqlite3_bind_double(s, 10, ev->took_ms);
        break;
    case EV_FEEDBACK:
        s = st->ins_feedback;
        for (int i = 0; i < 4; i++) bind_text(s, i + 1, ev->s[i]);
        sqlite3_bind_int64(s, 5, ev->time_ms);
        break;
    default:
        s = st->ins_help;
        for (int i = 0; i < 5; i++) bind_text(s, i + 1, ev->s[i]);
        sqlite3_bind_int64(s, 6, ev->time_ms);
        sqlite3_bind_int(s, 7, ev->flag != 0);
        sqlite3_bind_double(s, 8, ev->confidence);
        bind_text(s, 9, ev->s[5]);
        sqlite3_bind_int(s, 10, ev->flag && ev->count); /* must-know only with a document */
        break;
    }
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return rc;
    ev->result = KB_OK;
    if (ev->type == EV_FEEDBACK && sqlite3_changes(st->db) == 1 && ev->s[3] &&
        (strcmp(ev->s[2], "helpful") == 0 || strcmp(ev->s[2], "click") == 0)) {
        /* In the feedback's transaction: stored feedback and its teaching never disagree. */
        s = st->ins_teaching;
        for (int i = 0; i < 5; i++) bind_text(s, i + 1, ev->s[i]);
        sqlite3_bind_int64(s, 6, ev->time_ms);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE) return rc;
        return SQLITE_OK;
    }
    if (ev->type == EV_FEEDBACK && sqlite3_changes(st->db) == 0) {
        /* Not written: an unknown search, or a repeat. Rare, so the statement is not kept. */
        sqlite3_stmt *q = NULL;
        int known = sqlite3_prepare_v2(st->db, "SELECT 1 FROM searches WHERE search_id = ?1", -1,
                                       &q, NULL) == SQLITE_OK &&
                    sqlite3_bind_text(q, 1, ev->s[0], -1, SQLITE_STATIC) == SQLITE_OK &&
                    sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
        if (known) {
            ev->result = KB_DUPLICATE;
            if (asprintf(&ev->err, "the same feedback on search %s is already stored", ev->s[0]) < 0)
                ev->err = NULL;
        } else {
            ev->result = KB_NOT_FOUND;
            if (asprintf(&ev->err, "no search with id %s", ev->s[0]) < 0) ev->err = NULL;
        }
    }
    if (ev->type == EV_HELP) ev->id = sqlite3_last_insert_rowid(st->db);
    return SQLITE_OK;
}

static void fail_event(kb_store *st, event *ev, const char *what, const char *msg)
{
    ev->result = KB_ERROR;
    free(ev->err);
    if (asprintf(&ev->err, "cannot write %s to event store %s: %s", what, st->path, msg) < 0)
        ev->err = NULL;
}

static const char *event_what(const event *ev)
{
    return ev->type == EV_SEARCH ? "search" : ev->type == EV_FEEDBACK ? "feedback"
                                                                      : "help request";
}

/* Write a batch in one transaction; sets each event's result. */
static void write_batch(kb_store *st, event *batch)
{
    int want_full = 0;
    for (event *ev = batch; ev; ev = ev->next) want_full |= ev->acked;
    if (want_full != st->sync_full &&
        exec_sql(st->db, want_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL") ==
            SQLITE_OK)
        st->sync_full = want_full;

    int rc = exec_sql(st->db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) {
        for (event *ev = batch; ev; ev = ev->next) {
            rc = write_event(st, ev);
            if (rc == SQLITE_OK) continue;
            if (!statement_level(rc)) break;
            fail_event(st, ev, event_what(ev), sqlite3_errmsg(st->db));
            rc = SQLITE_OK;
        }
    }
    if (rc == SQLITE_OK) rc = exec_sql(st->db, "COMMIT");
    if (rc == SQLITE_OK) {
        if (st->failing) kb_journal_printf(KB_PRIO_INFO, "kb_store: %s: writes work again\n", st->path);
        st->failing = 0;
        return;
    }
    /* The whole batch is lost: roll back (SQLite may already have) and report it on every event,
     * including those whose statements had succeeded. The next batch starts afresh, so the store
     * works again as soon as the disk does. */
    /* SQLite's "disk I/O error" alone does not say whether the disk is full: add errno. */
    char copy[256];
    int sys = sqlite3_system_errno(st->db);
    if (sys) snprintf(copy, sizeof copy, "%s (%s)", sqlite3_errmsg(st->db), strerror(sys));
    else snprintf(copy, sizeof copy, "%s", sqlite3_errmsg(st->db));
    if (!sqlite3_get_autocommit(st->db)) exec_sql(st->db, "ROLLBACK");
    size_t n = 0;
    for (event *ev = batch; ev; ev = ev->next, n++) fail_event(st, ev, event_what(ev), copy);
    if (!st->failing)
        kb_journal_printf(KB_PRIO_ERR, "kb_store: %s: write failed, %zu events lost: %s\n", st->path,
                          n, copy);
    st->failing = 1;
    snprintf(st->fail_msg, sizeof st->fail_msg, "%s", copy);
}

static void *writer_main(void *arg)
{
    kb_store *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->head && !st->closing) pthread_cond_wait(&st->work, &st->mu);
        if (!st->head) break; /* closing, and everything is written */
        /* Searches only: give the batch up to LINGER_MS to grow, so a quiet floor costs a few
         * commits per second instead of one per search. */
        if (!st->n_acked && st->n_queued < BATCH_MAX && !st->closing) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_nsec += LINGER_MS * 1000000L;
            if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
            while (!st->n_acked && st->n_queued < BATCH_MAX && !st->closing)
                if (pthread_cond_timedwait(&st->work, &st->mu, &dl) != 0) break;
        }
        event *batch = st->head, *last = batch;
        size_t n = 1, n_search = last->type == EV_SEARCH, n_acked = last->acked;
        while (n < BATCH_MAX && last->next) {
            last = last->next;
            n++;
            n_search += last->type == EV_SEARCH;
            n_acked += last->acked;
        }
        st->head = last->next;
        if (!st->head) st->tail = NULL;
        last->next = NULL;
        st->n_queued -= n;
        st->n_searches -= n_search;
        st->n_acked -= n_acked;
        pthread_mutex_unlock(&st->mu);

        write_batch(st, batch);

        pthread_mutex_lock(&st->mu);
        st->stats.failing = st->failing; /* for /healthz: the store's state, not just a count */
        snprintf(st->stats.last_error, sizeof st->stats.last_error, "%s",
                 st->failing ? st->fail_msg : "");
        for (event *ev = batch, *next; ev; ev = next) {
            next = ev->next; /* an acknowledged event's owner may free it once done is set */
            if (ev->result == KB_ERROR) st->stats.write_errors++;
            else if (ev->type == EV_SEARCH) st->stats.searches_logged++;
            if (ev->acked) {
                ev->done = 1;
            } else {
                event_free_strings(ev);
                free(ev);
            }
        }
        if (n_acked) pthread_cond_broadcast(&st->done);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ---------------------------------------------------------------- the public calls */

/* JSON array of strings; NULL on OOM. */
static char *json_string_array(const char *const *v, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++) cap += 3 + 6 * strlen(v[i] ? v[i] : "");
    char *out = malloc(cap), *o = out;
    if (!out) return NULL;
    *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = ',';
        *o++ = '"';
        for (const unsigned char *c = (const unsigned char *)(v[i] ? v[i] : ""); *c; c++) {
            if (*c == '"' || *c == '\\') *o++ = '\\', *o++ = (char)*c;
            else if (*c < 0x20) o += sprintf(o, "\\u%04x", *c);
            else *o++ = (char)*c;
        }
        *o++ = '"';
    }
    *o++ = ']';
    *o = '\0';
    return out;
}

/* Redacted copy of free text; NULL stays NULL. Sets *oom on failure. */
static char *redacted(const char *text, int *oom)
{
    if (!text) return NULL;
    char *r = kb_redact(text, strlen(text), NULL);
    if (!r) *oom = 1;
    return r;
}

/* The same for a name or an id (agent, filed_by, doc_id): callers check these (kb-searchd
 * refuses an agent id or a document id that holds a customer's number), but nothing shaped like
 * one may reach the store whoever the caller is. NULL becomes "". */
static char *redacted_name(const char *text, int *oom) { return redacted(text ? text : "", oom); }

int kb_store_log_search(kb_store *st, const kb_search_event *e)
{
    if (!st || !e || !e->search_id || !*e->search_id) {
        set_err("search event without a search_id");
        return KB_ERROR;
    }
    event *ev = calloc(1, sizeof *ev);
    if (!ev) goto oom;
    int oom = 0;
    ev->type = EV_SEARCH;
    ev->s[0] = strdup(e->search_id);
    ev->s[1] = redacted_name(e->agent, &oom);
    ev->s[2] = redacted(e->query ? e->query : "", &oom);
    ev->s[3] = json_string_array(e->top_ids, e->top_ids ? e->n_top : 0);
    ev->s[4] = e->top_ids && e->n_top ? dup_or_null(e->top_ids[0]) : NULL;
    if (oom || !ev->s[0] || !ev->s[1] || !ev->s[3] ||
        (e->top_ids && e->n_top && e->top_ids[0] && !ev->s[4])) {
        event_free_strings(ev);
        free(ev);
        goto oom;
    }
    ev->time_ms = e->time_ms;
    ev->count = e->top_ids ? (int)e->n_top : 0;
    ev->confidence = e->confidence;
    ev->flag = e->unresolved;
    ev->took_ms = e->took_ms;
    if (enqueue(st, ev) != 0) {
        event_free_strings(ev);
        free(ev);
        set_err("event store queue full (%d searches waiting): search %s dropped", QUEUE_MAX,
                e->search_id);
        return KB_ERROR;
    }
    return KB_OK;
oom:
    set_err("out of memory logging search %s", e->search_id);
    return KB_ERROR;
}

/* Queue an acknowledged event, wait for it, and hand back its result (and message). */
static int run_acked(kb_store *st, event *ev)
{
    ev->acked = 1;
    enqueue(st, ev);
    int rc = ev->result;
    if (rc != KB_OK) set_err("%s", ev->err ? ev->err : "event store write failed");
    event_free_strings(ev);
    return rc;
}

int kb_store_log_feedback(kb_store *st, const char *search_id, const char *agent,
                          kb_feedback_kind kind, const char *doc_id, int64_t time_ms)
{
    return kb_store_log_feedback_as(st, search_id, agent, "agent", kind, doc_id, time_ms);
}

int kb_store_role_is_valid(const char *role)
{
    return role && (!strcmp(role, "agent") || !strcmp(role, "editor") || !strcmp(role, "lead") ||
                    !strcmp(role, "admin"));
}

int kb_store_log_feedback_as(kb_store *st, const char *search_id, const char *agent,
                             const char *role, kb_feedback_kind kind, const char *doc_id,
                             int64_t time_ms)
{
    static const char *const kinds[] = {"click", "helpful", "not_found"};
    if (!st || !search_id || (unsigned)kind > KB_FEEDBACK_NOT_FOUND ||
        !kb_store_role_is_valid(role)) {
        set_err("invalid feedback: %s", !search_id ? "no search_id"
                                        : (unsigned)kind > KB_FEEDBACK_NOT_FOUND ? "unknown kind"
                                                                                 : "unknown role");
        return KB_ERROR;
    }
    int oom = 0;
    event ev = {.type = EV_FEEDBACK, .time_ms = time_ms};
    ev.s[0] = strdup(search_id);
    ev.s[1] = redacted_name(agent, &oom);
    ev.s[2] = strdup(kinds[kind]);
    ev.s[3] = redacted(doc_id, &oom);
    ev.s[4] = strdup(role);
    if (oom || !ev.s[0] || !ev.s[2] || !ev.s[4]) {
        event_free_strings(&ev);
        set_err("out of memory logging feedback");
        return KB_ERROR;
    }
    return run_acked(st, &ev);
}

int kb_store_log_help_request(kb_store *st, const kb_help_request *hr, int64_t *id)
{
    if (id) *id = 0;
    if (!st || !hr) {
        set_err("invalid help request");
        return KB_ERROR;
    }
    int oom = 0;
    event ev = {.type = EV_HELP, .time_ms = hr->time_ms, .flag = hr->kb_answerable,
                .confidence = hr->confidence, .count = hr->must_know != 0};
    ev.s[0] = redacted_name(hr->agent, &oom);
    ev.s[1] = redacted_name(hr->filed_by, &oom);
    ev.s[2] = redacted(hr->question ? hr->question : "", &oom);
    ev.s[3] = redacted(hr->answer, &oom);
    ev.s[4] = redacted(hr->doc_id, &oom);
    ev.s[5] = hr->doc_id ? redacted(hr->doc_title, &oom) : NULL;
    if (oom) {
        event_free_strings(&ev);
        set_err("out of memory logging help request");
        return KB_ERROR;
    }
    int rc = run_acked(st, &ev);
    if (rc == KB_OK && id) *id = ev.id;
    return rc;
}

void kb_store_stats(kb_store *st, kb_store_stats_t *out)
{
    pthread_mutex_lock(&st->mu);
    *out = st->stats;
    pthread_mutex_unlock(&st->mu);
}

const char *kb_store_errmsg(kb_store *st)
{
    (void)st; /* one store per process: the message is per thread */
    return tls_err;
}

const char *kb_store_path(const kb_store *st) { return st->path; }

int kb_store_schema_version(void) { return SCHEMA_VERSION; }
