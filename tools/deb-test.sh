#!/bin/bash
# deb-test.sh — `make deb-test`: the kb-search package's life on a real Debian system.
#
# Builds the package twice (the second time as a higher version, VERSION+test1), then, as root:
#   install    the kb user, /etc/kb (modes, a generated admin token, the agents list),
#              /var/lib/kb (an empty index), the conffile, man pages, units that
#              `systemd-analyze verify` accepts and `systemd-analyze security` rates OK or better;
#   use        index the sample knowledge base, start kb-searchd as its unit does, search, file
#              a help request, give feedback; an administrator edits the conffile and adds a token;
#   upgrade    to the higher version: the index, the event store, the tokens, the agents list and
#              the conffile edit are kept, and the daemon is restarted by the package;
#   migrate    an event store of schema 1 (what the first releases wrote) under the installed
#              package is migrated, its rows kept, when the daemon starts after an upgrade;
#   remove     keeps the data and the configuration; purge deletes them (not the kb user).
#
# It changes this machine (a package, a user, /etc/kb, /var/lib/kb): for CI (.ci/run) and
# throw-away machines. It refuses to run where kb-search, /etc/kb or /var/lib/kb already exist.
# Without systemd as PID 1 (containers, CI) nothing starts units: the test then starts
# kb-searchd itself, with the command line and environment of the installed unit, as the kb
# user, and checks that the package's maintainer scripts restart the unit on upgrade; with
# systemd it uses systemctl and checks that the package itself restarted the daemon.
# Prints "PASS name" / "FAIL name" lines; exit 1 when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/kb-deb-test.XXXXXX)
PORT=${KB_DEB_TEST_PORT:-18080}
SYSTEMD=0
[ -d /run/systemd/system ] && SYSTEMD=1
DAEMON_PID=""
CHECK_OUT=$WORK/check.out
# shellcheck source=tools/test-lib.sh
. tools/test-lib.sh

cleanup() {
    stop_daemon
    if dpkg-query -W -f='${Status}' kb-search 2>/dev/null | grep -q "installed\|config-files"; then
        dpkg -P kb-search >/dev/null 2>&1 || true
    fi
    rm -rf /var/lib/kb /etc/kb /var/log/kb
    rm -rf "$WORK"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "FAIL deb_test_prerequisites"
    echo "    make deb-test installs a package: run it as root (on a throw-away machine or in CI)"
    exit 1
fi
if dpkg-query -W -f='${Status}' kb-search 2>/dev/null | grep -q "installed\|config-files" ||
   [ -e /etc/kb ] || [ -e /var/lib/kb ]; then
    echo "FAIL deb_test_prerequisites"
    echo "    kb-search, /etc/kb or /var/lib/kb is already on this machine: the test would purge it"
    exit 1
fi
trap cleanup EXIT

# What the test itself uses, from Debian, when missing (make-deb.sh installs the build's needs):
# systemd-analyze (package systemd; systemd need not be running), curl, sqlite3, man.
need_packages deb-test systemd curl sqlite3 man-db

# ---------------------------------------------------------------- build both versions
if ! tools/make-deb.sh >"$WORK/build1.log" 2>&1; then
    fail deb_builds_and_lintian_is_clean "$(tail -30 "$WORK/build1.log")"
    exit 1
fi
pass deb_builds_and_lintian_is_clean
mkdir -p "$WORK/v1" "$WORK/v2"
cp build/deb-pkg/kb-search_*.deb "$WORK/v1/"
if ! tools/make-deb.sh --version-suffix test1 >"$WORK/build2.log" 2>&1; then
    fail deb_rebuilds_with_a_higher_version "$(tail -30 "$WORK/build2.log")"
    exit 1
fi
cp build/deb-pkg/kb-search_*.deb "$WORK/v2/"
V1=$(ls "$WORK"/v1/kb-search_*.deb | grep -v dbgsym)
V2=$(ls "$WORK"/v2/kb-search_*.deb | grep -v dbgsym)
v1=$(dpkg-deb -f "$V1" Version)
v2=$(dpkg-deb -f "$V2" Version)
if dpkg --compare-versions "$v2" gt "$v1"; then pass "deb_rebuilds_with_a_higher_version ($v1 -> $v2)"
else fail deb_rebuilds_with_a_higher_version "$v2 is not newer than $v1"; fi

install_deb() { # FILE
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confold "$1" >"$WORK/install.log" 2>&1 ||
        { cat "$WORK/install.log"; return 1; }
}

# ---------------------------------------------------------------- the daemon, as its unit runs it
token() { awk '$2 == "admin" { print $1; exit }' /etc/kb/tokens; }
api() { # METHOD PATH [JSON]
    local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $(token)")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    curl "${args[@]}" "http://127.0.0.1:$PORT$2"
}
json() { python3 -c "import json; print(json.load(open('$WORK/body'))$1)"; }

# The unit's ExecStart, with the environment it gets (Environment= then EnvironmentFile=) and
# our port, as a command line for the kb user.
unit_command() { # UNIT
    python3 - "$1" "$PORT" <<'EOF'
import re, shlex, sys
unit, port = sys.argv[1], sys.argv[2]
text = open(f"/lib/systemd/system/{unit}").read().replace("\\\n", " ")
env = {}
for m in re.finditer(r"^Environment=(.*)$", text, re.M):
    for kv in shlex.split(m.group(1)):
        k, _, v = kv.partition("=")
        env[k] = v
for line in open("/etc/default/kb-search"):
    line = line.strip()
    if line and not line.startswith("#") and "=" in line:
        k, _, v = line.partition("=")
        env[k] = " ".join(shlex.split(v))
env["KB_LISTEN"] = f"127.0.0.1:{port}"
cmd = re.search(r"^ExecStart=(.*)$", text, re.M).group(1)
cmd = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), cmd)
words = []
for w in shlex.split(cmd):  # $VAR unbraced: split into words, as systemd does
    m = re.fullmatch(r"\$(\w+)", w)
    words += env.get(m.group(1), "").split() if m else [w]
