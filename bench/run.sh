#!/bin/bash
# bench/run.sh — the benchmarks of `make bench` (see bench/README.md).
#
#   BUILD=build/rel bench/run.sh                  # what `make bench` runs, after building
#   BENCH_PARTS=search BENCH_REUSE_INDEX=1 bench/run.sh
#
# Parts, in order (BENCH_PARTS, default "index search groonga cluster"):
#   index    kb-indexer --rebuild on a kbgen KB of BENCH_INDEX_DOCS (10,000) documents:
#            documents/s, wall time, peak RSS, index size
#   search   kb-searchd on a kbgen KB of BENCH_SEARCH_DOCS (100,000) documents under wrk
#            (64 connections): searches/s, latency percentiles, errors, daemon RSS; a second wrk
#            run while kb-indexer re-indexes 500 changed documents into the live index; and
#            kb-query's single-thread latency through the library
#   groonga  the same documents and questions through Groonga's HTTP server (TokenBigram,
#            the question's words joined with OR), for comparison
#   cluster  three search nodes behind haproxy against one node, on the BENCH_INDEX_DOCS KB
#            (bench/cluster_bench.py: the cluster test's cluster, on 127.0.0.11-16), and the
#            event store's write rate into PostgreSQL (fsync on) against SQLite
#            (tests/unit/test_store.c's measurement)
# Generated KBs, indexes and the Groonga database are kept in BENCH_DIR (/var/tmp/kb-bench) and
# reused (kbgen is deterministic); indexes are rebuilt unless BENCH_REUSE_INDEX=1.
# The summary goes to bench/out/results.md and to stdout. Exit status 1 when a part failed
# (missing a target is reported, not a failure).
#
# Every process this script starts is stopped when it exits (trap EXIT), all traffic goes to
# 127.0.0.1, and every step is bounded: wrk by its duration, the rest by BENCH_STEP_TIMEOUT.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

BUILD=${BUILD:-build/rel}
BIN=${BIN:-bin}
BENCH_DIR=${BENCH_DIR:-/var/tmp/kb-bench}
BENCH_PARTS=${BENCH_PARTS:-index search groonga cluster}
BENCH_INDEX_DOCS=${BENCH_INDEX_DOCS:-10000}
BENCH_SEARCH_DOCS=${BENCH_SEARCH_DOCS:-100000}
BENCH_DURATION=${BENCH_DURATION:-30}           # seconds of each measured wrk run
BENCH_WARMUP=${BENCH_WARMUP:-10}               # seconds of wrk before measuring
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
BENCH_RATE=${BENCH_RATE:-500}                  # searches/s offered in the paced run
BENCH_THREADS=${BENCH_THREADS:-2}              # wrk threads
BENCH_REUSE_INDEX=${BENCH_REUSE_INDEX:-0}
BENCH_REINDEX_DOCS=${BENCH_REINDEX_DOCS:-500}  # documents changed during the live re-index run
BENCH_KBQUERY_QUESTIONS=${BENCH_KBQUERY_QUESTIONS:-5000} # questions for kb-query's one-thread line
BENCH_LEARNED=${BENCH_LEARNED:-100000}         # learned phrasings in the daemon's store (issue 17)
BENCH_SEARCHD_ARGS=${BENCH_SEARCHD_ARGS:-}     # more kb-searchd options for the search part (e.g. --threads 4)
BENCH_REINDEX_MAX=${BENCH_REINDEX_MAX:-600}    # seconds at most of the re-index-under-load run
BENCH_STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-3600} # seconds for any one step (kbgen, indexing, ...)
BENCH_CLUSTER_DURATION=${BENCH_CLUSTER_DURATION:-15} # seconds of each wrk run of the cluster part
BENCH_CLUSTER_ROUNDS=${BENCH_CLUSTER_ROUNDS:-2}     # one node, then three, this many times
KBGEN=${KBGEN:-$ROOT/../shared/eval/kbgen}
OUT_DIR=$ROOT/bench/out
RESULTS=$OUT_DIR/results.md

case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kb-bench-run.XXXXXX") || exit 1
PIDS=()
FAILED=()
# set by wait_wrk from wrk's output
W_rps=0 W_p50='?' W_p75='?' W_p90='?' W_p99='?' W_requests=0 W_sockerr=0 W_sockdetail=none W_non2xx='?'

log() { printf 'bench: %s\n' "$*" >&2; }
md() { printf '%s\n' "$*" >>"$WORK/results.md"; }

