#!/bin/bash
# systemd-test.sh — `make systemd-test`: the kb-search package under a real systemd, PID 1 of a
# booted Debian 12 container.
#
# tools/deb-test.sh checks the package's life where systemd is not running (CI's machine, this
# one): it starts the daemon itself with the units' command lines, so the units were never run.
# This test boots a minimal Debian 12 (debootstrap, cached under /var/tmp/kb-systemd-test) with
# `systemd-nspawn --boot`, on a throw-away overlay of the cached tree and with a network of its
# own (loopback only: nothing it starts can clash with services on this machine), installs the
# package built by `make deb` in it, and checks, as systemd runs them:
#   kb-searchd.service  started by the package; ready only once it answers (Type=notify: the
#                       first request after `systemctl restart` returns succeeds); /healthz and
#                       a search on loopback; sandboxed for real (no capabilities, seccomp, no
#                       new privileges, read-only /usr in its mount namespace); `systemctl
#                       reload` re-reads the tokens; restarted after `kill -9`; restarted by a
#                       reinstall (what an upgrade does); stopped cleanly;
#   kb-indexer.path     starts kb-indexer.service when a file in /var/lib/kb/source changes, and
#                       kb-searchd serves the new revision; a document with an error fails the
#                       unit with the FILE:LINE line at priority "err" in the journal;
#   kb-indexer.timer    accepted and scheduled;
#   the journal         kb-searchd's lines carry their priorities (info, warning, err);
#   systemd-analyze     `verify` on the installed units, `security` ratings of the running system;
#   purge               stops the daemon and removes the units and the data.
#
# Needs root with the privileges of a container manager (mounts, namespaces: see
# docs/DEPLOY.md for where that is not the case) and, the first time, Debian's mirror
# (KB_DEBIAN_MIRROR, default http://deb.debian.org/debian). It changes nothing on this machine
# but the cache and, when missing, the packages debootstrap and systemd-container.
# Prints "PASS name" / "FAIL name" lines (those from inside the container as they happen);
# exit 1 when anything failed. The container's console and journal are kept in
# build/systemd-test/ for a look afterwards.
#
# The same file is the test inside the container: the host copies it in and a unit runs it
# there as `systemd-test.sh --inside`.
set -uo pipefail
# Exit status 77 (with a SKIP line) when this machine cannot run containers at all, so that CI
# can tell a machine without the privileges from a failing test.
SKIP=77

