#!/bin/bash
# run-sample.sh — what `make run` runs after building: index the sample knowledge base and serve
# it on loopback, in the foreground, so a newcomer can try the product with two commands.
#
#   index   docs/sample-kb  ->  run/index          (bin/kb-indexer)
#   tokens  run/tokens, created once with random tokens for one agent, editor, lead and admin
#   serve   bin/kb-searchd on 127.0.0.1:$KB_PORT (default 8080), state in run/data
#
# Stop it with Ctrl-C (the service finishes requests in flight and flushes its event store).
# Delete run/tokens to get new tokens; delete run/ to start from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${KB_PORT:-8080}
BIN=${BIN:-bin}
RUN=run
KB=docs/sample-kb

case "$PORT" in
    '' | *[!0-9]*) echo "run-sample: KB_PORT must be a port number, not '$PORT'" >&2; exit 2 ;;
esac
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

  Try it:
    curl -s -H 'Authorization: Bearer $AGENT' \\
      'http://127.0.0.1:$PORT/api/search?q=%E5%9B%BD%E9%99%85%E6%BC%AB%E6%B8%B8&limit=3'
    curl -s http://127.0.0.1:$PORT/healthz
  (the query above is 国际漫游, "international roaming"; docs/API.md lists every call)

  Stop with Ctrl-C.

EOF

exec "$BIN/kb-searchd" --index "$RUN/index" --data "$RUN/data" \
    --listen "127.0.0.1:$PORT" --tokens "$TOKENS"
