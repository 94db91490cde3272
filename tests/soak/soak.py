#!/usr/bin/env python3
"""soak.py — a bounded, compressed soak test of kb-searchd (make soak; Python 3 stdlib only).

An hour of a call centre's traffic compressed into SOAK_SECONDS (default 600): it builds a
knowledge base (docs/sample-kb plus SOAK_DOCS generated documents, default 3000: written by
../shared/eval/kbgen (or SOAK_KBGEN) when that tool is present, else generated here from the
sample KB's own sentences), indexes it with $BIN/kb-indexer, starts $BIN/kb-searchd, and runs at the same time:

- SOAK_CLIENTS (default 4) agents searching real questions (tests/data/sample-queries.tsv, plus
  kbgen's queries.txt), giving feedback on about a third of the searches (click, helpful,
  not_found), typing-ahead suggestions, and opening documents;
- an agent filing help requests (every acknowledged id is remembered);
- an editor reading the gap queue, items and content health and moving items through their life
  cycle, and a lead reading and reviewing help requests and the help-request reports;
- a re-index every SOAK_REINDEX seconds (default 20), cycling through changed documents,
  `--sync` with a file removed (and later restored) and `--rebuild`, each followed by a
  `kb-report` run on the live event store; each must be seen by the daemon (index_revision).

Every SOAK_SAMPLE seconds (default 2) it samples the daemon's VmRSS and open file descriptors
from /proc. At the end it asserts:

- zero failed requests: every answer has the status the API documents for it (a document of a
  hit may have been removed by the re-index in between: 404 is expected there only), and no
  connection fails;
- the daemon is still healthy (/healthz 200, never exited) and exits 0 on SIGTERM;
- memory is flat. The run is cut into thirds: the first is warm-up (caches fill, the Xapian
  databases are reopened after re-indexes, the allocator's per-thread arenas and the SQLite
  page cache reach their working size); the RSS "after warm-up" is the median of the middle
  third. A leak grows with the work done, so it shows as the last third sitting higher than the
  middle one: the median of the last third must be at most 10 % (+2 MiB) above the middle
  third's, and its maximum at most 25 % (+4 MiB) above it. The median ignores the short peaks
  of a rebuild, the maximum bound catches a leak that only shows at those peaks. The slope of
  a straight line through the post-warm-up samples is printed as well (MiB per hour);
- the fd count is flat: the maximum of the last third at most 3 above the maximum of the middle
  third (an fd leaked per re-index or per connection adds one every few seconds);
- every help request the daemon acknowledged (201) is in the store (read back through the API).

It prints a summary table (requests by kind, errors, RSS and fds, re-indexes) and, last,
"PASS soak" or "FAIL soak"; the exit status is 0 or 1.

  SOAK_SECONDS=600 BIN=bin python3 tests/soak/soak.py
"""
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BIN", "bin")
if not os.path.isabs(BIN):
    BIN = os.path.join(ROOT, BIN)
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
DOCS = int(os.environ.get("SOAK_DOCS", "3000"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "4"))
REINDEX_EVERY = float(os.environ.get("SOAK_REINDEX", "20"))
SAMPLE_EVERY = float(os.environ.get("SOAK_SAMPLE", "2"))
# A pause between one agent's requests, so that the soak leaves some CPU to the machine.
THINK = float(os.environ.get("SOAK_THINK", "0.005"))
KBGEN = os.environ.get("SOAK_KBGEN", os.path.join(ROOT, "..", "shared", "eval", "kbgen"))
AGENTS = [("a-zhang", "张伟", "一组"), ("a-li", "李娜", "一组"), ("a-wang", "王强", "二组"),
          ("a-zhao", "赵敏", "二组"), ("a-chen", "陈静", "三组")]


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- the knowledge base
def generate_from_sample(out_dir, count, rnd):
    """Documents recombined from the sample KB's own titles and paragraphs (when kbgen is absent)."""
    titles, paras = [], []
    for name in sorted(os.listdir(os.path.join(ROOT, "docs", "sample-kb"))):
        if not name.endswith(".xml"):
            continue
        root = ET.parse(os.path.join(ROOT, "docs", "sample-kb", name)).getroot()
        titles += [t.text for t in root.iter("title") if t.text]
        paras += ["".join(p.itertext()) for p in root.iter("p")]
    per_file = 100
    for start in range(0, count, per_file):
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<documents>\n']
        for i in range(start, min(start + per_file, count)):
            sections = "".join(
                f'<section id="s{s}" title={quoteattr(rnd.choice(titles))}>' +
                "".join(f"<p>{escape(rnd.choice(paras))}</p>" for _ in range(rnd.randint(1, 3))) +
                "</section>" for s in range(rnd.randint(2, 5)))
            parts.append(f'<document id="gen-{i:07d}"><title>{escape(rnd.choice(titles))}（{i}）</title>'
                         f"<body>{sections}</body></document>\n")
        parts.append("</documents>\n")
        with open(os.path.join(out_dir, f"gen-{start // per_file:05d}.xml"), "w", encoding="utf-8") as f:
            f.write("".join(parts))


