#!/usr/bin/env python3
"""eval_score: score kb-query output against eval_prep labels.

  bench/eval_score.py LABELS.tsv RESULTS.tsv [--sweep FEATURE]

Prints MRR@10 and R@1/5/10 over answerable questions, and the precision/recall/F1 of the
`unresolved` flag (positive = the KB holds no answer). --sweep FEATURE (confidence, coverage,
passage_coverage) prints F1 for thresholds on that feature, to choose the unresolved cut-off.
"""
import sys

COLS = {"confidence": 2, "coverage": 3, "passage_coverage": 4}


def f1(pairs):
    tp = sum(t and p for t, p in pairs)
    fp = sum((not t) and p for t, p in pairs)
    fn = sum(t and not p for t, p in pairs)
    pr = tp / (tp + fp) if tp + fp else 0
    rc = tp / (tp + fn) if tp + fn else 0
    return pr, rc, (2 * pr * rc / (pr + rc) if pr + rc else 0)


def main():
    labels = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        qid, rel, in_kb = line.rstrip("\n").split("\t")
        labels[qid] = (set(rel.split(",")), in_kb == "1")
    rows = {}
    for line in open(sys.argv[2], encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        rows[parts[0]] = parts
    mrr = r1 = r5 = r10 = n = 0
    for qid, (rel, in_kb) in labels.items():
        if not in_kb:
            continue
        n += 1
        ids = rows[qid][7].split(",") if qid in rows and len(rows[qid]) > 7 and rows[qid][7] else []
        for i, d in enumerate(ids[:10]):
            if d in rel:
                mrr += 1 / (i + 1)
                break
        r1 += any(d in rel for d in ids[:1])
        r5 += any(d in rel for d in ids[:5])
        r10 += any(d in rel for d in ids[:10])
    n = max(n, 1)
    print(f"answerable {n}: MRR@10 {mrr/n:.4f}  R@1 {r1/n:.4f}  R@5 {r5/n:.4f}  R@10 {r10/n:.4f}")
    pairs = [(not labels[q][1], rows[q][1] == "1") for q in labels if q in rows]
    if any(t for t, _ in pairs) and any(not t for t, _ in pairs):
        pr, rc, f = f1(pairs)
        print(f"unresolved: precision {pr:.4f} recall {rc:.4f} F1 {f:.4f}")
    if "--sweep" in sys.argv:
        col = COLS[sys.argv[sys.argv.index("--sweep") + 1]]
        best = (0, 0)
        for k in range(5, 96):
            th = k / 100
            pairs = [(not labels[q][1], float(rows[q][col]) < th) for q in labels if q in rows]
            f = f1(pairs)[2]
            best = max(best, (f, th))
            if k % 5 == 0:
                print(f"  {sys.argv[sys.argv.index('--sweep') + 1]} < {th:.2f}: F1 {f:.4f}")
        print(f"  best F1 {best[0]:.4f} at < {best[1]:.2f}")


if __name__ == "__main__":
    main()
