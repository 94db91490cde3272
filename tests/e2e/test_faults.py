#!/usr/bin/env python3
"""test_faults.py — kb-searchd and kb-indexer when the machine misbehaves (docs/OPERATIONS.md,
"Crashes" and "Faults").

- kill -9 of kb-searchd under write load: every feedback and help request it acknowledged is in
  the event store afterwards, the store passes integrity_check, the service starts again.
- kill -9 of kb-indexer while kb-searchd serves: the running daemon keeps the previous index and
  picks up the next good run without a restart (test_indexer.py covers the index files and a
  fresh daemon).
- A full disk under the event store (a 2 MiB tmpfs): searches go on, refused writes are 500 with
  SQLite's reason in the log and in /healthz and /metrics, no acknowledged event is lost, and
  writes work again once there is room, without a restart.
- A broken or unreadable index: the running daemon keeps serving what it has open and says why
  it cannot refresh, then picks the index up again once it is back; at start-up it refuses with
  exit status 1 and a clear message. Tests run as root, whom permissions do not stop, so the
  daemon runs as "nobody" (setpriv) for the unreadable case.
"""
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import harness
from harness import (Service, check, check_status, doc_xml, documents_file, free_port, health,
                     kill9_indexer_mid_run, run_tests, scaled, test, top_hit, wait_until)

ROAM = doc_xml("roam-001", "国际漫游开通办理", categories=["业务办理/漫游"],
               paragraphs=["客户出国前需开通国际漫游功能，号码须已实名登记且无欠费。"])
BROADBAND = doc_xml("bb-001", "宽带故障报修流程", categories=["故障处理/宽带"],
                    paragraphs=["宽带无法上网时，先检查光猫指示灯是否正常，再重启路由器。"])
CARD = doc_xml("card-001", "信用卡挂失补办", paragraphs=["信用卡丢失后请立即致电挂失，补办新卡需携带身份证。"])
KB_FILES = {"kb.xml": documents_file(ROAM, BROADBAND)}


