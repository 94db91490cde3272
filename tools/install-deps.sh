#!/bin/sh
# Install the Debian 12 packages that building, running and testing need, when any is missing.
# Needs root (or sudo) only when something is actually missing.
set -e
PKGS="build-essential pkg-config python3 libxapian-dev libxml2-dev libxml2-utils libpcre2-dev
      libopencc-dev opencc libicu-dev libsqlite3-dev sqlite3 libmicrohttpd-dev libcjson-dev curl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
