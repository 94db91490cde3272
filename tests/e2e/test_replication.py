#!/usr/bin/env python3
"""test_replication.py — several search nodes, each keeping a replica of the index with Xapian's
own replication (docs/DEPLOY.md, "Several search nodes"), on loopback addresses of this machine.

The cluster: an indexing host (kb-indexer --changesets, writing master/kb, a symbolic link to the
current index directory) whose index xapian-replicate-server serves on 127.0.0.11; two search
nodes on 127.0.0.12 and 127.0.0.13, each with its replica kept by xapian-replicate and a
kb-searchd serving it. Searches run against both nodes all the time, and:

- an incremental kb-indexer run publishes a new revision: it reaches both nodes as a changeset
  (the replica's live copy stays the same directory) and each serves it within 10 s;
- a bulk rebuild (a new index built into a fresh directory, the link renamed over to it: a new
  database, which xapian-replicate can only send as a full copy) reaches both nodes within 10 s:
  the replica switches to its other copy, the old one is deleted, and kb-searchd follows;
- not one search fails meanwhile (every answer is 200 with the hits of the old revision or the
  new one);
- /healthz on each node reports the revision and when it was published — the time kb-indexer
  wrote into the index, so the same on every node — and ?max_age= answers 503 "stale" when the
  served revision is older than that.

Then: a node whose search threads sat idle while two full copies landed one after the other
(the stub names replica_N again, with a different database in it) serves the newest, and so
does a kb-searchd on the indexing host reading the link renamed over to each rebuild; a node
whose kb-searchd and xapian-replicate are killed with SIGKILL and restarted loses no search
behind haproxy (deploy/cluster/haproxy.cfg) and serves the revision published while it was
down; kb-indexer writes changesets only with --changesets, and refuses to write into a replica.

The catch-up times (from the end of the indexer's run, or the rename, until a node answers with
the new documents) are printed. xapian-replicate and xapian-replicate-server are Debian's
xapian-tools (tools/install-deps.sh); without them these tests fail.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (INDEXER, ROOT, Service, check, check_status, doc_xml, documents_file,  # noqa: E402
                     free_port, run_tests, scaled, test, wait_until)

REPLICATE = "/usr/bin/xapian-replicate"
REPLICATE_SERVER = "/usr/bin/xapian-replicate-server"
HAPROXY = "/usr/sbin/haproxy"
HAPROXY_CFG = os.path.join(ROOT, "deploy", "cluster", "haproxy.cfg")
FRONT_HOST = "127.0.0.10"
INDEXING_HOST = "127.0.0.11"
NODE_HOSTS = ("127.0.0.12", "127.0.0.13")
CATCH_UP_LIMIT_S = 10.0
CHANGESETS = "100"


def base_docs():
    docs = [doc_xml(f"card-{i:02d}", f"信用卡业务第{i}项", [f"信用卡 办理 说明 第{i}项 年费 额度"],
                    categories=["银行/信用卡"]) for i in range(20)]
    docs.append(doc_xml("roam-01", "国际漫游开通", ["出国 漫游 开通 流量包"]))
    return docs


class Cluster:
    """The indexing host's index and replicate server, and the search nodes with their replicas."""

    def __init__(self, n_nodes=2):
        self.tmp = tempfile.mkdtemp(prefix="kb-repl-")
        self.kb = os.path.join(self.tmp, "kb")
        self.master = os.path.join(self.tmp, "master")  # xapian-replicate-server's folder
        os.makedirs(self.kb)
        os.makedirs(self.master)
        self.builds = 0
        self.procs = []  # (name, Popen, log file) of the replicate server and clients
        self.nodes = []  # harness.Service, started on a replica
        self.fronts = []  # harness.Service standing for haproxy (not started)
        self.searchds = []  # every kb-searchd started (the nodes and any other), for cleanup
        self.replicas = []
        self.n_nodes = n_nodes

    # -- the indexing host
    def write_kb(self, docs, name="kb.xml"):
        with open(os.path.join(self.kb, name), "w", encoding="utf-8") as f:
            f.write(documents_file(*docs))

    def link(self):
        return os.path.join(self.master, "kb")

    def index(self, *args):
        """An incremental run on the served index, with changesets, as the indexer unit does."""
        r = subprocess.run([INDEXER, "--index", self.link(), "--changesets", CHANGESETS, "--sync",
                            "--quiet"] + list(args) + [self.kb],
                           capture_output=True, text=True, timeout=scaled(120))
        check(r.returncode == 0, f"kb-indexer exited {r.returncode}: {r.stderr[-2000:]}")

    def rebuild(self):
        """Bulk-build the knowledge base into a fresh directory, then rename a new link over
        master/kb: xapian-replicate-server serves the new database from the next request on."""
        self.builds += 1
        target = f"kb.{self.builds}"
        r = subprocess.run([INDEXER, "--index", os.path.join(self.master, target), "--changesets",
                            CHANGESETS, "--quiet", self.kb],
                           capture_output=True, text=True, timeout=scaled(120))
        check(r.returncode == 0, f"kb-indexer (bulk) exited {r.returncode}: {r.stderr[-2000:]}")
        tmp_link = os.path.join(self.master, "kb.link-tmp")
        os.symlink(target, tmp_link)
        old = os.path.realpath(self.link()) if os.path.islink(self.link()) else None
        os.replace(tmp_link, self.link())
        if old:
            shutil.rmtree(old, ignore_errors=True)

    def master_revision(self):
        out = subprocess.run(["xapian-delve", "-v", self.link()], capture_output=True, text=True,
                             timeout=30).stdout
        for line in out.splitlines():
            if line.startswith("revision = "):
                return int(line.split("=")[1])
        raise AssertionError(f"no revision in xapian-delve's output: {out}")

    def master_published_at(self):
        return subprocess.run(["xapian-metadata", "get", self.link(), "published_at"],
                              capture_output=True, text=True, timeout=30).stdout.strip()

    # -- processes
    def spawn(self, name, cmd):
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        # A session of its own: on SIGTERM xapian-replicate-server (Xapian's TcpServer) passes
        # the signal on to its whole process group, which would otherwise include this test.
        p = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        self.procs.append((name, p, log))
        return p

    def start(self):
        for tool in (REPLICATE, REPLICATE_SERVER):
            check(os.access(tool, os.X_OK), f"{tool} is missing: install xapian-tools "
                                            "(tools/install-deps.sh)")
        self.port = free_port(host=INDEXING_HOST)
        self.spawn("replicate-server", [REPLICATE_SERVER, "-I", INDEXING_HOST, "-p", str(self.port),
                                        self.master])
        for i in range(self.n_nodes):
            replica = os.path.join(self.tmp, f"node{i}-index")
            self.replicas.append(replica)
            # -i 1: ask the master every second; -r 1: a second between two changesets of one
            # update, so searches still reading the older revision have moved on
            self.spawn(f"replicate-{i}", [REPLICATE, "-h", INDEXING_HOST, "-p", str(self.port),
                                          "-m", "kb", "-i", "1", "-r", "1", "-t", "10", replica])
        for i, replica in enumerate(self.replicas):
            wait_until(lambda: os.path.exists(os.path.join(replica, "XAPIANDB")), 20,
                       f"the first copy of the index on node {i}")
            self.nodes.append(self.start_searchd(NODE_HOSTS[i % len(NODE_HOSTS)], replica))

    def start_searchd(self, host, index_dir):
        """A kb-searchd on index_dir, with the same tokens as every other node (tokens are
        stateless: any node answers any request)."""
        s = Service({}, start=False, listen_host=host, threads=2)
        if self.nodes:
            s.tokens = self.nodes[0].tokens
            s.write_tokens()
        s.index_dir = index_dir
        # tracked here, not only in self.nodes: a kb-searchd a test starts on the indexing host
        # is no node, and cleanup must stop it too
        self.searchds.append(s)
        s.start()
        return s

    def start_front(self):
        """haproxy with deploy/cluster/haproxy.cfg, its bind and server lines pointed at the
        nodes; returns a harness.Service that sends requests to it."""
        check(os.access(HAPROXY, os.X_OK), f"{HAPROXY} is missing: install haproxy "
                                           "(tools/install-deps.sh)")
        front = Service({}, start=False, listen_host=FRONT_HOST)
        front.tokens = self.nodes[0].tokens
        front.port = free_port(host=FRONT_HOST)
        self.fronts.append(front)
        lines, servers_done = [], False
        with open(HAPROXY_CFG) as f:
            for line in f.read().splitlines():
                word = line.split()[0] if line.split() else ""
                if word == "bind":
                    line = f"    bind {FRONT_HOST}:{front.port}"
                elif word == "stats" and line.split()[1] == "socket":
                    # the shipped file's /run/haproxy/admin.sock is the system haproxy's
                    line = f"    stats socket {os.path.join(self.tmp, 'haproxy.sock')}"
                elif word == "server":
                    if servers_done:
                        continue
                    servers_done = True
                    lines += [f"    server node{i + 1} {n.listen_host}:{n.port} check"
                              for i, n in enumerate(self.nodes)]
                    continue
                lines.append(line)
        cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.spawn("haproxy", [HAPROXY, "-db", "-f", cfg])
        wait_until(lambda: self.front_ready(front), 20, "haproxy answering with both nodes up")
        return front

    def front_ready(self, front):
        try:
            return front.request("GET", "/healthz", timeout=2).status == 200
        except OSError:
            return False

    def live_copy(self, i):
        with open(os.path.join(self.replicas[i], "XAPIANDB")) as f:
            return f.read().split()[-1]

    def log(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        for s in self.searchds + self.fronts:
            s.cleanup()
        for _, p, log in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def started_cluster(n_nodes=2):
    """A Cluster serving base_docs(), built by a bulk build, with its nodes started."""
    c = Cluster(n_nodes)
    try:
        c.write_kb(base_docs())
        c.rebuild()  # the first index: a bulk build
        c.start()
    except BaseException:
        c.cleanup()
        raise
    return c


def hit_ids(node, q):
    r = node.search(q, limit=50)
    check_status(r, 200, f"search {q!r}")
    return {h["id"] for h in r.json()["hits"]}


def healthz(node, max_age=None):
    path = "/healthz" + ("?" + urllib.parse.urlencode({"max_age": max_age}) if max_age is not None else "")
    return node.request("GET", path)


class Load:
    """Searches, one thread per target (a node, or haproxy in front of them), until stopped;
    counts the answers."""

    QUERIES = ("信用卡 年费", "漫游 开通", "额度", "出国 流量包")

    def __init__(self, nodes):
        self.nodes = nodes
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.requests = 0
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True) for n in nodes]

    def run(self, node):
        i = 0
        while not self.stop_flag.is_set():
            q = self.QUERIES[i % len(self.QUERIES)]
            i += 1
            try:
                r = node.search(q)
                ok = r.status == 200 and r.json()["hits"]
                detail = None if ok else f"{node.listen_host} {q}: {r!r}"
            except Exception as e:  # a refused or broken connection is a failure too
                detail = f"{node.listen_host} {q}: {e!r}"
            with self.lock:
                self.requests += 1
                if detail:
                    self.failures.append(detail)
            time.sleep(0.005)  # a steady load, leaving the cores to the indexer and replication

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30)


