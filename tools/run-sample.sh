#!/bin/bash
# run-sample.sh — what `make run` runs after building: index the sample knowledge base and serve
# it on loopback, in the foreground, so a newcomer can try the product with two commands.
#
#   check   that nothing listens on 127.0.0.1:$KB_PORT yet (default 8080), before anything else
#   index   docs/sample-kb  ->  run/index          (bin/kb-indexer)
#   tokens  run/tokens, created once with random tokens for one agent, editor, lead and admin
#   serve   bin/kb-searchd on 127.0.0.1:$KB_PORT, state in run/data
#
# Another port: KB_PORT=8081 make run. KB_RUN_DIR=DIR keeps the state in DIR instead of run/
# (the tests use it). Stop it with Ctrl-C (the service finishes requests in flight and flushes
# its event store). Delete run/tokens to get new tokens; delete run/ to start from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${KB_PORT-8080}
BIN=${BIN:-bin}
RUN=${KB_RUN_DIR:-run}
KB=docs/sample-kb

case "$PORT" in
    '' | *[!0-9]* | 0*) port_ok=0 ;;
    *) [ "${#PORT}" -le 5 ] && [ "$PORT" -le 65535 ] && port_ok=1 || port_ok=0 ;;
esac
if [ "$port_ok" -ne 1 ]; then
    echo "run-sample: KB_PORT must be a port number from 1 to 65535, not '$PORT' (e.g. KB_PORT=8081 make run)" >&2
    exit 2
fi

# Does something listen on 127.0.0.1:$1? (bash's /dev/tcp: no other tool needed)
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# First, before the slow steps and before any token is printed: kb-searchd would only find out
# after all of them that it cannot listen.
if listening "$PORT"; then
    next=$((PORT + 1))
    while [ "$next" -le 65535 ] && [ "$next" -lt $((PORT + 100)) ] && listening "$next"; do
        next=$((next + 1))
    done
    [ "$next" -le 65535 ] || next=8081
    cat >&2 <<EOF
run-sample: 127.0.0.1:$PORT is already in use (another kb-searchd, perhaps an earlier make run
  still running, or another program). Stop that program, or choose another port:

    KB_PORT=$next make run
EOF
    exit 1
fi
for b in kb-indexer kb-searchd; do
    if [ ! -x "$BIN/$b" ]; then
        echo "run-sample: $BIN/$b is missing: run make first" >&2
        exit 1
    fi
done
mkdir -p "$RUN"

# --- index (kb-indexer exits 1 when some documents were invalid; the valid ones are indexed)
if [ -n "$(find "$KB" -name '*.xml' -print -quit 2>/dev/null)" ]; then
    echo "run-sample: indexing $KB into $RUN/index" >&2
    set +e
    "$BIN/kb-indexer" --index "$RUN/index" "$KB"
    rc=$?
    set -e
    if [ "$rc" -eq 1 ]; then
        echo "run-sample: some sample documents are invalid (see above); serving the valid ones" >&2
    elif [ "$rc" -ne 0 ]; then
        echo "run-sample: kb-indexer failed with status $rc" >&2
        exit "$rc"
    fi
else
    echo "run-sample: $KB holds no *.xml documents yet: serving an empty knowledge base" >&2
    mkdir -p "$RUN/empty-kb"
    "$BIN/kb-indexer" --index "$RUN/index" "$RUN/empty-kb" || {
        echo "run-sample: kb-indexer could not create an empty index" >&2
        exit 1
    }
fi

# --- tokens: created once, kept across runs so bookmarks and scripts keep working
TOKENS="$RUN/tokens"
new_token() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
if [ ! -f "$TOKENS" ]; then
    (
        umask 077
        {
            echo "# TOKEN ROLE NAME — one per line; reload with: kill -HUP <kb-searchd pid>"
            echo "$(new_token) agent sample-agent"
            echo "$(new_token) editor sample-editor"
            echo "$(new_token) lead sample-lead"
            echo "$(new_token) admin sample-admin"
        } >"$TOKENS"
    )
    echo "run-sample: created $TOKENS with new random tokens" >&2
fi
chmod 600 "$TOKENS"

token_of() { awk -v role="$1" '$1 !~ /^#/ && $2 == role { print $1; exit }' "$TOKENS"; }
AGENT=$(token_of agent)

cat <<EOF

  Knowledge-base search is starting on http://127.0.0.1:$PORT

  Open http://127.0.0.1:$PORT/ in a browser and paste one of these tokens (from $TOKENS):
$(awk '$1 !~ /^#/ && NF == 3 { printf "    %-7s %-14s %s\n", $2, $3, $1 }' "$TOKENS")

  Another port next time: KB_PORT=$((PORT == 8081 ? 8082 : 8081)) make run

  Try it:
    curl -s -H 'Authorization: Bearer $AGENT' \\
      'http://127.0.0.1:$PORT/api/search?q=%E5%9B%BD%E9%99%85%E6%BC%AB%E6%B8%B8&limit=3'
    curl -s http://127.0.0.1:$PORT/healthz
  (the query above is 国际漫游, "international roaming"; docs/API.md lists every call)

  Stop with Ctrl-C.

EOF

exec "$BIN/kb-searchd" --index "$RUN/index" --data "$RUN/data" \
    --listen "127.0.0.1:$PORT" --tokens "$TOKENS"