print(" ".join(shlex.quote(w) for w in words))
EOF
}

start_daemon() {
    if [ "$SYSTEMD" = 1 ]; then
        systemctl restart kb-searchd
    else
        local cmd
        cmd=$(unit_command kb-searchd.service) || return 1
        # setpriv execs (runuser would fork): the pid is the daemon's, for SIGTERM.
        setpriv --reuid=kb --regid=kb --init-groups -- sh -c "umask 027; exec $cmd" \
            >>"$WORK/searchd.log" 2>&1 &
        DAEMON_PID=$!
    fi
    wait_ready
}
wait_ready() {
    for _ in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ] && return 0
        sleep 0.1
    done
    echo "kb-searchd did not become ready on port $PORT:"
    tail -20 "$WORK/searchd.log" 2>/dev/null
    [ "$SYSTEMD" = 1 ] && journalctl -u kb-searchd -n 20 --no-pager
    return 1
}
stop_daemon() {
    if [ "$SYSTEMD" = 1 ]; then
        systemctl stop kb-searchd 2>/dev/null || true
    elif [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
        DAEMON_PID=""
    fi
}
run_indexer() {
    if [ "$SYSTEMD" = 1 ]; then systemctl start kb-indexer; else
        local cmd
        cmd=$(unit_command kb-indexer.service) || return 1
        setpriv --reuid=kb --regid=kb --init-groups -- sh -c "umask 027; exec $cmd"
    fi
}

# ---------------------------------------------------------------- install
check "install_$v1" install_deb "$V1"
mode() { stat -c '%a %U:%G' "$1"; }
check kb_system_user sh -c 'id kb && [ "$(id -u kb)" -lt 1000 ]'
check etc_kb_modes sh -c "[ \"$(mode /etc/kb)\" = '1770 root:kb' ] && [ \"$(mode /etc/kb/tokens)\" = '640 root:kb' ] && [ \"$(mode /etc/kb/agents)\" = '640 kb:kb' ] || { ls -la /etc/kb; exit 1; }"
check tokens_file_has_a_generated_admin_token sh -c "awk '\$2 == \"admin\" && length(\$1) == 40' /etc/kb/tokens | grep -q ."
check var_lib_kb_and_an_empty_index sh -c "[ \"$(mode /var/lib/kb/data)\" = '750 kb:kb' ] && [ -e /var/lib/kb/index/iamglass ]"
check default_file_is_a_conffile sh -c "dpkg-query -W -f='\${Conffiles}' kb-search | grep -q /etc/default/kb-search"
# The man pages as the package holds them (a slim image's dpkg may be told not to install
# /usr/share/man: then only the package's copy can be read).
man_pages_clean() {
    local x=$WORK/unpacked p f w
    dpkg-deb -x "$V1" "$x" || return 1
    for p in man1/kb-indexer.1 man1/kb-report.1 man8/kb-searchd.8 man5/kb-document.5; do
        f=$x/usr/share/man/$p.gz
        [ -s "$f" ] || { echo "no $p in the package"; return 1; }
        w=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
        [ -z "$w" ] || { echo "$p: $w"; return 1; }
    done
}
check man_pages_in_the_package_render_cleanly man_pages_clean
MAN_INSTALLED=1
man -w kb-searchd >/dev/null 2>&1 || MAN_INSTALLED=0
[ "$MAN_INSTALLED" = 1 ] && check man_pages_installed man -w kb-indexer kb-report kb-document
units_verify() { # silent, or its complaints
    local out
    # Documentation=man:... is checked too, unless this system does not install man pages.
    local man=yes
    [ "$MAN_INSTALLED" = 1 ] || man=no
    out=$(cd /lib/systemd/system && systemd-analyze verify --man=$man kb-searchd.service \
          kb-indexer.service kb-indexer.path kb-indexer.timer 2>&1)
    [ -z "$out" ] || { echo "$out"; return 1; }
}
check units_verify units_verify
# Several search nodes (DEPLOY.md): deploy/cluster's files are examples in the package; the
# units and drop-ins, installed beside the package's units as an administrator does, verify,
# and haproxy accepts its configuration.
cluster_examples() {
    local ex=/usr/share/doc/kb-search/examples/cluster u=$WORK/cluster-units f out
    for f in haproxy.cfg kb-replicate.service kb-replicate-server.service kb-replicate.default \
             kb-search-node.default postgresql-kb.conf pg_hba-kb.conf \
             kb-indexer.service.d/changesets.conf kb-searchd.service.d/cluster.conf; do
        [ -s "$ex/$f" ] || { echo "missing: $ex/$f"; return 1; }
    done
    rm -rf "$u" && mkdir -p "$u" || return 1
    cp /lib/systemd/system/kb-searchd.service /lib/systemd/system/kb-indexer.service \
        "$ex/kb-replicate.service" "$ex/kb-replicate-server.service" "$u/" &&
        cp -r "$ex/kb-indexer.service.d" "$ex/kb-searchd.service.d" "$u/" || return 1
    out=$(cd "$u" && SYSTEMD_UNIT_PATH="$u:" systemd-analyze verify --man=no kb-searchd.service \
          kb-indexer.service kb-replicate.service kb-replicate-server.service 2>&1)
    [ -z "$out" ] || { echo "$out"; return 1; }
    if command -v haproxy >/dev/null; then haproxy -c -q -f "$ex/haproxy.cfg" || return 1; fi
}
check cluster_examples_installed_and_valid cluster_examples
security=$(systemd-analyze security --offline=true /lib/systemd/system/kb-searchd.service 2>&1 | tail -1)
case "$security" in
    *" OK "* | *" SAFE "*) pass "kb_searchd_security_rating: ${security#→ }" ;;
    *) fail kb_searchd_security_rating "$security" ;;
