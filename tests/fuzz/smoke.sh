#!/bin/bash
# The fuzzing part of `make check` (called by tests/run-all.sh): each libFuzzer harness replays
# its seed corpus (tests/fuzz/corpus/TARGET) and every saved crash (tests/fuzz/regressions/
# TARGET), then fuzzes for FUZZ_SMOKE_SECONDS (default 12) from there. Prints "PASS fuzz_TARGET"
# or "FAIL fuzz_TARGET: why" per target; the log of a failure is shown and kept in
# build/fuzz/smoke/TARGET.log, and the input under build/fuzz/smoke/crashes/TARGET/.
#
# Under `make SANITIZE=1 check` (KB_SANITIZED=1) it does nothing and says so: the harnesses are
# always built with ASan and UBSan (build/fuzz), so a second run would repeat the first one
# exactly while the CI's time budget is better spent on the sanitized unit and e2e tests.
set -u
cd "$(dirname "$0")/../.."
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
SECONDS_EACH=${FUZZ_SMOKE_SECONDS:-12}
if [ "${KB_SANITIZED:-}" = 1 ]; then
    echo "fuzz smoke skipped under SANITIZE=1: the harnesses always run with ASan+UBSan, and the plain make check already ran them"
    exit 0
fi
source tests/fuzz/options.sh

for t in document analyzer query http; do
    bin=$FUZZ_BUILD/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "FAIL fuzz_$t: $bin is missing (make check builds it with make FUZZ=1 fuzz-build)"
        continue
    fi
    dir=$FUZZ_BUILD/smoke
    work=$(mktemp -d)
    mkdir -p "$dir/crashes/$t" tests/fuzz/regressions/$t
    log=$dir/$t.log
    # Seeds and regressions first (libFuzzer runs every input it is given before mutating),
    # then new inputs into a throw-away folder: the smoke run must not grow anything in git.
    nice -n 10 "$bin" $(fuzz_options "$t") -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
        -artifact_prefix="$dir/crashes/$t/" "$work" "tests/fuzz/corpus/$t" \
        "tests/fuzz/regressions/$t" >"$log" 2>&1
    rc=$?
    rm -rf "$work"
    seeds=$(find "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" -type f | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ "$rc" -eq 0 ] && grep -q 'INITED' "$log"; then
        echo "PASS fuzz_$t ($seeds seed and regression inputs, then ${SECONDS_EACH}s of fuzzing: ${execs:-?} inputs in all)"
    else
        why=$(grep -a -m1 -E 'invariant broken|^==[0-9]+==ERROR|runtime error|ERROR: libFuzzer|fuzz_[a-z]+: ' "$log")
        echo "FAIL fuzz_$t: exit $rc: ${why:-see $log}"
        grep -a -v -E '^#[0-9]+' "$log" | tail -40 | sed 's/^/    /'
    fi
done
exit 0
