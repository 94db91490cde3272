#!/usr/bin/env python3
"""test_indexer.py — end-to-end tests of kb-indexer: what editors, operators and scripts rely on
(shared/CONTRACT.md and the header comment of indexer/main.c).

- Exit status: 0 all valid; 1 some documents invalid (each as FILE:LINE: message, the valid ones
  still indexed); 2 usage or I/O errors.
- Update mode adds and replaces; --sync also removes what is no longer in the inputs, but never on
  incomplete information; --rebuild starts from empty, also never on incomplete information.
- One writer at a time; a crash (kill -9) leaves the previous index usable; a running kb-searchd
  picks up what is published without a restart.
- Hostile or large input fails fast or is indexed in bounded memory.

Every test uses its own temporary folder (through harness.Service with start=False); inputs are
generated here at run time. The state of an index is read back through the real kb-searchd.
"""
import os
import pty
import random
import re
import select
import shutil
import subprocess
import tempfile
import time

from harness import (INDEXER, VALGRIND, Service, check, check_status, doc_xml, documents_file,
                     health, kill9_indexer_mid_run, run_tests, scaled, test, top_hit, wait_until)

# ---------------------------------------------------------------- documents
ROAM = doc_xml("roam-001", "国际漫游开通办理", categories=["业务办理/漫游"],
               paragraphs=["客户出国前需开通国际漫游功能，号码须已实名登记且无欠费。"])
BROADBAND = doc_xml("bb-001", "宽带故障报修流程",
                    paragraphs=["宽带无法上网时，先检查光猫指示灯，再重启路由器，仍无法恢复请登记报修。"])
BILL = doc_xml("bill-001", "账单查询与缴费方式",
               paragraphs=["客户可通过网上银行、便利店或自动转账缴纳话费账单，账单每月五日寄出。"])
CARD = doc_xml("card-001", "信用卡挂失与补办",
               paragraphs=["信用卡丢失后请立即致电客服热线挂失，补办新卡需携带身份证到网点办理。"])


def bill_v2():
    return doc_xml("bill-001", "账单查询与缴费方式（新版）",
                   paragraphs=["新版说明：话费账单可在手机营业厅查询，支持自动扣款。"])


# ---------------------------------------------------------------- helpers
SUMMARY = re.compile(r"(\d+) added, (\d+) replaced, (\d+) unchanged, (\d+) removed; "
                     r"the index now holds (\d+) documents")


def indexer(s, *args, timeout=120):
    """kb-indexer --index <s's index> ARGS... (options and paths), stdout and stderr captured."""
    return subprocess.run([INDEXER, "--index", s.index_dir] + list(args), capture_output=True,
                          text=True, timeout=scaled(timeout), cwd=s.tmp)


def summary(r):
    """The counts of the summary line: dict added, replaced, unchanged, removed, total."""
    m = SUMMARY.search(r.stderr)
    check(m, f"no summary line in stderr:\n{r.stderr[-2000:]}")
    return dict(zip(("added", "replaced", "unchanged", "removed", "total"), map(int, m.groups())))


def expect(r, status, *in_stderr):
    check(r.returncode == status,
          f"expected exit {status}, got {r.returncode}\nstderr:\n{r.stderr[-2000:]}")
    for text in in_stderr:
        check(text in r.stderr, f"stderr does not say {text!r}:\n{r.stderr[-2000:]}")


def problem_lines(stderr):
    """The FILE:LINE: message lines (everything but the summary)."""
    return [l for l in stderr.splitlines() if re.match(r"^\S.*:\d+: ", l) and not l.startswith("kb-indexer:")]


def line_of(text, needle):
    """1-based line number of the first line of text containing needle."""
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in text")


class Served:
    """kb-searchd on s's index for the duration of a with-block."""

    def __init__(self, s):
        self.s = s

    def __enter__(self):
        self.s.start()
        return self.s

    def __exit__(self, *exc):
        self.s.stop()


def doc_status(s, doc_id):
    return s.call("GET", "/api/documents/" + doc_id).status


def doc_title(s, doc_id):
    r = s.call("GET", "/api/documents/" + doc_id)
    check_status(r, 200, f"document {doc_id}")
    return r.json()["title"]


# ---------------------------------------------------------------- generated large inputs
# Text from a small vocabulary of call-centre words: realistic term statistics (a Zipf-like
# reuse of words and bigrams) at a fraction of the cost of random characters.
WORDS = ("客户 办理 业务 宽带 漫游 账单 缴费 套餐 流量 开通 投诉 故障 信用卡 贷款 还款 积分 会员 营业厅 手机 "
         "号码 实名 登记 欠费 停机 复机 国际 长途 短信 通话 话费 余额 查询 充值 发票 合同 违约金 优惠 活动 "
         "期间 每月 网络 信号 路由器 光猫 重启 报修 上门 维修 工程师 预约 时间 服务 热线 人工 客服 转接 等待 "
         "处理 流程 结果 反馈 满意 评价 银行 转账 利率 额度 审批 资料 身份证 护照 有效期 逾期 罚息 提前 分期 "
         "手续费 年费 挂失 补办").split()
_big = {}  # kind -> path, in _big["dir"] (removed at the end of the run)


def _text(rnd, n):
    return "".join(rnd.choice(WORDS) + ("，" if rnd.random() < 0.15 else "") for _ in range(n)) + "。"