stop_pid() { # pid: TERM, up to 15 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

forget_pid() { # a process that has been waited for: its id may be reused, never signal it again
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# Run a command in the background (so the traps can stop it), bounded by BENCH_STEP_TIMEOUT;
# returns its exit status. Its standard input is the caller's (not /dev/null, as for other
# background commands).
run_bounded() {
    timeout -k 10 "$BENCH_STEP_TIMEOUT" "$@" <&0 &
    local pid=$! rc
    PIDS+=("$pid")
    wait "$pid"
    rc=$?
    forget_pid "$pid"
    return $rc
}

# run_timed PREFIX COMMAND...: /usr/bin/time -v into PREFIX.time, stderr into PREFIX.err;
# sets T_WALL (s), T_RSS_MB and T_RC.
run_timed() {
    local prefix=$1
    shift
    run_bounded /usr/bin/time -v -o "$prefix.time" "$@" 2>"$prefix.err"
    T_RC=$?
    T_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s}' "$prefix.time" 2>/dev/null)
    T_RSS_MB=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$prefix.time" 2>/dev/null)
    T_WALL=${T_WALL:-0}
    T_RSS_MB=${T_RSS_MB:-0}
}

ratio() { # a b format: a / b (0 when b is not positive)
    awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (b + 0 > 0) printf f, a / b; else printf f, 0 }'
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# The machine's CPU counters (all jiffies, steal jiffies) from /proc/stat's "cpu" line.
cpu_counters() { awk '/^cpu /{t=0; for (i=2; i<=NF; i++) t+=$i; print t, $9}' /proc/stat; }
# The share of CPU time the hypervisor gave to others between two cpu_counters readings: on a
# shared virtual machine the same build measures differently from run to run, and this says how
# much of the machine the run did not have.
steal_share() { # "total0 steal0" "total1 steal1"
    awk -v a="$1" -v b="$2" 'BEGIN{split(a, x, " "); split(b, y, " "); d = y[1] - x[1];
        share = d > 0 ? 100 * (y[2] - x[2]) / d : 0; printf "%.1f %%", share}'
}

need_pkg() { # test-command package
    if eval "$1" >/dev/null 2>&1; then return 0; fi
    log "installing the Debian package $2"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null 2>&1 ||
        { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }
    eval "$1" >/dev/null 2>&1 || { log "cannot install $2"; return 1; }
}

kb_name() { # documents -> kb10k / kb2500
    if [ $(($1 % 1000)) -eq 0 ]; then echo "kb$(($1 / 1000))k"; else echo "kb$1"; fi
}

# kbgen DOCS: make (once) $BENCH_DIR/kbNk with kb/ and queries.txt; sets KBDIR.
kbgen() {
    local docs=$1 dir
    dir=$BENCH_DIR/$(kb_name "$docs")
    KBDIR=$dir
    if [ "$(cat "$dir/.kbgen-done" 2>/dev/null)" != "$docs" ]; then
        log "generating $docs documents into $dir"
        rm -rf "$dir"
        mkdir -p "$BENCH_DIR"
        run_bounded python3 "$KBGEN" --docs "$docs" --out "$dir" >&2 || { log "kbgen failed"; return 1; }
        echo "$docs" >"$dir/.kbgen-done"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # url seconds pid: wait for a 200
    local url=$1 limit=$2 pid=$3 i
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# URL-encode each line of a file as GET paths. paths_file QUERIES OUT kb|groonga
paths_file() {
    python3 - "$@" <<'EOF'
import sys, urllib.parse
src, out, kind = sys.argv[1:4]
n = skipped = 0
with open(src, encoding="utf-8") as f, open(out, "w") as o:
    for line in f:
        line = line.strip()
        if kind == "kb":
            if not line:
                skipped += 1
                continue
            o.write("/api/search?q=" + urllib.parse.quote(line, safe="") + "&limit=10\n")
        else:  # a line of kb-words output: the question's words
            words = line.split()
            if not words:
                skipped += 1
                continue
            # each word as a quoted phrase, so no character of it is taken for query syntax
            q = " OR ".join('"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in words)
            o.write("/d/select?table=Docs&match_columns=" + urllib.parse.quote("title*2||body", safe="")
                    + "&query=" + urllib.parse.quote(q, safe="")
                    + "&sort_keys=-_score&limit=10&output_columns=_id,_score\n")
        n += 1
print(n, skipped)
EOF
}

# run_wrk NAME URL PATHS [TOKEN] [DURATION]: output in $WORK/NAME.wrk; sets W_* from it.
run_wrk() {
    local name=$1 url=$2 paths=$3 token=${4:-} duration=${5:-$BENCH_DURATION}
    WRK_CONNECTIONS=$BENCH_CONNECTIONS WRK_THREADS=$BENCH_THREADS timeout -k 5 $((duration + 60)) \
        wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${duration}s" --timeout 10s --latency \
        -s "$ROOT/bench/wrk-search.lua" "$url" -- "$paths" "$token" >"$WORK/$name.wrk" 2>&1 &
    WRK_PID=$!
    PIDS+=("$WRK_PID")
}

wait_wrk() { # name
    wait "$WRK_PID"
    local rc=$?
    forget_pid "$WRK_PID"
    eval "$(python3 - "$WORK/$1.wrk" <<'EOF'
import re, sys
t = open(sys.argv[1], encoding="utf-8", errors="replace").read()
unit = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
d = {}
for p in ("50", "75", "90", "99"):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % p, t, re.M)
    d["p" + p] = "%.2f" % (float(m.group(1)) * unit[m.group(2)]) if m else "?"
m = re.search(r"Requests/sec:\s+([\d.]+)", t)
d["rps"] = "%.0f" % float(m.group(1)) if m else "0"
m = re.search(r"(\d+) requests in", t)
d["requests"] = m.group(1) if m else "0"
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
d["sockerr"] = str(sum(map(int, m.groups()))) if m else "0"
d["sockdetail"] = ("connect %s, read %s, write %s, timeout %s" % m.groups()) if m else "none"
m = re.search(r"non-2xx: (\d+) of (\d+)", t)
d["non2xx"] = m.group(1) if m else "?"
for k, v in d.items():
    print("W_%s='%s'" % (k, v))
EOF
)"
    return $rc
}