esac
check postinst_restarts_the_daemon_on_upgrade \
    grep -q "deb-systemd-invoke \$_dh_action 'kb-indexer.path' 'kb-searchd.service'" /var/lib/dpkg/info/kb-search.postinst

# ---------------------------------------------------------------- use
cp -r docs/sample-kb/. /var/lib/kb/source/ && chown -R kb:kb /var/lib/kb/source
check indexer_unit_indexes_the_source run_indexer
# An administrator's changes: the conffile, a token of their own.
sed -i 's/^KB_SEARCHD_OPTS=.*/KB_SEARCHD_OPTS=--threads 2 --access-log \/var\/log\/kb\/access.log/' /etc/default/kb-search
echo "deb-test-agent-token-0123456789abcdef agent deb.agent" >> /etc/kb/tokens
# (Under systemd the package started it already, with the old settings: this restarts it.)
check daemon_starts_as_its_unit start_daemon
q=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("出国漫游怎么开通"))')
used() {
    [ "$(api GET "/api/search?q=$q")" = 200 ] || return 1
    sid=$(json '["search_id"]')
    [ "$(json '["hits"][0]["id"]')" != "" ] || return 1
    top=$(json '["hits"][0]["id"]')
    [ "$(api POST /api/help-requests '{"agent":"deb.agent","question":"国际漫游怎么开通"}')" = 201 ] || return 1
    [ "$(api POST /api/feedback "{\"search_id\":\"$sid\",\"kind\":\"helpful\",\"doc_id\":\"$top\"}")" = 201 ] || return 1
    [ "$(api GET /healthz)" = 200 ] || return 1
    { json '["documents"]'; json '["index_revision"]'; } > "$WORK/index-before"
    [ "$(api GET /api/help-requests)" = 200 ] && json '["total"]' > "$WORK/help-before"
    grep -q "path=/api/search" /var/log/kb/access.log
}
check search_help_request_feedback_and_access_log used
sha256sum /etc/kb/tokens /etc/kb/agents /etc/default/kb-search > "$WORK/config.sha"
[ "$SYSTEMD" = 1 ] || stop_daemon

# ---------------------------------------------------------------- upgrade
before_pid=""
[ "$SYSTEMD" = 1 ] && before_pid=$(systemctl show -p MainPID --value kb-searchd)
check "upgrade_to_$v2" install_deb "$V2"
check upgrade_kept_the_configuration sha256sum -c --quiet "$WORK/config.sha"
if [ "$SYSTEMD" = 1 ]; then
    check daemon_restarted_by_the_package sh -c "wait_pid=\$(systemctl show -p MainPID --value kb-searchd); [ \"\$wait_pid\" != 0 ] && [ \"\$wait_pid\" != '$before_pid' ]"
else
    check daemon_starts_after_upgrade start_daemon
fi
kept() {
    wait_ready || return 1
    [ "$(api GET /healthz)" = 200 ] || return 1
    { json '["documents"]'; json '["index_revision"]'; } > "$WORK/index-after"
    [ "$(api GET /api/help-requests)" = 200 ] && json '["total"]' > "$WORK/help-after"
    diff "$WORK/index-before" "$WORK/index-after" && diff "$WORK/help-before" "$WORK/help-after" &&
        [ "$(api GET "/api/search?q=$q")" = 200 ]
}
check upgrade_kept_the_index_and_the_event_store kept
stop_daemon

# ---------------------------------------------------------------- migrate an older store
# A store as the first releases wrote it (schema 1, the tables its rows need; the same as
# tests/unit/test_store.c's), then the package upgraded over itself: the daemon it (re)starts
# migrates the store to this release's schema.
rm -f /var/lib/kb/data/events.sqlite3*
sqlite3 /var/lib/kb/data/events.sqlite3 <<'EOF'
CREATE TABLE searches (search_id TEXT PRIMARY KEY, time_ms INTEGER NOT NULL, agent TEXT NOT NULL, query TEXT NOT NULL, top_ids TEXT NOT NULL DEFAULT '[]', top_id TEXT, hits INTEGER NOT NULL DEFAULT 0, confidence REAL NOT NULL DEFAULT 0, unresolved INTEGER NOT NULL DEFAULT 0, took_ms REAL NOT NULL DEFAULT 0);
CREATE TABLE feedback (id INTEGER PRIMARY KEY, search_id TEXT NOT NULL REFERENCES searches(search_id), agent TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('click', 'helpful', 'not_found')), doc_id TEXT, time_ms INTEGER NOT NULL);
CREATE TABLE help_requests (id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, agent TEXT NOT NULL, filed_by TEXT NOT NULL, question TEXT NOT NULL, answer TEXT, kb_answerable INTEGER NOT NULL, doc_id TEXT, confidence REAL NOT NULL, override_answerable INTEGER, override_by TEXT, override_time_ms INTEGER);
INSERT INTO searches (search_id, time_ms, agent, query, unresolved) VALUES ('s1', 1, 'a', '宽带报修', 1);
INSERT INTO feedback (search_id, agent, kind, time_ms) VALUES ('s1', 'a', 'not_found', 2);
INSERT INTO help_requests (time_ms, agent, filed_by, question, kb_answerable, confidence) VALUES (3, 'a', 'desk', '国际漫游', 0, 0.1);
PRAGMA user_version = 1;
EOF
chown kb:kb /var/lib/kb/data/events.sqlite3
check reinstall_over_an_old_store install_deb "$V2"
[ "$SYSTEMD" = 1 ] || check daemon_starts_on_the_old_store start_daemon
migrated() {
    wait_ready || return 1
    stop_daemon
    local v rows
    v=$(sqlite3 /var/lib/kb/data/events.sqlite3 'PRAGMA user_version')
    rows=$(sqlite3 /var/lib/kb/data/events.sqlite3 'SELECT (SELECT count(*) FROM searches) || "," || (SELECT count(*) FROM feedback) || "," || (SELECT count(*) FROM help_requests)')
    echo "schema $v, rows $rows"
    [ "$v" -gt 1 ] && [ "$rows" = "1,1,1" ]
}
check store_migrated_rows_kept migrated

# ---------------------------------------------------------------- remove, purge
check remove dpkg -r kb-search
check remove_keeps_data_and_configuration sh -c '[ -e /var/lib/kb/index/iamglass ] && [ -e /var/lib/kb/data/events.sqlite3 ] && [ -e /etc/kb/tokens ] && [ -e /etc/kb/agents ] && [ ! -e /usr/sbin/kb-searchd ]'
check purge sh -c 'dpkg -P kb-search 2>&1'
check purge_deletes_data_and_configuration sh -c '[ ! -e /var/lib/kb/index ] && [ ! -e /var/lib/kb/data ] && [ ! -e /etc/kb ] && [ ! -e /etc/default/kb-search ] && [ ! -e /var/log/kb ]'
check purge_keeps_the_editors_documents sh -c '[ -e /var/lib/kb/source/README.md ] || ls /var/lib/kb/source | grep -q .'

echo "deb-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