def build_kb(tmp):
    kb = os.path.join(tmp, "kb")
    shutil.copytree(os.path.join(ROOT, "docs", "sample-kb"), kb,
                    ignore=lambda d, names: [n for n in names if not n.endswith(".xml")])
    gen = os.path.join(kb, "gen")
    os.makedirs(gen)
    queries = []
    with open(os.path.join(ROOT, "tests", "data", "sample-queries.tsv"), encoding="utf-8") as f:
        for line in f:
            q = line.split("\t")[0].strip()
            if q and not q.startswith("#"):
                queries.append(q)
    source = "generated from the sample KB"
    if DOCS > 0 and os.access(KBGEN, os.X_OK):
        out = os.path.join(tmp, "kbgen")
        r = subprocess.run([KBGEN, "--docs", str(DOCS), "--per-file", "100", "--out", out],
                           capture_output=True, text=True)
        if r.returncode == 0:
            for name in os.listdir(os.path.join(out, "kb")):
                shutil.move(os.path.join(out, "kb", name), gen)
            with open(os.path.join(out, "queries.txt"), encoding="utf-8") as f:
                queries += [q.strip() for q in f.read().splitlines()[:2000] if q.strip()]
            source = "from ../shared/eval/kbgen"
        else:
            log(f"kbgen failed ({r.stderr.strip()[-300:]}); generating from the sample KB instead")
    if DOCS > 0 and not os.listdir(gen):
        generate_from_sample(gen, DOCS, random.Random(1))
    return kb, queries, source


# ---------------------------------------------------------------- HTTP and bookkeeping
class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = {}
        self.errors = {}
        self.latency = {}
        self.examples = []

    def record(self, kind, ok, seconds, detail=""):
        with self.lock:
            self.count[kind] = self.count.get(kind, 0) + 1
            self.latency.setdefault(kind, []).append(seconds)
            if not ok:
                self.errors[kind] = self.errors.get(kind, 0) + 1
                if len(self.examples) < 20:
                    self.examples.append(f"{kind}: {detail}")


class Client:
    """HTTP on a fresh connection per request, as the web pages' fetch calls mostly are."""

    def __init__(self, port, stats):
        self.port = port
        self.stats = stats

    def call(self, kind, method, path, token=None, body=None, expect=(200,)):
        h = {}
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h["Content-Type"] = "application/json"
        t = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            raw = r.read()
            status = r.status
        except (OSError, http.client.HTTPException) as e:
            self.stats.record(kind, False, time.monotonic() - t, f"{method} {path[:80]}: {e!r}")
            return None, None
        finally:
            conn.close()
        ok = status in expect
        self.stats.record(kind, ok, time.monotonic() - t,
                          f"{method} {path[:80]}: HTTP {status} {raw[:200]!r}")
        try:
            return status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw
        except ValueError:
            return status, raw


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params, doseq=True)