def store_rows(s):
    """(help request ids, {(search_id, kind)} of feedback) in the event store, read-only."""
    db = os.path.join(s.data, "events.sqlite3")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        check(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check failed")
        helps = {r[0] for r in con.execute("SELECT id FROM help_requests")}
        feedback = {(r[0], r[1]) for r in con.execute("SELECT search_id, kind FROM feedback")}
        return helps, feedback
    finally:
        con.close()


def metric(s, name):
    text = s.request("GET", "/metrics").body.decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


# ---------------------------------------------------------------- kill -9 under write load
@test
def kill9_under_write_load_keeps_every_acknowledged_event():
    rounds = 3
    with Service(KB_FILES) as s:
        acked_help, acked_feedback, errors = set(), set(), []
        lock = threading.Lock()
        counts = {"search": 0, "feedback": 0, "help": 0}

        def writer(n, killed):
            i = 0
            while True:
                i += 1
                try:
                    r = s.search(random.choice(["国际漫游", "宽带故障", "恐龙化石"]) + str(i))
                    if r.status != 200:
                        errors.append(("search", r.status))
                        continue
                    sid = r.json()["search_id"]
                    with lock:
                        counts["search"] += 1
                    kind = random.choice(["click", "helpful", "not_found"])
                    body = {"search_id": sid, "kind": kind}
                    if kind != "not_found":
                        body["doc_id"] = "roam-001"
                    r = s.call("POST", "/api/feedback", body=body, timeout=10)
                    if r.status == 201:
                        with lock:
                            acked_feedback.add((sid, kind))
                            counts["feedback"] += 1
                    elif r.status != 404:  # 404: its search was not committed yet (allowed)
                        errors.append(("feedback", r.status, r.body[:100]))
                    # the support desk (lead) files for agent-{n}; an agent's token only for itself
                    r = s.call("POST", "/api/help-requests", role="lead", timeout=10,
                               body={"agent": f"agent-{n}", "question": f"客户问题{n}-{i} 国际漫游怎么收费"})
                    if r.status == 201:
                        with lock:
                            acked_help.add(r.json()["id"])
                            counts["help"] += 1
                    else:
                        errors.append(("help", r.status, r.body[:100]))
                except (OSError, ValueError, KeyError):
                    # the daemon died mid-request: that request was not acknowledged
                    if not killed.is_set():
                        raise
                    return

        for rnd in range(rounds):
            if rnd:
                s.start()  # on the same --data
            killed = threading.Event()
            target = counts["help"] + 150
            threads = [threading.Thread(target=writer, args=(n, killed), daemon=True) for n in range(6)]
            for t in threads:
                t.start()
            wait_until(lambda: counts["help"] >= target or any(not t.is_alive() for t in threads), 60,
                       "write load")
            check(all(t.is_alive() for t in threads), f"round {rnd}: a writer thread stopped before the kill")
            killed.set()
            s.proc.send_signal(signal.SIGKILL)  # mid-stream: writers have requests in flight
            s.proc.wait()
            for t in threads:
                t.join(scaled(15))
            s.kill9()  # closes the log
            check(not errors, f"round {rnd}: errors before the kill: {errors[:5]}")
            helps, feedback = store_rows(s)
            lost_help = acked_help - helps
            lost_feedback = acked_feedback - feedback
            check(not lost_help, f"round {rnd}: {len(lost_help)} acknowledged help requests lost: "
                  f"{sorted(lost_help)[:10]}")
            check(not lost_feedback, f"round {rnd}: {len(lost_feedback)} acknowledged feedback lost: "
                  f"{sorted(lost_feedback)[:5]}")
        print(f"    ({rounds} kill -9 under load; acknowledged: {len(acked_help)} help requests, "
              f"{len(acked_feedback)} feedback ({counts['search']} searches); in the store: {len(helps)} and "
              f"{len(feedback)})")
        # the service comes back on the same --data, with everything, and ids are not reused
        s.start()
        check_status(s.search("国际漫游"), 200, "search after restart")
        r = s.call("POST", "/api/help-requests", body={"question": "重启后的求助"})
        check_status(r, 201, "help request after restart")
        check(r.json()["id"] > max(helps), f"id {r.json()['id']} reused (max before {max(helps)})")
        check(s.stop() == 0, "exit status after restart")
        helps2, feedback2 = store_rows(s)
        check(acked_help <= helps2 and acked_feedback <= feedback2, "events lost after the restart")


# ---------------------------------------------------------------- kill -9 of the indexer
def big_kb(path, n=2500, seed=7):
    """n documents of ~2 KB of Han text in one file: a run long enough to kill mid-way."""
    rnd = random.Random(seed)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    docs = [doc_xml(f"big-{i:05d}", "".join(rnd.choices(han, k=8)),
                    paragraphs=["".join(rnd.choices(han, k=150)) for _ in range(5)]) for i in range(n)]
    with open(path, "w", encoding="utf-8") as f:
        f.write(documents_file(*docs))


@test
def kill9_of_the_indexer_while_serving_then_the_next_run_is_picked_up():
    with Service(KB_FILES) as s:
        rev0 = health(s)["index_revision"]
        big = os.path.join(s.tmp, "big")
        os.makedirs(big)
        big_kb(os.path.join(big, "big.xml"))
        kill9_indexer_mid_run(s, big, "国际漫游开通", "roam-001")
        h = health(s)
        check(h["index_revision"] == rev0 and h["documents"] == 2, f"after kill -9: {h}")
        check(top_hit(s, "宽带故障报修") == "bb-001", "search after the kill")
        check(s.call("GET", "/api/documents/big-00001").status == 404, "a document of the killed run is served")
        # the next run (no stale lock left behind) is published and the same daemon serves it
        s.write_kb_file("card.xml", documents_file(CARD))
        r = s.run_indexer(check=False)
        check(r.returncode == 0, f"the run after kill -9 exited {r.returncode}: {r.stderr[-500:]}")
        wait_until(lambda: health(s)["index_revision"] > rev0, 5, "the next run seen by the running daemon")
        check(health(s)["documents"] == 3, health(s))
        check(top_hit(s, "信用卡挂失补办") == "card-001", "the new document is not found")
        check(s.proc.poll() is None, "the daemon died")
        check("index reloaded" in s.log_text(), "no reload line in the log")


# ---------------------------------------------------------------- a full disk
class SmallDisk:
    """A tmpfs of `size` mounted on path for the duration of a with-block."""

    def __init__(self, path, size="2m"):
        self.path, self.size = path, size

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0700", "tmpfs", self.path],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"cannot mount a tmpfs for the full-disk test (run as root): {r.stderr}")
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.path], capture_output=True)


