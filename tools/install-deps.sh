#!/bin/sh
# Install the Debian 12 packages that building, running and testing need, when any is missing.
# Needs root (or sudo) only when something is actually missing.
set -e
PKGS="build-essential pkg-config python3 libxapian-dev libxml2-dev libxml2-utils libpcre2-dev
      opencc libicu-dev libsqlite3-dev sqlite3 libmicrohttpd-dev libcjson-dev libzstd-dev curl"
# opencc: its opencc_dict tool and dictionaries, which the build embeds (tools/gen-t2s.sh).
# The libFuzzer harnesses (tests/fuzz, make fuzz and the smoke run in make check): clang 14 and
# its runtime libraries (libFuzzer, ASan, UBSan).
PKGS="$PKGS clang-14 libclang-rt-14-dev"
# The browser tests (tests/browser): Debian's Chromium, driven by playwright-core from npm, and
# CJK fonts so screenshots show Chinese text rather than boxes.
PKGS="$PKGS chromium fonts-noto-cjk"
# make valgrind: the end-to-end tests under valgrind's memcheck.
PKGS="$PKGS valgrind"
# xapian-check and xapian-delve, which the bulk builder's tests need (tests/unit/test_glass_build.c,
# tests/e2e/test_bulk_build.py), and xapian-replicate(-server) and haproxy, which the test of
# several search nodes runs (tests/e2e/test_replication.py): without them those tests fail.
PKGS="$PKGS xapian-tools haproxy"
# The man pages' test (tests/e2e/test_man_pages.py) renders them with groff and man-db's man.
PKGS="$PKGS groff-base man-db"
# PostgreSQL as the event store (--data postgresql://..., docs/CLUSTER.md): libpq to build, and
# the server, which the tests start in a temporary directory of their own (tests/pg_server.py;
# they never use the "main" cluster Debian's package creates).
PKGS="$PKGS libpq-dev postgresql-15"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js and npm by command, not by package: a Node.js from another source that bundles npm
# must not be replaced by Debian's.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
