#!/bin/bash
# run.sh — check docs/openapi.yaml (tests/run-all.sh calls it; `make check` runs that).
#
#   tests/openapi/run.sh [TRACE]
#
# TRACE: the requests and answers of the end-to-end tests (KB_API_TRACE, tests/e2e/harness.py),
# which tests/run-all.sh collects while they run. Without one (this script run alone), it runs
# the end-to-end tests that exercise every endpoint, test_searchd.py, test_gaps.py and
# test_pages_http.py, to make one (about a minute).
# Needs Node.js with npm (tools/install-deps.sh installs them) and three packages from npm
# (package-lock.json), installed into tests/openapi/node_modules (git-ignored) the first time;
# later runs work offline. Prints "PASS name" / "FAIL name" lines.
set -u
trace=${1:-}
# A TRACE given relative to the caller's folder (run-all passes build/rel/tests/../api-trace.jsonl)
# must still name that file after the cd below; a TRACE given but missing or empty is a failure,
# never a reason to check a smaller trace of our own instead.
case "$trace" in "" | /*) ;; *) trace="$PWD/$trace" ;; esac
if [ -n "$trace" ] && [ ! -s "$trace" ]; then
    echo "FAIL openapi_trace"
    echo "    the end-to-end tests' trace $trace is missing or empty"
    exit 1
fi
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "FAIL openapi_prerequisites"
    echo "    missing node or npm (run tools/install-deps.sh, or make check, as root)"
    exit 1
fi
if [ ! -f node_modules/ajv/package.json ] || [ ! -f node_modules/yaml/package.json ] ||
   [ ! -f node_modules/@seriousme/openapi-schema-validator/package.json ]; then
    if ! npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1; then
        echo "FAIL openapi_prerequisites"
        echo "    npm ci failed in tests/openapi:"
        sed 's/^/    /' npm.log | tail -20
        rm -f npm.log
        exit 1
    fi
    rm -f npm.log
fi

if [ -z "$trace" ]; then
    trace=$(mktemp /tmp/kb-api-trace.XXXXXX)
    trap 'rm -f "$trace"' EXIT
    for t in test_searchd test_gaps test_pages_http; do
        KB_API_TRACE=$trace python3 "$ROOT/tests/e2e/$t.py" >/dev/null 2>&1
    done
fi
exec node check.mjs "$ROOT/docs/openapi.yaml" "$trace"
