/*
 * store.c — the event store: searches, feedback and help requests in SQLite or PostgreSQL,
 * through kb/db (see kb/store.h, docs/EVENT-STORE.md and docs/CLUSTER.md).
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
 * WAL — and with it every earlier batch. On PostgreSQL the same choice is synchronous_commit
 * (kb_db_set_durable).
 *
 * PostgreSQL differs in two ways the writer handles (docs/CLUSTER.md): a failed statement aborts
 * the whole transaction, so a batch with one refused event is rolled back and written again
 * without it; and the connection can be lost, which fails the batch (as a failed disk does on
 * SQLite) and is retried by reconnecting before the next one. While idle the writer checks the
 * connection every second, so /healthz can say whether the database is reachable.
 *
 * With a spool directory (PostgreSQL only, kb_store_open_spooled), a lost connection fails
 * nothing: that batch and every later one go to the spool on local disk until the database is
 * back and the spool is delivered, in order and exactly once (store_spool.c, docs/CLUSTER.md).
 * That is why, on PostgreSQL, every insert is idempotent by the event's own key (the search's
 * id, the feedback's rule "once per search, kind and document", the help request's id).
 */
#include "kb/store.h"

#include "kb/journal.h"
#include "kb/redact.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>

#include "db/db.h"
#include "events/reredact.h"
#include "events/store_conn.h"
#include "events/store_internal.h"
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
/* PostgreSQL: searches per multi-row INSERT. Each statement is a round trip to the server, so
 * rows one at a time would cap the writer at about 10,000 searches a second (measured, see
 * docs/CLUSTER.md); 64 in one cut that by an order of magnitude. */
static const int SEARCH_ROWS[2] = {64, 8};
#define SEARCH_COLUMNS "search_id, agent, query, top_ids, top_id, time_ms, hits, confidence, " \
                       "unresolved, took_ms"

/* ---------------------------------------------------------------- schema and migrations */

/* migrations[v] takes the schema from version v to v + 1; PRAGMA user_version (SQLite) or table
 * kb_schema (PostgreSQL) records the version. Never edit a released step: append a new one,
 * written in the SQL both databases accept (it runs through kb_db_ddl). The steps before
 * PG_BASE_STEPS were released for SQLite alone: a PostgreSQL store runs only their schema
 * statements (kb_db_ddl_only; it holds no data for the others to change) plus PG_EXTRAS. A step
 * that begins with PG_ONLY adds what only PostgreSQL lacks: on SQLite it records the version and
 * runs nothing. */
#define PG_ONLY "-- PostgreSQL only\n"
/* A step that is C code rather than SQL, on both databases: kb_writer_migrate calls it. */
#define IN_C "-- in C\n"
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
    /* 6 -> 7: the teaching records' normalized phrasing, stored (docs/CLUSTER.md, "The three SQL
     * functions of today"): kb/learn groups by teachings.k instead of calling kb_learn_key() per
     * row, which PostgreSQL could not. NULL until kb/learn computes it (the rows the writer
     * copies from feedback, and every row written before); a later change of the normalization
     * sets k = NULL in its step so the keys are computed again. */
    ("ALTER TABLE teachings ADD COLUMN k TEXT;  -- kb_learn_normalize(question)\n"
     "CREATE INDEX teachings_unkeyed ON teachings(id) WHERE k IS NULL;\n"),
    /* 7 -> 8: tallies that let the gap queue add a question to an item at the cost of what is
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
    /* 8 -> 9, PostgreSQL only: help_requests.seq, the commit order the gap queue follows there
     * (docs/CLUSTER.md, "Work that runs on one node at a time"). On SQLite the queue follows the
     * id, which is the rowid and given in commit order by the one writer. On PostgreSQL a help
     * request accepted while its node could not reach the database keeps an id from a block the
     * node reserved before (the spool), so ids are not in commit order; a seq drawn at the
     * insert, under the cluster's write lock, is. Rows already stored get numbers in no
     * particular order: the queue had not run on PostgreSQL before this step, and starts from
     * 0. */
    (PG_ONLY
     "ALTER TABLE help_requests ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;\n"
     "CREATE UNIQUE INDEX help_requests_seq ON help_requests(seq);\n"),
    /* 9 -> 10, PostgreSQL only: what the spool's delivery needs (docs/CLUSTER.md, "When the
     * database is unreachable: the spool"). feedback_once is the rule "the same feedback is
     * stored once" as an index, so feedback delivered twice (a crash between a delivery's COMMIT
     * and the spool's delivered position) is ignored by ON CONFLICT. feedback_parked holds
     * feedback a spool delivered on a search the database does not hold yet (another node's
     * spool still holds it): written with its teaching when the search arrives, dropped after
     * 7 days; feedback's columns, plus the role that decides the teaching. SQLite has no spool
     * (its writer's NOT EXISTS keeps the rule, as before). */
    (PG_ONLY
     "CREATE UNIQUE INDEX feedback_once ON feedback(search_id, kind, coalesce(doc_id, ''));\n"
     "CREATE TABLE feedback_parked (\n"
     "  id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
     "  search_id TEXT NOT NULL,\n"
     "  agent     TEXT NOT NULL,\n"
     "  kind      TEXT NOT NULL CHECK (kind IN ('click', 'helpful', 'not_found')),\n"
     "  doc_id    TEXT,\n"
     "  role      TEXT NOT NULL CHECK (role IN ('agent', 'editor', 'lead', 'admin')),\n"
     "  time_ms   BIGINT NOT NULL            -- when the feedback was given\n"
     ");\n"
     "CREATE UNIQUE INDEX feedback_parked_once ON feedback_parked(search_id, kind, "
     "coalesce(doc_id, ''));\n"
     "CREATE INDEX feedback_parked_time ON feedback_parked(time_ms);\n"),
    /* 10 -> 11: what earlier builds stored redacted again by the widened kb_redact() (numbers
     * split by tabs, line breaks, other blanks, invisible characters or combining marks, written
     * in another script's digits, or in groups split by a slash, underscore, tilde or middle
     * dot): every redacted column of every table, and what derives from the text. C, on both
     * databases: events/reredact.c, docs/PRIVACY.md "Stores written before a widening". */
    IN_C,
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))
#define PG_BASE_STEPS 6