def catch_up(cluster, served, what):
    """Seconds until every node serves what served(node) accepts, measured from now."""
    t0 = time.monotonic()
    times = {}
    deadline = t0 + scaled(CATCH_UP_LIMIT_S) + 20  # measure past the limit, to report it
    while len(times) < len(cluster.nodes) and time.monotonic() < deadline:
        for i, node in enumerate(cluster.nodes):
            if i not in times and served(node):
                times[i] = time.monotonic() - t0
        time.sleep(0.05)
    for i in range(len(cluster.nodes)):
        check(i in times, f"{what}: node {NODE_HOSTS[i]} did not catch up within "
                          f"{deadline - t0:.0f} s; xapian-replicate said:\n{cluster.log(f'replicate-{i}')[-1500:]}")
    return [times[i] for i in range(len(cluster.nodes))]


@test
def new_revisions_reach_every_node_within_10_s_while_searches_run():
    c = started_cluster()
    try:
        front = c.start_front()
        for node in c.nodes + [front]:
            check(hit_ids(node, "漫游 开通") >= {"roam-01"}, "the first copy serves the documents")
        copies_before = [c.live_copy(i) for i in range(len(c.nodes))]
        figures = []
        with Load(c.nodes + [front, front]) as load:
            time.sleep(1)
            # an incremental run: one document added, one changed
            docs = base_docs() + [doc_xml("visa-01", "签证办理须知", ["签证 护照 办理 材料 鸳鸯锅"])]
            c.write_kb(docs)
            c.index()
            rev = c.master_revision()
            inc = catch_up(c, lambda n: "visa-01" in hit_ids(n, "鸳鸯锅"), "incremental revision")
            for i, node in enumerate(c.nodes):
                h = healthz(node).json()
                check(h["index_revision"] == rev, f"node {i} serves revision {h['index_revision']}, "
                                                  f"the indexing host published {rev}")
            check([c.live_copy(i) for i in range(len(c.nodes))] == copies_before,
                  "the incremental revision came as a full copy, not as a changeset: is "
                  "--changesets in effect?")
            check(any(name.startswith("changes") for name in os.listdir(c.link())),
                  f"no changeset beside the index: {os.listdir(c.link())}")
            figures.append(("incremental (changeset)", inc))
            time.sleep(1)

            # a bulk rebuild: a new database, which replicas can only receive as a full copy
            docs = [d for d in docs if "card-00" not in d] + [
                doc_xml("tax-01", "个税专项附加扣除", ["个税 扣除 申报 羊肉串"])]
            c.write_kb(docs)
            c.rebuild()
            full = catch_up(c, lambda n: "tax-01" in hit_ids(n, "羊肉串")
                            and "card-00" not in hit_ids(n, "信用卡 第0项"), "bulk rebuild")
            figures.append(("bulk rebuild (full copy)", full))
            time.sleep(1)
        for i in range(len(c.nodes)):
            check(c.live_copy(i) != copies_before[i],
                  f"node {i}: the rebuild did not arrive as a full copy (still {copies_before[i]})")
            check(sorted(os.listdir(c.replicas[i])) == ["XAPIANDB", c.live_copy(i)],
                  f"node {i}: the replaced copy is still there: {os.listdir(c.replicas[i])}")
        print(f"    ({load.requests} searches on {len(c.nodes)} nodes, directly and through haproxy, "
              f"during the two publications, {len(load.failures)} failed)")
        for what, times in figures:
            print(f"    (catch-up after {what}: " +
                  ", ".join(f"{NODE_HOSTS[i]} {t:.2f} s" for i, t in enumerate(times)) + ")")
        check(not load.failures, f"{len(load.failures)} searches failed: {load.failures[:5]}")
        for what, times in figures:
            check(max(times) <= scaled(CATCH_UP_LIMIT_S),
                  f"{what}: a node took {max(times):.1f} s, more than {CATCH_UP_LIMIT_S:.0f} s")

        # /healthz: the revision, and its publication time from the index itself
        published = c.master_published_at()
        answers = [healthz(n) for n in c.nodes]
        for i, r in enumerate(answers):
            check_status(r, 200, f"healthz of node {i}")
            h = r.json()
            check(h["index_revision"] == c.master_revision(), f"node {i}: {h}")
            check(h["store"] == "ok", f"node {i}: {h}")
            want = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(published)))
            check(h["index_published_at"].startswith(want),
                  f"node {i} says the revision was published at {h['index_published_at']}, the "
                  f"index says {want}")
            check(0 <= h["index_age_seconds"] < 120, f"node {i}: {h}")
        r = healthz(c.nodes[0], max_age=3600)
        check_status(r, 200, "healthz?max_age=3600")
        check(r.json()["status"] == "ok", f"{r!r}")
        time.sleep(1.2)  # the published time has one-second resolution
        r = healthz(c.nodes[0], max_age=0)
        check_status(r, 503, "healthz?max_age=0 of a revision published a second ago")
        check(r.json()["status"] == "stale" and r.json()["index_revision"] == c.master_revision(),
              f"{r!r}")
        check_status(healthz(c.nodes[0], max_age="soon"), 400, "healthz?max_age=soon")
    finally:
        c.cleanup()