def big_kb(kind):
    """A generated knowledge base file, made once per run:
    'small': 20,000 tiny documents (~4 MB), 'large': 20,000 documents in one ~30 MB file."""
    if kind in _big:
        return _big[kind]
    if "dir" not in _big:
        _big["dir"] = tempfile.mkdtemp(prefix="kb-e2e-indexer-")
    rnd = random.Random(20260302)
    path = os.path.join(_big["dir"], f"{kind}.xml")
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<documents>\n')
        for i in range(20000):
            if kind == "small":
                f.write(doc_xml(f"gen-{i:05d}", f"生成文档第{i}号", paragraphs=[_text(rnd, 12)]) + "\n")
            else:
                f.write(doc_xml(f"big-{i:05d}", _text(rnd, 5), questions=[_text(rnd, 5)],
                                sections=[("s1", "说明", [_text(rnd, 90), _text(rnd, 60)]),
                                          ("s2", "办理", [_text(rnd, 40)])]) + "\n")
        f.write("</documents>\n")
    _big[kind] = path
    return path


# ---------------------------------------------------------------- usage
@test
def usage_errors_exit_2_and_say_what_is_wrong():
    with Service({"a.xml": documents_file(ROAM)}, start=False) as s:
        cases = [
            ([s.kb], "--index DIR is required"),
            (["--index", s.index_dir], "give at least one PATH"),
            (["--index", s.index_dir, "--bogus", s.kb], "unknown option --bogus"),
            (["--index", s.index_dir, "--sync", "--rebuild", s.kb], "--sync and --rebuild cannot be combined"),
            (["--index", s.index_dir, "--rebuild", "--sync", s.kb], "--sync and --rebuild cannot be combined"),
            ([s.kb, "--index"], "--index"),
        ]
        for args, message in cases:
            r = subprocess.run([INDEXER] + args, capture_output=True, text=True, timeout=scaled(30), cwd=s.tmp)
            check(r.returncode == 2, f"{args}: exit {r.returncode}, stderr {r.stderr!r}")
            check(message in r.stderr, f"{args}: stderr does not say {message!r}: {r.stderr!r}")
            check("usage" in r.stderr or "cannot be combined" in r.stderr, f"{args}: no usage: {r.stderr!r}")
            check(not os.path.exists(s.index_dir), f"{args}: a usage error created the index")
            check(sorted(os.listdir(s.tmp)) == ["kb", "tokens"], f"{args}: left files: {os.listdir(s.tmp)}")
        r = subprocess.run([INDEXER, "--help"], capture_output=True, text=True, timeout=scaled(30))
        check(r.returncode == 0 and "usage: kb-indexer" in r.stdout and "--sync" in r.stdout, r)
        check(r.stderr == "", f"--help wrote to stderr: {r.stderr!r}")


# ---------------------------------------------------------------- exit 0 / 1 / 2
@test
def all_valid_inputs_exit_0_and_are_searchable():
    files = {"a.xml": documents_file(ROAM, BROADBAND),
             # files that are not *.xml, and hidden ones (editor swap files), are not read
             "notes.txt": "not xml at all <",
             ".#draft.xml": "<documents><document id='x'>broken",
             }
    with Service(files, start=False) as s:
        os.makedirs(os.path.join(s.kb, "sub", "deeper"))
        s.write_kb_file("sub/deeper/bill.xml", BILL)  # a single <document> as the root, nested folder
        r = indexer(s, s.kb)
        expect(r, 0)
        check(problem_lines(r.stderr) == [], f"problems reported for valid input:\n{r.stderr}")
        check(summary(r) == {"added": 3, "replaced": 0, "unchanged": 0, "removed": 0, "total": 3},
              r.stderr)
        check(r.stdout == "", f"kb-indexer wrote to stdout: {r.stdout!r}")
        with Served(s):
            check(health(s)["documents"] == 3, health(s))
            check(top_hit(s, "国际漫游怎么开通") == "roam-001", "roam-001 not found")
            check(top_hit(s, "宽带上不了网") == "bb-001", "bb-001 not found")
            check(top_hit(s, "话费账单怎么缴") == "bill-001", "bill-001 from a nested folder not found")
        # --quiet: no summary
        r = indexer(s, "--quiet", s.kb)
        expect(r, 0)
        check(r.stderr == "", f"--quiet printed: {r.stderr!r}")