# ---------------------------------------------------------------- the load
def agent_loop(client, tokens, queries, stop, rnd):
    while not stop.is_set():
        question = rnd.choice(queries)
        if rnd.random() < 0.3:  # typing ahead: a few prefixes first
            for n in range(2, min(len(question), 6), 2):
                client.call("suggest", "GET", q("/api/suggest", q=question[:n]), tokens["agent"])
        status, body = client.call("search", "GET", q("/api/search", q=question, limit=10), tokens["agent"])
        if status == 200 and isinstance(body, dict):
            hits = body.get("hits") or []
            r = rnd.random()
            # The document may have been removed by a --sync or --rebuild in between: feedback
            # naming it is then 400 (a doc_id must name a document of the index) and opening it 404.
            if hits and r < 0.15:
                client.call("feedback", "POST", "/api/feedback", tokens["agent"],
                            {"search_id": body["search_id"], "kind": "click", "doc_id": hits[0]["id"]},
                            expect=(201, 400))
                client.call("document", "GET", "/api/documents/" + urllib.parse.quote(hits[0]["id"]),
                            tokens["agent"], expect=(200, 404))
            elif hits and r < 0.25:
                client.call("feedback", "POST", "/api/feedback", tokens["agent"],
                            {"search_id": body["search_id"], "kind": "helpful", "doc_id": hits[0]["id"]},
                            expect=(201, 400))
            elif r < 0.33:
                client.call("feedback", "POST", "/api/feedback", tokens["agent"],
                            {"search_id": body["search_id"], "kind": "not_found"}, expect=(201,))
        stop.wait(THINK)


def help_loop(client, tokens, queries, stop, rnd, acknowledged):
    n = 0
    while not stop.is_set():
        n += 1
        agent = rnd.choice(AGENTS)[0]
        body = {"agent": agent, "question": rnd.choice(queries)}
        if n % 3 == 0:
            body["answer"] = f"已电话回复客户（第{n}次求助）"
        # the support desk files for the agents of the agents list (an agent's token only for itself)
        status, answer = client.call("help_request", "POST", "/api/help-requests", tokens["lead"], body,
                                     expect=(201,))
        if status == 201 and isinstance(answer, dict):
            acknowledged.append((answer["id"], body["question"]))
        stop.wait(0.3)


# Transitions the API documents: open -> in_progress -> dismissed -> open (re-opened).
NEXT_STATUS = {"open": "in_progress", "in_progress": "dismissed", "dismissed": "open"}


def editor_loop(client, tokens, stop, rnd):
    while not stop.is_set():
        status, body = client.call("gaps", "GET", q("/api/gaps", sort=rnd.choice(["impact", "recent", "count"]),
                                                    limit=50), tokens["editor"])
        items = body.get("items", []) if status == 200 and isinstance(body, dict) else []
        if items:
            item = rnd.choice(items)
            client.call("gap_item", "GET", f"/api/gaps/{item['id']}", tokens["editor"])
            if rnd.random() < 0.3 and item["status"] in NEXT_STATUS:
                client.call("gap_update", "PUT", f"/api/gaps/{item['id']}", tokens["editor"],
                            {"status": NEXT_STATUS[item["status"]], "note": "浸泡测试"})
        if rnd.random() < 0.2:
            client.call("content_health", "GET", q("/api/content-health", days=7), tokens["editor"])
        stop.wait(0.5)


def lead_loop(client, tokens, stop, rnd):
    month = time.strftime("%Y-%m", time.gmtime())
    while not stop.is_set():
        status, body = client.call("help_list", "GET", q("/api/help-requests", limit=20), tokens["lead"])
        items = body.get("items", []) if status == 200 and isinstance(body, dict) else []
        if items:
            item = rnd.choice(items)
            client.call("help_item", "GET", f"/api/help-requests/{item['id']}", tokens["lead"])
            if rnd.random() < 0.3:
                client.call("help_review", "PUT", f"/api/help-requests/{item['id']}/review", tokens["lead"],
                            {"kb_answerable": rnd.random() < 0.5, "note": "组长复核"})
        if rnd.random() < 0.3:
            client.call("report", "GET", q("/api/reports/help-requests", by=rnd.choice(["agent", "team"]),
                                           month=month), tokens["lead"])
        if rnd.random() < 0.2:
            client.call("metrics", "GET", "/metrics")
        stop.wait(0.5)


