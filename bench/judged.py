#!/usr/bin/env python3
"""judged.py — score search on a judged set of agent questions over the sample knowledge base.

An agent with a customer on the line reads the first hit's snippet and nothing else, so the
judged set says, for each question, which document answers it, which section of that document
holds the answer, and which words must be in the snippet the agent sees (or that the knowledge
base has no answer, and the search should say `unresolved`). This tool indexes the knowledge base
with the real bin/kb-indexer into a temporary folder, starts the real bin/kb-searchd on a free
loopback port (tests/e2e/harness.py), asks every question through GET /api/search, and reports:

  top document right      the first hit is the judged document (of the answerable questions)
  top section right       ... and its section_id is the judged section (of the doc-right ones)
  answer in snippet       ... and the judged words are all in its snippet (of the doc-right ones)
  R@3                     the judged document is among the first three hits
  unresolved precision    of the searches flagged `unresolved`, the share without an answer
  unresolved recall       of the questions without an answer, the share flagged `unresolved`
  confidence table        per band of the top hit's confidence: questions, share right (a
                          question without an answer is never right)

  bench/judged.py [--json] [--floor FILE] [--misses] [--set TSV] [--kb DIR]   (BIN=bin)

--floor FILE (JSON: {"top_doc": 0.9, ...}, keys as in --json's "figures") exits 1 with a line per
figure below its floor; `make check` runs it that way (tests/e2e/test_judged.py). Exit 2 when the
judged set does not fit the knowledge base (an unknown document or section, or answer words that
no block of the judged section holds): the set is checked before anything is scored.

The set (tests/data/judged/sample-kb.tsv), one question a line, tab-separated:
  question  document-id  section-id  answer-words  tags
document-id `-` means the knowledge base has no answer (section and words are then `-`);
section-id `_` means text outside any section; answer-words are separated by spaces and must all
appear, in the document's own script, in one passage (paragraph, list item or table row) of the
judged section; tags (comma-separated, free) group the figures in --misses. Campaigns have real
validity windows: a question whose document is outside its window on the day of the run is
skipped and counted, as the search does not return that document by default.

Python 3 standard library only, like tests/e2e.
"""
import argparse
import datetime
import html
import json
import os
import re
import sys
import unicodedata

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402  (BIN from the environment, Service, free ports, clean-up)

DEFAULT_SET = os.path.join(ROOT, "tests", "data", "judged", "sample-kb.tsv")
DEFAULT_KB = os.path.join(ROOT, "docs", "sample-kb")
BANDS = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 0.98), (0.98, 1.0)]
# The figures, in report order, with how each is named on screen.
FIGURES = [
    ("top_doc", "top document right"),
    ("top_section", "top section right (of the doc-right ones)"),
    ("snippet", "answer words in snippet (of the doc-right ones)"),
    ("recall_at_3", "R@3"),
    ("unresolved_precision", "unresolved precision"),
    ("unresolved_recall", "unresolved recall (of the no-answer questions)"),
]


class SetError(Exception):
    """The judged set does not fit the knowledge base (or cannot be read)."""


def fold(text):
    """What matching ignores: Unicode compatibility forms and case, runs of spaces."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold())


def snippet_text(snippet):
    """The text the agent reads: the API's snippet is HTML-escaped with <mark> around matches."""
    return html.unescape(re.sub(r"</?mark>", "", snippet))


def read_set(path):
    rows = []
    try:
        f = open(path, encoding="utf-8")
    except OSError as e:
        raise SetError(f"{path}: {e.strerror}: give the judged set with --set")
    with f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 4:
                raise SetError(f"{path}:{n}: expected question, document, section, words and tags "
                               f"separated by tabs, got {len(cols)} column(s): {line!r}")
            q, doc, section, words = (c.strip() for c in cols[:4])
            tags = [t for t in (cols[4].split(",") if len(cols) > 4 else []) if t.strip()]
            if not q:
                raise SetError(f"{path}:{n}: the question is empty")
            if doc == "-":
                rows.append({"line": n, "q": q, "doc": None, "section": None, "words": [], "tags": tags})
                continue
            if not section or not words or words == "-":
                raise SetError(f"{path}:{n}: an answerable question needs a section id (`_` for text "
                               f"outside sections) and the words its snippet must show")
            rows.append({"line": n, "q": q, "doc": doc, "section": "" if section == "_" else section,
                         "words": words.split(), "tags": [t.strip() for t in tags]})
    if not rows:
        raise SetError(f"{path}: no questions")
    return rows