@test
def invalid_document_exit_1_with_exact_line_others_indexed():
    bad = ("<document id=\"bad-002\">\n  <title>含有未知元素的文档</title>\n  <body>\n"
           "    <p>正文第一段。</p>\n    <blink>闪烁文字</blink>\n  </body>\n</document>")
    text = documents_file(ROAM, bad, BROADBAND)
    with Service({"mixed.xml": text, "other.xml": documents_file(BILL)}, start=False) as s:
        r = indexer(s, s.kb)
        expect(r, 1)
        path = os.path.join(s.kb, "mixed.xml")
        want = f"{path}:{line_of(text, '<blink>')}: "
        lines = problem_lines(r.stderr)
        check(len(lines) == 1, f"expected one problem line:\n{r.stderr}")
        check(lines[0].startswith(want), f"expected a line starting {want!r}, got {lines[0]!r}")
        check("bad-002" in lines[0] and "blink" in lines[0], f"message does not name the document "
              f"and the element: {lines[0]!r}")
        check(summary(r)["added"] == 3, r.stderr)
        check("1 problem" in r.stderr, r.stderr)
        with Served(s):
            check(health(s)["documents"] == 3, health(s))
            check(top_hit(s, "国际漫游开通") == "roam-001", "valid document before the bad one")
            check(top_hit(s, "宽带故障报修") == "bb-001", "valid document after the bad one")
            check(top_hit(s, "账单缴费") == "bill-001", "valid document of another file")
            check(doc_status(s, "bad-002") == 404, "the invalid document was indexed")
        # a problem in the first line of a document: the line of its start tag
        text2 = documents_file(CARD, '<document id="no title here">\n<body><p>x</p></body>\n</document>')
        s.write_kb_file("mixed.xml", text2)
        r = indexer(s, path)
        expect(r, 1, f"{path}:{line_of(text2, 'no title here')}: ")


@test
def nonexistent_path_exit_2_other_paths_still_indexed():
    with Service({"a.xml": documents_file(ROAM, BROADBAND)}, start=False) as s:
        missing = os.path.join(s.tmp, "no-such-folder")
        r = indexer(s, s.kb, missing)
        expect(r, 2, missing)
        # a path error, not a problem at a (fake) line of a file; once
        check(f"kb-indexer: {missing}: no such file or directory\n" in r.stderr, r.stderr)
        check(":0:" not in r.stderr and r.stderr.count(missing) == 1, r.stderr)
        check(summary(r)["total"] == 2, r.stderr)
        # a link to nothing, and a file that is no regular file, are path errors too
        os.symlink(os.path.join(s.tmp, "gone.xml"), os.path.join(s.kb, "c.xml"))
        os.mkfifo(os.path.join(s.kb, "d.xml"))
        r = indexer(s, s.kb)
        expect(r, 2, f"kb-indexer: {os.path.join(s.kb, 'c.xml')}: a symbolic link to something "
                     f"that does not exist: no such file or directory\n",
               f"kb-indexer: {os.path.join(s.kb, 'd.xml')}: not a regular file\n")
        check(":0:" not in r.stderr and problem_lines(r.stderr) == [], r.stderr)
        check(summary(r)["total"] == 2 and "2 problem(s)" in r.stderr, r.stderr)
        with Served(s):
            check(health(s)["documents"] == 2, health(s))
            check(top_hit(s, "宽带故障报修") == "bb-001", "bb-001 not indexed")


@test
def same_id_in_two_files_exit_1_first_kept():
    first = doc_xml("dup-001", "重复编号第一版：套餐变更", paragraphs=["套餐变更次月生效。"])
    second = doc_xml("dup-001", "重复编号第二版：套餐退订", paragraphs=["套餐退订立即生效。"])
    a_text = documents_file(ROAM, first)
    b_text = documents_file(BROADBAND, second)
    with Service({"a.xml": a_text, "b.xml": b_text}, start=False) as s:
        r = indexer(s, s.kb)
        expect(r, 1)
        a, b = os.path.join(s.kb, "a.xml"), os.path.join(s.kb, "b.xml")
        lines = [l for l in problem_lines(r.stderr) if "dup-001" in l]
        check(len(lines) == 1, f"expected one line about dup-001:\n{r.stderr}")
        check(lines[0].startswith(f"{b}:{line_of(b_text, 'dup-001')}: "), f"not at the second place: {lines[0]}")
        check(f"{a}:{line_of(a_text, 'dup-001')}" in lines[0], f"does not name the first place: {lines[0]}")
        check(summary(r)["total"] == 3, r.stderr)
        with Served(s):
            check(doc_title(s, "dup-001") == "重复编号第一版：套餐变更", "the first one was not kept")
        # twice in one file
        c_text = documents_file(CARD, CARD)
        s.write_kb_file("b.xml", c_text)
        r = indexer(s, b)
        second_line = line_of(c_text, "card-001") + CARD.count("\n") + 1
        expect(r, 1, f"{b}:{second_line}: ", "card-001")