stop_and_forget() {
    stop_pid "$1"
    forget_pid "$1"
}

proc_kb() { # pid field (VmHWM, VmRSS) -> MB
    awk -v f="$2:" '$1 == f {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null
}

verdict() { # value op target -> "met" / "MISSED"
    if awk -v v="$1" -v t="$3" "BEGIN {exit !(v $2 t)}"; then echo "met"; else echo "**MISSED**"; fi
}

fail_part() {
    FAILED+=("$1: $2")
    md ""
    md "**$1 failed:** $2"
    log "$1 failed: $2"
}

# ---------------------------------------------------------------- part 1: indexing
part_index() {
    local kbdir idx xml_mb docs=$BENCH_INDEX_DOCS load0
    kbgen "$docs" || { fail_part index "kbgen failed"; return 1; }
    kbdir=$KBDIR
    idx=$BENCH_DIR/idx-$(kb_name "$docs")
    xml_mb=$(du -sm --apparent-size "$kbdir/kb" | cut -f1)
    load0=$(loadavg)
    log "index: kb-indexer --rebuild, $docs documents into an empty index"
    rm -rf "$idx"
    run_timed "$WORK/index1" "$BIN/kb-indexer" --rebuild --index "$idx" "$kbdir/kb"
    if [ "$T_RC" -ne 0 ]; then
        fail_part index "kb-indexer exited $T_RC: $(tail -3 "$WORK/index1.err")"
        return 1
    fi
    local wall1=$T_WALL rss1=$T_RSS_MB rate1 size_mb summary1
    rate1=$(ratio "$docs" "$wall1" %.0f)
    size_mb=$(du -sm "$idx" | cut -f1)
    summary1=$(grep '^kb-indexer: ' "$WORK/index1.err" | tail -1)
    log "index: kb-indexer --rebuild again, over the existing index"
    run_timed "$WORK/index2" "$BIN/kb-indexer" --rebuild --index "$idx" "$kbdir/kb"
    local wall2=$T_WALL rss2=$T_RSS_MB rc2=$T_RC rate2
    rate2=$(ratio "$docs" "$wall2" %.0f)
    log "index: kb-indexer again without --rebuild (nothing changed)"
    run_timed "$WORK/index3" "$BIN/kb-indexer" --index "$idx" "$kbdir/kb"
    local wall3=$T_WALL rc3=$T_RC

    md ""
    md "## Indexing: \`kb-indexer --rebuild\`, kbgen --docs $docs ($xml_mb MB of XML)"
    md ""
    md "| measure | value | target |"
    md "|---|---|---|"
    md "| documents/s, into an empty index | **$rate1** | ≥ 1000: $(verdict "$rate1" '>=' 1000) |"
    md "| wall time | $wall1 s | |"
    md "| peak RSS | **$rss1 MB** | < 500 MB: $(verdict "$rss1" '<' 500) |"
    md "| index size | $size_mb MB (XML: $xml_mb MB) | |"
    md "| \`--rebuild\` over the existing index | $wall2 s, $rate2 documents/s, peak RSS $rss2 MB (exit $rc2) | |"
    md "| re-run without changes (update mode) | $wall3 s (exit $rc3) | |"
    md "| load average before | $load0 | |"
    md ""
    md "kb-indexer said: \`${summary1#kb-indexer: }\`"
}

# ---------------------------------------------------------------- part 2: search
SEARCHD_PID=""