@test
def a_node_idle_through_two_full_copies_serves_the_newest():
    c = started_cluster(1)
    try:
        node = c.nodes[0]
        # and a kb-searchd on the indexing host itself, reading the link that each rebuild
        # renames over to a new directory
        local = c.start_searchd(INDEXING_HOST, c.link())
        check("roam-01" in hit_ids(node, "漫游 开通"), "the first copy")
        first_copy = c.live_copy(0)
        # two rebuilds, each received as a full copy, while nobody searches: the stub names the
        # same replica_N again afterwards, holding a different database
        for n, word in enumerate(("火锅底料", "冰糖葫芦")):
            c.write_kb(base_docs() + [doc_xml(f"new-{n}", f"新业务{n}", [f"新业务 {word}"])])
            before = c.live_copy(0)
            c.rebuild()
            wait_until(lambda: c.live_copy(0) != before, CATCH_UP_LIMIT_S,
                       f"full copy {n + 1} on the replica")
            time.sleep(1.2)  # the node's watcher sees this copy before the next lands
        check(c.live_copy(0) == first_copy, "two full copies name the first copy's directory again")
        # every search thread (threads=2) must answer from the newest copy
        for _ in range(6):
            ids = hit_ids(node, "冰糖葫芦 新业务")
            check("new-1" in ids and "new-0" not in ids, f"a search thread answered from an old copy: {ids}")
            ids = hit_ids(local, "冰糖葫芦 新业务")
            check("new-1" in ids and "new-0" not in ids,
                  f"the indexing host's kb-searchd answered from a replaced directory: {ids}")
        check(node.proc.poll() is None and local.proc.poll() is None, "a kb-searchd died")
    finally:
        c.cleanup()