@test
def links_back_into_the_tree_are_read_once():
    """Symbolic links that lead to a folder or file already read (s1 -> ., s2 -> ., a link to a
    parent, two links to one folder outside, a link to a file) are followed once: the walk used
    to be exponential under its depth limit and never finished (issue 15, item 10)."""
    with Service({"a.xml": documents_file(ROAM)}, start=False) as s:
        os.makedirs(os.path.join(s.kb, "sub"))
        s.write_kb_file("sub/bill.xml", documents_file(BILL))
        shared = os.path.join(s.tmp, "shared")
        os.makedirs(shared)
        with open(os.path.join(shared, "card.xml"), "w", encoding="utf-8") as f:
            f.write(documents_file(CARD))
        os.symlink(".", os.path.join(s.kb, "s1"))
        os.symlink(".", os.path.join(s.kb, "s2"))
        os.symlink("..", os.path.join(s.kb, "sub", "up"))          # a parent
        os.symlink(shared, os.path.join(s.kb, "shared1"))           # one folder outside, twice
        os.symlink(shared, os.path.join(s.kb, "shared2"))
        os.symlink("a.xml", os.path.join(s.kb, "same-as-a.xml"))   # the same file under two names
        for mode in ((), ("--sync",), ("--rebuild",)):
            t = time.time()
            r = indexer(s, *mode, s.kb, timeout=20)
            took = time.time() - t
            check(took < scaled(10), f"{mode}: took {took:.1f} s")
            expect(r, 0)
            check(problem_lines(r.stderr) == [], f"{mode}: links reported as problems:\n{r.stderr[-2000:]}")
            n = summary(r)
            check(n["total"] == 3 and n["removed"] == 0, f"{mode}: {r.stderr[-2000:]}")
            # said once per link, naming both the link and what it repeats
            notes = [l for l in r.stderr.splitlines() if "read once" in l]
            check(len(notes) == 5, f"{mode}: expected 5 notes about links:\n{r.stderr[-2000:]}")
            for link in ("s1", "s2", "sub/up", "shared2", "same-as-a.xml"):
                check(any(os.path.join(s.kb, link) + " " in l for l in notes),
                      f"{mode}: no note names {link}:\n{r.stderr[-2000:]}")
        # the same file or folder given twice on the command line, or a file inside a folder given
        r = indexer(s, s.kb, os.path.join(s.kb, "a.xml"), os.path.join(s.kb, "sub"), timeout=60)
        expect(r, 0)
        check(problem_lines(r.stderr) == [], r.stderr[-2000:])
        check(summary(r)["unchanged"] == 3, r.stderr[-2000:])
        # --quiet: nothing on stderr, as for any input without problems
        r = indexer(s, "--quiet", s.kb, timeout=60)
        expect(r, 0)
        check(r.stderr == "", f"--quiet printed: {r.stderr!r}")
        with Served(s):
            check(health(s)["documents"] == 3, health(s))
            check(top_hit(s, "信用卡挂失") == "card-001", "the linked folder was not indexed")


# ---------------------------------------------------------------- update, sync, rebuild
@test
def rerun_is_unchanged_and_one_edit_is_one_replacement():
    with Service({"a.xml": documents_file(ROAM, BROADBAND), "b.xml": documents_file(BILL, CARD)},
                 start=False) as s:
        expect(indexer(s, s.kb), 0)
        r = indexer(s, s.kb)
        expect(r, 0)
        check(summary(r) == {"added": 0, "replaced": 0, "unchanged": 4, "removed": 0, "total": 4}, r.stderr)
        s.write_kb_file("b.xml", documents_file(bill_v2(), CARD))
        r = indexer(s, s.kb)
        expect(r, 0)
        check(summary(r) == {"added": 0, "replaced": 1, "unchanged": 3, "removed": 0, "total": 4}, r.stderr)
        # only the file that changed, in update mode: the others stay
        r = indexer(s, os.path.join(s.kb, "b.xml"))
        expect(r, 0)
        check(summary(r) == {"added": 0, "replaced": 0, "unchanged": 2, "removed": 0, "total": 4}, r.stderr)
        with Served(s):
            check(doc_title(s, "bill-001") == "账单查询与缴费方式（新版）", "the edit was not published")
            check(health(s)["documents"] == 4, health(s))


@test
def unchanged_rerun_keeps_the_revision_and_a_change_makes_a_new_one():
    # Every `make run` re-indexes the sample KB: a run that changes nothing must not publish a
    # new revision (the daemon would reload and the editors' queue recheck for nothing).
    with Service({"a.xml": documents_file(ROAM, BROADBAND), "b.xml": documents_file(BILL, CARD)},
                 start=False) as s:
        expect(indexer(s, s.kb), 0)
        with Served(s):
            rev0 = health(s)["index_revision"]
            for args in ([s.kb], ["--sync", s.kb], [os.path.join(s.kb, "a.xml")]):
                r = indexer(s, *args)
                expect(r, 0, "no new revision")
                check(summary(r)["total"] == 4 and summary(r)["unchanged"] >= 2, r.stderr)
                check(len(r.stderr.splitlines()) == 1, f"more than the summary: {r.stderr!r}")
            time.sleep(1.5)  # the daemon checks for new revisions once a second
            h = health(s)
            check(h["index_revision"] == rev0 and h["documents"] == 4, f"an unchanged run published: {h}")
            check("index reloaded" not in s.log_text(), "the daemon reloaded an unchanged index")
            # a real change (one edit) is published, and said so
            s.write_kb_file("b.xml", documents_file(bill_v2(), CARD))
            r = indexer(s, s.kb)
            expect(r, 0)
            check("no new revision" not in r.stderr and summary(r)["replaced"] == 1, r.stderr)
            wait_until(lambda: health(s)["index_revision"] > rev0, 5, "the edit seen by the daemon")
            rev1 = health(s)["index_revision"]
            # and a removal
            r = indexer(s, "--sync", os.path.join(s.kb, "a.xml"))
            expect(r, 0)
            check(summary(r)["removed"] == 2, r.stderr)
            wait_until(lambda: health(s)["index_revision"] > rev1, 5, "the removal seen by the daemon")
            check(health(s)["documents"] == 2, health(s))


