# shellcheck shell=bash
# test-lib.sh — the PASS/FAIL lines of the package tests (tools/deb-test.sh,
# tools/systemd-test.sh), sourced by both.
#
#   pass NAME                  a "PASS NAME" line
#   fail NAME [DETAIL...]      a "FAIL NAME" line, each DETAIL indented below it
#   check NAME COMMAND...      PASS when COMMAND succeeds, else FAIL with its last output lines
#   need_packages WHO PKG...   install the missing ones from Debian
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

# need_packages WHO PACKAGE...: install from Debian those of the packages that are missing
# (the tests run as root), saying so on stderr as WHO.
need_packages() {
    local who=$1 p need=""
    shift
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
    done
    [ -z "$need" ] && return 0
    echo "$who: installing:$need" >&2
    # shellcheck disable=SC2086
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; } >/dev/null
}