# ---------------------------------------------------------------- re-indexing
class Reindexer:
    """Cycles: changed documents, --sync (a file removed or put back), --rebuild."""

    KINDS = ("changed", "sync", "rebuild")

    def __init__(self, tmp, kb, index, data, client, stats):
        self.tmp, self.kb, self.index, self.data = tmp, kb, index, data
        self.client, self.stats = client, stats
        self.n = 0
        self.stash = os.path.join(tmp, "removed")
        os.makedirs(self.stash)
        self.runs = {k: [] for k in self.KINDS}

    def revision(self):
        status, body = self.client.call("healthz", "GET", "/healthz")
        return body["index_revision"] if status == 200 and isinstance(body, dict) else None

    def gen_files(self, where):
        d = os.path.join(where, "gen") if where == self.kb else where
        return sorted(os.path.join(d, n) for n in os.listdir(d)) if os.path.isdir(d) else []

    def once(self):
        kind = self.KINDS[self.n % 3]
        self.n += 1
        args = []
        if kind == "changed":
            files = self.gen_files(self.kb) or [os.path.join(self.kb, "telecom-billing.xml")]
            path = files[self.n % len(files)]
            with open(path, encoding="utf-8") as f:
                text = f.read()
            text = re.sub(r"<title>(.*?)(（修订\d+）)?</title>", lambda m: f"<title>{m.group(1)}（修订{self.n}）</title>", text)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        elif kind == "sync":
            args = ["--sync"]
            stashed = os.listdir(self.stash)
            if stashed:  # put the removed file back
                shutil.move(os.path.join(self.stash, stashed[0]), os.path.join(self.kb, "gen", stashed[0]))
            else:
                files = self.gen_files(self.kb)
                if files:
                    shutil.move(files[-1], self.stash)
        else:
            args = ["--rebuild"]
        rev0 = self.revision()
        t = time.monotonic()
        r = subprocess.run([os.path.join(BIN, "kb-indexer"), "--quiet", "--index", self.index] + args + [self.kb],
                           capture_output=True, text=True)
        took = time.monotonic() - t
        ok = r.returncode == 0
        self.stats.record("reindex_" + kind, ok, took, f"kb-indexer {' '.join(args)} exited {r.returncode}: "
                                                       f"{r.stderr.strip()[-300:]}")
        if ok:
            deadline = time.monotonic() + 15
            while True:
                rev = self.revision()
                if rev is not None and rev0 is not None and rev > rev0:
                    break
                if time.monotonic() > deadline:
                    self.stats.record("reindex_seen", False, 15, f"revision {rev0} -> {rev} after {kind}")
                    break
                time.sleep(0.2)
        self.runs[kind].append(took)
        # kb-report reads the live event store meanwhile
        for cmd in (["gaps", "--limit", "20"], ["help-requests", "--by", "team"]):
            t = time.monotonic()
            r = subprocess.run([os.path.join(BIN, "kb-report"), "--data", self.data] + cmd,
                               capture_output=True, text=True)
            self.stats.record("kb_report", r.returncode == 0, time.monotonic() - t,
                              f"kb-report {cmd[0]} exited {r.returncode}: {r.stderr.strip()[-300:]}")


