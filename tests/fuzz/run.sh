#!/bin/bash
# Run libFuzzer harnesses for a fixed budget each (what `make fuzz` calls).
#
#   FUZZ_SECONDS=300 tests/fuzz/run.sh [TARGET...]     (targets: document analyzer query http)
#
# Each target fuzzes a working corpus kept outside git, build/fuzz/corpus/TARGET (new inputs go
# there), starting from the seeds in tests/fuzz/corpus/TARGET and the regression inputs in
# tests/fuzz/regressions/TARGET. Crashes, leaks, timeouts and out-of-memory inputs are saved
# under build/fuzz/crashes/TARGET/, the full log under build/fuzz/logs/TARGET.log. One line per
# target says executions, executions per second, corpus size and the result; the exit status is
# 1 when any target found something. Targets run one after another, under nice, because the
# build machines are shared.
set -u
cd "$(dirname "$0")/../.."
FUZZ_SECONDS=${FUZZ_SECONDS:-300}
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
[ $# -gt 0 ] || set -- document analyzer query http
source tests/fuzz/options.sh

status=0
for t in "$@"; do
    bin=$FUZZ_BUILD/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "fuzz_$t: $bin is missing: run make FUZZ=1 fuzz-build" >&2
        status=1
        continue
    fi
    work=$FUZZ_BUILD/corpus/$t crashes=$FUZZ_BUILD/crashes/$t log=$FUZZ_BUILD/logs/$t.log
    mkdir -p "$work" "$crashes" "$(dirname "$log")" tests/fuzz/regressions/$t
    echo "fuzz_$t: fuzzing for ${FUZZ_SECONDS}s (log $log)"
    nice -n 10 "$bin" $(fuzz_options "$t") -max_total_time="$FUZZ_SECONDS" \
        -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$work" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    size=$(find "$work" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        status=1
        result="FOUND SOMETHING (exit $rc): $(grep -m1 -E '^==[0-9]+==ERROR|runtime error|invariant broken|ERROR: libFuzzer' "$log")"
        result="$result; inputs: $(ls "$crashes" | tr '\n' ' ')"
    fi
    printf 'fuzz_%-8s %10s execs  %6s execs/s  corpus %5s files  %s\n' \
        "$t" "${execs:-?}" "${rate:-?}" "$size" "$result"
done
exit $status
