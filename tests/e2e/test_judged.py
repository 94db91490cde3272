#!/usr/bin/env python3
"""test_judged — the judged set over the sample knowledge base stays above its floors.

bench/judged.py asks every question of tests/data/judged/sample-kb.tsv through the real binaries
and scores the top hit: right document, right section, answer words in the snippet, R@3, and
`unresolved` on the questions the knowledge base cannot answer (docs/SEARCH.md, "The judged set").
bench/judged-floor.json holds floors just below today's figures, so a change that makes agents
see worse answers fails here. The other tests check the scorer itself on a tiny knowledge base:
a figure below its floor is named, and a judged set that does not fit its documents is refused
before anything is scored (a typo in a section id must not pass for a ranking failure).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, ROOT, check, doc_xml, documents_file, run_tests, scaled, test  # noqa: E402

SCORER = os.path.join(ROOT, "bench", "judged.py")
FLOORS = os.path.join(ROOT, "bench", "judged-floor.json")
SET = os.path.join(ROOT, "tests", "data", "judged", "sample-kb.tsv")


def scorer(*args):
    env = dict(os.environ, BIN=BIN)
    return subprocess.run([sys.executable, SCORER] + list(args), capture_output=True, text=True,
                          env=env, timeout=scaled(600))


class Tiny:
    """A two-document knowledge base and a judged set, in a temporary folder."""

    def __init__(self, set_lines, floors=None):
        self.dir = tempfile.mkdtemp(prefix="kb-judged-")
        self.kb = os.path.join(self.dir, "kb")
        os.makedirs(self.kb)
        with open(os.path.join(self.kb, "tiny.xml"), "w", encoding="utf-8") as f:
            f.write(documents_file(
                doc_xml("roam-1", "国际漫游开通", sections=[
                    ("steps", "开通方式", ["发送短信KTMY到10099开通国际漫游。"]),
                    ("script", "参考话术", ["您的号码已经开通国际漫游，到了当地开机就能用。"])]),
                doc_xml("fee-1", "信用卡年费标准", sections=[
                    ("table", "年费标准", ["普卡年费100元，金卡200元。"])])))
        self.set = os.path.join(self.dir, "set.tsv")
        with open(self.set, "w", encoding="utf-8") as f:
            f.write("# question\tdoc\tsection\twords\ttags\n" + "\n".join(set_lines) + "\n")
        self.floors = None
        if floors is not None:
            self.floors = os.path.join(self.dir, "floors.json")
            with open(self.floors, "w") as f:
                json.dump(floors, f)

    def run(self, *extra):
        args = ["--kb", self.kb, "--set", self.set] + (["--floor", self.floors] if self.floors else [])
        return scorer(*(args + list(extra)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


@test
def sample_kb_judged_set_stays_above_its_floors():
    r = scorer("--json", "--floor", FLOORS)
    check(r.returncode in (0, 1), f"exit {r.returncode}:\n{r.stderr[-3000:]}")
    report = json.loads(r.stdout)
    c, fig = report["counts"], report["figures"]
    print("    (" + ", ".join(f"{k} {v:.3f}" for k, v in fig.items() if v is not None) +
          f"; {c['asked']} asked, {c['skipped_outside_window']} skipped on {report['date']})")
    check(r.returncode == 0, "below the floors of bench/judged-floor.json:\n" + r.stderr.strip() +
          "\n(see the misses: BIN=bin bench/judged.py --misses)")
    # The set is what issue 16 asked for: at least 150 questions, about 10% without an answer.
    check(c["questions"] >= 150 and c["asked"] >= 150, c)
    check(0.08 <= c["no_answer"] / c["asked"] <= 0.15, c)
    check(sum(b["questions"] for b in report["bands"]) == c["asked"], report["bands"])


@test
def the_examples_of_issue_16_are_answered_at_a_glance():
    # The questions a new user tried on the sample knowledge base (tagged `issue` in the set):
    # each must put its document first, show its answer words in the snippet the agent reads,
    # and not be flagged `unresolved` (its top hit is right, so saying "no answer" would send
    # an answered question to the editors' queue). 客户要停机 was the last one: 客户, a word in
    # most of the knowledge base, chose the 挂失停机 row over the 停机保号 section, and two
    # documents quoting 停机 left it at confidence 0.08 though only one is titled for it.
    r = scorer("--json")
    check(r.returncode == 0, f"exit {r.returncode}:\n{r.stderr[-3000:]}")
    examples = [x for x in json.loads(r.stdout)["questions"] if "issue" in x["tags"]]
    check(len(examples) == 7, examples)
    wrong = [f"{x['q']} -> {x['top']} (doc {x['doc_right']}, snippet {x['snippet_right']}, "
             f"confidence {x['confidence']:.3f})"
             for x in examples
             if not x["doc_right"] or not x["snippet_right"] or x["confidence"] < 0.5]
    check(not wrong, "not answered at a glance:\n  " + "\n  ".join(wrong))


@test
def a_figure_below_its_floor_is_named_and_fails():
    # One question finds its document and one is judged to another: top document right is 0.5.
    lines = ["国际漫游怎么开通\troam-1\tsteps\tKTMY\t",
             "普卡年费多少\troam-1\tsteps\tKTMY\t"]
    with Tiny(lines, floors={"_comment": "x", "top_doc": 0.6, "recall_at_3": 0.5}) as t:
        r = t.run()
        check(r.returncode == 1, f"exit {r.returncode}:\n{r.stdout}\n{r.stderr}")
        check("top document right is 0.500, below its floor 0.6" in r.stderr, r.stderr)
        check("R@3" not in r.stderr, "a figure above its floor was reported:\n" + r.stderr)
    with Tiny(lines, floors={"top_dco": 0.5}) as t:
        r = t.run()
        check(r.returncode == 2 and "unknown figure 'top_dco'" in r.stderr and "top_doc" in r.stderr,
              f"exit {r.returncode}: {r.stderr}")


@test
def section_snippet_and_unresolved_are_scored_on_the_top_hit():
    # The fee question's document has one passage: right section, words shown. The KTMY question
    # finds its document through the steps passage, but is judged to the script: section and
    # snippet wrong. The dinosaur question has no answer.
    lines = ["普卡年费多少\tfee-1\ttable\t100元\ttable",
             "短信KTMY开通\troam-1\tscript\t当地开机\tscript",
             "恐龙化石怎么鉴定\t-\t-\t-\t"]
    with Tiny(lines) as t:
        r = t.run("--json")
        check(r.returncode == 0, f"exit {r.returncode}:\n{r.stderr}")
        report = json.loads(r.stdout)
        fig, c = report["figures"], report["counts"]
        check(c["asked"] == 3 and c["answerable"] == 2 and c["no_answer"] == 1, c)
        check(fig["top_doc"] == 1.0 and fig["recall_at_3"] == 1.0, fig)
        check(fig["top_section"] == 0.5 and fig["snippet"] == 0.5, fig)
        check(fig["unresolved_recall"] == 1.0, fig)
        r = t.run("--misses")
        check(r.returncode == 0 and "top document right" in r.stdout and "confidence band" in r.stdout, r.stdout)
        check("短信KTMY开通 -> roam-1 [steps]" in r.stdout and "wrong: section (want script); snippet (want 当地开机)" in r.stdout,
              r.stdout)


@test
def a_set_that_does_not_fit_the_documents_is_refused_before_scoring():
    cases = [
        ("国际漫游怎么开通\troam-1\tstep\tKTMY\t", "has no section 'step' (it has: steps, script)"),
        ("国际漫游怎么开通\troam-9\tsteps\tKTMY\t", "no document 'roam-9'"),
        ("国际漫游怎么开通\troam-1\tsteps\tKTMY 100元\t", "no passage of section 'steps' of 'roam-1' holds all of KTMY 100元"),
        ("国际漫游怎么开通\troam-1\tsteps\t-\t", "needs a section id"),
        ("国际漫游怎么开通 roam-1 steps KTMY", "separated by tabs"),
    ]
    for line, message in cases:
        with Tiny([line]) as t:
            r = t.run()
            check(r.returncode == 2 and message in r.stderr, f"{line!r}: exit {r.returncode}: {r.stderr}")
            check("set.tsv:2" in r.stderr or "separated" not in message, r.stderr)


if __name__ == "__main__":
    run_tests()