@test
def sync_removes_documents_no_longer_in_the_inputs():
    with Service({"a.xml": documents_file(ROAM, BROADBAND), "b.xml": documents_file(BILL),
                  "c.xml": documents_file(CARD)}, start=False) as s:
        expect(indexer(s, s.kb), 0)
        os.remove(os.path.join(s.kb, "b.xml"))
        # plain update mode keeps what it was not given
        r = indexer(s, s.kb)
        expect(r, 0)
        check(summary(r)["removed"] == 0 and summary(r)["total"] == 4, r.stderr)
        # a document that moved to another file is not removed (it is rewritten: its source
        # file is part of what is stored)
        os.remove(os.path.join(s.kb, "c.xml"))
        s.write_kb_file("a.xml", documents_file(ROAM, BROADBAND, CARD))
        r = indexer(s, "--sync", s.kb)
        expect(r, 0)
        n = summary(r)
        check(n["added"] == 0 and n["replaced"] + n["unchanged"] == 3 and n["removed"] == 1
              and n["total"] == 3, r.stderr)
        with Served(s):
            check(doc_status(s, "bill-001") == 404, "bill-001 not removed by --sync")
            for doc_id in ("roam-001", "bb-001", "card-001"):
                check(doc_status(s, doc_id) == 200, f"{doc_id} removed by --sync")
            check(top_hit(s, "账单缴费方式") != "bill-001", "bill-001 still found")


@test
def sync_with_invalid_input_removes_nothing():
    with Service({"a.xml": documents_file(ROAM, BROADBAND), "b.xml": documents_file(BILL, CARD)},
                 start=False) as s:
        expect(indexer(s, s.kb), 0)
        # roam-001 is gone from a.xml, card-001 became invalid (a typo in its id), and bb-001 was
        # edited: --sync must not remove anything, but still publishes the valid edit
        bb2 = doc_xml("bb-001", "宽带故障报修流程（新版）", paragraphs=["新版：先重启光猫。"])
        broken_card = CARD.replace('id="card-001"', 'id="card 001"')
        s.write_kb_file("a.xml", documents_file(bb2))
        s.write_kb_file("b.xml", documents_file(BILL, broken_card))
        r = indexer(s, "--sync", s.kb)
        expect(r, 1, "removes nothing")
        check(summary(r)["removed"] == 0 and summary(r)["total"] == 4, r.stderr)
        check(summary(r)["replaced"] == 1, r.stderr)
        with Served(s):
            check(doc_status(s, "roam-001") == 200, "roam-001 removed although an input was invalid")
            check(doc_status(s, "card-001") == 200, "card-001 removed because of a typo")
            check(doc_title(s, "bb-001") == "宽带故障报修流程（新版）", "the valid edit was not published")
        # fixed: now --sync removes roam-001 (and the old card-001 id stays, being valid again)
        s.write_kb_file("b.xml", documents_file(BILL, CARD))
        r = indexer(s, "--sync", s.kb)
        expect(r, 0)
        check(summary(r)["removed"] == 1 and summary(r)["total"] == 3, r.stderr)


@test
def sync_or_rebuild_with_unreadable_input_publishes_nothing():
    with Service({"a.xml": documents_file(ROAM, BROADBAND), "b.xml": documents_file(BILL)},
                 start=False) as s:
        expect(indexer(s, s.kb), 0)
        with Served(s):
            rev0 = health(s)["index_revision"]
            # edits that must not be published: one document changed, one file gone
            s.write_kb_file("a.xml", documents_file(ROAM, doc_xml("bb-001", "改过的标题", paragraphs=["x。"])))
            os.remove(os.path.join(s.kb, "b.xml"))
            missing = os.path.join(s.tmp, "no-such-folder")
            for mode in ("--sync", "--rebuild"):
                r = indexer(s, mode, s.kb, missing)
                expect(r, 2, missing, "nothing published", mode)
            # a file in the folder that cannot be read (a dangling link: unreadable even for root)
            os.symlink(os.path.join(s.tmp, "gone.xml"), os.path.join(s.kb, "c.xml"))
            for mode in ("--sync", "--rebuild"):
                r = indexer(s, mode, s.kb)
                expect(r, 2, "c.xml", "nothing published")
            time.sleep(1.5)  # the daemon checks for new revisions once a second
            h = health(s)
            check(h["index_revision"] == rev0 and h["documents"] == 3, f"index changed: {h}")
            check(doc_status(s, "bill-001") == 200, "bill-001 removed")
            check(doc_title(s, "bb-001") == "宽带故障报修流程", "an edit was published")
        os.remove(os.path.join(s.kb, "c.xml"))
        r = indexer(s, "--sync", s.kb)
        expect(r, 0)
        check(summary(r)["removed"] == 1 and summary(r)["replaced"] == 1, r.stderr)


@test
def rebuild_starts_from_empty():
    with Service({"a.xml": documents_file(ROAM, BROADBAND), "b.xml": documents_file(BILL, CARD)},
                 start=False) as s:
        expect(indexer(s, s.kb), 0)
        r = indexer(s, "--rebuild", os.path.join(s.kb, "a.xml"))
        expect(r, 0)
        check(summary(r)["total"] == 2, r.stderr)
        with Served(s):
            check(health(s)["documents"] == 2, health(s))
            check(doc_status(s, "bill-001") == 404 and doc_status(s, "card-001") == 404,
                  "documents of b.xml survived --rebuild")
            check(top_hit(s, "国际漫游开通") == "roam-001", "roam-001 not found after --rebuild")
        # --rebuild of a KB whose every document is invalid empties it (the input was complete)
        s.write_kb_file("a.xml", documents_file(ROAM.replace('id="roam-001"', 'id="roam 001"')))
        r = indexer(s, "--rebuild", os.path.join(s.kb, "a.xml"))
        expect(r, 1)
        check(summary(r)["total"] == 0, r.stderr)


