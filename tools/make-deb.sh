#!/bin/bash
# make-deb.sh — build the Debian package kb-search with debhelper (`make deb`), then lintian.
#
#   tools/make-deb.sh [--version-suffix S]
#
# The package is built in a copy of the tree, build/deb-pkg/kb-search, and written to
# build/deb-pkg/: dpkg-buildpackage writes its results into the parent directory of the tree it
# builds, and runs `debian/rules clean` there, so building in place would put files beside the
# checkout. The copy holds what git knows (tracked files, and new ones that are not ignored)
# with their modification times, and keeps its own build/deb between runs, so a second build
# recompiles only what changed.
# --version-suffix S builds version VERSION+S (a newer package for tools/deb-test.sh).
# Missing build dependencies (debian/control), debhelper and lintian are installed first (as
# root, from Debian): `make check` does not need them.
# Exit status: 0 when the package is built and lintian reports no error and no warning.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
suffix=""
if [ "${1:-}" = "--version-suffix" ]; then
    suffix=${2:?--version-suffix needs a value}
fi
OUT=$ROOT/build/deb-pkg
SRC=$OUT/kb-search

install_missing() { # packages...
    local missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "make-deb: installing:$missing" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
install_missing dpkg-dev debhelper fakeroot lintian
# The rest of debian/control's Build-Depends, as dpkg-checkbuilddeps names them.
unmet=$(dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
        sed -e 's/([^)]*)//g' -e 's/:native//g' -e 's/debhelper-compat/debhelper/g' -e 's/|/ /g')
[ -n "$unmet" ] && install_missing $unmet

# The copy: everything but its build/deb is replaced, so files deleted here go there too.
mkdir -p "$SRC"
find "$SRC" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -xf - -C "$SRC"
rm -f "$OUT"/*.deb "$OUT"/*.changes "$OUT"/*.buildinfo

if [ -n "$suffix" ]; then
    # A changelog entry on top: the same sources as a newer release.
    version=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
    { printf 'kb-search (%s+%s) bookworm; urgency=medium\n\n' "$version" "$suffix"
      printf '  * Rebuild with a higher version (tools/deb-test.sh: the upgrade test).\n\n'
      printf ' -- kb maintainers <maintainers@users.noreply.h-seed-6f03f49d.example>  %s\n\n' "$(date -R)"
      cat "$SRC/debian/changelog"; } > "$SRC/debian/changelog.new"
    mv "$SRC/debian/changelog.new" "$SRC/debian/changelog"
fi

echo "make-deb: building in $SRC" >&2
(cd "$SRC" && dpkg-buildpackage -b -nc -uc -us -j"$(nproc)") > "$OUT/build.log" 2>&1 || {
    tail -40 "$OUT/build.log" >&2
    echo "make-deb: dpkg-buildpackage failed; the whole log is $OUT/build.log" >&2
    exit 1
}
changes=$(ls "$OUT"/kb-search_*.changes)
echo "make-deb: lintian $(basename "$changes")" >&2
# --fail-on: errors and warnings fail the build; overrides (debian/*.lintian-overrides) say why.
lintian --fail-on error,warning --display-info "$changes" | tee "$OUT/lintian.log" >&2 || {
    echo "make-deb: lintian reported errors or warnings (above; also in $OUT/lintian.log)" >&2
    exit 1
}
ls "$OUT"/*.deb