def fill(path):
    """Fill the file system holding path; returns the filler file."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    return filler


@test
def full_disk_for_the_event_store():
    with Service(KB_FILES, start=False) as s:
        s.run_indexer()
        with SmallDisk(s.data):
            s.start()
            acked = set()

            def file_help(i, answer_kb=8):
                r = s.call("POST", "/api/help-requests", role="lead", body={
                    "agent": "a-disk", "question": f"磁盘写满时的求助{i}", "answer": "答" * (answer_kb * 340)})
                if r.status == 201:
                    acked.add(r.json()["id"])
                return r

            for i in range(5):
                check_status(file_help(i), 201, "before the disk is full")
            filler = fill(s.data)
            # SQLite may still reuse WAL space it has: write until a request is refused
            refused = None
            for i in range(5, 400):
                r = file_help(i)
                if r.status != 201:
                    refused, refused_at = r, i
                    break
            check(refused is not None, "every write succeeded on a full disk")
            check(refused.status == 500 and "try again" in refused.json()["error"], f"refused write: {refused!r}")
            # searches go on, and say nothing is wrong with them
            for q in ("国际漫游", "宽带", "恐龙"):
                check_status(s.search(q), 200, f"search {q} on a full disk")
            check_status(s.call("GET", "/api/documents/roam-001"), 200, "document on a full disk")
            # feedback is refused the same way, with a 500 and not a lost acknowledgement
            sid = s.search("国际漫游").json()["search_id"]
            r = s.call("POST", "/api/feedback", body={"search_id": sid, "kind": "not_found"})
            check(r.status in (404, 500), f"feedback on a full disk: {r!r}")
            # the log says what happened; /metrics and /healthz show it
            log = s.log_text()
            check("full" in log and "events.sqlite3" in log, f"the log does not say the disk is full:\n{log[-1500:]}")
            check(metric(s, "kb_store_write_errors_total") >= 1, "kb_store_write_errors_total")
            h = health(s)
            store_error = h.get("store_error")
            check(h.get("store") == "failing" and "full" in h.get("store_error", ""),
                  f"/healthz does not show the store problem: {h}")
            # room again: writes work without a restart
            os.unlink(filler)
            r = None
            for i in range(1000, 1003):  # the first batch after the failure may still be the failing one's
                r = file_help(i)
                if r.status == 201:
                    break
            check_status(r, 201, "help request once there is room again")
            for i in range(1003, 1010):
                check_status(file_help(i), 201, "more help requests once there is room")
            check(health(s).get("store") == "ok", f"/healthz after recovery: {health(s)}")
            check("writes work again" in s.log_text(), "the log does not say the store recovered")
            check(s.stop() == 0, "exit status")
            helps, _ = store_rows(s)
            check(acked <= helps, f"acknowledged help requests lost: {sorted(acked - helps)}")
            print(f"    (help request {refused_at} refused: {refused.json()['error']}; /healthz: {store_error}; "
                  f"{len(acked)} acknowledged, all kept)")


# ---------------------------------------------------------------- a broken or unreadable index
class NobodyService(Service):
    """kb-searchd run as the unprivileged user nobody, so that file permissions apply."""

    def __init__(self, files, **kw):
        super().__init__(files, start=False, **kw)
        os.chmod(self.tmp, 0o755)
        shutil.chown(self.tokens_path, "nobody")
        os.makedirs(self.data)
        shutil.chown(self.data, "nobody")

    def command(self):
        cmd = super().command()
        if harness.VALGRIND:
            # valgrind's wrapper scripts live in root's private temporary folder: these tests are
            # about permissions, not memory, so nobody runs the real binary
            cmd[0] = os.path.join(harness.REAL_BIN, "kb-searchd")
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd


def chmod_tree(path, dirs, files):
    for root, ds, fs in os.walk(path):
        os.chmod(root, dirs)
        for f in fs:
            os.chmod(os.path.join(root, f), files)


@test
def index_broken_while_serving_then_back():
    with Service(KB_FILES) as s:
        rev0 = health(s)["index_revision"]
        aside = s.index_dir + ".aside"
        # replaced by a directory that is no index
        os.rename(s.index_dir, aside)
        os.makedirs(s.index_dir)
        with open(os.path.join(s.index_dir, "README"), "w") as f:
            f.write("not an index\n")
        time.sleep(2.5)
        for _ in range(4):  # every worker thread
            check(top_hit(s, "国际漫游开通") == "roam-001", "the open index is no longer served")
        check(health(s)["index_revision"] == rev0, health(s))
        log = s.log_text()
        check("cannot refresh" in log and s.index_dir in log, f"no clear error in the log:\n{log[-1500:]}")
        check(log.count("cannot refresh") <= 3, "the error is repeated every second")
        # back again, then a new run is picked up
        shutil.rmtree(s.index_dir)
        os.rename(aside, s.index_dir)
        wait_until(lambda: "readable again" in s.log_text(), 5, "the index is back")
        s.write_kb_file("card.xml", documents_file(CARD))
        s.run_indexer()
        wait_until(lambda: health(s)["index_revision"] > rev0, 5, "the next run")
        check(top_hit(s, "信用卡挂失补办") == "card-001", "new document after the index came back")
        check(s.proc.poll() is None, "the daemon died")


@test
def index_unreadable_while_serving_then_back():
    with NobodyService(KB_FILES) as s:
        s.run_indexer()
        chmod_tree(s.index_dir, 0o755, 0o644)
        s.start()
        rev0 = health(s)["index_revision"]
        os.chmod(s.index_dir, 0o000)
        time.sleep(2.5)
        for _ in range(4):
            check(top_hit(s, "国际漫游开通") == "roam-001", "the open index is no longer served")
        log = s.log_text()
        check("cannot refresh" in log and "Permission denied" in log or "permission" in log.lower(),
              f"the log does not say the index is unreadable:\n{log[-1500:]}")
        os.chmod(s.index_dir, 0o755)
        wait_until(lambda: "readable again" in s.log_text(), 5, "readable again")
        s.write_kb_file("card.xml", documents_file(CARD))
        s.run_indexer()
        chmod_tree(s.index_dir, 0o755, 0o644)
        wait_until(lambda: health(s)["index_revision"] > rev0, 5, "the next run")
        check(top_hit(s, "信用卡挂失补办") == "card-001", "new document")
        check(s.stop() == 0, "exit status")


@test
def unreadable_or_broken_index_at_startup_is_exit_1():
    with NobodyService(KB_FILES) as s:
        s.run_indexer()
        chmod_tree(s.index_dir, 0o755, 0o644)
        s.port = free_port()

        def run():
            cmd = s.command()
            cmd[cmd.index("--listen") + 1] = f"127.0.0.1:{free_port()}"
            return subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(30))

        os.chmod(s.index_dir, 0o000)
        r = run()
        check(r.returncode == 1, f"unreadable index: exit {r.returncode}: {r.stderr}")
        check(s.index_dir in r.stderr and "permission denied" in r.stderr and "kb-indexer --index" not in r.stderr,
              f"unclear message: {r.stderr}")
        os.chmod(s.index_dir, 0o755)
        # truncated version file
        with open(os.path.join(s.index_dir, "iamglass"), "r+b") as f:
            f.truncate(10)
        r = run()
        check(r.returncode == 1 and s.index_dir in r.stderr and "kb-indexer" in r.stderr,
              f"truncated iamglass: exit {r.returncode}: {r.stderr}")
        # a directory that is no index at all
        empty = os.path.join(s.tmp, "empty")
        os.makedirs(empty)
        cmd = s.command()
        cmd[cmd.index("--index") + 1] = empty
        cmd[cmd.index("--listen") + 1] = f"127.0.0.1:{free_port()}"
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(30))
        check(r.returncode == 1 and empty in r.stderr and "kb-indexer" in r.stderr,
              f"empty directory: exit {r.returncode}: {r.stderr}")


@test
def unreadable_document_table_is_an_error_not_an_empty_answer():
    # Xapian opens the document-data table lazily and takes an unreadable file for an absent one:
    # the daemon starts, and must then say that it cannot read documents rather than send an
    # empty 200.
    # A document id that looks like a phone number: the error line names the document, and no
    # log line may hold what has the shape of a customer's number (issue 15, item 9).
    phone_id = doc_xml("13812345678", "号码类文档", paragraphs=["编号像手机号的文档。"])
    with NobodyService(dict(KB_FILES, **{"phone.xml": documents_file(phone_id)})) as s:
        s.run_indexer()
        chmod_tree(s.index_dir, 0o755, 0o644)
        os.chmod(os.path.join(s.index_dir, "docdata.glass"), 0o000)
        s.start()
        r = s.call("GET", "/api/documents/roam-001")
        check(r.status == 500 and "error" in r.json(), f"document with its table unreadable: {r!r}")
        check("docdata.glass" in s.log_text(), f"the log does not say what is wrong:\n{s.log_text()[-1000:]}")
        check_status(s.call("GET", "/api/documents/13812345678"), 500, "phone-like id, table unreadable")
        wait_until(lambda: "cannot read document [手机号]" in s.log_text(), 5, "the redacted error line")
        check("13812345678" not in s.log_text(), f"the id is in the log:\n{s.log_text()[-1000:]}")
        # A search that matches documents it cannot show is an error too, not "no hits".
        r = s.search("国际漫游")
        check(r.status == 500 and "error" in r.json(), f"search with the table unreadable: {r!r}")
        check("no readable stored data" in s.log_text(), f"search failure not logged:\n{s.log_text()[-1000:]}")
        check_status(s.request("GET", "/healthz"), 200, "healthz")
        os.chmod(os.path.join(s.index_dir, "docdata.glass"), 0o644)
        check(s.stop() == 0, "exit status")


if __name__ == "__main__":
    run_tests()
