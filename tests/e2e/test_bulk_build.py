#!/usr/bin/env python3
"""test_bulk_build.py — the bulk build (kb/index/glass/glass.h) through the real binaries.

kb-indexer fills an empty index (no `iamglass` in the directory) with its own glass writer instead
of Xapian's; KB_BULK_BUILD=0 makes it use Xapian's writer. Xapian reads what the bulk build
writes, so the two must give the same index:

- docs/sample-kb indexed both ways: `xapian-check` passes on the bulk-built index, every search of
  tests/data/sample-queries.tsv (and each document's title, with and without category filters)
  answers the same, every document reads back the same; then the same `kb-indexer --sync` (one
  document changed, one file removed) on both — Xapian's writer updating the bulk-built index —
  and the same comparisons again.
- kill -9 of a bulk build mid-way, or at its commit (also made deterministically: a finished
  bulk build without its `iamglass`), leaves no database: no `iamglass`, kb-searchd refuses to
  start on the directory (bench/kb-query too, when built); the next run, bulk or
  KB_BULK_BUILD=0, builds a complete index that passes xapian-check.
- Two kb-indexer runs on the same empty directory at once: one gets the lock error (exit 2,
  "another kb-indexer", shared/CONTRACT.md and indexer/main.c), the other builds the index; the
  same when the second one uses Xapian's writer.
- Under a libxapian other than 1.4.x (pretended with KB_TEST_XAPIAN_VERSION) kb-indexer warns
  once and builds the empty index with Xapian's writer: the same index.

`xapian-check` (Debian's xapian-tools, installed by tools/install-deps.sh) is required: without
it the tests that use it fail, unless KB_ALLOW_MISSING_XAPIAN_TOOLS=1 says to skip its checks.

Searches go through kb-searchd (harness.Service), as in the other end-to-end tests.
"""
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (INDEXER, ROOT, VALGRIND, Service, check, check_status, doc_xml,  # noqa: E402
                     documents_file, free_port, health, run_tests, scaled, test, wait_until)

XAPIAN_CHECK = "/usr/bin/xapian-check"
# Set to 1 to run without xapian-tools, skipping the structure checks (they fail otherwise).
TOOLS_OPT_OUT = "KB_ALLOW_MISSING_XAPIAN_TOOLS"
SUMMARY = re.compile(r"(\d+) added, (\d+) replaced, (\d+) unchanged, (\d+) removed; "
                     r"the index now holds (\d+) documents")


# ---------------------------------------------------------------- helpers
def env_for(bulk, **extra):
    env = dict(os.environ, **extra)
    env.pop("KB_BULK_BUILD", None)
    if not bulk:
        env["KB_BULK_BUILD"] = "0"
    return env


def indexer_cmd(index_dir, *args):
    return [INDEXER, "--index", index_dir] + list(args)


def run_indexer(index_dir, *args, bulk=True, timeout=300, **extra_env):
    return subprocess.run(indexer_cmd(index_dir, *args), capture_output=True, text=True,
                          timeout=scaled(timeout), env=env_for(bulk, **extra_env))


def expect_exit(r, status, what):
    check(r.returncode == status, f"{what}: expected exit {status}, got {r.returncode}\n{r.stderr[-2000:]}")


def summary(r):
    """The counts of the summary line of a run (or of its stderr text)."""
    text = r if isinstance(r, str) else r.stderr
    m = SUMMARY.search(text)
    check(m, f"no summary line in stderr:\n{text[-2000:]}")
    return dict(zip(("added", "replaced", "unchanged", "removed", "total"), map(int, m.groups())))


def xapian_check(index_dir):
    """xapian-check must find no errors. Not installed, it fails the test, unless
    KB_ALLOW_MISSING_XAPIAN_TOOLS=1 (then a note says what was not checked)."""
    if not os.access(XAPIAN_CHECK, os.X_OK):
        check(os.environ.get(TOOLS_OPT_OUT) == "1",
              f"{XAPIAN_CHECK} is not installed, so {index_dir} cannot be checked: install Debian's "
              f"xapian-tools (tools/install-deps.sh, which make check runs, does), or set "
              f"{TOOLS_OPT_OUT}=1 to skip the structure checks")
        print(f"    (note: {XAPIAN_CHECK} is not installed and {TOOLS_OPT_OUT}=1: {index_dir} not checked)")
        return
    r = subprocess.run([XAPIAN_CHECK, index_dir], capture_output=True, text=True, timeout=scaled(300))
    check(r.returncode == 0 and "No errors found" in r.stdout,
          f"xapian-check {index_dir}: exit {r.returncode}\n{(r.stdout + r.stderr)[-3000:]}")