# ================================================================ inside the container
inside() {
    dir=/root/kb-test # (global: the EXIT trap uses it)
    exec >"$dir/output" 2>&1
    CHECK_OUT=$dir/check.out
    # shellcheck source=tools/test-lib.sh
    . "$dir/test-lib.sh"
    local deb port=8080
    deb=$(ls "$dir"/kb-search_*.deb)
    # Whatever happens, the host gets the counts and the container powers off.
    trap 'echo "$passed $failed" >"$dir/result"; systemctl poweroff --no-block' EXIT
    base="http://127.0.0.1:$port"

    state=$(systemctl is-system-running --wait 2>&1)
    case "$state" in
        running | degraded) pass "systemd_booted_as_pid_1 ($(ps -o comm= -p 1), $state)" ;;
        *) fail systemd_booted_as_pid_1 "$state" "$(systemctl --failed --no-pager)" ;;
    esac

    # ------------------------------------------------------------ install
    # The dependencies are in the image already: no network in here.
    check install_with_apt env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$deb"
    # --man=no: the image has no man-db (the pages are checked by make check and make deb-test).
    check units_verify sh -c 'out=$(cd /lib/systemd/system && systemd-analyze verify --man=no kb-searchd.service \
        kb-indexer.service kb-indexer.path kb-indexer.timer 2>&1); [ -z "$out" ] || { echo "$out"; exit 1; }'
    check package_started_the_units sh -c 'systemctl is-active kb-searchd.service kb-indexer.path &&
        [ "$(systemctl is-enabled kb-searchd.service)" = enabled ]'

    admin=$(awk '$2 == "admin" { print $1; exit }' /etc/kb/tokens)
    # get PATH [TOKEN]: the status code; the body in $dir/body
    get() {
        curl -s -o "$dir/body" -w '%{http_code}' -H "Authorization: Bearer ${2:-$admin}" "$base$1"
    }
    # field NAME: a number field of the last body (the bodies here are one line of JSON)
    field() { grep -o "\"$1\":[0-9]*" "$dir/body" | head -1 | cut -d: -f2; }
    health() { get /healthz >/dev/null; echo "$(field documents) $(field index_revision)"; }
    # wait_for SECONDS COMMAND...: until the command succeeds
    wait_for() {
        local n=$(($1 * 10))
        shift
        while [ $n -gt 0 ]; do
            "$@" >/dev/null 2>&1 && return 0
            sleep 0.1
            n=$((n - 1))
        done
        "$@"
    }
    # The daemon's pid; fails when it has none (never "kill -9 0": that is this process group).
    main_pid() {
        local pid
        pid=$(systemctl show -p MainPID --value kb-searchd)
        [ "${pid:-0}" -gt 0 ] || { echo "kb-searchd has no main process" >&2; return 1; }
        echo "$pid"
    }

    # ------------------------------------------------------------ readiness
    check type_notify sh -c '[ "$(systemctl show -p Type --value kb-searchd)" = notify ]'
    # With Type=notify, `systemctl restart` returns when the daemon said READY=1 (index, store
    # and socket open): the very first request must be answered, without waiting or retrying.
    # And systemd held the unit in "activating" from the exec until READY=1 (with Type=simple
    # it would be active at the exec): the time between the two is the daemon's start-up.
    ready_on_return() {
        systemctl restart kb-searchd || return 1
        local code exec_us active_us
        code=$(get /healthz)
        [ "$code" = 200 ] || { echo "/healthz right after systemctl restart: $code"; return 1; }
        exec_us=$(systemctl show -p ExecMainStartTimestampMonotonic --value kb-searchd)
        active_us=$(systemctl show -p ActiveEnterTimestampMonotonic --value kb-searchd)
        echo $(((active_us - exec_us) / 1000)) >"$dir/ready-ms"
        [ "$active_us" -gt "$exec_us" ] && [ "$(systemctl show -p ActiveState --value kb-searchd)" = active ]
    }
    check "ready_when_systemctl_returns" ready_on_return
    [ -s "$dir/ready-ms" ] && echo "    (active $(cat "$dir/ready-ms") ms after the exec, at READY=1)"
    check healthz_on_loopback sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $base/healthz)\" = 200 ]"
    sandboxed() {
        local pid status
        pid=$(main_pid) || return 1
        status=/proc/$pid/status
        grep -q '^CapEff:[[:space:]]*0000000000000000$' "$status" || { grep Cap "$status"; return 1; }
        grep -q '^NoNewPrivs:[[:space:]]*1$' "$status" || return 1
        grep -q '^Seccomp:[[:space:]]*2$' "$status" || { grep Seccomp "$status"; return 1; }
        [ "$(stat -c %U "/proc/$pid")" = kb ] || return 1
        # In the daemon's own mount namespace (as root, even): /usr read-only, the state writable.
        if nsenter -t "$pid" -m touch /usr/lib/kb-sandbox-probe 2>/dev/null; then
            echo "/usr is writable in the daemon's namespace"
            return 1
        fi
        nsenter -t "$pid" -m sh -c 'touch /var/lib/kb/data/.probe && rm /var/lib/kb/data/.probe'
    }
    check sandbox_in_force sandboxed

    # ------------------------------------------------------------ the path unit, the indexer
    first_index() {
        local before
        before=$(health)
        cp -r /usr/share/kb-search/sample-kb/. /var/lib/kb/source/
        wait_for 30 sh -c "[ \"\$(systemctl show -p Result --value kb-indexer)\" = success ] &&
            [ \"\$(curl -s $base/healthz | grep -o '\"documents\":[0-9]*')\" != '\"documents\":0' ]" || {
            echo "before: $before, now: $(health)"
            journalctl -u kb-indexer --no-pager -n 20
            return 1
        }
        echo "index (documents revision): $before -> $(health)"
    }
    check path_unit_indexes_the_sample_kb first_index
    searched() {
        local q
        q=$(printf '%s' '出国漫游怎么开通' | od -An -tx1 | tr -d ' \n' | sed 's/../%&/g')
        [ "$(get "/api/search?q=$q")" = 200 ] && grep -q '"hits":\[{"id":"' "$dir/body"
    }
    check search_on_loopback searched
    new_document() {
        local before after docs rev
        read -r docs rev < <(health)
        cat >/var/lib/kb/source/systemd-test.xml <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<document id="systemd-test-001" lang="zh-CN">
  <title>测试文档：路径单元触发重建索引</title>
  <body><p>这份文档由 systemd 测试写入知识库目录。</p></body>
</document>
XML
        wait_for 30 sh -c "curl -s $base/healthz | grep -q '\"documents\":$((docs + 1)),'" || {
            echo "before: $docs documents, revision $rev; now: $(health)"
            journalctl -u kb-indexer --no-pager -n 20
            return 1
        }
        read -r _ after < <(health)
        echo "revision $rev -> $after"
        [ "$after" -gt "$rev" ]
    }
    check path_unit_reindexes_a_changed_folder_and_searchd_serves_it new_document
    invalid_document() {
        local since
        since=$(date '+%Y-%m-%d %H:%M:%S')
        sleep 1 # (the journal's --since has a resolution of a second)
        printf '<document id="systemd-test-bad">\n  <title>坏文档</title>\n  <body><blink>x</blink></body>\n</document>\n' \
            >/var/lib/kb/source/systemd-test-bad.xml
        wait_for 30 sh -c '[ "$(systemctl show -p Result --value kb-indexer)" = exit-code ]' || {
            systemctl status kb-indexer --no-pager
            return 1
        }
        journalctl -u kb-indexer -p err --since "$since" -o cat --no-pager | tee "$dir/indexer-err"
        grep -q '^/var/lib/kb/source/systemd-test-bad.xml:3: ' "$dir/indexer-err" || return 1
        # The summary line is not an error.
        ! grep -q "documents from" "$dir/indexer-err"
    }
    check indexer_problem_fails_the_unit_and_is_an_error_in_the_journal invalid_document
    fixed() {
        rm /var/lib/kb/source/systemd-test-bad.xml
        wait_for 30 sh -c '[ "$(systemctl show -p Result --value kb-indexer)" = success ]'
    }
    check indexer_unit_succeeds_again_once_fixed fixed
    timer() {
        systemctl start kb-indexer.timer || return 1
        local next
        next=$(systemctl show -p NextElapseUSecRealtime --value kb-indexer.timer)
        systemctl list-timers --no-pager kb-indexer.timer
        systemctl stop kb-indexer.timer
        [ -n "$next" ]
    }
    check timer_is_scheduled timer

    # ------------------------------------------------------------ reload, the journal's priorities
    reload() {
        local t=systemd-test-token-0123456789abcdef
        [ "$(get /api/search?q=x "$t")" = 401 ] || return 1
        cp -p /etc/kb/tokens "$dir/tokens.saved"
        echo "$t agent systemd.agent" >>/etc/kb/tokens
        # A short token is accepted with a warning.
        echo "short-tok agent short.agent" >>/etc/kb/tokens
        systemctl reload kb-searchd || return 1
        wait_for 5 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $t' '$base/api/search?q=x')\" = 200 ]" ||
            { echo "the new token is refused after systemctl reload"; return 1; }
        [ "$(systemctl show -p ActiveState --value kb-searchd)" = active ]
    }
    check reload_rereads_the_tokens reload
    bad_reload() {
        # A tokens file with a line that is not TOKEN ROLE NAME: kept the old tokens, an error.
        echo "systemd-test-broken-0123456789abcdef no-such-role broken.name" >>/etc/kb/tokens
        systemctl reload kb-searchd || return 1
        wait_for 5 sh -c 'journalctl -u kb-searchd -p err -o cat --no-pager | grep -q "tokens not reloaded"' || return 1
        cp -p "$dir/tokens.saved" /etc/kb/tokens
        systemctl reload kb-searchd
    }
    check reload_with_a_bad_tokens_file_keeps_the_old_ones bad_reload
    priorities() {
        # The daemon's lines ("TIME LEVEL message") at each priority: journald understood the
        # "<N>" prefixes (and removed them), so each level is at its priority and only there.
        local p levels expected
        for p in 0 1 2 3 4 5 6 7; do
            levels=$(journalctl -t kb-searchd -p "$p..$p" -o cat --no-pager | awk '{ print $2 }' |
                     sort | uniq -c | awk '{ printf "%s %s ", $2, $1 }')
            echo "priority $p: ${levels:-none}"
            case $p in 3) expected=error ;; 4) expected=warn ;; 6) expected=info ;; *) expected="" ;; esac
            if [ -z "$expected" ]; then [ -z "$levels" ] || return 1
            else [[ "$levels" =~ ^$expected\ [0-9]+\ $ ]] || return 1; fi
        done
        ! journalctl -t kb-searchd -o cat --no-pager | grep -q '^<[0-7]>'
    }
    check journal_priorities_of_kb_searchd priorities
    check journalctl_p_warning_shows_the_short_token sh -c \
        'journalctl -u kb-searchd -p warning -o cat --no-pager | grep -q "short.agent.*only 9 characters"'

    # ------------------------------------------------------------ failure, upgrade, stop
    restarted() {
        local pid n
        pid=$(main_pid) || return 1
        kill -9 "$pid"
        wait_for 15 sh -c "p=\$(systemctl show -p MainPID --value kb-searchd); [ \"\$p\" != 0 ] && [ \"\$p\" != $pid ] &&
            [ \"\$(systemctl show -p ActiveState --value kb-searchd)\" = active ]" || {
            systemctl status kb-searchd --no-pager
            return 1
        }
        n=$(systemctl show -p NRestarts --value kb-searchd)
        echo "pid $pid -> $(main_pid), NRestarts=$n"
        [ "$n" -ge 1 ] && [ "$(get /healthz)" = 200 ]
    }
    check restarted_after_kill_9 restarted
    reinstalled() {
        local pid docs
        pid=$(main_pid) || return 1
        read -r docs _ < <(health)
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "$deb" || return 1
        [ "$(main_pid)" != "$pid" ] || { echo "the daemon was not restarted"; return 1; }
        [ "$(get /healthz)" = 200 ] && [ "$(field documents)" = "$docs" ]
    }
    check package_upgrade_restarts_the_daemon reinstalled
    stopped() {
        systemctl stop kb-searchd || return 1
        [ "$(systemctl show -p Result --value kb-searchd)" = success ] &&
            journalctl -u kb-searchd -o cat --no-pager -n 5 | grep -q "kb-searchd stopped after"
    }
    check stops_cleanly stopped
    systemctl start kb-searchd

    # ------------------------------------------------------------ the ratings, purge
    for unit in kb-searchd kb-indexer; do
        rating=$(systemd-analyze security --no-pager "$unit.service" 2>&1 | tail -1)
        case "$unit:$rating" in
            kb-searchd:*" OK "* | *" SAFE "*) pass "security_rating_$unit: ${rating#→ }" ;;
            *) fail "security_rating_$unit" "$rating" ;;
        esac
    done
    check purge sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q kb-search &&
        ! systemctl is-active -q kb-searchd && [ ! -e /lib/systemd/system/kb-searchd.service ] &&
        [ ! -e /var/lib/kb/index ] && [ ! -e /etc/kb ]'

    journalctl -b --no-pager >"$dir/journal.txt" 2>&1
    echo "systemd-test (inside): $passed passed, $failed failed"
}

