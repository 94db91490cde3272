#!/bin/bash
# run.sh — run the browser tests (tests/run-all.sh calls it; `make check` runs that).
#
# Needs Debian's chromium and Node.js with npm (tools/install-deps.sh installs them when missing)
# and playwright-core from npm, installed here into tests/browser/node_modules (git-ignored) from
# package-lock.json the first time. No browser is downloaded: the tests drive /usr/bin/chromium.
# Prints "PASS name" / "FAIL name" lines; screenshots go to tests/browser/out/.
set -u
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac

missing=""
command -v node >/dev/null 2>&1 || missing="$missing node"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    echo "FAIL browser_prerequisites"
    echo "    missing:$missing (run tools/install-deps.sh, or make check, as root)"
    exit 1
fi
if [ ! -f node_modules/playwright-core/package.json ]; then
    # Playwright's own browser download is skipped: the tests use Debian's chromium.
    if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1; then
        echo "FAIL browser_prerequisites"
        echo "    npm ci failed in tests/browser:"
        sed 's/^/    /' npm.log | tail -20
        rm -f npm.log
        exit 1
    fi
    rm -f npm.log
fi
exec node test_pages.mjs "$@"
