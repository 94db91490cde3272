#!/bin/bash
# Run every test program and count their "PASS name" / "FAIL name" lines.
# Layers: tools/check-layers.py (libkb's dependencies point one way; programs use include/kb/).
# Unit tests: each binary in $UNIT_DIR (built from tests/unit/test_*.c); a PostgreSQL server
# for those that need one (tests/pg_server.py).
# End-to-end tests: each tests/e2e/test_*.py (they start the real binaries from $BIN).
# Browser tests: tests/browser/run.sh (the web pages in headless Chromium).
# Fuzz smoke: tests/fuzz/smoke.sh (each libFuzzer harness briefly, see tests/fuzz/README.md).
# OpenAPI: tests/openapi/run.sh checks docs/openapi.yaml, and every request the end-to-end tests
# made (recorded in $API_TRACE while they ran) against it.
# A program that crashes, times out or exits non-zero without reporting a FAIL counts as one
# failure of its own. The last line is "N passed, N failed"; exit 1 when anything failed.
# --unit-only: only the unit tests. --e2e-only: only the end-to-end tests (make valgrind, which
# runs them with KB_VALGRIND=1: their time limit is then multiplied by 10 like the tests' own).
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
UNIT_DIR=${UNIT_DIR:-build/rel/tests}
export BIN
passed=0
failed=0
failures=()

run_program() { # name, timeout seconds, command...
    local name=$1 limit=$2
    shift 2
    local out rc p f
    out=$(timeout "$limit" "$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed "s|^|[$name] |"
    p=$(printf '%s\n' "$out" | grep -c '^PASS ')
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
    passed=$((passed + p))
    failed=$((failed + f))
    while read -r line; do failures+=("$name: ${line#FAIL }"); done < <(printf '%s\n' "$out" | grep '^FAIL ')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        failed=$((failed + 1))
        failures+=("$name: exited with status $rc (124 = timed out)")
    fi
}

# The layering rules of libkb (tools/check-layers.py, docs/ARCHITECTURE.md).
[ "${1:-}" = "--e2e-only" ] || run_program layers 60 python3 tools/check-layers.py

# One throw-away PostgreSQL server for the unit tests that run against it too (test_db): started
# here once (tests/pg_server.py: initdb in /tmp, a free port, no system service), removed at
# exit. A test finds it in KB_TEST_PG_URI and KB_TEST_PG_CTL; when it cannot start, those tests
# start their own and report why that fails.
if [ "${1:-}" != "--e2e-only" ] && [ -z "${KB_TEST_PG_URI:-}" ]; then
    if pg_env=$(python3 tests/pg_server.py start); then
        eval "$pg_env"
        trap '$KB_TEST_PG_CTL remove' EXIT
    fi
fi

for t in "$UNIT_DIR"/test_*; do
    [ "${1:-}" != "--e2e-only" ] || break
    [ -x "$t" ] || continue
    run_program "unit/$(basename "$t")" 300 "$t"
done

# The end-to-end tests' requests and answers, for the OpenAPI check (tests/e2e/harness.py).
API_TRACE="$UNIT_DIR/../api-trace.jsonl"
mkdir -p "$(dirname "$API_TRACE")"
rm -f "$API_TRACE"
export KB_API_TRACE="$API_TRACE"

e2e_limit=900
[ -n "${KB_VALGRIND:-}" ] && [ "${KB_VALGRIND}" != 0 ] && e2e_limit=9000
if [ "${1:-}" != "--unit-only" ]; then
    for t in tests/e2e/test_*.py; do
        [ -f "$t" ] || continue
        run_program "e2e/$(basename "$t" .py)" "$e2e_limit" python3 "$t"
    done
    # Browser tests: the web pages in headless Chromium (tests/browser/run.sh installs what
    # they need from npm the first time).
    [ "${1:-}" = "--e2e-only" ] || run_program browser 600 tests/browser/run.sh
    # libFuzzer harnesses: seeds, saved crashes, then a few seconds of fuzzing each (build/fuzz).
    [ "${1:-}" = "--e2e-only" ] || run_program fuzz 300 tests/fuzz/smoke.sh
    # docs/openapi.yaml against the answers the end-to-end tests got.
    [ "${1:-}" = "--e2e-only" ] || run_program openapi 300 tests/openapi/run.sh "$API_TRACE"
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "failures:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
