#!/usr/bin/env python3
"""test_man_pages.py — the man pages (make man, the kb-search package): they render without a
warning, and they cannot drift from the programs.

The pages are the docs rendered by tools/md2man.py: kb-indexer(1), kb-report(1) and kb-searchd(8)
from docs/man/*.md, kb-document(5) from docs/FORMAT.md. What can drift is the options: each
page must name exactly the options its program's --help names, and docs/API.md every option of
kb-searchd.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from harness import BIN, ROOT, check, run_tests, test

PAGES = {  # page: (source, extra md2man arguments, program or None)
    "kb-indexer.1": ("docs/man/kb-indexer.1.md", [], "kb-indexer"),
    "kb-report.1": ("docs/man/kb-report.1.md", [], "kb-report"),
    "kb-searchd.8": ("docs/man/kb-searchd.8.md", [], "kb-searchd"),
    "kb-document.5": ("docs/FORMAT.md", ["--name", "kb-document", "--section", "5",
                                         "--description", "knowledge-base XML document format"], None),
}
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z]")

_out = tempfile.mkdtemp(prefix="kb-man-")


def render(page):
    source, extra, _ = PAGES[page]
    out = os.path.join(_out, page)
    if not os.path.exists(out):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "md2man.py"),
                        os.path.join(ROOT, source), out] + extra, check=True, timeout=60)
    return out


def help_options(program):
    r = subprocess.run([os.path.join(BIN, program), "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"{program} --help exited {r.returncode}")
    return set(OPTION.findall(r.stdout))


@test
def pages_render_without_warnings():
    """groff with every warning on, and man-db's man --warnings, as `man -l` renders them."""
    problems = []
    for page in PAGES:
        path = render(page)
        r = subprocess.run(["groff", "-k", "-Tutf8", "-ww", "-man", "-z", path], capture_output=True,
                           text=True, timeout=60)
        if r.returncode or r.stderr.strip():
            problems.append(f"groff {page}: {r.stderr.strip()[:1000]}")
        if shutil.which("man"):
            r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                               timeout=60, env=dict(os.environ, MANWIDTH="80"))
            if r.returncode or r.stderr.strip():
                problems.append(f"man {page}: {r.stderr.strip()[:1000]}")
        with open(path, encoding="utf-8") as f:
            head = f.read(400)
        check(re.search(r"^\.TH " + re.escape(page.split(".")[0].upper()) + r" " + page.split(".")[1], head, re.M),
              f"{page}: no .TH line naming it")
    check(not problems, "\n".join(problems))


@test
def options_are_the_programs_options():
    """Every option of a program's --help is in its page, and the page names no other."""
    problems = []
    for page, (source, _, program) in PAGES.items():
        if not program:
            continue
        with open(os.path.join(ROOT, source), encoding="utf-8") as f:
            documented = set(OPTION.findall(f.read()))
        actual = help_options(program) | {"--help"}  # every program takes it
        if actual - documented:
            problems.append(f"{source}: misses {sorted(actual - documented)} of {program} --help")
        if documented - actual:
            problems.append(f"{source}: names {sorted(documented - actual)}, which {program} --help does not")
    check(not problems, "\n".join(problems))


@test
def api_doc_names_every_searchd_option():
    with open(os.path.join(ROOT, "docs", "API.md"), encoding="utf-8") as f:
        api = set(OPTION.findall(f.read()))
    missing = help_options("kb-searchd") - api - {"--help"}
    check(not missing, f"docs/API.md does not mention {sorted(missing)}")


@test
def rendered_page_holds_the_docs_text():
    """kb-document(5) is FORMAT.md itself: a sentence of the doc is in the rendered page."""
    r = subprocess.run(["man", "-l", render("kb-document.5")], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, MANWIDTH="200"))
    text = re.sub(r"\s+", " ", r.stdout)
    check("No <!DOCTYPE>." in text and "Every problem is reported as FILE:LINE: message" in text,
          text[:500])


if __name__ == "__main__":
    run_tests(cleanups=[lambda: shutil.rmtree(_out, ignore_errors=True)])
