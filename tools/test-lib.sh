# shellcheck shell=bash
# test-lib.sh — the PASS/FAIL lines of the package tests (tools/deb-test.sh,
# tools/systemd-test.sh), sourced by both.
#
#   pass NAME                  a "PASS NAME" line
#   fail NAME [DETAIL...]      a "FAIL NAME" line, each DETAIL indented below it
#   check NAME COMMAND...      PASS when COMMAND succeeds, else FAIL with its last output lines
#
# passed and failed count the lines. check runs the command in the calling shell (not a
# subshell), so a daemon it starts stays known to the caller; its output goes to $CHECK_OUT
# (a file the caller names, in its own temporary folder).
passed=0
failed=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; shift; for l in "$@"; do echo "    $l"; done; failed=$((failed + 1)); }
check() {
    local name=$1
    shift
    if "$@" >"$CHECK_OUT" 2>&1; then pass "$name"; else fail "$name" "$(tail -15 "$CHECK_OUT")"; fi
}
