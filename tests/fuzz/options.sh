# libFuzzer options per target, shared by run.sh (make fuzz) and smoke.sh (make check).
# Sourced by bash; fuzz_options TARGET prints them.
#
# -max_len: the largest input worth mutating (documents are files, the rest are short texts
#   or requests); -timeout: seconds one input may take before it counts as a hang (a search
#   or a request takes milliseconds); -rss_limit_mb: memory the process may use (libFuzzer's
#   own default, made explicit); -dict where the format has keywords to guess.
fuzz_options() {
    local t=$1 max_len
    case "$t" in
    document) max_len=16384 ;;
    analyzer) max_len=4096 ;;
    query) max_len=2048 ;;
    http) max_len=4096 ;;
    *) max_len=4096 ;;
    esac
    printf '%s ' -max_len=$max_len -timeout=10 -rss_limit_mb=2048
    [ -f "tests/fuzz/$t.dict" ] && printf '%s ' "-dict=tests/fuzz/$t.dict"
    # Each harness frees everything per input, so a leak is a bug; the http harness's daemon
    # threads hold memory between inputs, which the per-input leak check would mistake for leaks
    # (LeakSanitizer still checks the whole process at exit).
    # The daemon logs a line per request to stderr: -close_fd_mask=2 silences it, the harness keeps
    # its own copy of stderr for broken invariants and the sanitizers report on libFuzzer's.
    [ "$t" = http ] && printf '%s ' -detect_leaks=0 -close_fd_mask=2
    return 0
}
