#!/bin/bash
# tune.sh — rebuild kb-query with compile-time overrides and score it on prepared eval sets.
#
#   bench/tune.sh "-DKB_W_UNIGRAM=0.3 -DKB_BM25_B=0.5" cmrc-trial drcd-dev bq-dev
#
# The sets come from bench/eval_prep.py under $EVAL_DIR (default /tmp/ev), each already indexed
# into $EVAL_DIR/SET/index with bin/kb-indexer. Prints one line of scores per set.
set -eu
cd "$(dirname "$0")/.."
defs=$1
shift
EVAL_DIR=${EVAL_DIR:-/tmp/ev}
tag=$(printf '%s' "$defs" | md5sum | cut -c1-8)
bin=/tmp/kb-query-$tag
# shellcheck disable=SC2086
# libkb's C sources are compiled with the overrides; its C++ (kb/xapian) is taken as built.
gcc -std=c11 -O2 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Iinclude -Ikb $defs $(pkg-config --cflags libxml-2.0) \
    bench/kb-query.c $(find kb -name '*.c') build/rel/kb/xapian/*.o build/rel/gen/*.o -o "$bin" \
    $(pkg-config --libs xapian-core libxml-2.0 libpcre2-8 icu-uc icu-i18n sqlite3 libcjson libzstd) -lstdc++ -lm -lpthread
for set in "$@"; do
    "$bin" --index "$EVAL_DIR/$set/index" < "$EVAL_DIR/$set/questions.tsv" > "$EVAL_DIR/$set/res-$tag.tsv" 2>/dev/null
    printf '%-16s %s | %s\n' "$set" "$defs" "$(python3 bench/eval_score.py "$EVAL_DIR/$set/labels.tsv" "$EVAL_DIR/$set/res-$tag.tsv" | tr '\n' ' ')"
done
rm -f "$bin"