# ---------------------------------------------------------------- sampling the daemon
def sample(pid):
    """(VmRSS in KiB, open fds, threads) of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        rss = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
        threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds, threads
    except (OSError, AttributeError):
        return None


def slope_per_hour(points):
    """Least-squares slope of (t, value) points, in value units per hour."""
    if len(points) < 3:
        return 0.0
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if den == 0 else sum((t - mt) * (v - mv) for t, v in points) / den * 3600


# ---------------------------------------------------------------- main
def main():
    for name in ("kb-indexer", "kb-searchd", "kb-report"):
        if not os.access(os.path.join(BIN, name), os.X_OK):
            sys.exit(f"soak: {os.path.join(BIN, name)} is missing: build it first (make)")
    tmp = tempfile.mkdtemp(prefix="kb-soak-")
    proc = None
    problems = []
    try:
        kb, queries, source = build_kb(tmp)
        index, data = os.path.join(tmp, "index"), os.path.join(tmp, "data")
        tokens = {r: secrets.token_hex(20) for r in ("agent", "editor", "lead", "admin")}
        tokens_path = os.path.join(tmp, "tokens")
        with open(tokens_path, "w") as f:
            f.write("".join(f"{t} {r} soak-{r}\n" for r, t in tokens.items()))
        os.chmod(tokens_path, 0o600)
        agents_path = os.path.join(tmp, "agents.tsv")
        with open(agents_path, "w", encoding="utf-8") as f:
            f.write("".join("\t".join(a) + "\n" for a in AGENTS))
        t = time.monotonic()
        r = subprocess.run([os.path.join(BIN, "kb-indexer"), "--quiet", "--index", index, kb],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"soak: kb-indexer exited {r.returncode}:\n{r.stderr[-2000:]}")
        log(f"indexed {DOCS} generated documents ({source}) and docs/sample-kb in "
            f"{time.monotonic() - t:.1f} s; {len(queries)} questions")

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        daemon_log = open(os.path.join(tmp, "searchd.log"), "wb")
        proc = subprocess.Popen([os.path.join(BIN, "kb-searchd"), "--index", index, "--data", data,
                                 "--listen", f"127.0.0.1:{port}", "--tokens", tokens_path,
                                 "--agents", agents_path], stdout=daemon_log, stderr=daemon_log)
        stats = Stats()
        client = Client(port, stats)
        deadline = time.monotonic() + 120  # generous: it may run under valgrind
        while client.call("startup", "GET", "/healthz", expect=(200, ))[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit("soak: kb-searchd did not start:\n" + open(daemon_log.name, errors="replace").read()[-2000:])
            time.sleep(0.1)
        stats = Stats()  # the start-up polls are not part of the load
        client = Client(port, stats)

        stop = threading.Event()
        acknowledged = []
        threads = [threading.Thread(target=agent_loop, args=(client, tokens, queries, stop, random.Random(i)))
                   for i in range(CLIENTS)]
        threads.append(threading.Thread(target=help_loop, args=(client, tokens, queries, stop,
                                                                random.Random(100), acknowledged)))
        threads.append(threading.Thread(target=editor_loop, args=(client, tokens, stop, random.Random(101))))
        threads.append(threading.Thread(target=lead_loop, args=(client, tokens, stop, random.Random(102))))
        reindexer = Reindexer(tmp, kb, index, data, client, stats)

        def reindex_loop():
            while not stop.wait(REINDEX_EVERY):
                reindexer.once()
        threads.append(threading.Thread(target=reindex_loop))
        start = time.monotonic()
        samples = []  # (seconds since start, rss KiB, fds, threads)
        first = sample(proc.pid)
        samples.append((0.0,) + first)
        log(f"kb-searchd pid {proc.pid} on port {port}: RSS {first[0] / 1024:.1f} MiB, {first[1]} fds; "
            f"load for {SECONDS:.0f} s ({CLIENTS} agents, help requests, editor, lead, re-index every "
            f"{REINDEX_EVERY:.0f} s)")
        for th in threads:
            th.start()
        next_report = 60
        try:
            while time.monotonic() - start < SECONDS:
                time.sleep(SAMPLE_EVERY)
                now = time.monotonic() - start
                cur = sample(proc.pid)
                if cur is None or proc.poll() is not None:
                    problems.append(f"kb-searchd exited during the soak (status {proc.poll()})")
                    break
                samples.append((now,) + cur)
                if now >= next_report:
                    next_report += 60
                    with stats.lock:
                        total = sum(stats.count.values())
                        errors = sum(stats.errors.values())
                    log(f"{now:5.0f} s: {total} requests, {errors} errors, RSS {cur[0] / 1024:.1f} MiB, "
                        f"{cur[1]} fds, {cur[2]} threads, {reindexer.n} re-indexes")
        finally:
            stop.set()
            for th in threads:
                th.join()
        elapsed = time.monotonic() - start

        # ---- checks
        status, body = client.call("final_healthz", "GET", "/healthz")
        if status != 200:
            problems.append(f"/healthz at the end: {status} {body!r}")
        missing = []
        for hid, question in acknowledged:
            st, item = client.call("help_check", "GET", f"/api/help-requests/{hid}", tokens["lead"])
            if st != 200 or not isinstance(item, dict) or item.get("id") != hid:
                missing.append(hid)
        if missing:
            problems.append(f"{len(missing)} of {len(acknowledged)} acknowledged help requests are not in the "
                            f"store: {missing[:10]}")
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(60)
            if rc != 0:
                problems.append(f"kb-searchd exited {rc} on SIGTERM")
        except subprocess.TimeoutExpired:
            problems.append("kb-searchd did not exit within 60 s of SIGTERM")
        daemon_log.close()

        errors = sum(stats.errors.values())
        if errors:
            problems.append(f"{errors} failed requests or runs; first ones:\n      " + "\n      ".join(stats.examples))

        third = elapsed / 3
        middle = [x for x in samples if third <= x[0] < 2 * third]
        last = [x for x in samples if x[0] >= 2 * third]
        if len(middle) < 3 or len(last) < 3:
            problems.append(f"too few samples to judge memory ({len(samples)}): run longer")
            mid_rss = last_rss = last_max = mid_fd_max = last_fd_max = 0
        else:
            mid_rss = statistics.median(x[1] for x in middle)
            last_rss = statistics.median(x[1] for x in last)
            last_max = max(x[1] for x in last)
            mid_fd_max = max(x[2] for x in middle)
            last_fd_max = max(x[2] for x in last)
            if last_rss > mid_rss * 1.10 + 2048:
                problems.append(f"memory grows: median RSS of the last third {last_rss / 1024:.1f} MiB is more than "
                                f"10 % above the middle third's {mid_rss / 1024:.1f} MiB")
            if last_max > mid_rss * 1.25 + 4096:
                problems.append(f"memory peaks grow: the last third reached {last_max / 1024:.1f} MiB, more than "
                                f"25 % above {mid_rss / 1024:.1f} MiB")
            if last_fd_max > mid_fd_max + 3:
                problems.append(f"file descriptors grow: {last_fd_max} in the last third, {mid_fd_max} before")
        post = [(x[0], x[1] / 1024) for x in samples if x[0] >= third]

        # ---- summary
        print()
        print(f"soak: {elapsed:.0f} s, {DOCS} generated documents ({source}) + docs/sample-kb, "
              f"{CLIENTS} agents, re-index every {REINDEX_EVERY:.0f} s")
        print(f"  {'requests':<16}{'count':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
        for kind in sorted(stats.count):
            lat = sorted(stats.latency[kind])
            p50 = lat[len(lat) // 2] * 1000
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            print(f"  {kind:<16}{stats.count[kind]:>9}{stats.errors.get(kind, 0):>8}{p50:>9.1f}{p99:>9.1f}")
        total = sum(stats.count.values())
        print(f"  {'total':<16}{total:>9}{errors:>8}   ({total / elapsed:.0f} a second)")
        rss = [x[1] for x in samples]
        fds = [x[2] for x in samples]
        print(f"  RSS MiB: start {rss[0] / 1024:.1f}, after warm-up (median of the middle third) {mid_rss / 1024:.1f}, "
              f"last third median {last_rss / 1024:.1f} / max {last_max / 1024:.1f}, end {rss[-1] / 1024:.1f}, "
              f"max {max(rss) / 1024:.1f}; slope after warm-up {slope_per_hour(post):+.1f} MiB/hour "
              f"({len(samples)} samples)")
        print(f"  fds: start {fds[0]}, middle third max {mid_fd_max}, last third max {last_fd_max}, "
              f"end {fds[-1]}, max {max(fds)}; threads {samples[-1][3]}")
        print("  re-indexes: " + ", ".join(
            f"{k} {len(v)} (mean {statistics.fmean(v):.1f} s)" if v else f"{k} 0" for k, v in reindexer.runs.items()))
        print(f"  help requests acknowledged {len(acknowledged)}, found in the store {len(acknowledged) - len(missing)}")
        for p in problems:
            print("  problem: " + p)
        print("PASS soak" if not problems else "FAIL soak", flush=True)
        return 0 if not problems else 1
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.environ.get("SOAK_KEEP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