def restart_node(c, i):
    """Start node i's kb-searchd again on its port (haproxy knows it by that) and its
    xapian-replicate."""
    node = c.nodes[i]
    c.spawn(f"replicate-{i}", [REPLICATE, "-h", INDEXING_HOST, "-p", str(c.port), "-m", "kb",
                               "-i", "1", "-r", "1", "-t", "10", c.replicas[i]])
    node.log = open(node.log_path, "ab")
    node.proc = subprocess.Popen(node.command(), stdout=node.log, stderr=node.log)
    wait_until(lambda: c.front_ready(node), 20, f"node {i} answering again")


@test
def a_node_killed_and_restarted_behind_haproxy_loses_no_search_and_catches_up():
    c = started_cluster()
    try:
        front = c.start_front()
        with Load([front, front]) as load:
            time.sleep(1)
            # the machine of node 2 dies: its kb-searchd and its xapian-replicate, with SIGKILL
            c.nodes[1].kill9()
            for name, p, _ in c.procs:
                if name == "replicate-1":
                    p.kill()
                    p.wait()
            time.sleep(1)
            # meanwhile the indexing host publishes; node 1 serves it
            c.write_kb(base_docs() + [doc_xml("visa-02", "签证加急", ["签证 加急 麻辣烫"])])
            c.index()
            wait_until(lambda: "visa-02" in hit_ids(c.nodes[0], "麻辣烫"), CATCH_UP_LIMIT_S,
                       "node 1 serving the new revision")
            # the machine comes back: the replica it kept is one revision behind
            t0 = time.monotonic()
            restart_node(c, 1)
            wait_until(lambda: "visa-02" in hit_ids(c.nodes[1], "麻辣烫"), CATCH_UP_LIMIT_S,
                       "the restarted node catching up")
            caught_up = time.monotonic() - t0
            time.sleep(2.5)  # haproxy's checks (inter 1s, rise 2) take it back
        print(f"    ({load.requests} searches through haproxy while a node was killed and "
              f"restarted, {len(load.failures)} failed; the restarted node served the revision "
              f"published while it was down {caught_up:.2f} s after it was started again)")
        check(not load.failures, f"{len(load.failures)} searches through haproxy failed: "
                                 f"{load.failures[:5]}")
        check(c.nodes[1].log_text().count("kb-searchd started") == 2, "node 2 was not restarted")
    finally:
        c.cleanup()


