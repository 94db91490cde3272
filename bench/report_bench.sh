#!/bin/bash
# report_bench.sh — do the editors' and leads' reports answer in under a second over a large
# event store? (issue 4 target: 1,000,000 logged searches and 100,000 help requests.)
#
# 1. Creates an event store with the real schema: kb-searchd starts once on a sample index with
#    an empty --data folder (its migrations create the tables) and stops.
# 2. Fills it in one transaction with the sqlite3 CLI (recursive CTEs, no per-row round trips):
#      SEARCHES searches over the last 180 days by 440 agents, 20 % unresolved, 3 hits each;
#      HELP help requests over the last 12 months, 2/3 answerable, 1 % reviewed;
#      the agents list (440 agents in 22 teams);
#      the gap queue as kb-searchd's feeder leaves it: every unresolved search a question, in
#      groups of about 10 (20,000 items), aggregates computed from the questions, watermarks at
#      the end so a kb-searchd started on it would not take them in again;
#      the per-day document counts (doc_days) computed from the searches, as the feeder does;
#      must-know marks on 1 in 7 answered requests, with the documents' titles (schema v6);
#      SESSIONS coaching sessions over the last 12 months, 2 documents each, and study marks
#      on 1 in 10 documents of the agents' study lists (issue 19).
# 3. Times kb-report for each report (best of 3 runs) and says whether each is under 1 s.
#
#   bench/report_bench.sh [--keep]      (BIN=bin by default; SEARCHES=1000000 HELP=100000
#                                        SESSIONS=1000)
# Exit status: 0 when every report answered in under a second, 1 otherwise, 2 on setup errors.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
SEARCHES=${SEARCHES:-1000000}
HELP=${HELP:-100000}
SESSIONS=${SESSIONS:-1000}
KEEP=${1:-}
for b in kb-indexer kb-searchd kb-report; do
    [ -x "$BIN/$b" ] || { echo "report_bench: $BIN/$b missing: run make first" >&2; exit 2; }
done
command -v sqlite3 >/dev/null || { echo "report_bench: the sqlite3 CLI is missing (tools/install-deps.sh)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/kb-report-bench.XXXXXX)
cleanup() { [ "$KEEP" = "--keep" ] && echo "kept $TMP" || rm -rf "$TMP"; }
trap cleanup EXIT

# ---------------------------------------------------------------- 1. the schema
"$BIN/kb-indexer" --index "$TMP/index" docs/sample-kb >/dev/null 2>&1
printf 'bench-token-000000000000 admin bench\n' > "$TMP/tokens"
chmod 600 "$TMP/tokens"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/kb-searchd" --index "$TMP/index" --data "$TMP/data" --listen "127.0.0.1:$PORT" \
    --tokens "$TMP/tokens" >"$TMP/searchd.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
kill -TERM "$PID"
wait "$PID" || { echo "report_bench: kb-searchd failed:" >&2; cat "$TMP/searchd.log" >&2; exit 2; }
DB="$TMP/data/events.sqlite3"

# ---------------------------------------------------------------- 2. the rows
NOW_MS=$(($(date +%s) * 1000))
start=$(date +%s%N)
sqlite3 "$DB" <<SQL
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $SEARCHES)
INSERT INTO searches (search_id, time_ms, agent, query, top_ids, top_id, hits, confidence,
                      unresolved, took_ms)
SELECT printf('%032x', i), $NOW_MS - 180 * 86400000 + i * (180 * 86400000 / $SEARCHES),
       'agent-' || (i * 7919 % 440), '问题' || (i * 104729 % 20000) || ' 怎么办理',
       json_array('doc-' || (i % 5000), 'doc-' || (i * 7 % 5000), 'doc-' || (i * 13 % 5000)),
       'doc-' || (i % 5000), 3, CASE WHEN i % 5 = 0 THEN 0.2 ELSE 0.8 END, i % 5 = 0, 0.9
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $HELP)
INSERT INTO help_requests (time_ms, agent, filed_by, question, kb_answerable, doc_id, confidence,
                           override_answerable, override_by, override_time_ms)
SELECT $NOW_MS - 365 * 86400000 + i * (365 * 86400000 / $HELP), 'agent-' || (i * 31 % 440),
       'desk-1', '求助问题' || (i % 5000), i % 3 <> 0,
       CASE WHEN i % 3 <> 0 THEN 'doc-' || (i * 17 % 800) END, 0.7,
       CASE WHEN i % 100 = 0 THEN 0 END, CASE WHEN i % 100 = 0 THEN 'lead-1' END,
       CASE WHEN i % 100 = 0 THEN $NOW_MS END
FROM n;
UPDATE help_requests SET must_know = 1 WHERE kb_answerable = 1 AND id % 7 = 0;
UPDATE help_requests SET doc_title = '标题 ' || doc_id WHERE doc_id IS NOT NULL;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $SESSIONS)
INSERT INTO coaching_sessions (id, agent, lead, day, note, time_ms)
SELECT i, 'agent-' || (i * 13 % 440), 'lead-1',
       date(($NOW_MS - i * (365 * 86400000 / $SESSIONS)) / 1000, 'unixepoch', 'localtime'),
       '辅导记录 ' || i, $NOW_MS