# ---------------------------------------------------------------- one writer, crashes, live daemon
@test
def second_concurrent_run_exits_2():
    with Service({"a.xml": documents_file(ROAM, BROADBAND)}, start=False) as s:
        slow_input = big_kb("large")  # ~15 s of work: the second run certainly meets the first
        err = open(os.path.join(s.tmp, "first.err"), "w+")
        first = subprocess.Popen([INDEXER, "--index", s.index_dir, slow_input], stderr=err, cwd=s.tmp)
        try:
            # the first run holds the writer's lock once it has created the database (Xapian's
            # writer) or its tables (a bulk build, which publishes iamglass only at the end)
            wait_until(lambda: any(os.path.exists(os.path.join(s.index_dir, f))
                                   for f in ("iamglass", "docdata.glass")) or first.poll() is not None,
                       30, "the first run did not open the index")
            check(first.poll() is None, "the first run ended before the second one could start")
            t = time.time()
            r = indexer(s, s.kb)
            check(first.poll() is None, "the first run ended before the second one was refused")
            expect(r, 2, "another kb-indexer")
            check(time.time() - t < scaled(5), "the second run waited instead of exiting")
            check(SUMMARY.search(r.stderr) is None, f"the refused run printed a summary: {r.stderr}")
        finally:
            # the first run is not needed any further (a full large run is tested below)
            if first.poll() is None:
                first.terminate()
            first.wait()
            err.close()
        r = indexer(s, s.kb)  # the lock went with the first run
        expect(r, 0)
        check(summary(r)["total"] == 2, r.stderr)


@test
def kill9_mid_run_keeps_previous_state():
    with Service({"a.xml": documents_file(ROAM, BROADBAND, BILL)}, start=False) as s:
        expect(indexer(s, s.kb), 0)
        large = big_kb("large")
        with Served(s):
            rev0 = health(s)["index_revision"]
            kill9_indexer_mid_run(s, large, "国际漫游开通", "roam-001")
            h = health(s)
            check(h["documents"] == 3 and h["index_revision"] == rev0, f"running daemon after kill -9: {h}")
        with Served(s):  # a daemon started afresh on the index
            h = health(s)
            check(h["documents"] == 3, f"after kill -9: {h}")
            check(top_hit(s, "宽带故障报修流程") == "bb-001", "a known document is not found after kill -9")
            check(doc_status(s, "big-00001") == 404, "a document of the killed run is visible")
        s.write_kb_file("b.xml", documents_file(CARD))
        r = indexer(s, s.kb)
        expect(r, 0)
        check(summary(r) == {"added": 1, "replaced": 0, "unchanged": 3, "removed": 0, "total": 4}, r.stderr)


@test
def running_searchd_sees_replacements_removals_and_rebuilds():
    # test_searchd.py covers new documents appearing while searching; here: edits, --sync
    # removals and --rebuild reach a running daemon without a restart.
    with Service({"a.xml": documents_file(ROAM, BROADBAND), "b.xml": documents_file(BILL, CARD)},
                 start=False) as s:
        expect(indexer(s, s.kb), 0)
        with Served(s):
            pid = s.proc.pid
            rev0 = health(s)["index_revision"]
            check(doc_title(s, "bill-001") == "账单查询与缴费方式", "before")
            s.write_kb_file("b.xml", documents_file(bill_v2()))
            expect(indexer(s, "--sync", s.kb), 0)
            t = time.time()
            # Once /healthz reports the new revision, every answer reflects it. (Before that, a
            # worker thread whose searcher was opened after the commit may already show it
            # while another still shows the previous one.)
            wait_until(lambda: health(s)["index_revision"] > rev0, 5, "new revision seen by the daemon")
            check(health(s)["documents"] == 3, health(s))
            for _ in range(4):  # every worker thread
                check(doc_status(s, "card-001") == 404, "removed document still served")
                check(doc_title(s, "bill-001") == "账单查询与缴费方式（新版）", "replacement not seen")
                hits = [h["id"] for h in s.search("信用卡挂失补办").json()["hits"]]
                check("card-001" not in hits, f"removed document still found: {hits}")
            print(f"    (--sync seen after {time.time() - t:.1f} s)")
            rev1 = health(s)["index_revision"]
            s.write_kb_file("c.xml", documents_file(CARD))
            expect(indexer(s, "--rebuild", os.path.join(s.kb, "c.xml")), 0)
            wait_until(lambda: health(s)["index_revision"] > rev1, 5, "rebuild seen by the daemon")
            check(health(s)["documents"] == 1, health(s))
            check(top_hit(s, "信用卡挂失补办") == "card-001", "rebuilt index not searched")
            check(doc_status(s, "roam-001") == 404, "a document removed by --rebuild is served")
            check(s.proc.pid == pid and s.proc.poll() is None, "the daemon restarted")