if [ "${1:-}" = "--inside" ]; then
    inside
    exit 0
fi

# ================================================================ on this machine
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
CACHE=${KB_SYSTEMD_TEST_CACHE:-/var/tmp/kb-systemd-test}
MIRROR=${KB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
TIMEOUT=${KB_SYSTEMD_TEST_TIMEOUT:-600}
LOGS=$ROOT/build/systemd-test
MACHINE=kb-systemd-test-$$
WORK=""
NSPAWN_PID=""
# shellcheck disable=SC2034 # (test-lib.sh reads it; check is only used inside)
CHECK_OUT=/dev/null
# shellcheck source=tools/test-lib.sh
. tools/test-lib.sh

if [ "$(id -u)" -ne 0 ]; then
    echo "FAIL systemd_test_prerequisites"
    echo "    make systemd-test boots a container: run it as root"
    exit 1
fi

cleanup() {
    if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        kill -TERM "$NSPAWN_PID" 2>/dev/null # nspawn asks the container's systemd to halt
        for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
    fi
    if [ -n "$WORK" ]; then
        # Never delete through an overlay that is still mounted: say so and leave it.
        if mountpoint -q "$WORK/root" && ! umount "$WORK/root"; then
            echo "systemd-test: $WORK/root is still mounted; unmount it and delete $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    # nspawn leaves this folder when /run is not a tmpfs (it will not delete on a disk file system).
    rm -rf "/run/systemd/nspawn/propagate/$MACHINE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Can this machine run a container? nspawn needs new mount, PID, network, UTS and IPC namespaces
# (root in a container without CAP_SYS_ADMIN, for example, has not got them).
if ! probe=$(unshare --mount --pid --net --uts --ipc --fork true 2>&1); then
    echo "SKIP systemd_test: this machine cannot create the namespaces a container needs: $probe"
    exit $SKIP
fi

need_packages systemd-test debootstrap systemd-container

# ---------------------------------------------------------------- the package
mkdir -p "$LOGS" "$CACHE/debs"
if ! tools/make-deb.sh >"$LOGS/build.log" 2>&1; then
    fail deb_builds "$(tail -30 "$LOGS/build.log")"
    exit 1
fi
DEB=$(echo build/deb-pkg/kb-search_*.deb) # (not kb-search-dbgsym_)
pass "deb_builds ($(basename "$DEB"))"
# The package's dependencies, as Debian package names (the first of alternatives).
deps=$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' | grep . | sort -u)

# ---------------------------------------------------------------- the image (cached)
# One run at a time builds or completes it (two worktrees may run the test at once).
exec 9>"$CACHE/lock"
flock 9
# A minimal Debian with systemd, what the test uses, and the package's dependencies, so that
# the container needs no network. Built once (about 1.5 minutes and 100 MB from the mirror),
# kept in $CACHE, and completed there when a new release of the package depends on more.
IMAGE=$CACHE/$SUITE-$(dpkg --print-architecture)
image_tools="systemd,systemd-sysv,dbus,curl,procps,util-linux"
if [ ! -e "$IMAGE/.complete" ]; then
    rm -rf "$IMAGE.new"
    echo "systemd-test: building a $SUITE image in $IMAGE (once)" >&2
    if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs" \
            --include="$image_tools,$(echo "$deps" | paste -sd,)" \
            "$SUITE" "$IMAGE.new" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1; then
        fail image_built_with_debootstrap "$(tail -15 "$LOGS/debootstrap.log")"
        exit 1
    fi
    # No console login prompt (the console is only read here), and no daily apt jobs.
    ln -sf /dev/null "$IMAGE.new/etc/systemd/system/console-getty.service"
    ln -sf /dev/null "$IMAGE.new/etc/systemd/system/apt-daily.timer"
    ln -sf /dev/null "$IMAGE.new/etc/systemd/system/apt-daily-upgrade.timer"
    rm -rf "$IMAGE"
    touch "$IMAGE.new/.complete"
    mv "$IMAGE.new" "$IMAGE"
fi
missing=""
for p in $deps; do
    chroot "$IMAGE" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "systemd-test: adding to the image:" $missing >&2
    # shellcheck disable=SC2086
    if ! systemd-nspawn -q -D "$IMAGE" --register=no --keep-unit sh -c \
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing" \
            >"$LOGS/image-update.log" 2>&1; then
        fail image_has_the_dependencies "$(tail -15 "$LOGS/image-update.log")"
        exit 1
    fi
fi
pass "image ($SUITE, systemd $(chroot "$IMAGE" dpkg-query -W -f='${Version}' systemd))"
flock -u 9

# ---------------------------------------------------------------- boot it
# This run's changes go to an overlay over the image, thrown away at the end.
WORK=$(mktemp -d "$CACHE/run.XXXXXX")
mkdir "$WORK/upper" "$WORK/work" "$WORK/root"
if ! mount -t overlay overlay -o "lowerdir=$IMAGE,upperdir=$WORK/upper,workdir=$WORK/work" \
        "$WORK/root" 2>"$LOGS/mount.log"; then
    # No overlayfs here (e.g. the cache is itself on one): a copy, a few seconds more.
    echo "systemd-test: no overlay ($(cat "$LOGS/mount.log")): copying the image" >&2
    cp -a "$IMAGE/." "$WORK/root/" || { fail image_copied; exit 1; }
fi
T=$WORK/root/root/kb-test
mkdir -p "$T"
cp "$DEB" tools/systemd-test.sh tools/test-lib.sh "$T/"
: >"$T/output"
cat >"$WORK/root/etc/systemd/system/kb-systemd-test.service" <<'EOF'
# The test itself (tools/systemd-test.sh --inside), started at boot. Type=simple so that the
# boot finishes while it runs: it waits for that (systemctl is-system-running --wait).
[Unit]
Description=kb-search package test under systemd
[Service]
ExecStart=/bin/bash /root/kb-test/systemd-test.sh --inside
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$WORK/root/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/kb-systemd-test.service \
    "$WORK/root/etc/systemd/system/multi-user.target.wants/kb-systemd-test.service"

start=$(date +%s)
# --keep-unit --register=no: no systemd (nor machined) on this machine to ask for a scope.
# (timeout's SIGTERM makes nspawn ask the container's systemd to halt.) The container gets the
# unified cgroup hierarchy (cgroup v2) as Debian 12 uses it, even where this machine mounts
# the older hybrid layout.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout "$TIMEOUT" systemd-nspawn -q -D "$WORK/root" -M "$MACHINE" --register=no --keep-unit \
    --private-network --console=read-only --boot >"$LOGS/console.log" 2>&1 &
NSPAWN_PID=$!
# The lines from inside, as they come; tail ends when the container has gone.
tail -n +1 -F --pid="$NSPAWN_PID" "$T/output" 2>/dev/null
wait "$NSPAWN_PID"
rc=$?
NSPAWN_PID=""
took=$(($(date +%s) - start))
cp "$T/journal.txt" "$LOGS/journal.txt" 2>/dev/null

if [ -s "$T/result" ]; then
    read -r in_passed in_failed <"$T/result"
    passed=$((passed + in_passed))
    failed=$((failed + in_failed))
    if [ "$rc" = 0 ]; then pass "container_powered_off (${took} s from boot to power-off)"
    else fail container_powered_off "systemd-nspawn exit status $rc"; fi
else
    fail systemd_test_ran_in_the_container "systemd-nspawn exit status $rc after $took s; the console:" \
        "$(tail -25 "$LOGS/console.log")"
fi
echo "systemd-test: $passed passed, $failed failed (logs in ${LOGS#"$ROOT"/})"
[ "$failed" -eq 0 ]