FROM n;
INSERT INTO coaching_docs (session_id, doc_id, title)
SELECT id, 'doc-' || (id * 17 % 800), '标题' FROM coaching_sessions
UNION ALL SELECT id, 'doc-' || (id * 23 % 800 + 1), '标题' FROM coaching_sessions;
INSERT OR IGNORE INTO study_marks (agent, doc_id, time_ms)
SELECT agent, doc_id, $NOW_MS FROM help_requests WHERE doc_id IS NOT NULL AND id % 10 = 0;
INSERT INTO help_request_reviews (help_request_id, time_ms, reviewer, kb_answerable)
SELECT id, override_time_ms, override_by, override_answerable FROM help_requests
WHERE override_time_ms IS NOT NULL;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 439)
INSERT INTO agents (agent_id, name, team) SELECT 'agent-' || i, '坐席' || i, '班组' || (i % 22) FROM n;
-- The gap queue: each unresolved search is a question; about 10 per item.
INSERT INTO gap_groups (id, status, question, first_ms, last_ms, created_ms)
SELECT g, CASE WHEN g % 10 = 0 THEN 'answered' WHEN g % 10 = 1 THEN 'in_progress' ELSE 'open' END,
       '问题' || g, 0, 0, 0
FROM (SELECT DISTINCT (rowid / 5) % 20000 + 1 AS g FROM searches WHERE unresolved = 1);
INSERT INTO gap_questions (group_id, source, ref, time_ms, agent, question, terms, top_id, category)
SELECT (rowid / 5) % 20000 + 1, 'search', search_id, time_ms, agent, query,
       '问题 ~问 ~题 办理', top_id, '业务办理/类' || (rowid % 40)
FROM searches WHERE unresolved = 1;
UPDATE gap_groups SET
  n_questions = (SELECT count(*) FROM gap_questions WHERE group_id = gap_groups.id),
  n_agents = (SELECT count(DISTINCT agent) FROM gap_questions WHERE group_id = gap_groups.id),
  n_variants = (SELECT count(DISTINCT question) FROM gap_questions WHERE group_id = gap_groups.id),
  n_search = (SELECT count(*) FROM gap_questions WHERE group_id = gap_groups.id),
  first_ms = (SELECT min(time_ms) FROM gap_questions WHERE group_id = gap_groups.id),
  last_ms = (SELECT max(time_ms) FROM gap_questions WHERE group_id = gap_groups.id),
  category = '业务办理/类' || (id % 40),
  terms = '问题	10' || char(10) || '办理	10' || char(10);
INSERT INTO doc_days (day, doc_id, returned, top)
SELECT s.time_ms / 86400000, j.value, count(*), sum(j.key = 0)
FROM searches s, json_each(s.top_ids) j GROUP BY 1, 2;
INSERT OR REPLACE INTO gap_progress (source, last_id) VALUES
  ('searches', (SELECT max(rowid) FROM searches)), ('feedback', 0),
  ('help_requests', (SELECT max(id) FROM help_requests)),
  ('reviews', (SELECT max(id) FROM help_request_reviews));
COMMIT;
ANALYZE;
SQL
fill_ms=$((($(date +%s%N) - start) / 1000000))
counts=$(sqlite3 "$DB" "SELECT (SELECT count(*) FROM searches) || ' searches, ' ||
  (SELECT count(*) FROM help_requests) || ' help requests, ' ||
  (SELECT count(*) FROM gap_questions) || ' queued questions in ' ||
  (SELECT count(*) FROM gap_groups) || ' items, ' || (SELECT count(*) FROM doc_days) || ' doc_days rows, ' ||
  (SELECT count(*) FROM coaching_sessions) || ' coaching sessions'")
printf 'report_bench: filled %s in %d.%d s (%s MB)\n' "$counts" $((fill_ms / 1000)) \
    $((fill_ms % 1000 / 100)) "$(du -m "$DB" | cut -f1)"

# ---------------------------------------------------------------- 3. the reports
MONTH=$(date +%Y-%m)
WEEK_AGO=$(date -d '7 days ago' +%Y-%m-%d)
TODAY=$(date +%Y-%m-%d)
slow=0
run() { # label, kb-report arguments...
    local label=$1 best=999999999 t s
    shift
    for _ in 1 2 3; do
        s=$(date +%s%N)
        "$BIN/kb-report" --data "$TMP/data" "$@" >"$TMP/out" || { echo "report_bench: $label failed" >&2; exit 2; }
        t=$((($(date +%s%N) - s) / 1000000))
        [ "$t" -lt "$best" ] && best=$t
    done
    local verdict=ok
    if [ "$best" -ge 1000 ]; then verdict=SLOW; slow=1; fi
    printf '  %-46s %6d ms  %s  (%s lines)\n' "$label" "$best" "$verdict" "$(wc -l <"$TMP/out")"
}
echo "report_bench: kb-report, best of 3 runs (target: under 1 s each)"
run "gaps (queue by impact)" gaps
run "gaps --status all --limit 1000" gaps --status all --limit 1000
run "gaps --from 7 days ago (recount in window)" gaps --from "$WEEK_AGO" --to "$TODAY"
run "gaps --category 业务办理/类7" gaps --category 业务办理/类7
run "help-requests --by agent --month $MONTH" help-requests --by agent --month "$MONTH"
run "help-requests --by team --month $MONTH" help-requests --by team --month "$MONTH"
run "help-requests --by agent --months 12 (JSON)" --format json help-requests --by agent --months 12
run "health --days 30" health --index "$TMP/index" --days 30
run "study --agent agent-7 (an agent's list)" study --agent agent-7
run "coaching --limit 100 (sessions)" coaching --limit 100
run "coaching-effect (all sessions, 4 weeks)" coaching-effect
run "coaching-effect --weeks 12 (JSON)" --format json coaching-effect --weeks 12
run "coaching-effect --team 班组3" coaching-effect --team 班组3
[ "$slow" = 0 ] && echo "report_bench: every report under 1 s" || echo "report_bench: some reports took 1 s or more"
exit "$slow"
