#!/usr/bin/env python3
"""test_sample_kb — the sample knowledge base answers the questions agents ask of it.

docs/sample-kb is what `make run` serves; tests/data/sample-queries.tsv holds realistic agent
questions (colloquial, both scripts, product codes) with the document that answers each, and
questions the knowledge base cannot answer (marked "-"). Through the real binaries, the right
document must come first, and the unanswerable questions must be flagged `unresolved` (they feed
the editors' queue). Questions whose document is outside its validity window on the day the test
runs are skipped: the sample campaigns have real dates.
"""
import datetime
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Service, check, run_tests, test  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
_service = None


def service():
    global _service
    if _service is None:
        files = {}
        for path in sorted(glob.glob(os.path.join(ROOT, "docs", "sample-kb", "*.xml"))):
            with open(path, encoding="utf-8") as f:
                files[os.path.basename(path)] = f.read()
        _service = Service(files)
    return _service


def queries():
    rows = []
    with open(os.path.join(ROOT, "tests", "data", "sample-queries.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            q, want = line.split("\t")[:2]
            rows.append((q, want))
    return rows


def in_window_today(doc):
    today = datetime.date.today().isoformat()
    return (not doc.get("valid_from") or doc["valid_from"] <= today) and \
           (not doc.get("valid_until") or doc["valid_until"] >= today)


@test
def sample_questions_find_their_document_first():
    s = service()
    asked = misses = 0
    wrong = []
    for q, want in queries():
        if want == "-":
            continue
        doc = s.call("GET", f"/api/documents/{want}").json()
        if not in_window_today(doc):
            continue
        asked += 1
        hits = s.search(q, limit=3).json()["hits"]
        ids = [h["id"] for h in hits]
        if not ids or ids[0] != want:
            misses += 1
            wrong.append(f"{q} -> {ids} (want {want})")
    check(asked >= 40, f"only {asked} questions could be asked")
    # Allow one miss so a harmless ranking change does not break the build. Since the sample KB
    # grew to 109 documents (issue 16), 换5G卡收费吗 puts the 5G plan just above
    # the SIM-card document whose title says 旧卡换5G卡: the miss that is allowed, for now.
    check(misses <= 1, f"{misses} of {asked} questions missed their document:\n" + "\n".join(wrong))


@test
def questions_the_kb_cannot_answer_are_unresolved():
    s = service()
    flagged, total, not_flagged = 0, 0, []
    for q, want in queries():
        if want != "-":
            continue
        total += 1
        body = s.search(q).json()
        if body["unresolved"]:
            flagged += 1
        else:
            not_flagged.append(f"{q} (confidence {body['confidence']})")
    check(total >= 10, f"only {total} unanswerable questions")
    check(flagged >= total - 1, "not flagged unresolved:\n" + "\n".join(not_flagged))


@test
def answerable_questions_are_rarely_flagged():
    s = service()
    flagged = [q for q, want in queries() if want != "-" and s.search(q).json()["unresolved"]]
    check(len(flagged) <= 3, "answerable but flagged unresolved:\n" + "\n".join(flagged))




@test
def good_matches_say_more_than_total():
    # What the agents' page shows ("N 条匹配度高"): the answering document is a good match, only a
    # few others are, and an unanswerable question has none; `total` is most of the KB each time.
    # A search can be unresolved and still have good matches: several documents hold the question
    # about equally (a near tie), so which one answers is unclear (issue 16's confidence).
    s = service()
    counts, totals, wrong = [], [], []
    for q, want in queries():
        body = s.search(q).json()
        good = [h["id"] for h in body["hits"] if h["good_match"]]
        check(body["good_matches"] == len(good), body)
        if want == "-":
            if good:
                wrong.append(f"{q}: no answer in the knowledge base, yet good matches {good}")
            continue
        if body["unresolved"] or body["hits"][0]["id"] != want:
            continue
        counts.append(len(good))
        totals.append(body["total"])
        # A good match also ranks near the top hit (issue 16): the 13 credit-card documents all
        # hold 信用卡, yet only those close to the answer count.
        if len(good) > 5:
            wrong.append(f"{q}: {len(good)} good matches {good}")
        if want not in good:
            wrong.append(f"{q}: its document {want} is not a good match ({good})")
    check(len(counts) >= 40, f"only {len(counts)} questions answered")
    check(not wrong, "\n".join(wrong))
    mean_good, mean_total = sum(counts) / len(counts), sum(totals) / len(totals)
    print(f"    (good matches {mean_good:.2f} a question on average, max {max(counts)}; total {mean_total:.1f})")
    check(mean_good <= 2.5, f"good matches {counts}")
    check(mean_total > 5 * mean_good, "the sample KB no longer shows the difference")


# The documents the sample knowledge base marks must-know (应知应会, <must-know>), and for which
# teams ([] = every team); docs/sample-kb/README.md lists them.
MUST_KNOW = {
    "telecom-fraud-alert-001": [],
    "telecom-realname-001": [],
    "service-identity-verify-001": [],
    "telecom-complaint-process-001": ["投诉组", "电信客服组"],
    "bank-cc-lost-001": ["银行客服组"],
}


@test
def must_know_documents_are_marked_in_the_document_view_and_hits():
    s = service()
    wrong = []
    for doc_id, teams in MUST_KNOW.items():
        d = s.call("GET", f"/api/documents/{doc_id}").json()
        if d.get("must_know") is not True or d.get("must_know_teams") != teams:
            wrong.append(f"{doc_id}: {d.get('must_know')!r} {d.get('must_know_teams')!r}")
    # The hits say the same, and only these documents are marked.
    marked = set()
    for q, _ in queries():
        for h in s.search(q).json()["hits"]:
            if h["must_know"]:
                marked.add(h["id"])
                if h["must_know_teams"] != MUST_KNOW.get(h["id"]):
                    wrong.append(f"hit {h['id']}: teams {h['must_know_teams']}")
    check(marked and marked <= set(MUST_KNOW), f"marked hits {sorted(marked)}")
    check(not wrong, "\n".join(wrong))


if __name__ == "__main__":
    run_tests(cleanups=[lambda: _service and _service.cleanup()])
