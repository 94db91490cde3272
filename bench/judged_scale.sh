#!/bin/bash
# judged_scale.sh — judged search quality at 100,000 documents, to tune what costs recall at scale
# (query pruning above all; see docs/SEARCH.md, "Pruning at scale").
#
# kbeval's sets are small (256 to 5,204 documents), so nothing that only acts on long posting
# lists can be judged on them, and kbgen's 100,000 documents have no judgments (their sentences
# and questions are the eval sets' own, so an eval question finds its own sentence in many
# generated documents). This script builds distractors that cannot hold the answers:
#   1. kbgen --docs N with its data limited to drcd-dev (KBEVAL_DATA): Wikipedia text and
#      questions, none from cmrc-trial or bq-dev;
#   2. the distractor index, copied once per set, with the set's own knowledge base added;
#   3. the set's questions and labels (bench/eval_prep.py), ready for bench/tune.sh:
#        EVAL_DIR=$OUT bench/tune.sh "-DKB_TERM_MAX_POSTINGS=3000" cmrc-trial bq-dev
#
#   bench/judged_scale.sh [OUT]     (default /var/tmp/kb-judged; DOCS=100000; BIN=bin)
# Needs about 3 GB of disk and 10 minutes (indexing the distractors).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/var/tmp/kb-judged}
DOCS=${DOCS:-100000}
BIN=${BIN:-bin}
SHARED=../shared
[ -x "$BIN/kb-indexer" ] || { echo "judged_scale: $BIN/kb-indexer missing: run make first" >&2; exit 2; }
mkdir -p "$OUT/data"

# 1. distractors from drcd-dev only
python3 - "$SHARED/data" "$OUT/data" <<'PY'
import json, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
json.dump({"data": []}, open(dst + "/cmrc2018_trial.json", "w"))
open(dst + "/bq_corpus_dev.csv", "w").close()
shutil.copy(src + "/drcd_dev_simplified_questions.json", dst)
PY
if [ ! -f "$OUT/distractors.done" ]; then
    rm -rf "$OUT/distractors" "$OUT/index"
    KBEVAL_DATA="$OUT/data" python3 "$SHARED/eval/kbgen" --docs "$DOCS" --out "$OUT/distractors" >/dev/null
    "$BIN/kb-indexer" --index "$OUT/index" "$OUT/distractors/kb" >"$OUT/index.log" 2>&1
    touch "$OUT/distractors.done"
fi

# 2. and 3. each judged set: distractors + its knowledge base, its questions and labels
for set in cmrc-trial bq-dev; do
    rm -rf "${OUT:?}/$set"
    python3 bench/eval_prep.py --task "$set" --out "$OUT/$set" >/dev/null
    cp -a "$OUT/index" "$OUT/$set/index"
    "$BIN/kb-indexer" --index "$OUT/$set/index" "$OUT/$set/kb" >"$OUT/$set/index.log" 2>&1
    echo "judged_scale: $set ready in $OUT/$set ($(tail -1 "$OUT/$set/index.log" | grep -o 'holds [0-9]* documents'))"
done