# ---------------------------------------------------------------- preparing threads
def threads_kb():
    """15 files: 12 valid and 3 with problems. f00 is much larger than the others, so that with
    several workers the later files are prepared long before it (and their items outnumber the
    pipeline's 256 slots: the workers ahead must wait while the one on f00 goes on); its
    problems are near its end. f06 repeats an id of f03 (reported by the writer, on the main
    thread) and holds an invalid document; f10 is truncated (no document of it is indexed).
    Returns ({name: text}, [(query, title it was made from)])."""
    rnd = random.Random(20261123)
    files, queries = {}, []
    for i in range(15):
        docs = []
        for j in range(300 if i == 0 else 25):
            title = _text(rnd, 4)
            docs.append(doc_xml(f"t{i:02d}-{j:03d}", title, categories=[f"线程测试/第{i % 4}组"],
                                questions=[_text(rnd, 5)], paragraphs=[_text(rnd, 20)]))
            if j == 7 and i % 3 == 0:
                queries.append(title)
        if i == 0:
            docs.insert(290, doc_xml("bad-date", "无效日期", valid=("2026-02-30", None), paragraphs=["x。"]))
            docs.insert(295, '<document id="bad-elem">\n  <title>未知元素</title>\n  <body>\n'
                             '    <blink>闪烁</blink>\n  </body>\n</document>')
        if i == 6:
            docs.insert(3, doc_xml("t03-010", "重复的编号", paragraphs=["与 f03 的文档同号。"]))
            docs.insert(12, '<document id="no title">\n  <body><p>x</p></body>\n</document>')
        text = documents_file(*docs)
        if i == 10:
            text = text[:len(text) // 2]
        files[f"f{i:02d}.xml"] = text
    return files, queries + ["宽带故障报修", "信用卡还款逾期", "国际漫游开通"]


@test
def output_is_the_same_with_one_or_four_preparing_threads():
    files, queries = threads_kb()
    with Service(files, start=False) as s:
        runs = {}
        for threads in (1, 4):
            shutil.rmtree(s.index_dir, ignore_errors=True)
            # into an empty index, then --rebuild over it (which writes every document again, with
            # Xapian's writer when the first run used the bulk builder)
            stdout = stderr = ""
            for args in ([], ["--rebuild"]):
                r = subprocess.run([INDEXER, "--index", s.index_dir] + args + [s.kb], capture_output=True,
                                   text=True, timeout=scaled(300), cwd=s.tmp,
                                   env=dict(os.environ, KB_INDEX_THREADS=str(threads)))
                expect(r, 1)
                summary(r)  # the run completed (a crash may exit 1 too)
                stdout += r.stdout
                # everything but the summary's time
                stderr += re.sub(r" in \d+\.\d+ s:", " in T s:", r.stderr)
            with Served(s):
                h = health(s)
                results = []
                for q in queries:
                    resp = s.search(q, limit=20)
                    check_status(resp, 200, f"search {q}")
                    body = resp.json()
                    results.append({k: v for k, v in body.items() if k not in ("search_id", "took_ms")})
            runs[threads] = (stdout, stderr, summary(r), h["documents"], results)
        one, four = runs[1], runs[4]
        lines = problem_lines(one[1])
        kb = s.kb + os.sep
        # every kind of problem is there, in file order, f00's before those of the files after it
        check([l.split(":")[0][len(kb):] for l in lines] == (["f00.xml"] * 3 + ["f06.xml"] * 3 + ["f10.xml"]) * 2,
              f"unexpected problem lines:\n{one[1]}")
        check("bad-date" in lines[0] and "t03-010" in lines[3] and "no title" in lines[4],
              f"problems out of order:\n{one[1]}")
        check(one[1].splitlines() == four[1].splitlines(),
              f"stderr differs:\n--- 1 thread:\n{one[1]}\n--- 4 threads:\n{four[1]}")
        check(one[0] == four[0] == "", f"stdout: {one[0]!r} / {four[0]!r}")
        # f00, the 12 valid files, f06 without its two refused documents (f10 is half a file: its
        # documents before the cut are not indexed either)
        want = 300 + 12 * 25 + 25
        check(one[2] == four[2] and one[2]["replaced"] + one[2]["unchanged"] == want and one[2]["total"] == want,
              f"summaries of --rebuild: {one[2]} / {four[2]}")
        check(SUMMARY.search(one[1]).group(1) == str(want), f"first run: {one[1]}")
        check(one[3] == four[3] == want, f"documents: {one[3]} / {four[3]}")
        for q, a, b in zip(queries, one[4], four[4]):
            check(a["hits"], f"no hit for {q!r}")
            check(a == b, f"results for {q!r} differ:\n{a}\n{b}")
        # a setting out of range is refused before anything is touched
        shutil.rmtree(s.index_dir)
        for bad in ("0", "65", "two"):
            r = subprocess.run([INDEXER, "--index", s.index_dir, s.kb], capture_output=True, text=True,
                               timeout=scaled(30), env=dict(os.environ, KB_INDEX_THREADS=bad))
            expect(r, 2, "KB_INDEX_THREADS must be a number from 1 to 64")
            check(not os.path.exists(s.index_dir), f"KB_INDEX_THREADS={bad} created the index")


# ---------------------------------------------------------------- hostile and large input
@test
def billion_laughs_fails_fast():
    lol = ['<?xml version="1.0"?>', '<!DOCTYPE documents [', '  <!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = "lol" if i == 1 else f"lol{i - 1}"
        lol.append(f'  <!ENTITY lol{i} "{("&" + prev + ";") * 10}">')
    lol += [']>', '<documents><document id="lol"><title>&lol9;</title><body><p>&lol9;</p></body>'
                  '</document></documents>']
    # the same with an external entity reading a local file
    xxe = ('<?xml version="1.0"?>\n<!DOCTYPE document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
           '<document id="xxe"><title>&x;</title><body><p>&x;</p></body></document>\n')
    with Service({"lol.xml": "\n".join(lol) + "\n", "xxe.xml": xxe, "ok.xml": documents_file(ROAM)},
                 start=False) as s:
        t = time.time()
        r = indexer(s, s.kb, timeout=30)
        took = time.time() - t
        expect(r, 1)
        # Under valgrind the start-up alone (ICU, OpenCC, libxml2, Xapian under memcheck) takes
        # 5-30 s on a busy machine; an expansion of the entities would still take hours.
        check(took < (60 if VALGRIND else 2), f"took {took:.1f} s")
        for name in ("lol.xml", "xxe.xml"):
            lines = [l for l in problem_lines(r.stderr) if l.startswith(os.path.join(s.kb, name) + ":")]
            check(lines, f"no problem reported for {name}:\n{r.stderr}")
            check(any(w in lines[0] for w in ("DOCTYPE", "entit", "DTD")),
                  f"{name}: the message does not say what is wrong: {lines[0]}")
        check(summary(r)["total"] == 1, r.stderr)
        with Served(s):
            check(doc_status(s, "lol") == 404 and doc_status(s, "xxe") == 404, "hostile document indexed")
            check(top_hit(s, "国际漫游开通") == "roam-001", "the valid file was not indexed")


@test
def large_single_file_is_indexed_in_bounded_memory():
    path = big_kb("large")
    size = os.path.getsize(path)
    check(28e6 < size < 45e6, f"generated {size} bytes")
    with Service({}, start=False) as s:
        err_path = os.path.join(s.tmp, "indexer.err")
        with open(err_path, "w") as err:
            t = time.time()
            p = subprocess.Popen([INDEXER, "--index", s.index_dir, path], stderr=err)
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            took = time.time() - t
        with open(err_path) as f:
            stderr = f.read()
        check(p.returncode == 0, f"exit {p.returncode}: {stderr[-2000:]}")
        m = SUMMARY.search(stderr)
        check(m and int(m.group(1)) == 20000 and int(m.group(5)) == 20000, stderr[-2000:])
        rss_mb = usage.ru_maxrss / 1024
        print(f"    ({size / 1e6:.0f} MB, 20000 documents in {took:.1f} s, "
              f"{20000 / took:.0f} documents/s, peak RSS {rss_mb:.0f} MB)")
        # Under AddressSanitizer RSS is the sanitizer's (shadow memory, quarantine): the bound is
        # checked by the normal build. The same under valgrind (its own tables and red zones).
        if not os.environ.get("KB_SANITIZED") and not VALGRIND:
            check(rss_mb < 500, f"peak RSS {rss_mb:.0f} MB")
        with Served(s):
            check(health(s)["documents"] == 20000, health(s))
            check_status(s.search("宽带故障报修"), 200, "search")
            check(doc_status(s, "big-19999") == 200, "the last document")


# ---------------------------------------------------------------- progress line
def run_on_pty(args):
    """Run kb-indexer with stderr on a terminal; returns (exit status, what it wrote)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([INDEXER] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=slave)
    finally:
        os.close(slave)
    out = b""
    deadline = time.time() + scaled(120)
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
        p.wait()
    return p.returncode, out.decode("utf-8", "replace")


@test
def progress_line_only_on_a_terminal():
    with Service({"a.xml": documents_file(ROAM, BROADBAND)}, start=False) as s:
        shutil.copy(big_kb("small"), os.path.join(s.kb, "gen.xml"))
        r = indexer(s, s.kb)  # stderr is a pipe
        expect(r, 0)
        check("\r" not in r.stderr and "\033[" not in r.stderr, f"progress on a pipe: {r.stderr[:300]!r}")
        check(len(r.stderr.splitlines()) == 1, f"more than the summary: {r.stderr[:500]!r}")
        status, out = run_on_pty(["--index", os.path.join(s.tmp, "index2"), s.kb])
        check(status == 0, f"exit {status}: {out[-500:]!r}")
        check("\r" in out and "indexing:" in out and "documents/s" in out, f"no progress line: {out[-500:]!r}")
        check(out.count("indexing:") >= 2 or "20002 documents, file 2 of 2" in out,
              f"the progress line is not updated: {out[-500:]!r}")
        check(SUMMARY.search(out), f"no summary on the terminal: {out[-500:]!r}")
        status, out = run_on_pty(["--quiet", "--index", os.path.join(s.tmp, "index3"),
                                  os.path.join(s.kb, "a.xml")])
        check(status == 0 and out == "", f"--quiet on a terminal: {status} {out[-300:]!r}")


if __name__ == "__main__":
    run_tests(cleanups=[lambda: _big.get("dir") and shutil.rmtree(_big["dir"], ignore_errors=True)])
