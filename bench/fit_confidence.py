#!/usr/bin/env python3
"""fit_confidence.py — fit the confidence model (kb/search/confidence.c) on every kind of data.

`confidence` must mean the same on every kind of knowledge base: of the top hits given 0.8,
about eight in ten right, on passages, on articles in sections and on short FAQ entries alike.
So its weights are fitted here once, on all of them together, and re-fitted whenever ranking,
analysis or the index's weights change (they move the features):

  bench/fit_confidence.py            fit and report; changes nothing
  bench/fit_confidence.py --write    ... then write the weights into kb/search/confidence.c,
                                     rebuild, and check that the C model gives what was fitted

What it does, through the library as built (build/rel/bench/kb-query, which it makes first):
  1. for each task of TASKS, writes its knowledge base as kbeval does (../shared/eval/kbeval's own
     loaders and writer), whole and with kbeval --gaps's seeded half left out, indexes each with
     bin/kb-indexer under --work, and asks every question with kb-query --features;
  2. labels each search 1 when its top hit is one of the question's documents (a question whose
     documents were left out is never right), and fits a logistic regression of the label on the
     model's inputs (`inputs` below, the same as `inputs` in confidence.c), by Newton's method
     with an L2 penalty of 1e-3 on the weights; each kind of data (passages, articles, faq)
     weighs the same, and within a kind each set; then, with that model's z as an offset, the
     correction for entries that are a question alone (ANSWERLESS in confidence.c: the same
     inputs times answerless(), fitted the same way, with a line search since the FAQ sets'
     labels are nearly separable in places), which leaves every search on documents with answers
     exactly where the first fit put it;
  3. reports the weights, each set's reliability table (kbeval's bands: searches, share right),
     the F1 of `unresolved` (confidence < 0.5) on the sets with half the knowledge base left out
     (kbeval --gaps's figure), a leave-one-kind-out check (fit on two kinds, score the third),
     and the judged set over the sample knowledge base (tests/data/judged, not fitted on);
  4. scores what agents teach (not fitted on): bq-dev-intents with half of its entries taught
     half of their questions (kbeval --learn 0.5's split), through kb-query --learned;
  5. with --write, replaces the blocks between BEGIN FITTED and END FITTED and between
     BEGIN FITTED ANSWERLESS and END FITTED ANSWERLESS in confidence.c, runs make, and checks
     that kb-query's confidence equals the fitted model's on two sets.

Python 3 standard library only. About a minute on 2 cores (the indexing and ~27,000 searches).
"""
import argparse
import importlib.machinery
import importlib.util
import math
import os
import random
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
KBEVAL = os.path.join(ROOT, "..", "shared", "eval", "kbeval")
CONFIDENCE_C = os.path.join(ROOT, "kb", "search", "confidence.c")
JUDGED = os.path.join(ROOT, "tests", "data", "judged", "sample-kb.tsv")
SAMPLE_KB = os.path.join(ROOT, "docs", "sample-kb")
# Task -> kind. Every kind weighs the same in the fit. (cmrc-trial-articles is cmrc-trial again:
# its articles have one paragraph each.)
TASKS = {"cmrc-trial": "passages", "drcd-dev": "passages", "drcd-dev-articles": "articles",
         "bq-dev": "faq", "bq-dev-intents": "faq"}
BANDS = [(0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.01)]  # as kbeval prints them
NAMES = ["bias", "word_share", "margin_held", "coverage_lead", "tenth_held", "few_words", "restated",
         "title_lead", "bare"]
L2 = 1e-3


def ratio(a, b):
    return a / b if b > 1e-9 else 0.0


def inputs(f):
    """The model's inputs from one search's features: keep in step with inputs() in confidence.c."""
    few = math.log(4.0) - math.log(1.0 + f["n_words"])
    mutual = f["coverage"] * (1.0 - f["title_beyond"] * (1.0 - f["answer"]))
    return [1.0,
            f["word_share"],
            ratio(f["top_score"] - f["second_score"], f["top_score"]) * mutual,
            f["coverage"] - f["second_coverage"],
            ratio(f["top_score"] - f["tenth_score"], f["top_score"]) * mutual,
            max(few, 0.0),
            (0.3 - f["beyond"]) / 0.3 if f["beyond"] < 0.3 else 0.0,
            f["title_cover"] * f["answer"] - f["second_title_cover"] * f["second_answer"],
            1.0 - f["answer"]]


