#!/usr/bin/env python3
"""eval_prep: write one of kbeval's tasks as a KB + questions + labels, for fast tuning with kb-query.

  bench/eval_prep.py --task cmrc-trial --out /tmp/ev/cmrc [--gaps]

Uses kbeval's own loaders and KB writer (../shared/eval/kbeval), and with --gaps the same seeded
half split kbeval makes, so figures match what kbeval reports through the binaries.
Writes OUT/kb/*.xml, OUT/questions.tsv (id, question) and OUT/labels.tsv (id, relevant ids, in_kb).
"""
import argparse, importlib.machinery, importlib.util, os, random, sys

HERE = os.path.dirname(os.path.abspath(__file__))
KBEVAL = os.path.join(HERE, "..", "..", "shared", "eval", "kbeval")


def load_kbeval():
    loader = importlib.machinery.SourceFileLoader("kbeval", KBEVAL)
    spec = importlib.util.spec_from_loader("kbeval", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gaps", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    kbeval = load_kbeval()
    docs, queries = kbeval.load_task(a.task)
    kept = set(docs)
    if a.gaps:
        rnd = random.Random(a.seed)
        keys = sorted(docs)
        rnd.shuffle(keys)
        kept = set(keys[: len(keys) // 2])
    kbeval.write_kb({k: docs[k] for k in docs if k in kept}, os.path.join(a.out, "kb"))
    with open(os.path.join(a.out, "questions.tsv"), "w", encoding="utf-8") as q, \
            open(os.path.join(a.out, "labels.tsv"), "w", encoding="utf-8") as l:
        for qid, text, rel, *_ in queries:
            q.write(f"{qid}\t{' '.join(text.split())}\n")
            l.write(f"{qid}\t{','.join(sorted(rel))}\t{int(bool(rel & kept))}\n")
    print(f"eval_prep: {len(kept)} documents, {len(queries)} questions in {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