part_search() {
    local kbdir idx docs=$BENCH_SEARCH_DOCS name load0
    name=$(kb_name "$docs")
    kbgen "$docs" || { fail_part search "kbgen failed"; return 1; }
    kbdir=$KBDIR
    idx=$BENCH_DIR/idx-$name
    local index_line="reused (BENCH_REUSE_INDEX=1)"
    # reused only when a run of this script completed it (the marker)
    if [ "$BENCH_REUSE_INDEX" = 1 ] && [ -f "$idx/iamglass" ] && [ -f "$idx.done" ]; then
        log "search: reusing $idx"
    else
        log "search: indexing $docs documents into $idx"
        rm -rf "$idx" "$idx.done"
        run_timed "$WORK/index100" "$BIN/kb-indexer" --rebuild --index "$idx" "$kbdir/kb"
        if [ "$T_RC" -ne 0 ]; then
            fail_part search "kb-indexer exited $T_RC: $(tail -3 "$WORK/index100.err")"
            return 1
        fi
        date -u >"$idx.done"
        index_line="$T_WALL s, $(ratio "$docs" "$T_WALL" %.0f) documents/s, peak RSS $T_RSS_MB MB, index $(du -sm "$idx" | cut -f1) MB"
    fi
    local queries=$kbdir/queries.txt nq
    nq=$(grep -c . "$queries")

    # the library alone, one thread
    log "search: kb-query --repeat 1 over the first $BENCH_KBQUERY_QUESTIONS questions"
    head -n "$BENCH_KBQUERY_QUESTIONS" "$queries" >"$WORK/kb-query-questions.txt"
    run_bounded "$BUILD/bench/kb-query" --index "$idx" --repeat 1 <"$WORK/kb-query-questions.txt" \
        >/dev/null 2>"$WORK/kb-query.err"
    local kbq
    kbq=$(grep 'searches in' "$WORK/kb-query.err" | tail -1)
    kbq=${kbq#kb-query: }

    # the daemon
    local token port url data
    token=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
    printf '%s agent bench\n' "$token" >"$WORK/tokens"
    chmod 600 "$WORK/tokens"
    data=$WORK/searchd-data
    mkdir -p "$data"
    port=$(free_port)
    url=http://127.0.0.1:$port
    # wrk plays a floor of agents from one address, with curl checking /healthz alongside: as
    # behind a reverse proxy, the per-address connection limit is the total one
    start_searchd() {
        "$BIN/kb-searchd" --index "$idx" --data "$data" --listen "127.0.0.1:$port" --tokens "$WORK/tokens" \
            --max-connections-per-ip 1024 $BENCH_SEARCHD_ARGS 2>"$WORK/searchd.log" &
        SEARCHD_PID=$!
        PIDS+=("$SEARCHD_PID")
        if ! wait_http "$url/healthz" 120 "$SEARCHD_PID"; then
            fail_part search "kb-searchd did not become ready: $(tail -3 "$WORK/searchd.log")"
            stop_and_forget "$SEARCHD_PID"
            return 1
        fi
    }
    start_searchd || return 1
    # Learned phrasings in the store, as a service that has learned for a while has them: the
    # daemon creates the store, then stops; the phrasings are written; it starts again and
    # builds its phrasing index from them (the line it logs says how many and how long).
    local learned_line="none (BENCH_LEARNED=0)"
    if [ "$BENCH_LEARNED" -gt 0 ]; then
        stop_and_forget "$SEARCHD_PID"
        log "search: $BENCH_LEARNED learned phrasings into the store"
        if ! run_bounded python3 "$ROOT/bench/seed_learned.py" "$data" "$queries" "$BENCH_LEARNED" \
                gen-%07d "$docs" >"$WORK/seed.out" 2>"$WORK/seed.err"; then
            fail_part search "seeding learned phrasings failed: $(tail -3 "$WORK/seed.err")"
            return 1
        fi
        start_searchd || return 1
        learned_line=$(grep -o 'learned phrasings: .*' "$WORK/searchd.log" | tail -1)
        learned_line="$(cat "$WORK/seed.out") written; kb-searchd: ${learned_line:-no line logged}"
    fi
    local rss_start
    rss_start=$(proc_kb "$SEARCHD_PID" VmRSS)
    paths_file "$queries" "$WORK/search-paths.txt" kb >/dev/null

    log "search: warm-up, ${BENCH_WARMUP} s"
    run_wrk warmup "$url" "$WORK/search-paths.txt" "$token" "$BENCH_WARMUP"
    wait_wrk warmup
    local warm_requests=$W_requests
    load0=$(loadavg)
    log "search: wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_DURATION}s"
    run_wrk search "$url" "$WORK/search-paths.txt" "$token"
    wait_wrk search
    S_RPS=$W_rps S_P50=$W_p50 S_P75=$W_p75 S_P90=$W_p90 S_P99=$W_p99
    local s_non2xx=$W_non2xx s_sock=$W_sockerr s_sockdetail=$W_sockdetail s_requests=$W_requests
    local load1 hwm rss
    load1=$(loadavg)
    hwm=$(proc_kb "$SEARCHD_PID" VmHWM)
    rss=$(proc_kb "$SEARCHD_PID" VmRSS)

    # the same connections at the target rate (paced, Poisson arrivals): latency at that load
    log "search: wrk -c$BENCH_CONNECTIONS paced at $BENCH_RATE searches/s, ${BENCH_DURATION}s"
    local cpu0 paced_steal
    cpu0=$(cpu_counters)
    WRK_RATE=$BENCH_RATE run_wrk paced "$url" "$WORK/search-paths.txt" "$token"
    wait_wrk paced
    paced_steal=$(steal_share "$cpu0" "$(cpu_counters)")
    P_RPS=$W_rps P_P50=$W_p50 P_P90=$W_p90 P_P99=$W_p99
    local p_bad=$((${W_non2xx:-0} + ${W_sockerr:-0}))

    # a live re-index during load
    local changed=$WORK/changed first rev0 rev1 docs0 docs1 run_id
    run_id=$(date +%s)
    mkdir -p "$changed"
    first=$(find "$kbdir/kb" -name '*.xml' | sort | head -1)
    python3 - "$first" "$changed/$(basename "$first")" "$BENCH_REINDEX_DOCS" "$run_id" <<'EOF'
import re, sys
src, dst, n, run_id = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(src, encoding="utf-8").read()
docs = re.findall(r"<document .*?</document>\n", text, re.S)[:n]
# a changed title and a new sentence in each: every one is a real replacement
docs = [d.replace("<title>", f"<title>修订{run_id} ", 1).replace("<body>", f"<body><p>本条于第{run_id}版修订。</p>", 1)
        for d in docs]
open(dst, "w", encoding="utf-8").write('<?xml version="1.0" encoding="UTF-8"?>\n<documents>\n' + "".join(docs) + "</documents>\n")
EOF
    health() { curl -s --max-time 5 "$url/healthz" | python3 -c 'import json,sys; h=json.load(sys.stdin); print(h["index_revision"], h["documents"])'; }
    read -r rev0 docs0 < <(health)
    # wrk runs from 5 s before kb-indexer starts until 5 s after the daemon serves the new
    # revision (then it is stopped with SIGINT and reports); at most BENCH_REINDEX_MAX seconds
    log "search: wrk again, with kb-indexer re-indexing $BENCH_REINDEX_DOCS changed documents after 5 s"
    local r_started r_seconds i pickup="not within 60 s"
    r_started=$(date +%s.%N)
    run_wrk reindex "$url" "$WORK/search-paths.txt" "$token" "$BENCH_REINDEX_MAX"
    sleep 5
    run_timed "$WORK/reindex" "$BIN/kb-indexer" --index "$idx" "$changed"
    local r_rc=$T_RC r_wall=$T_WALL r_summary r_done
    r_done=$(date +%s.%N)
    r_summary=$(grep '^kb-indexer: ' "$WORK/reindex.err" | tail -1)
    for ((i = 0; i < 300; i++)); do # the daemon checks for a new revision once a second
        read -r rev1 docs1 < <(health)
        if [ "${rev1:-0}" -gt "${rev0:-0}" ] 2>/dev/null; then
            pickup="$(awk -v a="$r_done" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s after kb-indexer exited"
            break
        fi
        sleep 0.2
    done
    sleep 5
    kill -INT "$WRK_PID" 2>/dev/null
    wait_wrk reindex
    r_seconds=$(awk -v a="$r_started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')
    local r_failed=$((W_non2xx + W_sockerr)) picked="no"
    [ "${rev1:-0}" -gt "${rev0:-0}" ] 2>/dev/null && picked="yes, $pickup"
    local hwm2 metrics logged dropped
    hwm2=$(proc_kb "$SEARCHD_PID" VmHWM)
    metrics=$(curl -s --max-time 5 "$url/metrics")
    logged=$(awk '$1 == "kb_store_searches_logged_total" {print $2}' <<<"$metrics")
    dropped=$(awk '$1 == "kb_store_searches_dropped_total" {print $2}' <<<"$metrics")
    stop_and_forget "$SEARCHD_PID"
    SEARCHD_PID=""

    md ""
    md "## Search: kb-searchd on kbgen --docs $docs, $nq questions from queries.txt"
    md ""
    md "wrk: $BENCH_THREADS threads, $BENCH_CONNECTIONS connections, ${BENCH_DURATION} s, after a ${BENCH_WARMUP} s warm-up ($warm_requests searches); event store on."
    md ""
    md "| measure | value | target |"
    md "|---|---|---|"
    md "| saturated (each connection sends its next search when the last is answered): searches/s | **$S_RPS** | ≥ 500: $(verdict "$S_RPS" '>=' 500) |"
    md "| saturated: latency p50 / p75 / p90 / p99 | $S_P50 / $S_P75 / $S_P90 / $S_P99 ms (queueing: $BENCH_CONNECTIONS in flight ÷ throughput) | |"
    md "| paced at $BENCH_RATE searches/s offered (Poisson arrivals over the same $BENCH_CONNECTIONS connections): searches/s | $P_RPS (failed $p_bad) | |"
    md "| paced: latency p50 / p90 / p99 | $P_P50 / $P_P90 / **$P_P99 ms** | p99 ≤ 20 ms: $(verdict "$P_P99" '<=' 20) |"
    md "| paced: CPU time stolen by the hypervisor meanwhile (/proc/stat) | $paced_steal | |"
    md "| searches | $s_requests; non-2xx $s_non2xx; socket errors $s_sock ($s_sockdetail) | 0 |"
    md "| daemon RSS: at start / after the run / peak (VmHWM) | $rss_start / $rss / **$hwm MB** | ≤ 300 MB: $(verdict "$hwm" '<=' 300) |"
    md "| re-index during load: failed requests | **$r_failed** (non-2xx $W_non2xx, socket errors $W_sockerr) | 0: $(verdict "$r_failed" '==' 0) |"
    md "| re-index during load: new revision picked up | $picked (revision $rev0 → $rev1, $docs0 → $docs1 documents) | yes |"
    md "| re-index during load: kb-indexer | $r_wall s, exit $r_rc: \`${r_summary#kb-indexer: }\` | |"
    md "| re-index during load: wrk | $r_seconds s, $W_requests searches, $W_rps/s, p50 / p99 $W_p50 / $W_p99 ms; daemon peak RSS $hwm2 MB | |"
    md "| event store | $logged searches logged, $dropped dropped | |"
    md "| learned phrasings in the store (bench/seed_learned.py) | $learned_line | |"
    md "| kb-query (library, one thread, no HTTP) | ${kbq:-failed: $(tail -1 "$WORK/kb-query.err")} | |"
    md "| indexing these $docs documents | $index_line | |"
    md "| load average before / after the measured run | $load0 / $load1 | |"
}

# ---------------------------------------------------------------- part 3: Groonga
part_groonga() {
    need_pkg 'command -v groonga' groonga-bin || { fail_part groonga "groonga-bin is not installed"; return 1; }
    local kbdir docs=$BENCH_SEARCH_DOCS name gdir db load0
    name=$(kb_name "$docs")
    kbgen "$docs" || { fail_part groonga "kbgen failed"; return 1; }
    kbdir=$KBDIR
    gdir=$BENCH_DIR/groonga-$name
    db=$gdir/db/kb.db
    mkdir -p "$gdir"
    if [ ! -s "$gdir/docs.grn" ] || [ "$gdir/docs.grn" -ot "$kbdir/.kbgen-done" ]; then
        log "groonga: converting the XML to load commands"
        run_bounded python3 "$ROOT/bench/groonga_load.py" "$kbdir/kb" >"$gdir/docs.grn.tmp" ||
            { fail_part groonga "groonga_load.py failed"; return 1; }
        mv "$gdir/docs.grn.tmp" "$gdir/docs.grn"
    fi
    local load_line="reused (BENCH_REUSE_INDEX=1)"
    if [ "$BENCH_REUSE_INDEX" = 1 ] && [ -f "$gdir/db.done" ]; then
        log "groonga: reusing $db"
    else
        rm -rf "$gdir/db" "$gdir/db.done"
        mkdir -p "$gdir/db"
        printf '%s\n' \
            'table_create Docs TABLE_HASH_KEY ShortText' \
            'column_create Docs title COLUMN_SCALAR ShortText' \
            'column_create Docs body COLUMN_SCALAR Text' \
            'table_create Terms TABLE_PAT_KEY ShortText --default_tokenizer TokenBigram --normalizer NormalizerAuto' \
            >"$WORK/schema.grn"
        printf '%s\n' \
            'column_create Terms docs_title COLUMN_INDEX|WITH_POSITION Docs title' \
            'column_create Terms docs_body COLUMN_INDEX|WITH_POSITION Docs body' \
            >"$WORK/index.grn"
        groonga -n "$db" <"$WORK/schema.grn" >"$WORK/schema.out" 2>&1
        log "groonga: loading $docs documents"
        run_timed "$WORK/gload" groonga --file "$gdir/docs.grn" "$db" >"$WORK/gload.out"
        local l_wall=$T_WALL l_rss=$T_RSS_MB
        log "groonga: building the TokenBigram indexes"
        run_timed "$WORK/gindex" groonga --file "$WORK/index.grn" "$db" >"$WORK/gindex.out"
        local i_wall=$T_WALL i_rss=$T_RSS_MB
        local loaded errors
        loaded=$(echo 'select Docs --limit 0' | groonga "$db" | python3 -c 'import json,sys; print(json.load(sys.stdin)[1][0][0][0])')
        # every answer starts [[RC,...]: RC 0 is success
        errors=$(cat "$WORK/schema.out" "$WORK/gload.out" "$WORK/gindex.out" | grep -c '^\[\[-' || true)
        if [ "${loaded:-0}" -ne "$docs" ] || [ "$errors" -ne 0 ]; then
            fail_part groonga "loaded ${loaded:-?} of $docs documents, $errors errors: $(cat "$WORK/schema.out" "$WORK/gload.out" "$WORK/gindex.out" | grep -m3 '^\[\[-')"
            return 1
        fi
        date -u >"$gdir/db.done"
        load_line="data $l_wall s + indexes $i_wall s = $(awk -v a="$l_wall" -v b="$i_wall" 'BEGIN {printf "%.1f", a + b}') s, $(ratio "$docs" "$(awk -v a="$l_wall" -v b="$i_wall" 'BEGIN {print a + b}')" %.0f) documents/s; peak RSS $l_rss / $i_rss MB; database $(du -sm "$gdir/db" | cut -f1) MB"
    fi

    log "groonga: segmenting the questions with kb-words"
    "$BUILD/bench/kb-words" <"$kbdir/queries.txt" >"$WORK/words.txt" || { fail_part groonga "kb-words failed"; return 1; }
    local counts
    counts=$(paths_file "$WORK/words.txt" "$WORK/groonga-paths.txt" groonga | sed 's| | / |')

    local port url gpid
    port=$(free_port)
    url=http://127.0.0.1:$port
    groonga -s --protocol http --bind-address 127.0.0.1 --port "$port" --cache-limit 0 \
        --log-path "$WORK/groonga.log" "$db" >"$WORK/groonga.out" 2>&1 &
    gpid=$!
    PIDS+=("$gpid")
    if ! wait_http "$url/d/status" 120 "$gpid"; then
        fail_part groonga "groonga did not start: $(tail -3 "$WORK/groonga.out")"
        stop_and_forget "$gpid"
        return 1
    fi
    local sample hits
    sample=$(head -1 "$WORK/groonga-paths.txt")
    hits=$(curl -s --max-time 10 "$url$sample" | python3 -c 'import json,sys; print(json.load(sys.stdin)[1][0][0][0])' 2>/dev/null)
    log "groonga: warm-up, ${BENCH_WARMUP} s"
    run_wrk gwarmup "$url" "$WORK/groonga-paths.txt" "" "$BENCH_WARMUP"
    wait_wrk gwarmup
    load0=$(loadavg)
    log "groonga: wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_DURATION}s"
    run_wrk groonga "$url" "$WORK/groonga-paths.txt" ""
    wait_wrk groonga
    local ghwm load1
    ghwm=$(proc_kb "$gpid" VmHWM)
    load1=$(loadavg)
    stop_and_forget "$gpid"

    md ""
    md "## Groonga $(groonga --version | head -1 | awk '{print $2}') on the same $docs documents and questions"
    md ""
    md "Table Docs (title ShortText, body Text: section titles, paragraphs, list items, cells, questions), lexicon TokenBigram + NormalizerAuto, one index per column; \`groonga -s --protocol http --cache-limit 0\` (its default 2 threads); \`/d/select?table=Docs&match_columns=title*2||body&query=\"w1\" OR \"w2\" ...&sort_keys=-_score&limit=10&output_columns=_id,_score\` with the words kb-words finds in each question (questions with words / without: $counts; the first question matches $hits documents)."
    md ""
    md "| measure | Groonga | kb-searchd | kb-searchd / Groonga |"
    md "|---|---|---|---|"
    if [ -n "${S_RPS:-}" ]; then
        md "| searches/s | $W_rps | $S_RPS | **$(ratio "$S_RPS" "$W_rps" %.1f×)** (aim: ≥ 10×) |"
        md "| latency p50 | $W_p50 ms | $S_P50 ms | $(ratio "$S_P50" "$W_p50" %.2f) |"
        md "| latency p90 | $W_p90 ms | $S_P90 ms | $(ratio "$S_P90" "$W_p90" %.2f) |"
        md "| latency p99 | $W_p99 ms | $S_P99 ms | $(ratio "$S_P99" "$W_p99" %.2f) |"
    else
        md "| searches/s | $W_rps | (search part not run) | |"
        md "| latency p50 / p90 / p99 | $W_p50 / $W_p90 / $W_p99 ms | | |"
    fi
    md "| requests; non-2xx; socket errors | $W_requests; $W_non2xx; $W_sockerr | | |"
    md "| server peak RSS (VmHWM) | $ghwm MB | | |"
    md "| load | $load_line | | |"
    md "| load average before / after the measured run | $load0 / $load1 | | |"
}

# ---------------------------------------------------------------- part 4: the cluster
part_cluster() {
    local docs=$BENCH_INDEX_DOCS
    kbgen "$docs" || { fail_part cluster "kbgen failed"; return 1; }
    log "cluster: three nodes behind haproxy against one ($docs documents)"
    if run_bounded env BIN="$BIN" python3 "$ROOT/bench/cluster_bench.py" --kb "$KBDIR/kb" \
            --queries "$KBDIR/queries.txt" --duration "$BENCH_CLUSTER_DURATION" \
            --rounds "$BENCH_CLUSTER_ROUNDS" --connections "$BENCH_CONNECTIONS" \
            --threads "$BENCH_THREADS" >"$WORK/cluster.md" 2>"$WORK/cluster.err"; then
        md ""
        cat "$WORK/cluster.md" >>"$WORK/results.md"
    else
        fail_part cluster "cluster_bench.py failed: $(tail -3 "$WORK/cluster.err")"
    fi

    # The store's writer through kb/db on each database: test_store's measurement (200,000
    # searches logged from 4 threads as fast as they go, then acknowledged help requests), with
    # PostgreSQL durable (fsync on) as a production server is.
    log "cluster: the event store's write rate, SQLite against PostgreSQL (test_store)"
    local pg_env
    if ! pg_env=$(python3 "$ROOT/tests/pg_server.py" --durable start 2>"$WORK/pg.err"); then
        fail_part cluster "tests/pg_server.py failed: $(tail -3 "$WORK/pg.err")"
        return 1
    fi
    eval "$pg_env"
    run_bounded env KB_TEST_PG_URI="$KB_TEST_PG_URI" KB_TEST_PG_CTL="$KB_TEST_PG_CTL" \
        "$BUILD/tests/test_store" >"$WORK/test_store.out" 2>&1
    local st_rc=$?
    $KB_TEST_PG_CTL remove >/dev/null 2>&1
    if [ "$st_rc" -ne 0 ]; then
        fail_part cluster "test_store failed: $(grep -m3 -A3 '^FAIL' "$WORK/test_store.out")"
        return 1
    fi
    md ""
    md "## The event store's writer: SQLite against PostgreSQL 15 (fsync on, TCP loopback)"
    md ""
    md "tests/unit/test_store.c, \`every_search_is_written_or_counted_dropped_and_help_requests_ack_within_100_ms\`: 200,000 searches logged from 4 threads as fast as they can (the writer's queue is bounded: what it cannot take is dropped and counted), then 200 acknowledged help requests one after another, idle and with searches logged alongside (about 20,000/s)."
    md ""
    md "| store | searches committed / s | acknowledged help request p50 / p99, idle | the same with searches alongside |"
    md "|---|---|---|---|"
    awk '
        function commas(n,   s) { s = sprintf("%d", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s); return s }
        /info: log_search:/ { match($0, /= [0-9]+ events\/s/); rate = substr($0, RSTART + 2, RLENGTH - 11) }
        /info: acknowledged help request:/ { idle = $0; sub(/.*request: /, "", idle); sub(/, max.*/, "", idle) }
        /info: acknowledged help request with/ { busy = $0; sub(/.*alongside: /, "", busy); sub(/, max.*/, "", busy) }
        /^PASS every_search_is_written_or_counted_dropped/ {
            db = ($0 ~ /postgresql/) ? "PostgreSQL" : "SQLite"
            printf "| %s | **%s** | %s | %s |\n", db, commas(rate), idle, busy
        }' "$WORK/test_store.out" >>"$WORK/results.md"
}

# ---------------------------------------------------------------- main
mkdir -p "$OUT_DIR"
for tool in kb-indexer kb-searchd; do
    [ -x "$BIN/$tool" ] || { log "$BIN/$tool is missing: run make first"; exit 1; }
done
for tool in kb-query kb-words; do
    [ -x "$BUILD/bench/$tool" ] || { log "$BUILD/bench/$tool is missing: run make bench"; exit 1; }
done
[ -x "$KBGEN" ] || [ -f "$KBGEN" ] || { log "kbgen not found at $KBGEN"; exit 1; }
need_pkg '[ -x /usr/bin/time ]' time || exit 1
need_pkg 'command -v wrk' wrk || exit 1
need_pkg 'command -v curl' curl || exit 1

started=$(date +%s)
{
    echo "# kb benchmarks"
    echo ""
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- kb include indexer searchd 2>/dev/null || echo ' (with uncommitted changes)'); $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load average at start: $(loadavg)."
} >"$WORK/results.md"

for part in $BENCH_PARTS; do
    case "$part" in
    index) part_index ;;
    search) part_search ;;
    groonga) part_groonga ;;
    cluster) part_cluster ;;
    *) fail_part "$part" "unknown part (use index, search, groonga, cluster)" ;;
    esac
done

md ""
md "Total time $(($(date +%s) - started)) s; load average at the end: $(loadavg). Work files: $BENCH_DIR."
cp "$WORK/results.md" "$RESULTS"
echo
cat "$RESULTS"
if [ ${#FAILED[@]} -gt 0 ]; then
    log "failed: ${FAILED[*]}"
    exit 1
fi
exit 0