def answerless(f):
    """How much the top hit is an entry that is a question alone: as answerless_share in confidence.c."""
    g = min(1.0, max(0.0, ((1.0 - f["answer"]) - 0.5) / 0.4))
    return g * (1.0 - f.get("taught", 0.0) ** 8)


BARE = NAMES.index("bare")  # not fitted in the correction: under its gate it is the bias


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-35.0, min(35.0, z))))


def dot(w, x):
    return sum(a * b for a, b in zip(w, x))


def predict(w, x):
    return sigmoid(dot(w, x))


def confidence(model, f):
    """The C model: model = (FITTED, ANSWERLESS)."""
    w, v = model
    x = inputs(f)
    return sigmoid(dot(w, x) + answerless(f) * dot(v, x))


# ---------------------------------------------------------------- data
def load_kbeval():
    loader = importlib.machinery.SourceFileLoader("kbeval", KBEVAL)
    spec = importlib.util.spec_from_loader("kbeval", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"fit_confidence: {' '.join(cmd)} exited {r.returncode}:\n{r.stderr[-2000:]}")
    return r.stdout


def search(kb_query, index, questions, learned=None):
    """kb-query --features over [(qid, text)] (with the learned phrasings of the file learned, if
    given): [(top id or None, confidence, features)], one per question in order. By position, not
    by qid: kbeval's intents tasks give every question of an intent the same qid, and keyed by it
    each would have been scored as the intent's last one."""
    text = "".join(f"{n}\t{' '.join(q.split())}\n" for n, (_, q) in enumerate(questions))
    out = subprocess.run([kb_query, "--index", index, "--features"] + (["--learned", learned] if learned else []),
                         input=text, capture_output=True, text=True, check=True).stdout
    res = [(None, 0.0, None)] * len(questions)
    for line in out.splitlines():
        p = line.split("\t")
        feats = {k: float(v) for k, v in (kv.split("=") for kv in p[8].split())}
        ids = p[7].split(",") if p[7] else []
        res[int(p[0])] = (ids[0] if ids else None, float(p[2]), feats)
    return res