@test
def changesets_only_on_request():
    """The single-machine default writes no changesets; --changesets takes a count."""
    tmp = tempfile.mkdtemp(prefix="kb-repl-")
    try:
        kb = os.path.join(tmp, "kb.xml")
        with open(kb, "w", encoding="utf-8") as f:
            f.write(documents_file(*base_docs()))
        index = os.path.join(tmp, "index")
        for extra in ([], ["--rebuild"]):  # a bulk build, then a run through Xapian's writer
            r = subprocess.run([INDEXER, "--index", index, "--quiet"] + extra + [kb],
                               capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, r.stderr)
        check(not [n for n in os.listdir(index) if n.startswith("changes")],
              f"changesets without --changesets: {os.listdir(index)}")
        for bad in ("0", "-1", "many", "1000001", ""):
            r = subprocess.run([INDEXER, "--index", index, "--changesets", bad, kb],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 2 and "--changesets takes a number" in r.stderr,
                  f"--changesets {bad!r}: exit {r.returncode}, {r.stderr!r}")
        r = subprocess.run([INDEXER, "--index", index, "--quiet", "--changesets=3", "--rebuild", kb],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, r.stderr)
        check([n for n in os.listdir(index) if n.startswith("changes")],
              f"no changeset with --changesets=3: {os.listdir(index)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@test
def kb_indexer_leaves_a_replica_alone():
    """A search node's index belongs to xapian-replicate: kb-indexer there (by mistake, or the
    package's postinst) must not write a second database beside the stub."""
    c = started_cluster(1)
    try:
        replica = c.replicas[0]
        before = sorted(os.listdir(replica))
        for extra in ([], ["--rebuild"]):
            r = subprocess.run([INDEXER, "--index", replica] + extra + [c.kb],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 2 and "is a replica kept by xapian-replicate" in r.stderr,
                  f"kb-indexer {extra} on a replica: exit {r.returncode}, {r.stderr!r}")
        check(sorted(os.listdir(replica)) == before,
              f"kb-indexer changed the replica: {before} -> {sorted(os.listdir(replica))}")
        check("roam-01" in hit_ids(c.nodes[0], "漫游 开通"), "the node still serves its replica")
    finally:
        c.cleanup()


if __name__ == "__main__":
    run_tests()