/* What only a PostgreSQL store has, made with the last of the base steps (docs/CLUSTER.md):
 *   - searches.seq, the commit order the gap queue follows where SQLite has the rowid (the
 *     search's key is text); identity values are drawn under the cluster's write lock, so in
 *     commit order;
 *   - coaching_docs.seq, the order a lead gave the documents (SQLite's rowid order). */
static const char PG_EXTRAS[] =
    "ALTER TABLE searches ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;\n"
    "CREATE UNIQUE INDEX searches_seq ON searches(seq);\n"
    "ALTER TABLE coaching_docs ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;\n";


/* ---------------------------------------------------------------- events and the store */

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


/* ---------------------------------------------------------------- opening */

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

/* Step 10 -> 11 (IN_C): the store redacted again; says in the journal what it did, when the
 * store held anything. The kb_db code; *n counts what was done. */
static int reredact_step(kb_store *st, int from_version, kb_reredact_stats *n_out)
{
    kb_reredact_stats n;
    int64_t t0 = kb_writer_now_ms();
    int rc = kb_reredact_store(st->db, &n);
    int64_t took_ms = kb_writer_now_ms() - t0;
    *n_out = n;
    if (rc == KB_DB_OK && n.rows_read)
        kb_journal_printf(KB_PRIO_INFO,
                          "kb_store: %s: schema %d -> %d: redacted again what earlier versions "
                          "stored: %llu rows read, %llu changed, %llu merged into another, %llu "
                          "gap items recomputed, in %.1f s\n",
                          st->path, from_version, SCHEMA_VERSION,
                          (unsigned long long)n.rows_read, (unsigned long long)n.rows_changed,
                          (unsigned long long)n.rows_merged, (unsigned long long)n.groups_fixed,
                          took_ms / 1e3);
    return rc;
}

/* How long opening a store waits for the write lock while another node migrates it (the
 * re-redaction of a large store takes a while: docs/PRIVACY.md has the figures), rather than
 * the busy timeout of ordinary writes. A store opened offline migrates on the writer's thread
 * at its first connection, where callers wait on it: that waits only KB_WRITER_LOCK_WAIT_MS and
 * tries again later. */
#define MIGRATE_WAIT_MS (30 * 60 * 1000)

int kb_writer_lock_wait(const kb_store *st)
{
    return st->spool ? KB_WRITER_LOCK_WAIT_MS : KB_DB_BUSY_TIMEOUT_MS;
}

/* Bring the schema to SCHEMA_VERSION, in one write transaction: on PostgreSQL under the
 * cluster's write lock, so when several nodes start at once one migrates and the others then
 * find the current version. */
int kb_writer_migrate(kb_store *st, int wait_ms, char *err, size_t err_len)
{
    kb_db *db = st->db;
    kb_db_dialect d = kb_db_dialect_of(db);
    int version = -1;
    /* kb_redact() in SQL is step 3 -> 4's, on SQLite only (a PostgreSQL store never held
     * unredacted rows then). */
    if (!st->pg && sqlite3_create_function(kb_db_sqlite_handle(db), "kb_redact", 1,
                                           SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_redact,
                                           NULL, NULL) != SQLITE_OK)
        goto sqlite_fail;
    /* SQLite: what a step deletes or overwrites is zeroed in the file, not left in free space
     * (the re-redaction's old text must not stay on disk). */
    if (!st->pg && kb_db_exec(db, "PRAGMA secure_delete = ON") != KB_DB_OK) goto fail;
    kb_reredact_stats redone = {0};
    kb_db_set_busy_timeout(db, wait_ms);
    int begun = kb_db_begin(db, KB_DB_TX_WRITE);
    kb_db_set_busy_timeout(db, kb_writer_lock_wait(st));
    if (begun != KB_DB_OK) goto fail;
    if (kb_db_schema_version(db, &version) != KB_DB_OK) goto fail;
    if (version > SCHEMA_VERSION) {
        kb_db_rollback(db);
        snprintf(err, err_len,
                 "event store %s has schema version %d; this program knows only up to %d",
                 st->path, version, SCHEMA_VERSION);
        return -1;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        int pg_only = !strncmp(migrations[v], PG_ONLY, strlen(PG_ONLY));
        int in_c = !strcmp(migrations[v], IN_C);
        char *sql = in_c                        ? strdup("")
                    : st->pg && v < PG_BASE_STEPS ? kb_db_ddl_only(d, migrations[v])
                    : pg_only && !st->pg        ? strdup("")
                    : pg_only                   ? strdup(migrations[v]) /* PostgreSQL's DDL */
                                                : kb_db_ddl(d, migrations[v]);
        if (!sql) {
            kb_db_rollback(db);
            snprintf(err, err_len, "cannot set up event store %s: out of memory", st->path);
            return -1;
        }
        int rc = *sql ? kb_db_exec(db, sql) : KB_DB_OK;
        free(sql);
        if (rc == KB_DB_OK && st->pg && v + 1 == PG_BASE_STEPS) rc = kb_db_exec(db, PG_EXTRAS);
        if (rc == KB_DB_OK && in_c) rc = reredact_step(st, version, &redone);
        if (rc != KB_DB_OK || kb_db_set_schema_version(db, v + 1) != KB_DB_OK) goto fail;
    }
    if (kb_db_commit(db) != KB_DB_OK) goto fail;
    if (!st->pg) {
        /* Free pages written before the step may still hold text it has now redacted (rows the
         * earlier program deleted or rewrote): VACUUM rebuilds the file from its live rows, and
         * the WAL, which holds the pages as they were, is emptied. Without a change there is
         * nothing newly unsafe to remove. */
        if (redone.rows_changed + redone.rows_merged &&
            (kb_db_exec(db, "VACUUM") != KB_DB_OK ||
             kb_db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)") != KB_DB_OK))
            kb_journal_printf(KB_PRIO_WARNING,
                              "kb_store: %s: cannot compact the store after redacting it again "
                              "(the old text may stay in its free pages until they are reused): "
                              "%s\n", st->path, kb_store_db_message(db));
        kb_db_exec(db, "PRAGMA secure_delete = OFF");
    }
    return 0;
sqlite_fail:
    snprintf(err, err_len, "cannot set up event store %s: %s", st->path,
             sqlite3_errmsg(kb_db_sqlite_handle(db)));
    return -1;
fail:
    snprintf(err, err_len, "cannot set up event store %s: %s", st->path, kb_store_db_message(db));
    kb_db_rollback(db);
    return -1;
}

static void *writer_main(void *arg);
static void publish_state(kb_store *st);

static void store_free(kb_store *st)
{
    kb_db_finalize(st->ins_search);
    kb_db_finalize(st->ins_search_once);
    for (int k = 0; k < 2; k++) {
        kb_db_finalize(st->ins_searches[k]);
        kb_db_finalize(st->ins_searches_once[k]);
    }
    kb_db_finalize(st->ins_feedback);
    kb_db_finalize(st->ins_help);
    kb_db_finalize(st->ins_teaching);
    kb_db_finalize(st->ins_help_id);
    kb_db_finalize(st->ins_help_teaching);
    kb_db_finalize(st->ins_parked);
    kb_writer_spool_close(st);
    kb_db_close(st->db);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->work);
    pthread_cond_destroy(&st->done);
    free(st->path);
    free(st);
}