def sample_files():
    files = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "sample-kb", "*.xml"))):
        with open(path, encoding="utf-8") as f:
            files[os.path.basename(path)] = f.read()
    return files


def doc_ids(files):
    ids = []
    for text in files.values():
        ids += re.findall(r'<document id="([^"]+)"', text)
    return ids


def queries(files):
    """The sample questions, every document's title, and a few questions with category filters."""
    qs = []
    with open(os.path.join(ROOT, "tests", "data", "sample-queries.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                qs.append((line.split("\t")[0], ()))
    for text in files.values():
        for title in re.findall(r"<title>([^<]+)</title>", text):
            qs.append((title, ()))
    cats = sorted({c.split("/")[0] for text in files.values() for c in re.findall(r"<category>([^<]+)</category>", text)})
    for i, (q, _) in enumerate(list(qs[:20])):
        qs.append((q, (cats[i % len(cats)],)))
    return qs


def answers(s, qs, ids):
    """Every answer that depends on the index: searches (without the per-request fields), each
    document, and the health's document count."""
    out = {"documents": health(s)["documents"]}
    for q, cats in qs:
        params = {"limit": 20}
        if cats:
            params["category"] = list(cats)
        r = s.search(q, **params)
        check_status(r, 200, f"search {q}")
        out[("search", q, cats)] = {k: v for k, v in r.json().items() if k not in ("search_id", "took_ms")}
    for doc_id in ids:
        r = s.call("GET", "/api/documents/" + doc_id)
        out[("document", doc_id)] = (r.status, r.body)
    return out


def compare_answers(a, b, what):
    check(a.keys() == b.keys(), f"{what}: different questions asked")
    diffs = [k for k in a if a[k] != b[k]]
    if diffs:
        k = diffs[0]
        raise AssertionError(f"{what}: {len(diffs)} answers differ between the bulk-built and the "
                             f"Xapian-built index; the first, {k!r}:\nbulk:   {a[k]!r:.1500}\nXapian: {b[k]!r:.1500}")


def served_answers(s, qs, ids):
    """answers() from a kb-searchd on s's index, with s's own folder (a document's source file
    names it) written as TMP."""
    s.start()
    try:
        out = answers(s, qs, ids)
    finally:
        s.stop()
    tmp = s.tmp.encode()
    for k, v in out.items():
        if k[0] == "document":
            out[k] = (v[0], v[1].replace(tmp, b"TMP"))
        elif k[0] == "search":
            out[k] = json.loads(json.dumps(v, ensure_ascii=False).replace(s.tmp, "TMP"))
    return out


# A generated knowledge base large enough for a bulk build to take a few seconds.
WORDS = ("客户 办理 业务 宽带 漫游 账单 缴费 套餐 流量 开通 投诉 故障 信用卡 贷款 还款 积分 会员 营业厅 手机 "
         "号码 实名 登记 欠费 停机 复机 国际 长途 短信 通话 话费 余额 查询 充值 发票 合同 违约金 优惠 活动 "
         "期间 每月 网络 信号 路由器 光猫 重启 报修 上门 维修 工程师 预约 时间 服务 热线 人工 客服 转接 等待 "
         "处理 流程 结果 反馈 满意 评价 银行 转账 利率 额度 审批 资料 身份证 护照 有效期 逾期 罚息 提前 分期 "
         "手续费 年费 挂失 补办").split()
_big = {}
# 6,000 documents: a bulk build of a few seconds (1,200 under valgrind, fifty times slower).
BIG_FILES, BIG_PER_FILE = 6, (200 if VALGRIND else 1000)
BIG_N = BIG_FILES * BIG_PER_FILE
BIG_PROBES = ["gen-00000", f"gen-{BIG_N // 2:05d}", f"gen-{BIG_N - 1:05d}"]


def big_kb(n_files=BIG_FILES, per_file=BIG_PER_FILE):
    """n_files * per_file generated documents (made once per run); returns the folder."""
    key = (n_files, per_file)
    if key in _big:
        return _big[key]
    if "dir" not in _big:
        _big["dir"] = tempfile.mkdtemp(prefix="kb-e2e-bulk-")
    folder = os.path.join(_big["dir"], f"kb-{n_files}x{per_file}")
    os.makedirs(folder)
    rnd = random.Random(20261123)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]

    def text(n):
        return "".join(rnd.choice(WORDS) if rnd.random() < 0.7 else "".join(rnd.choices(han, k=2))
                       for _ in range(n)) + "。"

    for f in range(n_files):
        docs = []
        for i in range(per_file):
            k = f * per_file + i
            docs.append(doc_xml(f"gen-{k:05d}", text(4), categories=[f"生成/第{k % 5}类"], questions=[text(5)],
                                sections=[("s1", "说明", [text(60), text(40)])], paragraphs=[text(30)]))
        with open(os.path.join(folder, f"part{f}.xml"), "w", encoding="utf-8") as fh:
            fh.write(documents_file(*docs))
    _big[key] = folder
    return folder


def remove_big():
    if "dir" in _big:
        shutil.rmtree(_big["dir"], ignore_errors=True)


KB_QUERY = os.path.join(ROOT, "build", "rel", "bench", "kb-query")


def searchd_refuses(s, what):
    """kb-searchd on s's index directory must exit 1, naming the directory and kb-indexer (and
    bench/kb-query, when built, exit 2): there is no index."""
    s.port = free_port()
    r = subprocess.run(s.command(), capture_output=True, text=True, timeout=scaled(30))
    check(r.returncode == 1 and s.index_dir in r.stderr and "kb-indexer" in r.stderr,
          f"{what}: kb-searchd on an index without iamglass: exit {r.returncode}: {r.stderr[-1000:]}")
    if os.access(KB_QUERY, os.X_OK) and not VALGRIND:
        r = subprocess.run([KB_QUERY, "--index", s.index_dir], input="宽带故障\n", capture_output=True,
                           text=True, timeout=scaled(30))
        check(r.returncode == 2 and r.stdout == "", f"{what}: kb-query: exit {r.returncode}: {r.stderr[-500:]}")


def next_run_builds_the_index(s, kb, n, bulk, after):
    """After a failed run (`after`), the next run on the whole big KB, bulk or Xapian's writer,
    builds a complete index of n documents. Returns its summary."""
    r = run_indexer(s.index_dir, kb, bulk=bulk)
    expect_exit(r, 0, f"the run after {after} ({'bulk' if bulk else 'KB_BULK_BUILD=0'})")
    check(summary(r)["total"] == n, summary(r))
    complete_index_checks(s, n, BIG_PROBES)
    return summary(r)


def complete_index_checks(s, n_docs, probe_ids):
    """The index at s holds n_docs documents, passes xapian-check, and serves probe_ids."""
    left = os.listdir(s.index_dir)
    check("v.tmp" not in left and not any(f.startswith(".bulk") for f in left), f"files left: {left}")
    xapian_check(s.index_dir)
    s.start()
    try:
        h = health(s)
        check(h["documents"] == n_docs, f"documents: {h}")
        for doc_id in probe_ids:
            check(s.call("GET", "/api/documents/" + doc_id).status == 200, f"{doc_id} is not served")
        hits = s.search("宽带故障上门维修", limit=5).json()["hits"]
        check(hits, "no hit for a common question")
    finally:
        s.stop()


def wait_for_file(path, proc, timeout, poll=0.002):
    """Wait until path exists (True), or proc ends or the time runs out (False)."""
    deadline = time.time() + scaled(timeout)
    while time.time() < deadline:
        if os.path.exists(path):
            return True
        if proc.poll() is not None:
            return os.path.exists(path)
        time.sleep(poll)
    return False


# ---------------------------------------------------------------- the sample knowledge base
@test
def sample_kb_bulk_and_xapian_builds_answer_the_same_before_and_after_sync():
    files = sample_files()
    check(len(files) >= 10, f"docs/sample-kb: {len(files)} files")
    ids = doc_ids(files)
    qs = queries(files)
    with Service(files, start=False) as bulk, Service(files, start=False) as xap:
        rb = run_indexer(bulk.index_dir, bulk.kb, bulk=True)
        rx = run_indexer(xap.index_dir, xap.kb, bulk=False)
        expect_exit(rb, 0, "bulk build")
        expect_exit(rx, 0, "KB_BULK_BUILD=0 build")
        check(summary(rb) == summary(rx) and summary(rb)["total"] == len(ids),
              f"summaries: {summary(rb)} / {summary(rx)} ({len(ids)} documents)")
        xapian_check(bulk.index_dir)
        xapian_check(xap.index_dir)
        a = served_answers(bulk, qs, ids)
        compare_answers(a, served_answers(xap, qs, ids), "after the first run")
        found = sum(1 for k, v in a.items() if k[0] == "search" and v["hits"])
        check(found >= 0.8 * len(qs), f"only {found} of {len(qs)} searches found anything")

        # the same --sync on both: one document changed (on its own lines, so that the documents
        # after it keep theirs), one file removed; Xapian's writer on both
        names = sorted(files)
        changed, removed = names[0], names[-1]
        text = files[changed]
        first_title = re.search(r"<title>([^<]+)</title>", text).group(1)
        edited = text.replace(f"<title>{first_title}</title>",
                              f"<title>{first_title}（修订版）</title>", 1)
        edited = edited.replace("<body>", "<body><p>修订说明：本条款已于十一月更新，宽带与漫游业务请以新版为准。</p>", 1)
        check(edited != text, "the edit did not change the file")
        for s in (bulk, xap):
            s.write_kb_file(changed, edited)
            os.remove(os.path.join(s.kb, removed))
        rb = run_indexer(bulk.index_dir, "--sync", bulk.kb, bulk=True)
        rx = run_indexer(xap.index_dir, "--sync", xap.kb, bulk=False)
        expect_exit(rb, 0, "--sync of the bulk-built index")
        expect_exit(rx, 0, "--sync of the Xapian-built index")
        gone = len(re.findall(r"<document id=", files[removed]))
        n = summary(rb)
        check(n == summary(rx), f"summaries of --sync: {n} / {summary(rx)}")
        check(n["replaced"] == 1 and n["removed"] == gone and n["total"] == len(ids) - gone, f"--sync: {n}")
        xapian_check(bulk.index_dir)
        xapian_check(xap.index_dir)
        a, b = served_answers(bulk, qs, ids), served_answers(xap, qs, ids)
        compare_answers(a, b, "after --sync")
        check(a["documents"] == len(ids) - gone, f"documents after --sync: {a['documents']}")
        # and the next plain run over the bulk-built index changes nothing
        r = run_indexer(bulk.index_dir, bulk.kb)
        expect_exit(r, 0, "re-run")
        check(summary(r)["unchanged"] == len(ids) - gone and summary(r)["added"] == 0, f"re-run: {summary(r)}")


@test
def under_another_xapian_than_1_4_kb_indexer_warns_once_and_xapians_writer_builds_the_same_index():
    # The bulk builder writes Xapian 1.4's glass format; with any other libxapian (pretended
    # here: KB_TEST_XAPIAN_VERSION is for these tests only) an empty index is built by Xapian's
    # writer, and kb-indexer says so once.
    files = sample_files()
    ids = doc_ids(files)
    qs = queries(files)
    with Service(files, start=False) as other, Service(files, start=False) as bulk:
        r = run_indexer(other.index_dir, other.kb, KB_TEST_XAPIAN_VERSION="1.5.0")
        expect_exit(r, 0, "a run into an empty index under Xapian 1.5.0")
        warnings = [line for line in r.stderr.splitlines() if "warning" in line]
        check(len(warnings) == 1, f"expected one warning, stderr:\n{r.stderr[-2000:]}")
        w = warnings[0]
        check(w.startswith("kb-indexer: warning: libxapian 1.5.0 is not 1.4.x") and "1.4.22" in w
              and "Xapian's writer" in w and other.index_dir in w, f"unclear warning: {w}")
        rb = run_indexer(bulk.index_dir, bulk.kb)
        expect_exit(rb, 0, "bulk build")
        check("warning" not in rb.stderr, f"a bulk build under Xapian 1.4 warned:\n{rb.stderr[-2000:]}")
        check(summary(r) == summary(rb), f"summaries: {summary(r)} / {summary(rb)}")
        xapian_check(other.index_dir)
        compare_answers(served_answers(bulk, qs, ids), served_answers(other, qs, ids),
                        "Xapian's writer under another libxapian")
        # an index that exists is updated by Xapian's writer anyway: nothing to warn about
        r = run_indexer(other.index_dir, other.kb, KB_TEST_XAPIAN_VERSION="1.5.0")
        expect_exit(r, 0, "the next run under Xapian 1.5.0")
        check("warning" not in r.stderr, f"the next run warned:\n{r.stderr[-2000:]}")
        check(summary(r)["unchanged"] == len(ids), summary(r))


# ---------------------------------------------------------------- crashes
@test
def kill9_mid_bulk_build_leaves_no_index_and_the_next_run_builds_it():
    kb = big_kb()
    n = BIG_N
    with Service({}, start=False) as s:
        for next_bulk in (True, False):
            shutil.rmtree(s.index_dir, ignore_errors=True)
            os.makedirs(s.index_dir)
            run = subprocess.Popen(indexer_cmd(s.index_dir, kb), stderr=subprocess.DEVNULL, env=env_for(True))
            try:
                termlist = os.path.join(s.index_dir, "termlist.glass")
                # killed once it has written term lists of documents (mid-way, before its commit)
                wait_until(lambda: (os.path.exists(termlist) and os.path.getsize(termlist) > 100_000)
                           or run.poll() is not None, 120, "the bulk build wrote nothing")
                check(run.poll() is None, "the bulk build ended before it could be killed: enlarge the input")
                run.send_signal(signal.SIGKILL)
                run.wait()
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait()
            left = sorted(os.listdir(s.index_dir))
            check("iamglass" not in left, f"a killed bulk build left a database: {left}")
            check(not any(f.startswith(".bulk") or f == "v.tmp" for f in left), f"scratch files left: {left}")
            searchd_refuses(s, "after kill -9")
            # the next run: a bulk build again, then (second round) Xapian's writer
            done = next_run_builds_the_index(s, kb, n, next_bulk, "kill -9")
            check(done["added"] == n, done)


@test
def tables_without_iamglass_then_either_kind_of_run_builds_the_index():
    # The bulk build writes its posting table as postlist.tmp, renames it to postlist.glass and
    # then renames iamglass into place. A crash before those renames leaves tables but no
    # database: readers find none, and the next run, bulk or Xapian's writer (KB_BULK_BUILD=0,
    # the fallback an operator reaches for after a failed bulk build), must build the index.
    # The state made deterministically: a finished bulk build before its renames.
    kb = big_kb()
    n = BIG_N
    with Service({}, start=False) as s:
        for next_bulk in (True, False):
            shutil.rmtree(s.index_dir, ignore_errors=True)
            os.makedirs(s.index_dir)
            expect_exit(run_indexer(s.index_dir, os.path.join(kb, "part0.xml")), 0, "bulk build")
            os.rename(os.path.join(s.index_dir, "postlist.glass"), os.path.join(s.index_dir, "postlist.tmp"))
            os.remove(os.path.join(s.index_dir, "iamglass"))
            searchd_refuses(s, "tables without iamglass")
            next_run_builds_the_index(s, kb, n, next_bulk, "a crash before the renames")
            check(not os.path.exists(os.path.join(s.index_dir, "postlist.tmp")),
                  "the unpublished posting table was left behind")


@test
def crash_between_the_two_renames_is_explained_to_xapians_writer():
    # A crash in the microseconds between the two renames leaves postlist.glass without
    # iamglass, which Xapian's writer cannot open. A bulk run builds the index again; a
    # KB_BULK_BUILD=0 run says what happened and what to do.
    with Service({}, start=False) as s:
        kb = os.path.join(ROOT, "docs", "sample-kb")
        expect_exit(run_indexer(s.index_dir, kb), 0, "bulk build")
        os.remove(os.path.join(s.index_dir, "iamglass"))
        r = run_indexer(s.index_dir, kb, bulk=False)
        check(r.returncode != 0 and "unfinished bulk build" in r.stderr, r.stderr)
        expect_exit(run_indexer(s.index_dir, kb), 0, "bulk build after it")
        xapian_check(s.index_dir)


@test
def kill9_at_the_bulk_builds_commit_then_xapians_writer_builds_the_index():
    # The same with a real kill -9 while the posting table is being written (a small run budget:
    # merging many runs makes that phase last long enough to catch).
    kb = big_kb()
    n = BIG_N
    with Service({}, start=False) as s:
        caught = False
        for attempt in range(3):
            shutil.rmtree(s.index_dir, ignore_errors=True)
            os.makedirs(s.index_dir)
            run = subprocess.Popen(indexer_cmd(s.index_dir, kb), stderr=subprocess.DEVNULL,
                                   env=env_for(True, KB_BULK_RUN_MB="4"))
            try:
                postlist = os.path.join(s.index_dir, "postlist.tmp")
                if wait_for_file(postlist, run, 180) and run.poll() is None:
                    run.send_signal(signal.SIGKILL)
                    caught = (run.wait() == -signal.SIGKILL and
                              not os.path.exists(os.path.join(s.index_dir, "iamglass")))
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait()
            if caught:
                break
        if not caught:
            print("    (note: the commit of the bulk build was not caught in 3 tries; test skipped)")
            return
        left = sorted(os.listdir(s.index_dir))
        check("iamglass" not in left and "postlist.glass" not in left,
              f"left after kill -9 at the commit: {left}")
        searchd_refuses(s, "killed at the commit")
        next_run_builds_the_index(s, kb, n, False, "a kill -9 at the bulk build's commit")
        check("postlist.tmp" not in os.listdir(s.index_dir), "the unpublished posting table was left behind")


# ---------------------------------------------------------------- one writer at a time
@test
def two_runs_on_one_empty_directory_one_builds_the_other_is_refused():
    kb = big_kb()
    n = BIG_N
    with Service({}, start=False) as s:
        for second_bulk in (True, False):
            shutil.rmtree(s.index_dir, ignore_errors=True)
            # both started at once
            procs = [subprocess.Popen(indexer_cmd(s.index_dir, kb), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env_for(b))
                     for b in (True, second_bulk)]
            outs = []
            for p in procs:
                try:
                    _, err = p.communicate(timeout=scaled(300))
                except subprocess.TimeoutExpired:
                    p.kill()
                    _, err = p.communicate()
                outs.append((p.returncode, err))
            codes = sorted(code for code, _ in outs)
            check(codes == [0, 2], f"exit statuses {[c for c, _ in outs]} (second {'bulk' if second_bulk else 'Xapian'}); "
                                   f"stderr:\n" + "\n---\n".join(e[-800:] for _, e in outs))
            refused = next(e for c, e in outs if c == 2)
            check("another kb-indexer" in refused, f"the refused run does not say why:\n{refused[-1000:]}")
            check(SUMMARY.search(refused) is None, f"the refused run printed a summary:\n{refused[-1000:]}")
            winner = next(e for c, e in outs if c == 0)
            check(summary(winner)["total"] == n, winner[-1000:])
            complete_index_checks(s, n, BIG_PROBES)

            # one running for sure (its tables are being written), then the second one
            shutil.rmtree(s.index_dir, ignore_errors=True)
            first = subprocess.Popen(indexer_cmd(s.index_dir, kb), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env_for(True))
            try:
                wait_until(lambda: os.path.exists(os.path.join(s.index_dir, "termlist.glass"))
                           or first.poll() is not None, 60, "the first run did not start writing")
                check(first.poll() is None, "the first run ended before the second started: enlarge the input")
                t = time.time()
                r = run_indexer(s.index_dir, kb, bulk=second_bulk)
                check(first.poll() is None, "the first run ended before the second was refused")
                expect_exit(r, 2, f"second run ({'bulk' if second_bulk else 'KB_BULK_BUILD=0'}) while a bulk build runs")
                check("another kb-indexer" in r.stderr, f"unclear message: {r.stderr[-1000:]}")
                check(time.time() - t < scaled(10), "the second run waited instead of exiting")
                _, err = first.communicate(timeout=scaled(300))
                check(first.returncode == 0, f"the first run, after the second was refused: exit "
                                             f"{first.returncode}\n{err[-1500:]}")
            finally:
                if first.poll() is None:
                    first.kill()
                    first.wait()
            complete_index_checks(s, n, BIG_PROBES)


if __name__ == "__main__":
    run_tests(cleanups=[remove_big])