def check_set(svc, rows, path):
    """Every judged document and section exists and one passage of the section holds all the
    judged words; returns {document id: document JSON}."""
    docs, problems = {}, []
    for r in rows:
        if r["doc"] is None:
            continue
        if r["doc"] not in docs:
            resp = svc.call("GET", "/api/documents/" + r["doc"])
            if resp.status == 404:
                problems.append(f"{path}:{r['line']}: no document '{r['doc']}' in the knowledge base")
                docs[r["doc"]] = None
                continue
            harness.check_status(resp, 200, "document " + r["doc"])
            docs[r["doc"]] = resp.json()
        doc = docs[r["doc"]]
        if doc is None:
            continue
        sections = [s for s in doc["sections"] if s["id"] == r["section"]]
        if not sections:
            known = ", ".join(s["id"] or "_" for s in doc["sections"])
            problems.append(f"{path}:{r['line']}: document '{r['doc']}' has no section "
                            f"'{r['section'] or '_'}' (it has: {known})")
            continue
        blocks = [fold(b["text"]) for s in sections for b in s["blocks"]]
        if not any(all(fold(w) in b for w in r["words"]) for b in blocks):
            problems.append(f"{path}:{r['line']}: no passage of section '{r['section'] or '_'}' of "
                            f"'{r['doc']}' holds all of {' '.join(r['words'])}: the snippet could never show them")
    if problems:
        raise SetError("the judged set does not fit the knowledge base:\n" + "\n".join(problems))
    return docs


def in_window(doc, today):
    return (not doc.get("valid_from") or doc["valid_from"] <= today) and \
           (not doc.get("valid_until") or doc["valid_until"] >= today)


def ratio(a, b):
    return a / b if b else None


def score(svc, rows, docs, today):
    skipped, results = [], []
    for r in rows:
        if r["doc"] is not None and not in_window(docs[r["doc"]], today):
            skipped.append(r)
            continue
        resp = svc.search(r["q"], limit=10)
        harness.check_status(resp, 200, "search " + r["q"])
        body = resp.json()
        hits = body["hits"]
        top = hits[0] if hits else None
        res = {"row": r, "unresolved": body["unresolved"], "confidence": body["confidence"],
               "good_matches": body.get("good_matches", 0), "top": top,
               "ids": [h["id"] for h in hits]}
        if r["doc"] is not None:
            res["doc_right"] = bool(top) and top["id"] == r["doc"]
            res["section_right"] = res["doc_right"] and top["section_id"] == r["section"]
            shown = fold(snippet_text(top["snippet"])) if top else ""
            res["snippet_right"] = res["doc_right"] and all(fold(w) in shown for w in r["words"])
            res["in_top3"] = r["doc"] in res["ids"][:3]
        else:
            res["doc_right"] = False
        results.append(res)
    answerable = [x for x in results if x["row"]["doc"] is not None]
    no_answer = [x for x in results if x["row"]["doc"] is None]
    doc_right = [x for x in answerable if x["doc_right"]]
    flagged = [x for x in results if x["unresolved"]]
    figures = {
        "top_doc": ratio(len(doc_right), len(answerable)),
        "top_section": ratio(sum(x["section_right"] for x in doc_right), len(doc_right)),
        "snippet": ratio(sum(x["snippet_right"] for x in doc_right), len(doc_right)),
        "recall_at_3": ratio(sum(x["in_top3"] for x in answerable), len(answerable)),
        "unresolved_precision": ratio(sum(1 for x in flagged if x["row"]["doc"] is None), len(flagged)),
        "unresolved_recall": ratio(sum(1 for x in no_answer if x["unresolved"]), len(no_answer)),
    }
    bands = []
    for lo, hi in BANDS:
        inside = [x for x in results if lo <= x["confidence"] < hi or (hi == 1.0 and x["confidence"] == 1.0)]
        bands.append({"from": lo, "to": hi, "questions": len(inside),
                      "right": sum(1 for x in inside if x["doc_right"]),
                      "share_right": ratio(sum(1 for x in inside if x["doc_right"]), len(inside))})
    answered = [x["good_matches"] for x in doc_right if not x["unresolved"]]
    counts = {"questions": len(rows), "asked": len(results), "answerable": len(answerable),
              "no_answer": len(no_answer), "doc_right": len(doc_right), "flagged_unresolved": len(flagged),
              "skipped_outside_window": len(skipped),
              "good_matches_mean": ratio(sum(answered), len(answered)),
              "good_matches_max": max(answered) if answered else None}
    per_question = [{"q": x["row"]["q"], "tags": x["row"]["tags"], "doc_right": x["doc_right"],
                     "section_right": x.get("section_right", False),
                     "snippet_right": x.get("snippet_right", False), "unresolved": x["unresolved"],
                     "confidence": x["confidence"], "top": x["top"]["id"] if x["top"] else None}
                    for x in results]
    return ({"date": today, "figures": figures, "counts": counts, "bands": bands,
             "questions": per_question}, results, skipped)


def pct(v):
    return "   —  " if v is None else f"{v:6.3f}"