/* The handle with its locks, nothing opened yet. NULL when memory ran out. */
static kb_store *store_new(void)
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
    return st;
}

/* PostgreSQL: the INSERTs of SEARCH_ROWS[k] searches at once, into out[k]; with once, ones
 * that skip a search already stored (delivery from the spool). 0, or -1 (out of memory, or the
 * layer's error). */
static int prepare_multi_row(kb_store *st, int once, kb_db_stmt **out)
{
    for (int k = 0; k < 2; k++) {
        size_t cap = 192 + (size_t)SEARCH_ROWS[k] * 64, o;
        char *sql = malloc(cap);
        if (!sql) return -1;
        o = (size_t)snprintf(sql, cap, "INSERT INTO searches (" SEARCH_COLUMNS ") VALUES ");
        for (int r = 0, p = 1; r < SEARCH_ROWS[k]; r++, p += 10)
            o += (size_t)snprintf(sql + o, cap - o, "%s(?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d)",
                                  r ? ", " : "", p, p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7,
                                  p + 8, p + 9);
        if (once) snprintf(sql + o, cap - o, " ON CONFLICT (search_id) DO NOTHING");
        int rc = kb_db_prepare(st->db, sql, &out[k]);
        free(sql);
        if (rc != KB_DB_OK) return -1;
    }
    return 0;
}

/* The writer's INSERTs, prepared once. 0, or -1 with the reason in err.
 *
 * On PostgreSQL what the spool delivers is inserted idempotently, by each event's key (ON
 * CONFLICT ... DO NOTHING), so a batch written twice — delivered again after a crash between
 * the COMMIT and the delivered position, or spooled after a COMMIT whose answer the lost
 * connection swallowed — stores nothing twice (docs/CLUSTER.md, "Exactly once"). Written
 * directly, a search keeps its statement of before: a duplicate id is refused and reported.
 * SQLite's statements are as before: a single machine's store has no spool. */
static int prepare_inserts(kb_store *st, char *err, size_t err_len)
{
    static const char sql_search[] =
        "INSERT INTO searches (" SEARCH_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    static const char sql_search_pg[] =
        "INSERT INTO searches (" SEARCH_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT (search_id) DO NOTHING";
    /* Written only for a logged search, and only once: the same kind and document again on the
     * same search is a repeat (a double click, a client's retry), not a second opinion. */
#define FEEDBACK_INSERT                                                                        \
    "INSERT INTO feedback (search_id, agent, kind, doc_id, time_ms) "                          \
    "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM searches WHERE search_id = ?1) "   \
    "AND NOT EXISTS (SELECT 1 FROM feedback WHERE search_id = ?1 AND kind = ?3 "              \
    "AND doc_id IS NOT DISTINCT FROM ?4)"
    static const char sql_feedback[] = FEEDBACK_INSERT;
    static const char sql_feedback_pg[] = FEEDBACK_INSERT " ON CONFLICT DO NOTHING";
#undef FEEDBACK_INSERT
    /* The help request's id from RETURNING (SQLite's last_insert_rowid has no PostgreSQL
     * counterpart). */
    static const char sql_help[] =
        "INSERT INTO help_requests (agent, filed_by, question, answer, doc_id, doc_title, "
        "time_ms, kb_answerable, confidence, must_know) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8, ?10) RETURNING id";
    /* PostgreSQL: one that already has its id (reserved for the spool, or drawn by a
     * transaction whose COMMIT went unanswered). */
    static const char sql_help_id[] =
        "INSERT INTO help_requests (agent, filed_by, question, answer, doc_id, doc_title, "
        "time_ms, kb_answerable, confidence, must_know, id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?9, ?6, ?7, ?8, ?10, ?11) ON CONFLICT (id) DO NOTHING";
    /* helpful and click feedback teach: the search's question (stored redacted) becomes a
     * phrasing of the document (kb/learn.h decides whether it counts). */
    static const char sql_teaching[] =
        "INSERT INTO teachings (doc_id, question, source, teacher, role, ref, time_ms) "
        "SELECT ?4, query, ?3, ?2, ?5, ?1, ?6 FROM searches WHERE search_id = ?1";
    /* The support desk's answer names a document: the question teaches it (kb/learn.h, source
     * help_desk), in the request's transaction; teachings.k is filled in by kb/learn. */
    static const char sql_help_teaching[] =
        "INSERT INTO teachings (doc_id, question, source, teacher, role, ref, time_ms) "
        "VALUES (?1, ?2, 'help_desk', ?3, ?4, ?5, ?6)";
    static const char sql_parked[] =
        "INSERT INTO feedback_parked (search_id, agent, kind, doc_id, role, time_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
    if (kb_db_prepare(st->db, sql_teaching, &st->ins_teaching) != KB_DB_OK ||
        kb_db_prepare(st->db, sql_search, &st->ins_search) != KB_DB_OK ||
        kb_db_prepare(st->db, st->pg ? sql_feedback_pg : sql_feedback, &st->ins_feedback) != KB_DB_OK ||
        kb_db_prepare(st->db, sql_help, &st->ins_help) != KB_DB_OK ||
        kb_db_prepare(st->db, sql_help_teaching, &st->ins_help_teaching) != KB_DB_OK ||
        (st->pg && (kb_db_prepare(st->db, sql_search_pg, &st->ins_search_once) != KB_DB_OK ||
                    kb_db_prepare(st->db, sql_help_id, &st->ins_help_id) != KB_DB_OK ||
                    kb_db_prepare(st->db, sql_parked, &st->ins_parked) != KB_DB_OK ||
                    prepare_multi_row(st, 0, st->ins_searches) != 0 ||
                    prepare_multi_row(st, 1, st->ins_searches_once) != 0))) {
        snprintf(err, err_len, "cannot prepare event store %s: %s", st->path,
                 kb_store_db_message(st->db));
        return -1;
    }
    return 0;
}