def prepare(kbeval, task, gaps, work, bindir, kb_query, seed=7):
    """One set: kbeval's knowledge base for task (half of it with gaps), indexed and searched.
    Returns [(features, right, answerable, kb-query's confidence)] for the searches with a hit."""
    out = os.path.join(work, f"{task}-{'gaps' if gaps else 'full'}")
    docs, queries = kbeval.load_task(task)
    kept = set(docs)
    if gaps:  # the split kbeval --gaps makes
        keys = sorted(docs)
        random.Random(seed).shuffle(keys)
        kept = set(keys[: len(keys) // 2])
    run(["rm", "-rf", out])
    kbeval.write_kb({k: docs[k] for k in docs if k in kept}, os.path.join(out, "kb"))
    run([os.path.join(bindir, "kb-indexer"), "--index", os.path.join(out, "index"), os.path.join(out, "kb")])
    res = search(kb_query, os.path.join(out, "index"), [(q[0], q[1]) for q in queries])
    rows = []
    for (qid, _, rel, *_), (top, conf, f) in zip(queries, res):
        if top is not None:
            rows.append((f, top in rel, bool(rel & kept), conf))
    return rows


def judged_set(work, bindir, kb_query):
    """The judged questions over the sample knowledge base (validation only, never fitted on)."""
    out = os.path.join(work, "judged")
    run(["rm", "-rf", out])
    os.makedirs(out)
    run([os.path.join(bindir, "kb-indexer"), "--index", os.path.join(out, "index"), SAMPLE_KB])
    qs, want = [], {}
    for n, line in enumerate(open(JUDGED, encoding="utf-8")):
        p = line.rstrip("\n").split("\t")
        if line.startswith("#") or len(p) < 2 or not p[0].strip():
            continue
        qs.append((f"j{n}", p[0]))
        want[f"j{n}"] = p[1]
    res = search(kb_query, os.path.join(out, "index"), qs)
    return [(f, top == want[q], want[q] != "-", conf) for (q, _), (top, conf, f) in zip(qs, res) if top]


# ---------------------------------------------------------------- the fit
def solve(a, b):
    """Solve a x = b (Gaussian elimination with partial pivoting)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                k = m[r][c] / m[c][c]
                for j in range(c, n + 1):
                    m[r][j] -= k * m[c][j]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(samples):
    """The main weights: weighted logistic regression; samples = [(x, y, weight)], x[0] the bias
    (not penalised)."""
    return fit_offset([(0.0, x, y, sw) for x, y, sw in samples], free=(0,))


def fit_offset(samples, free=()):
    """Weighted logistic regression of y on the inputs x with a fixed offset per sample;
    samples = [(offset, x, y, weight)]; an L2 penalty on every weight but those in free. Newton's
    method with a backtracking line search (on the FAQ sets a few inputs nearly separate the
    labels, where plain Newton steps overshoot)."""
    d = len(samples[0][1])
    v = [0.0] * d
    penalised = [0.0 if i in free else L2 for i in range(d)]

    def objective(vv):
        s = 0.5 * sum(c * a * a for c, a in zip(penalised, vv))
        for off, x, y, sw in samples:
            z = off + dot(vv, x)
            s += sw * (math.log1p(math.exp(-abs(z))) + max(z, 0.0) - y * z)
        return s
    current = objective(v)
    for _ in range(100):
        g = [0.0] * d
        h = [[0.0] * d for _ in range(d)]
        for off, x, y, sw in samples:
            p = sigmoid(off + dot(v, x))
            for i in range(d):
                g[i] += sw * (y - p) * x[i]
                s = sw * p * (1 - p) * x[i]
                for j in range(i, d):
                    h[i][j] += s * x[j]
        for i in range(d):
            for j in range(i):
                h[i][j] = h[j][i]
            h[i][i] += penalised[i]
            g[i] -= penalised[i] * v[i]
        step, t = solve(h, g), 1.0
        while t > 1e-6:
            trial = [a + t * b for a, b in zip(v, step)]
            value = objective(trial)
            if value <= current:
                break
            t /= 2
        else:
            break
        v, current = trial, value
        if max(abs(a) for a in step) * t < 1e-8:
            break
    return v


def kind_of(name):
    """The kind of data of a set named TASK-full or TASK-gaps."""
    return TASKS[name.rsplit("-", 1)[0]]


def weights_of(sets):
    """Each kind weighs the same, and within a kind each set; sums to 1000 per kind."""
    kinds = {}
    for name in sets:
        kinds.setdefault(kind_of(name), []).append(name)
    return {name: 1000.0 / len(rows) / len(kinds[kind_of(name)]) for name, rows in sets.items()}


def fit_model(sets):
    """Both steps: FITTED on every search, then ANSWERLESS with FITTED's z as the offset, on the
    searches whose top hit is (partly) a question alone. Returns (FITTED, ANSWERLESS)."""
    w = fit(samples_of(sets))
    sw = weights_of(sets)
    keep = [i for i in range(len(NAMES)) if i != BARE]
    second = []
    for name, rows in sets.items():
        for f, ok, *_ in rows:
            g = answerless(f)
            if g > 0:
                x = inputs(f)
                second.append((dot(w, x), [g * x[i] for i in keep], 1.0 if ok else 0.0, sw[name]))
    v = [0.0] * len(NAMES)
    if second:
        for i, value in zip(keep, fit_offset(second)):
            v[i] = value
    return w, v


def samples_of(sets):
    """The main fit's samples [(x, y, weight)], weighed by weights_of."""
    sw = weights_of(sets)
    return [(inputs(f), 1.0 if ok else 0.0, sw[name]) for name, rows in sets.items() for f, ok, *_ in rows]


# ---------------------------------------------------------------- reports
def bands(scored):
    """[(confidence, right)] -> kbeval's reliability table as text."""
    cells = []
    for lo, hi in BANDS:
        xs = [ok for c, ok in scored if lo <= c < hi]
        cells.append(f"{lo:.1f}-{min(hi, 1):.1f}: {sum(xs) / len(xs):.3f} of {len(xs)}" if xs
                     else f"{lo:.1f}-{min(hi, 1):.1f}: - of 0")
    return ", ".join(cells)


def f1(pairs):
    tp = sum(t and p for t, p in pairs)
    fp = sum((not t) and p for t, p in pairs)
    fn = sum(t and not p for t, p in pairs)
    pr = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    return pr, rc, (2 * pr * rc / (pr + rc) if pr + rc else 0.0)


def log_loss(model, rows):
    return -sum(math.log(max(1e-12, p if ok else 1 - p))
                for p, ok in ((confidence(model, f), ok) for f, ok, *_ in rows)) / len(rows)


def report(model, sets, judged, taught, label):
    print(f"\n{label}: reliability (confidence band: share of top hits right, of searches)")
    for name, rows in sets.items():
        scored = [(confidence(model, f), ok) for f, ok, *_ in rows]
        print(f"  {name:24s} log loss {log_loss(model, rows):.3f} | {bands(scored)}")
    gaps = []
    for name, rows in sets.items():
        if name.endswith("-gaps"):
            pr, rc, f = f1([(not ans, confidence(model, x) < 0.5) for x, ok, ans, _ in rows])
            gaps.append(f"{name[:-5]} {f:.4f} (P {pr:.3f} R {rc:.3f})")
    print("  unresolved F1, half the KB left out: " + ", ".join(gaps))
    if judged:
        scored = [(confidence(model, f), ok) for f, ok, *_ in judged]
        pr, rc, _ = f1([(not ans, confidence(model, f) < 0.5) for f, ok, ans, _ in judged])
        print(f"  judged set (sample KB, not fitted on): unresolved precision {pr:.3f} recall {rc:.3f} | "
              f"{bands(scored)}")
    for name, rows in taught.items():
        print(f"  {name:24s} (not fitted on) | {bands([(confidence(model, f), ok) for f, ok, *_ in rows])}")


BLOCKS = ("FITTED", "FITTED ANSWERLESS")  # (w, v) in confidence.c


def block_re(tag):
    return re.compile(r"(BEGIN " + tag + r":[^\n]*\n[^\n]*\{\n)(.*?)(\};\n/\* END " + tag + r" \*/)", re.S)


def current_weights():
    text = open(CONFIDENCE_C, encoding="utf-8").read()
    model = []
    for tag in BLOCKS:
        m = block_re(tag).search(text)
        if not m:
            sys.exit(f"fit_confidence: no BEGIN {tag} ... END {tag} block in {CONFIDENCE_C}")
        body = re.sub(r"/\*.*?\*/", "", m.group(2), flags=re.S)
        model.append([float(v) for v in body.split(",") if v.strip()])
    return tuple(model)


def write_weights(model):
    text = open(CONFIDENCE_C, encoding="utf-8").read()
    for tag, w in zip(BLOCKS, model):
        body = "".join(f"    {v:.6f}, /* {n} */\n" for n, v in zip(NAMES, w))
        text, n = block_re(tag).subn(lambda m: m.group(1) + body + m.group(3), text)
        if n != 1:
            sys.exit(f"fit_confidence: no BEGIN {tag} ... END {tag} block in {CONFIDENCE_C}")
    open(CONFIDENCE_C, "w", encoding="utf-8").write(text)


def check_c(model, rows, what):
    """kb-query's confidence (the C model) against the Python mirror with the model's weights."""
    worst = max(abs(conf - confidence(model, f)) for f, ok, ans, conf in rows)
    print(f"  C model vs this mirror on {what}: largest difference {worst:.5f}")
    return worst < 1e-3


def taught_sets(kbeval, work, bindir, kb_query, seed=1, frac=0.5):
    """What agents teach, as kbeval --learn FRAC does it on bq-dev-intents: half of the entries
    with two or more questions get FRAC of them taught (the phrasings kb-query --learned reads);
    searched again: the taught questions, their entries' other questions, and the questions of
    entries never taught. {name: [(features, right, True, confidence)]}."""
    out = os.path.join(work, "taught")
    docs, queries = kbeval.load_task("bq-dev-intents")
    rnd = random.Random(seed)
    by_doc = {}
    for q in queries:
        if len(q[2]) == 1:
            by_doc.setdefault(next(iter(q[2])), []).append(q)
    multi = sorted(d for d, qs in by_doc.items() if len(qs) >= 2)
    rnd.shuffle(multi)
    taught_docs = set(multi[: len(multi) // 2])
    teach, unseen = [], []
    for d in sorted(taught_docs):
        qs = by_doc[d][:]
        rnd.shuffle(qs)
        k = max(1, min(len(qs) - 1, round(len(qs) * frac)))
        teach += qs[:k]
        unseen += qs[k:]
    control = [q for q in queries if not (q[2] & taught_docs)]
    run(["rm", "-rf", out])
    kbeval.write_kb(docs, os.path.join(out, "kb"))
    run([os.path.join(bindir, "kb-indexer"), "--index", os.path.join(out, "index"), os.path.join(out, "kb")])
    learned = os.path.join(out, "learned.tsv")
    with open(learned, "w", encoding="utf-8") as fh:
        for _, text, rel, *_ in teach:
            fh.write(f"{next(iter(rel))}\t{' '.join(text.split())}\n")
    result = {}
    for name, qs in (("taught, same phrasing", teach), ("taught, unseen phrasing", unseen),
                     ("taught, control", control)):
        res = search(kb_query, os.path.join(out, "index"), [(q[0], q[1]) for q in qs], learned)
        result[name] = [(f, top in q[2], True, conf) for q, (top, conf, f) in zip(qs, res) if top]
    return result


def held_out(sets):
    """Log loss of each kind, fitted on one half of every set's questions and scored on the other
    (both ways): what the model does on questions it was not fitted on."""
    loss = {}
    for fold in (0, 1):
        train = {n: [r for i, r in enumerate(rows) if i % 2 != fold] for n, rows in sets.items()}
        model = fit_model(train)
        for n, rows in sets.items():
            test = [r for i, r in enumerate(rows) if i % 2 == fold]
            loss.setdefault(kind_of(n), []).append((log_loss(model, test), len(test)))
    return {k: sum(a * b for a, b in v) / sum(b for a, b in v) for k, v in loss.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="write the weights into confidence.c and rebuild")
    ap.add_argument("--work", default="/tmp/kb-fit-confidence", help="scratch folder (re-created)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "bin"))
    ap.add_argument("--build", default=os.environ.get("BUILD", "build/rel"))
    a = ap.parse_args()
    os.chdir(ROOT)
    kb_query = os.path.join(ROOT, a.build, "bench", "kb-query")
    print("building ...", flush=True)
    run(["make", "-s", "all", os.path.join(a.build, "bench", "kb-query")])
    kbeval = load_kbeval()
    os.makedirs(a.work, exist_ok=True)
    sets = {}
    for task in TASKS:
        for gaps in (False, True):
            name = f"{task}-{'gaps' if gaps else 'full'}"
            print(f"  {name} ...", flush=True)
            sets[name] = prepare(kbeval, task, gaps, a.work, a.bin, kb_query)
    judged = judged_set(a.work, a.bin, kb_query) if os.path.exists(JUDGED) else []
    print("  bq-dev-intents, half of its entries taught ...", flush=True)
    taught = taught_sets(kbeval, a.work, a.bin, kb_query)

    old = current_weights()
    in_sync = all(len(w) == len(NAMES) for w in old) and check_c(old, sets["drcd-dev-gaps"], "drcd-dev-gaps (weights now in confidence.c)") \
        and check_c(old, sets["bq-dev-gaps"], "bq-dev-gaps (weights now in confidence.c)")
    if in_sync:
        report(old, sets, judged, taught, "the weights now in confidence.c")
    else:
        print("  (confidence.c's model and inputs() here differ: make them the same before trusting a fit)")

    model = fit_model(sets)
    print("\nfitted weights (FITTED, and ANSWERLESS for entries that are a question alone):")
    for n, w, v in zip(NAMES, *model):
        print(f"  {n:14s} {w:9.3f} {v:9.3f}")
    report(model, sets, judged, taught, "fitted")
    print("\nheld out (2-fold by question) log loss: " +
          ", ".join(f"{k} {v:.4f}" for k, v in sorted(held_out(sets).items())) +
          (f"; judged set {log_loss(model, judged):.4f}" if judged else ""))

    print("\nleave one kind out (fit on the others, score the kind left out):")
    for kind in sorted(set(TASKS.values())):
        train = {n: r for n, r in sets.items() if kind_of(n) != kind}
        mk = fit_model(train)
        for n, r in sets.items():
            if kind_of(n) == kind:
                print(f"  {n:24s} log loss {log_loss(mk, r):.3f} (fitted on all: {log_loss(model, r):.3f}) | "
                      f"{bands([(confidence(mk, f), ok) for f, ok, *_ in r])}")

    if a.write:
        write_weights(model)
        print(f"\nwrote the weights into {os.path.relpath(CONFIDENCE_C, ROOT)}; rebuilding ...", flush=True)
        run(["make", "-s", "all", os.path.join(a.build, "bench", "kb-query")])
        for task in ("drcd-dev", "bq-dev"):
            rows = prepare(kbeval, task, True, a.work, a.bin, kb_query)
            if not check_c(model, rows, f"{task}-gaps (rebuilt)"):
                sys.exit("fit_confidence: the rebuilt C model does not give the fitted confidence: "
                         "inputs() or answerless() here and in confidence.c differ")
        print("done: now run kbeval on each task (docs/SEARCH.md) and commit confidence.c")


if __name__ == "__main__":
    main()