def print_report(report, results, skipped, misses, out=sys.stdout):
    c = report["counts"]
    print(f"judged set: {c['questions']} questions, {c['asked']} asked on {report['date']} "
          f"({c['answerable']} with an answer, {c['no_answer']} without; "
          f"{c['skipped_outside_window']} skipped: their document is outside its validity window today)", file=out)
    for key, name in FIGURES:
        print(f"  {name:<50} {pct(report['figures'][key])}", file=out)
    print("  confidence band   questions   share right", file=out)
    for b in report["bands"]:
        print(f"    {b['from']:.2f}-{b['to']:.2f}       {b['questions']:5d}       {pct(b['share_right'])}", file=out)
    if c["good_matches_mean"] is not None:
        print(f"  good matches per answered question: mean {c['good_matches_mean']:.2f}, max {c['good_matches_max']}", file=out)
    if not misses:
        return
    print("\nmisses (line: question -> top hit [section] confidence: snippet):", file=out)
    for x in results:
        r = x["row"]
        top = x["top"]
        where = f"{top['id']} [{top['section_id'] or '_'}] {x['confidence']:.3f}: {snippet_text(top['snippet'])[:90]}" \
            if top else f"no hit, confidence {x['confidence']:.3f}"
        if r["doc"] is None:
            if not x["unresolved"]:
                print(f"  {r['line']}: {r['q']} -> not flagged unresolved: {where}", file=out)
            continue
        what = []
        if not x["doc_right"]:
            what.append(f"document (want {r['doc']}{', in top 3' if x['in_top3'] else ''})")
        else:
            if not x["section_right"]:
                what.append(f"section (want {r['section'] or '_'})")
            if not x["snippet_right"]:
                what.append(f"snippet (want {' '.join(r['words'])})")
        if what:
            print(f"  {r['line']}: {r['q']} -> {where}\n      wrong: {'; '.join(what)}", file=out)
    for r in skipped:
        print(f"  {r['line']}: {r['q']} -> skipped: {r['doc']} is outside its validity window", file=out)
    tags = sorted({t for x in results for t in x["row"]["tags"]})
    if tags:
        print("\nby tag (answerable questions: top document right, answer in snippet of those):", file=out)
        for t in tags:
            xs = [x for x in results if t in x["row"]["tags"] and x["row"]["doc"] is not None]
            if xs:
                right = [x for x in xs if x["doc_right"]]
                print(f"  {t:<12} {len(xs):4d}  {pct(ratio(len(right), len(xs)))}  "
                      f"{pct(ratio(sum(x['snippet_right'] for x in right), len(right)))}", file=out)


def shown_path(path):
    """A path as the reader knows it: relative to the repository when inside it."""
    rel = os.path.relpath(os.path.abspath(path), ROOT)
    return path if rel.startswith("..") else rel


def check_floors(report, path):
    """Lines naming each figure below its floor; raises SetError when the file is unusable."""
    try:
        with open(path, encoding="utf-8") as f:
            floors = json.load(f)
    except (OSError, ValueError) as e:
        raise SetError(f"{path}: cannot read the floors ({e}): a JSON object such as {{\"top_doc\": 0.9}}")
    known = dict(FIGURES)
    out = []
    for key, floor in floors.items():
        if key.startswith("_"):
            continue  # comments
        if key not in known:
            raise SetError(f"{path}: unknown figure '{key}' (known: {', '.join(known)})")
        value = report["figures"][key]
        if value is None or value < floor:
            shown = "not measured" if value is None else f"{value:.3f}"
            out.append(f"{known[key]} is {shown}, below its floor {floor} in {shown_path(path)}")
    return out


def main():
    ap = argparse.ArgumentParser(description="Score kb-searchd on a judged set over the sample knowledge base.")
    ap.add_argument("--set", default=DEFAULT_SET, help="the judged questions (TSV)")
    ap.add_argument("--kb", default=DEFAULT_KB, help="the knowledge-base folder to index")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--floor", metavar="FILE", help="JSON of floors; exit 1 when a figure is below its floor")
    ap.add_argument("--misses", action="store_true", help="list every question not fully right, and figures by tag")
    args = ap.parse_args()
    for prog in (harness.INDEXER, harness.SEARCHD):
        if not os.access(prog, os.X_OK):
            print(f"judged: {prog} is missing: run make first (or set BIN to the folder of the binaries)",
                  file=sys.stderr)
            return 2
    try:
        rows = read_set(args.set)
        if not os.path.isdir(args.kb):
            raise SetError(f"{args.kb}: not a folder: give the knowledge base with --kb")
        files = {}
        for name in sorted(os.listdir(args.kb)):
            if name.endswith(".xml"):
                with open(os.path.join(args.kb, name), encoding="utf-8") as f:
                    files[name] = f.read()
        # The searcher judges validity by its local date; so do the skips.
        today = datetime.date.today().isoformat()
        with harness.Service(files) as svc:
            docs = check_set(svc, rows, shown_path(args.set))
            report, results, skipped = score(svc, rows, docs, today)
        failures = check_floors(report, args.floor) if args.floor else []
    except SetError as e:
        print(f"judged: {e}", file=sys.stderr)
        return 2
    except AssertionError as e:  # harness: kb-indexer failed, kb-searchd did not start, an HTTP error
        print(f"judged: {e}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        print_report(report, results, skipped, args.misses)
    for line in failures:
        print(f"judged: FLOOR {line}", file=sys.stderr)
    if failures:
        print("judged: to see the questions behind it: BIN=bin bench/judged.py --misses", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