kb_store *kb_store_open(const char *data_dir, char *err, size_t err_len)
{
    return kb_store_open_spooled(data_dir, NULL, err, err_len);
}

kb_store *kb_store_open_spooled(const char *data, const char *spool_dir, char *err,
                                size_t err_len)
{
    char dummy[8];
    if (!err || !err_len) err = dummy, err_len = sizeof dummy;
    if (!data || !*data) {
        snprintf(err, err_len, "no data directory given");
        return NULL;
    }
    if (spool_dir && !kb_db_is_uri(data)) {
        snprintf(err, err_len, "a spool is for an event store in PostgreSQL (--data "
                 "postgresql://...): the SQLite store in %s is on this machine and needs none",
                 data);
        return NULL;
    }
    /* Without working redaction nothing may be stored. */
    if (kb_redact_global_init(err, err_len) != 0) return NULL;
    kb_store *st = store_new();
    if (!st) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    /* SQLite: the directory (0700) and the file (0600) created when missing, WAL, FULL sync
     * until the writer decides per batch; PostgreSQL: a session with the store's settings —
     * or, with a spool, a handle that connects later when the server cannot be reached now. */
    st->db = kb_db_open(data, KB_DB_CREATE | (spool_dir ? KB_DB_ALLOW_OFFLINE : 0), err, err_len);
    if (!st->db) goto fail;
    st->pg = kb_db_dialect_of(st->db) == KB_DB_POSTGRESQL;
    if (!(st->path = strdup(kb_db_name(st->db)))) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    if (spool_dir && kb_writer_spool_open(st, spool_dir, err, err_len) != 0) goto fail;
    if (spool_dir && kb_db_errcode(st->db) == KB_DB_LOST) {
        /* Started while the database is away: searches are answered and events spooled; the
         * schema is checked (and migrated) at the first connection. kb_writer_set_unreachable
         * says so in the journal, once. */
        st->need_migrate = 1;
        st->spooling = 1;
        kb_writer_set_unreachable(st, 1);
    } else if (kb_writer_migrate(st, MIGRATE_WAIT_MS, err, err_len) != 0) {
        goto fail;
    }
    if (prepare_inserts(st, err, err_len) != 0) goto fail;
    /* Offline, the migration waits for the first connection: the setting is applied when the
     * session is. */
    if (st->need_migrate) kb_db_set_busy_timeout(st->db, kb_writer_lock_wait(st));
    if (st->spool && !st->unreachable) kb_writer_after_commit(st); /* the first reserved ids */
    publish_state(st); /* what /healthz says before the first batch */
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
    if (ev->type == KB_EV_SEARCH && st->n_searches >= QUEUE_MAX) {
        st->stats.searches_dropped++;
        pthread_mutex_unlock(&st->mu);
        return -1;
    }
    ev->next = NULL;
    if (st->tail) st->tail->next = ev;
    else st->head = ev;
    st->tail = ev;
    st->n_queued++;
    if (ev->type == KB_EV_SEARCH) st->n_searches++;
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

/* Errors of one statement that refuse only its event: the event is reported failed, the batch
 * goes on. Anything else (disk full, I/O error, read-only, corruption, a lost connection) fails
 * the batch. SQLite: a constraint, a type mismatch, a value too big (its result code); the
 * transaction stays usable. PostgreSQL: SQLSTATE classes 22 (data exception, e.g. invalid
 * UTF-8), 23 (integrity) and 54 (a value past a limit); they abort the transaction, which
 * write_batch writes again without the event. */
static int statement_level(kb_store *st, int rc)
{
    if (rc == KB_DB_LOST || rc == KB_DB_BUSY) return 0;
    const char *state = kb_db_sqlstate(st->db);
    if (st->pg) return !strncmp(state, "22", 2) || !strncmp(state, "23", 2) || !strncmp(state, "54", 2);
    int code = atoi(state) & 0xff;
    return code == SQLITE_CONSTRAINT || code == SQLITE_MISMATCH || code == SQLITE_TOOBIG;
}

/* Bind a search's ten values from parameter first on. */
static void bind_search(kb_db_stmt *s, int first, const event *ev)
{
    for (int i = 0; i < 5; i++) kb_db_bind_text(s, first + i, ev->s[i]);
    kb_db_bind_int64(s, first + 5, ev->time_ms);
    kb_db_bind_int64(s, first + 6, ev->count);
    kb_db_bind_double(s, first + 7, ev->confidence);
    kb_db_bind_int64(s, first + 8, ev->flag != 0);
    kb_db_bind_double(s, first + 9, ev->took_ms);
}

/* PostgreSQL: write the run of searches starting at *pev in multi-row INSERTs, as long as it has
 * at least the smallest chunk; *pev moves past what was written. KB_DB_OK, or the failed
 * statement's code (which of its rows was refused is not known: write_batch then writes the
 * batch again a row at a time). */
static int write_search_rows(kb_store *st, event **pev)
{
    for (;;) {
        int run = 0;
        for (event *e = *pev; e && e->type == KB_EV_SEARCH && !e->refused && run < SEARCH_ROWS[0];
             e = e->next)
            run++;
        int k = run >= SEARCH_ROWS[0] ? 0 : run >= SEARCH_ROWS[1] ? 1 : -1;
        if (k < 0) return KB_DB_OK;
        kb_db_stmt *s = st->delivering ? st->ins_searches_once[k] : st->ins_searches[k];
        event *e = *pev;
        for (int r = 0; r < SEARCH_ROWS[k]; r++, e = e->next) bind_search(s, 1 + 10 * r, e);
        int rc = kb_db_step(s);
        if (rc != KB_DB_DONE) return rc;
        for (int r = 0; r < SEARCH_ROWS[k]; r++, *pev = (*pev)->next) (*pev)->result = KB_OK;
    }
}

/* Feedback that wrote no row: its search is unknown, or it is a repeat. From the spool, a
 * repeat is nothing (it was stored before, perhaps by this very batch before a crash) and an
 * unknown search parks it until the search arrives (PostgreSQL: the search may still be in
 * another node's spool); otherwise the caller hears which. Returns the kb_db code. */
static int feedback_not_written(kb_store *st, event *ev)
{
    kb_db_stmt *q = NULL; /* rare: not kept prepared */
    int rc = kb_db_prepare(st->db, "SELECT 1 FROM searches WHERE search_id = ?1", &q);
    if (rc == KB_DB_OK) {
        kb_db_bind_text(q, 1, ev->s[0]);
        rc = kb_db_step(q);
    }
    kb_db_finalize(q);
    if (rc != KB_DB_ROW && rc != KB_DB_DONE) return rc;
    int known = rc == KB_DB_ROW;
    if (st->delivering) {
        if (known) return KB_DB_OK;
        kb_db_stmt *s = st->ins_parked;
        for (int i = 0; i < 5; i++) kb_db_bind_text(s, i + 1, ev->s[i]);
        kb_db_bind_int64(s, 6, ev->time_ms);
        rc = kb_db_step(s);
        if (rc == KB_DB_DONE) st->n_parked += (uint64_t)kb_db_changes(st->db);
        return rc == KB_DB_DONE ? KB_DB_OK : rc;
    }
    free(ev->err);
    if (known) {
        ev->result = KB_DUPLICATE;
        if (asprintf(&ev->err, "the same feedback on search %s is already stored", ev->s[0]) < 0)
            ev->err = NULL;
    } else {
        ev->result = KB_NOT_FOUND;
        if (asprintf(&ev->err, "no search with id %s", ev->s[0]) < 0) ev->err = NULL;
    }
    return KB_DB_OK;
}

/* The teaching that comes with a written event, in its transaction, so the two never
 * disagree: helpful and click feedback teach the search's question (as stored, redacted) to
 * the document; a help request the support desk answered with a document teaches the
 * request's question to it. Returns the kb_db code. */
static int write_teaching(kb_store *st, const event *ev)
{
    kb_db_stmt *s;
    if (ev->type == KB_EV_FEEDBACK) {
        if (!ev->s[3] || (strcmp(ev->s[2], "helpful") != 0 && strcmp(ev->s[2], "click") != 0))
            return KB_DB_OK;
        s = st->ins_teaching;
        for (int i = 0; i < 5; i++) kb_db_bind_text(s, i + 1, ev->s[i]);
        kb_db_bind_int64(s, 6, ev->time_ms);
    } else {
        if (!ev->s[6]) return KB_DB_OK;
        char ref[24];
        snprintf(ref, sizeof ref, "%lld", (long long)ev->id);
        s = st->ins_help_teaching;
        kb_db_bind_text(s, 1, ev->s[6]);
        kb_db_bind_text(s, 2, ev->s[2]);
        kb_db_bind_text(s, 3, ev->s[1]);
        kb_db_bind_text(s, 4, ev->s[7]);
        kb_db_bind_text(s, 5, ref);
        kb_db_bind_int64(s, 6, ev->time_ms);
    }
    int rc = kb_db_step(s);
    return rc == KB_DB_DONE ? KB_DB_OK : rc;
}

int kb_writer_write_event(kb_store *st, event *ev)
{
    kb_db_stmt *s;
    /* PostgreSQL: a help request that has its id already (reserved for the spool, or drawn by
     * an attempt whose COMMIT went unanswered) is inserted with it, once. */
    int with_id = ev->type == KB_EV_HELP && ev->id && st->pg;
    switch (ev->type) {
    case KB_EV_SEARCH:
        s = st->delivering ? st->ins_search_once : st->ins_search;
        bind_search(s, 1, ev);
        break;
    case KB_EV_FEEDBACK:
        s = st->ins_feedback;
        for (int i = 0; i < 4; i++) kb_db_bind_text(s, i + 1, ev->s[i]);
        kb_db_bind_int64(s, 5, ev->time_ms);
        break;
    default:
        s = with_id ? st->ins_help_id : st->ins_help;
        for (int i = 0; i < 5; i++) kb_db_bind_text(s, i + 1, ev->s[i]);
        kb_db_bind_int64(s, 6, ev->time_ms);
        kb_db_bind_int64(s, 7, ev->flag != 0);
        kb_db_bind_double(s, 8, ev->confidence);
        kb_db_bind_text(s, 9, ev->s[5]);
        kb_db_bind_int64(s, 10, ev->flag && ev->count); /* must-know only with a document */
        if (with_id) kb_db_bind_int64(s, 11, ev->id);
        break;
    }
    int rc = kb_db_step(s);
    if (ev->type == KB_EV_HELP && !with_id && rc == KB_DB_ROW) { /* RETURNING id */
        ev->id = kb_db_column_int64(s, 0);
        rc = kb_db_step(s);
    }
    if (rc != KB_DB_DONE) return rc;
    ev->result = KB_OK;
    if (ev->type == KB_EV_SEARCH) return KB_DB_OK;
    if (kb_db_changes(st->db) == 1) return write_teaching(st, ev);
    /* Nothing written: a help request delivered again has its row already; feedback is a
     * repeat or on an unknown search. */
    return ev->type == KB_EV_FEEDBACK ? feedback_not_written(st, ev) : KB_DB_OK;
}

static const char *event_what(const event *ev)
{
    return ev->type == KB_EV_SEARCH ? "search" : ev->type == KB_EV_FEEDBACK ? "feedback"
                                                                            : "help request";
}

void kb_writer_fail_event(kb_store *st, event *ev, const char *msg)
{
    ev->result = KB_ERROR;
    free(ev->err);
    if (asprintf(&ev->err, "cannot write %s to event store %s: %s", event_what(ev), st->path, msg) < 0)
        ev->err = NULL;
}

/* Why the last call failed, for the events and the log. SQLite's "disk I/O error" alone does
 * not say whether the disk is full: errno is added. */
void kb_writer_failure_text(kb_store *st, char *out, size_t len)
{
    if (st->pg) {
        snprintf(out, len, "%s", kb_store_db_message(st->db));
        return;
    }
    sqlite3 *h = kb_db_sqlite_handle(st->db);
    int sys = sqlite3_system_errno(h);
    if (sys) snprintf(out, len, "%s (%s)", sqlite3_errmsg(h), strerror(sys));
    else snprintf(out, len, "%s", sqlite3_errmsg(h));
}

int64_t kb_writer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PostgreSQL: the connection is lost (or was, and comes back now). */
void kb_writer_set_unreachable(kb_store *st, int lost)
{
    if (lost && !st->unreachable) {
        kb_journal_printf(KB_PRIO_ERR, "kb_store: %s: cannot reach the database: %s%s%s%s\n",
                          st->path, kb_store_db_message(st->db),
                          st->spool ? " (events are kept in the spool " : "",
                          st->spool ? kb_spool_dir(st->spool) : "",
                          st->spool ? " until it is back)" : "");
        st->lost_since_ms = kb_writer_now_ms();
        st->next_try_ms = st->lost_since_ms + 1000;
        /* From the first lost connection, however it was noticed (a batch, the parked-feedback
         * round, reserving ids), events go to the spool until it is delivered: a batch never
         * reconnects in write_batch then, which would wait out the connect timeout on a handle
         * kb_writer_idle may be resetting. */
        if (st->spool) st->spooling = 1;
    } else if (!lost && st->unreachable) {
        kb_journal_printf(KB_PRIO_INFO, "kb_store: %s: the database is reachable again\n", st->path);
        /* The batch that failed failed for the lost connection alone: the store works again
         * (/healthz says "ok" before the next event proves it). */
        st->failing = 0;
        st->lost_since_ms = 0;
        st->next_try_ms = 0;
    }
    st->unreachable = lost;
    if (!lost) st->connecting = 0; /* whichever path reconnected */
    if (lost) snprintf(st->fail_msg, sizeof st->fail_msg, "%s", kb_store_db_message(st->db));
}

void kb_writer_set_busy(kb_store *st, int busy)
{
    if (busy && !st->busy)
        kb_journal_printf(KB_PRIO_WARNING, "kb_store: %s: the database's write lock is held "
                          "elsewhere for more than %d ms (%s): events are kept in the spool "
                          "until it is free\n", st->path, KB_WRITER_LOCK_WAIT_MS,
                          kb_store_db_message(st->db));
    else if (!busy && st->busy)
        kb_journal_printf(KB_PRIO_INFO, "kb_store: %s: the write lock is free again\n", st->path);
    st->busy = busy;
    if (busy) st->next_try_ms = kb_writer_now_ms() + KB_WRITER_BUSY_RETRY_MS;
}

/* Run the batch's statements in one write transaction. KB_DB_OK once committed; on PostgreSQL,
 * *replay is set when a statement refused its event (marked refused): roll back and run again. */
static int write_once(kb_store *st, event *batch, int *replay)
{
    *replay = 0;
    int rc = kb_db_begin(st->db, KB_DB_TX_WRITE);
    for (event *ev = batch; rc == KB_DB_OK && ev; ev = ev->next) {
        if (st->pg && !st->one_by_one && ev->type == KB_EV_SEARCH) {
            rc = write_search_rows(st, &ev);
            if (rc != KB_DB_OK && statement_level(st, rc)) {
                st->one_by_one = 1; /* find the refused row: again, a row at a time */
                *replay = 1;
                kb_db_rollback(st->db);
                return rc;
            }
            if (rc != KB_DB_OK || !ev) break;
        }
        if (ev->refused) continue; /* already reported failed */
        rc = kb_writer_write_event(st, ev);
        if (rc == KB_DB_OK) continue;
        if (!statement_level(st, rc)) break;
        char why[256];
        kb_writer_failure_text(st, why, sizeof why);
        kb_writer_fail_event(st, ev, why);
        if (st->pg) {
            ev->refused = 1;
            *replay = 1;
            kb_db_rollback(st->db);
            return rc;
        }
        rc = KB_DB_OK;
    }
    if (rc == KB_DB_OK) rc = kb_db_commit(st->db);
    return rc;
}

int kb_writer_write(kb_store *st, event *batch, char *why, size_t why_len)
{
    int rc, replay;
    st->one_by_one = 0;
    do rc = write_once(st, batch, &replay);
    while (replay);
    if (rc == KB_DB_OK) return rc;
    kb_writer_failure_text(st, why, why_len);
    if (kb_db_errcode(st->db) == KB_DB_LOST) rc = KB_DB_LOST;
    kb_db_rollback(st->db);
    if (!st->pg && !sqlite3_get_autocommit(kb_db_sqlite_handle(st->db)))
        sqlite3_exec(kb_db_sqlite_handle(st->db), "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Write a batch straight to the database in one transaction; sets each event's result.
 * Returns 1 when the connection was lost and the store has a spool: the batch goes there then
 * (its events' results are not final yet), and so does every batch after it until the spool
 * is delivered. */
static int write_batch(kb_store *st, event *batch)
{
    int want_full = 0;
    for (event *ev = batch; ev; ev = ev->next) want_full |= ev->acked;
    if (st->pg && st->unreachable && kb_db_reconnect(st->db) == KB_DB_OK)
        kb_writer_set_unreachable(st, 0);
    kb_db_set_durable(st->db, want_full); /* a failure keeps the last setting: FULL at worst */

    char copy[256];
    int rc = kb_writer_write(st, batch, copy, sizeof copy);
    if (rc == KB_DB_OK) {
        if (st->pg) kb_writer_set_unreachable(st, 0);
        kb_writer_set_busy(st, 0);
        if (st->failing) kb_journal_printf(KB_PRIO_INFO, "kb_store: %s: writes work again\n", st->path);
        st->failing = 0;
        kb_writer_after_commit(st);
        return 0;
    }
    if (rc == KB_DB_LOST) kb_writer_set_unreachable(st, 1);
    if (rc == KB_DB_BUSY && st->spool) kb_writer_set_busy(st, 1);
    if ((rc == KB_DB_LOST || rc == KB_DB_BUSY) && st->spool) {
        /* Whether the COMMIT reached the server is not known when its answer was lost: the
         * spool's inserts are idempotent, and a help request keeps the id this attempt drew.
         * The write lock not granted: the batch was rolled back and waits in the spool, as when
         * the database is away, rather than being lost (its callers hear 201 from the spool). */
        for (event *ev = batch; ev; ev = ev->next)
            if (!ev->refused) {
                free(ev->err);
                ev->err = NULL;
                ev->result = KB_OK;
            }
        st->spooling = 1;
        return 1;
    }
    /* The whole batch is lost: report it on every event, including those whose statements had
     * succeeded. The next batch starts afresh, so the store works again as soon as the disk (or
     * the database) does. */
    size_t n = 0;
    for (event *ev = batch; ev; ev = ev->next, n++) kb_writer_fail_event(st, ev, copy);
    if (!st->failing)
        kb_journal_printf(KB_PRIO_ERR, "kb_store: %s: write failed, %zu events lost: %s\n", st->path,
                          n, copy);
    st->failing = 1;
    snprintf(st->fail_msg, sizeof st->fail_msg, "%s", copy);
    return 0;
}

/* Publish the writer's state for kb_store_stats (/healthz). Under the lock. */
static void publish_state(kb_store *st)
{
    st->stats.failing = st->failing; /* for /healthz: the store's state, not just a count */
    st->stats.unreachable = st->unreachable;
    st->stats.spooling = st->spool ? st->spooling : 0;
    st->stats.spool_events = st->spool ? kb_spool_pending(st->spool) : 0;
    st->stats.help_ids_left = st->ids ? kb_help_ids_left(st->ids) : 0;
    st->stats.events_spooled = st->n_spooled;
    st->stats.events_delivered = st->n_delivered;
    st->stats.feedback_parked = st->n_parked;
    st->stats.parked_written = st->n_parked_written;
    st->stats.parked_dropped = st->n_parked_dropped;
    snprintf(st->stats.last_error, sizeof st->stats.last_error, "%s",
             st->failing || st->unreachable ? st->fail_msg : "");
}

/* Hand the batch's results to their callers (acknowledged events) or free it; count. Under the
 * lock. */
static void finish_batch(kb_store *st, event *batch, int n_acked)
{
    for (event *ev = batch, *next; ev; ev = next) {
        next = ev->next; /* an acknowledged event's owner may free it once done is set */
        if (ev->result == KB_ERROR || ev->result == KB_UNAVAILABLE) st->stats.write_errors++;
        else if (ev->type == KB_EV_SEARCH) st->stats.searches_logged++;
        if (ev->acked) {
            ev->done = 1;
        } else {
            kb_event_free_strings(ev);
            free(ev);
        }
    }
    if (n_acked) pthread_cond_broadcast(&st->done);
}

/* How long a store being closed may go on delivering its spool before it leaves the rest for
 * the next start (a service stop must not wait on a long backlog). */
#define CLOSE_DELIVER_MS 5000

static void *writer_main(void *arg)
{
    kb_store *st = arg;
    int64_t close_deadline = 0;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->head && !st->closing && !kb_writer_delivery_due(st)) {
            if (!st->pg) {
                pthread_cond_wait(&st->work, &st->mu);
                continue;
            }
            /* PostgreSQL: wake to check the connection, reconnect, retry parked feedback. */
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            int64_t wait = kb_writer_idle_wait_ms(st);
            dl.tv_sec += wait / 1000;
            dl.tv_nsec += (wait % 1000) * 1000000L;
            if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
            if (pthread_cond_timedwait(&st->work, &st->mu, &dl) != 0 && !st->head && !st->closing) {
                pthread_mutex_unlock(&st->mu);
                kb_writer_idle(st);
                pthread_mutex_lock(&st->mu);
                publish_state(st);
            }
        }
        if (st->head) {
            /* Searches only: give the batch up to LINGER_MS to grow, so a quiet floor costs a
             * few commits per second instead of one per search. */
            if (!st->n_acked && st->n_queued < BATCH_MAX && !st->closing) {
                struct timespec dl;
                clock_gettime(CLOCK_MONOTONIC, &dl);
                dl.tv_nsec += LINGER_MS * 1000000L;
                if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
                while (!st->n_acked && st->n_queued < BATCH_MAX && !st->closing)
                    if (pthread_cond_timedwait(&st->work, &st->mu, &dl) != 0) break;
            }
            event *batch = st->head, *last = batch;
            size_t n = 1, n_search = last->type == KB_EV_SEARCH, n_acked = last->acked;
            while (n < BATCH_MAX && last->next) {
                last = last->next;
                n++;
                n_search += last->type == KB_EV_SEARCH;
                n_acked += last->acked;
            }
            st->head = last->next;
            if (!st->head) st->tail = NULL;
            last->next = NULL;
            st->n_queued -= n;
            st->n_searches -= n_search;
            st->n_acked -= n_acked;
            pthread_mutex_unlock(&st->mu);

            /* While the spool holds events, new ones join them there: one node's events reach
             * the database in the order it took them. */
            if (st->spooling || write_batch(st, batch)) kb_writer_spool_batch(st, batch);

            pthread_mutex_lock(&st->mu);
            publish_state(st);
            finish_batch(st, batch, (int)n_acked);
            if (st->pg) {
                /* Under a steady stream of events the writer never sleeps long enough to time
                 * out: reconnecting and the connection check happen here then, each when it is
                 * due (after the callers have their answers). */
                pthread_mutex_unlock(&st->mu);
                kb_writer_idle(st);
                pthread_mutex_lock(&st->mu);
                publish_state(st);
            }
        }
        /* One batch of the spool after each batch of the queue: callers waiting for their
         * acknowledgement are never held up by a long backlog. */
        if (kb_writer_delivery_due(st)) {
            if (st->closing && !st->head) {
                if (!close_deadline) close_deadline = kb_writer_now_ms() + CLOSE_DELIVER_MS;
                if (kb_writer_now_ms() > close_deadline) break;
            }
            pthread_mutex_unlock(&st->mu);
            kb_writer_deliver(st);
            pthread_mutex_lock(&st->mu);
            publish_state(st);
            continue;
        }
        if (!st->head && st->closing) break; /* everything is written or spooled */
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

int kb_writer_redact_again(event *ev)
{
    /* The strings kb_store_log_search, _feedback and _help_request redact, by event type (bit i:
     * s[i]): a search's agent and query; feedback's agent and document; all of a help request's
     * but the filer's role. */
    static const unsigned redacted_strings[] = {[KB_EV_SEARCH] = 0x06, [KB_EV_FEEDBACK] = 0x0a,
                                                [KB_EV_HELP] = 0x7f};
    for (int i = 0; i < KB_EVENT_STRINGS; i++) {
        if (!(redacted_strings[ev->type] >> i & 1) || !ev->s[i]) continue;
        char *r = kb_redact(ev->s[i], strlen(ev->s[i]), NULL);
        if (!r) return -1;
        free(ev->s[i]);
        ev->s[i] = r;
    }
    return 0;
}

int kb_store_log_search(kb_store *st, const kb_search_event *e)
{
    if (!st || !e || !e->search_id || !*e->search_id) {
        set_err("search event without a search_id");
        return KB_ERROR;
    }
    event *ev = calloc(1, sizeof *ev);
    if (!ev) goto oom;
    int oom = 0;
    ev->type = KB_EV_SEARCH;
    ev->s[0] = strdup(e->search_id);
    ev->s[1] = redacted_name(e->agent, &oom);
    ev->s[2] = redacted(e->query ? e->query : "", &oom);
    ev->s[3] = json_string_array(e->top_ids, e->top_ids ? e->n_top : 0);
    ev->s[4] = e->top_ids && e->n_top ? dup_or_null(e->top_ids[0]) : NULL;
    if (oom || !ev->s[0] || !ev->s[1] || !ev->s[3] ||
        (e->top_ids && e->n_top && e->top_ids[0] && !ev->s[4])) {
        kb_event_free_strings(ev);
        free(ev);
        goto oom;
    }
    ev->time_ms = e->time_ms;
    ev->count = e->top_ids ? (int)e->n_top : 0;
    ev->confidence = e->confidence;
    ev->flag = e->unresolved;
    ev->took_ms = e->took_ms;
    if (enqueue(st, ev) != 0) {
        kb_event_free_strings(ev);
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

/* Queue an acknowledged event, wait for it, and hand back its result (and message). The event
 * keeps its strings (the caller frees them) and may be queued again. */
static int run_acked(kb_store *st, event *ev)
{
    ev->acked = 1;
    ev->done = 0;
    ev->refused = 0;
    ev->result = KB_OK;
    free(ev->err);
    ev->err = NULL;
    enqueue(st, ev);
    int rc = ev->result;
    if (rc != KB_OK) set_err("%s", ev->err ? ev->err : "event store write failed");
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

/* PostgreSQL: how long feedback on an unknown search looks for it again, and the pauses. In a
 * cluster the feedback can reach one node before another node's writer has committed the search
 * (it lingers up to LINGER_MS, then commits), which a single machine never sees. */
static const int FEEDBACK_RECHECK_MS[] = {50, 100, 150, 200, 250, 250};

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
    event ev = {.type = KB_EV_FEEDBACK, .time_ms = time_ms};
    ev.s[0] = strdup(search_id);
    ev.s[1] = redacted_name(agent, &oom);
    ev.s[2] = strdup(kinds[kind]);
    ev.s[3] = redacted(doc_id, &oom);
    ev.s[4] = strdup(role);
    if (oom || !ev.s[0] || !ev.s[2] || !ev.s[4]) {
        kb_event_free_strings(&ev);
        set_err("out of memory logging feedback");
        return KB_ERROR;
    }
    int rc = run_acked(st, &ev);
    for (size_t i = 0; st->pg && rc == KB_NOT_FOUND &&
                       i < sizeof FEEDBACK_RECHECK_MS / sizeof FEEDBACK_RECHECK_MS[0]; i++) {
        usleep((useconds_t)FEEDBACK_RECHECK_MS[i] * 1000);
        rc = run_acked(st, &ev);
    }
    kb_event_free_strings(&ev);
    return rc;
}

int kb_store_log_help_request(kb_store *st, const kb_help_request *hr, int64_t *id)
{
    if (id) *id = 0;
    if (!st || !hr) {
        set_err("invalid help request");
        return KB_ERROR;
    }
    if (hr->answer_doc_id && !kb_store_role_is_valid(hr->filed_by_role)) {
        set_err("invalid help request: the desk's answer needs the filer's role");
        return KB_INVALID;
    }
    int oom = 0;
    event ev = {.type = KB_EV_HELP, .time_ms = hr->time_ms, .flag = hr->kb_answerable,
                .confidence = hr->confidence, .count = hr->must_know != 0};
    ev.s[0] = redacted_name(hr->agent, &oom);
    ev.s[1] = redacted_name(hr->filed_by, &oom);
    ev.s[2] = redacted(hr->question ? hr->question : "", &oom);
    ev.s[3] = redacted(hr->answer, &oom);
    ev.s[4] = redacted(hr->doc_id, &oom);
    ev.s[5] = hr->doc_id ? redacted(hr->doc_title, &oom) : NULL;
    ev.s[6] = redacted(hr->answer_doc_id, &oom);
    ev.s[7] = hr->answer_doc_id ? strdup(hr->filed_by_role) : NULL;
    if (oom || (hr->answer_doc_id && !ev.s[7])) {
        kb_event_free_strings(&ev);
        set_err("out of memory logging help request");
        return KB_ERROR;
    }
    int rc = run_acked(st, &ev);
    kb_event_free_strings(&ev);
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
