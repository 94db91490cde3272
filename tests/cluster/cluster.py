"""cluster.py — the cluster of docs/DEPLOY.md ("Several search nodes"), built on this one machine
from the very files deploy/cluster/ ships, each part on a loopback address of its own:

    127.0.0.11  the indexing host: kb-indexer --changesets, xapian-replicate-server
    127.0.0.12  search node 1: xapian-replicate keeping a replica, kb-searchd on it
    127.0.0.13  search node 2
    127.0.0.14  search node 3
    127.0.0.15  PostgreSQL 15 (initdb in the temporary folder, tests/pg_server.py)
    127.0.0.16  haproxy

With db_proxies (the cluster test), each node reaches PostgreSQL through a proxy of its own
(tests/pg_proxy.py, listening on .15, connecting from the node's address), which can cut that
node off from the database the way a network does.

Why the shipped files and not a configuration of the test's own: the point is that what
DEPLOY.md tells an operator to install is what was tested. So the commands are the ExecStart=
lines of the units (kb-indexer.service with kb-indexer.service.d/changesets.conf,
kb-replicate-server.service, kb-replicate.service, kb-searchd.service with
kb-searchd.service.d/cluster.conf), with their settings files (kb-replicate.default,
kb-search-node.default), haproxy.cfg, postgresql-kb.conf and pg_hba-kb.conf; only addresses,
ports and paths are replaced (the documentation's 192.0.2.x by 127.0.0.x, /var/lib/kb and
/etc/kb by folders in the temporary folder, /usr/bin/kb-* by $BIN). The PostgreSQL role and
database are created with DEPLOY.md's commands (createdb's locale flags included).

Ports are free ones found at start (the addresses are the machine's loopback ones, which other
work may use too); every process runs in a session of its own and is stopped, and the
temporary folder removed, by cleanup(). Nothing listens beyond 127.0.0.0/8.

Used by tests/cluster/cluster_test.py (make cluster-test) and bench/cluster_bench.py.
"""
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from pg_proxy import PgProxy  # noqa: E402
from pg_server import PgServer  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy")
CLUSTER_FILES = os.path.join(DEPLOY, "cluster")
INDEXING_HOST = "127.0.0.11"
NODE_HOSTS = ("127.0.0.12", "127.0.0.13", "127.0.0.14")
PG_HOST = "127.0.0.15"
FRONT_HOST = "127.0.0.16"
# The documentation's addresses (RFC 5737's TEST-NET-1) and what the test puts in their place.
DOC_INDEXING_HOST = "192.0.2.11"
DOC_PG_HOST = "192.0.2.15"
DOC_NETWORK = "192.0.2.0/24"
LOOPBACK_NETWORK = "127.0.0.0/8"
REPLICATE_PORT_DOC = "7010"
CHANGESETS_KEPT = "100"


class ClusterError(Exception):
    pass


class CannotRun(Exception):
    """This machine cannot run the cluster at all (not: something in it failed)."""


# ---------------------------------------------------------------- the shipped files
def unit_exec_start(*paths):
    """The command a unit runs: the last non-empty ExecStart= across the unit and its drop-ins
    (an empty ExecStart= resets the list, as systemd does), continuation lines joined, as argv."""
    cmd = None
    for path in paths:
        text = open(path, encoding="utf-8").read().replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("ExecStart="):
                value = line[len("ExecStart="):].strip()
                cmd = shlex.split(value) if value else None
    if not cmd:
        raise ClusterError(f"no ExecStart= in {paths}")
    return cmd


def read_env_file(path):
    """A systemd EnvironmentFile=: NAME=VALUE lines, # comments."""
    env = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        env[name.strip()] = value.strip().strip('"')
    return env


def expand(argv, env, paths):
    """systemd's substitution on an ExecStart= argv: ${NAME} inside a word, a bare $NAME word
    split on white space; then the test's paths for the real ones (longest first)."""
    def local(word):
        for real in sorted(paths, key=len, reverse=True):
            if word == real or word.startswith(real + "/"):
                return paths[real] + word[len(real):]
        return word

    out = []
    for word in argv:
        if word.startswith("$") and not word.startswith("${"):
            out += [local(w) for w in env.get(word[1:], "").split()]
            continue
        for name, value in env.items():
            word = word.replace("${" + name + "}", value)
        out.append(local(word))
    return out


def check_loopback_addresses():
    """Binding to 127.0.0.11-16 works on Linux without configuration; say so when it does not."""
    for host in (INDEXING_HOST,) + NODE_HOSTS + (PG_HOST, FRONT_HOST):
        s = socket.socket()
        try:
            s.bind((host, 0))
        except OSError as e:
            raise CannotRun(f"cannot bind to {host} ({e}): this machine's loopback interface "
                            "does not take 127.0.0.0/8 addresses")
        finally:
            s.close()


def free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- HTTP
def http_request(host, port, method, path, token=None, body=None, timeout=10):
    """One request on a fresh connection: (status, parsed JSON or raw bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {}
    data = None
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw.decode("utf-8"))
        except ValueError:
            return r.status, raw
    finally:
        conn.close()


def wait_for(cond, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        if time.monotonic() > deadline:
            raise ClusterError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


# ---------------------------------------------------------------- the parts
class Node:
    """A search node: its replica, its xapian-replicate and its kb-searchd."""

    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.name = f"node{i + 1}"
        self.host = NODE_HOSTS[i]
        self.root = os.path.join(cluster.tmp, self.name)       # stands for the node's /var/lib/kb
        self.etc = os.path.join(self.root, "etc")              # its /etc/kb
        self.index = os.path.join(self.root, "index")
        self.port = free_port(self.host)
        self.searchd = None
        self.replicate = None
        self.proxy = None  # its path to PostgreSQL (db_proxies): tests/pg_proxy.py
        os.makedirs(self.etc)

    @property
    def app_name(self):
        return f"kb-{self.name}"

    def healthz(self, timeout=2):
        return http_request(self.host, self.port, "GET", "/healthz", timeout=timeout)

    def ready(self):
        try:
            status, _ = self.healthz()
            return status == 200
        except (OSError, http.client.HTTPException):
            return False

    def revision(self):
        status, h = self.healthz()
        return h.get("index_revision") if status == 200 and isinstance(h, dict) else None


class Cluster:
    def __init__(self, bin_dir, n_nodes=3, durable=True, log=print, db_proxies=False):
        self.bin = os.path.abspath(bin_dir)
        self.db_proxies = db_proxies
        self.log = log
        self.tmp = tempfile.mkdtemp(prefix="kb-cluster-")
        # PostgreSQL runs as the postgres user when we are root: it must reach its folder here.
        os.chmod(self.tmp, 0o755)
        self.logs = os.path.join(self.tmp, "logs")
        os.makedirs(self.logs)
        self.procs = {}  # name -> Popen
        self.pg = None
        self.pg_password = None
        self.durable = durable
        self.indexing = os.path.join(self.tmp, "indexing")  # the indexing host's /var/lib/kb
        self.source = os.path.join(self.indexing, "source")
        self.replicate_port = free_port(INDEXING_HOST)
        self.front_port = free_port(FRONT_HOST)
        self.haproxy_sock = os.path.join(self.tmp, "haproxy.sock")
        self.nodes = [Node(self, i) for i in range(n_nodes)]
        self.tokens = {}
        self.agents = []
        self.builds = 0
        self.node_env = read_env_file(os.path.join(CLUSTER_FILES, "kb-search-node.default"))
        self.replicate_env = read_env_file(os.path.join(CLUSTER_FILES, "kb-replicate.default"))

    # -- processes
    def spawn(self, name, argv):
        log = open(os.path.join(self.logs, name + ".log"), "ab")
        log.write(("\n--- " + " ".join(shlex.quote(a) for a in argv) + "\n").encode())
        log.flush()
        # A session of its own: xapian-replicate-server passes SIGTERM to its whole process group.
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        log.close()
        self.procs[name] = p
        return p

    def kill(self, name, sig=signal.SIGKILL, wait=10):
        p = self.procs.get(name)
        if p and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def log_text(self, name):
        try:
            with open(os.path.join(self.logs, name + ".log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM, wait=5)
        for node in self.nodes:
            if node.proxy:
                node.proxy.close()
        if self.pg:
            try:
                self.pg.remove()
            except Exception as e:  # a failed stop must not keep the folder
                self.log(f"cluster: removing PostgreSQL: {e}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- PostgreSQL (DEPLOY.md, "The event store: PostgreSQL")
    def start_postgresql(self):
        conf = open(os.path.join(CLUSTER_FILES, "postgresql-kb.conf"), encoding="utf-8").read()
        conf = [line.replace(DOC_PG_HOST, PG_HOST).replace("'localhost, ", "'")
                for line in conf.splitlines() if line.strip() and not line.startswith("#")]
        self.pg = PgServer(durable=self.durable, host=PG_HOST, parent=self.tmp, conf=conf,
                           superuser="postgres", database=None)
        self.pg.create()
        hba = [line.replace(DOC_NETWORK, LOOPBACK_NETWORK)
               for line in open(os.path.join(CLUSTER_FILES, "pg_hba-kb.conf"), encoding="utf-8")
               if line.strip() and not line.startswith("#")]
        # Before initdb's own lines: the first matching line decides.
        hba_path = os.path.join(self.pg.data, "pg_hba.conf")
        with open(hba_path, encoding="utf-8") as f:
            rest = f.read()
        with open(hba_path, "w", encoding="utf-8") as f:
            f.write("# docs/DEPLOY.md (deploy/cluster/pg_hba-kb.conf)\n" + "".join(hba) + rest)
        self.psql("SELECT pg_reload_conf()")
        # The role and the database, as DEPLOY.md says (the password through psql, not argv).
        self.pg_password = os.urandom(12).hex()
        self.psql(f"CREATE ROLE kb LOGIN PASSWORD '{self.pg_password}'")
        self.pg_bin("createdb", "-E", "UTF8", "--lc-collate=C", "--lc-ctype=C.UTF-8",
                    "-T", "template0", "-O", "kb", "kb")

    def pg_bin(self, prog, *args):
        r = subprocess.run([os.path.join(self.pg.bin, prog), "-h", self.pg.dir, "-p",
                            str(self.pg.port), "-U", "postgres"] + list(args),
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise ClusterError(f"{prog} {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def psql(self, sql, db="postgres"):
        """Run SQL as the superuser over the server's Unix socket: rows as lists of strings."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.pg.dir, "-p", str(self.pg.port), "-U", "postgres",
                            "-d", db, "-c", sql], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise ClusterError(f"psql: {sql[:200]}: {r.stderr.strip()}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def db_port(self, node):
        """The port the node reaches PostgreSQL at: the server's, or its proxy's."""
        if not self.db_proxies:
            return self.pg.port
        if not node.proxy:
            path = os.path.join(self.logs, f"{node.name}-pgproxy.log")

            def log(msg):
                with open(path, "a", encoding="utf-8") as f:
                    f.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
            node.proxy = PgProxy((PG_HOST, self.pg.port), listen_host=PG_HOST, source_host=node.host,
                                 node_pids=lambda: [node.searchd.pid] if node.searchd else None,
                                 log=log).start()
        return node.proxy.port

    def store_uri(self, node):
        passfile = os.path.join(node.etc, "pgpass")
        port = self.db_port(node)
        with open(passfile, "w") as f:
            f.write(f"{PG_HOST}:{port}:kb:kb:{self.pg_password}\n")
        os.chmod(passfile, 0o600)
        uri = self.node_env["KB_DATA"].replace(DOC_PG_HOST + ":5432", f"{PG_HOST}:{port}")
        return (uri.replace("/etc/kb/pgpass", passfile)
                .replace("application_name=node1", f"application_name={node.app_name}"))

    # -- the indexing host (DEPLOY.md, "The indexing host, step by step")
    def write_source(self, files):
        """files: {name: XML text}, or a folder to copy."""
        if isinstance(files, str):
            shutil.copytree(files, self.source, dirs_exist_ok=True)
            return
        os.makedirs(self.source, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(self.source, name), "w", encoding="utf-8") as f:
                f.write(text)

    def indexer_argv(self, index_dir=None):
        argv = unit_exec_start(os.path.join(DEPLOY, "systemd", "kb-indexer.service"),
                               os.path.join(CLUSTER_FILES, "kb-indexer.service.d", "changesets.conf"))
        argv = expand(argv, {"KB_SOURCE": self.source},
                      {"/usr/bin/kb-indexer": os.path.join(self.bin, "kb-indexer"),
                       "/var/lib/kb": self.indexing})
        if index_dir:
            argv[argv.index("--index") + 1] = index_dir
        return argv

    def index(self, index_dir=None):
        """One run of the indexer unit's command (kb-indexer --changesets 100 --sync): seconds."""
        t0 = time.monotonic()
        r = subprocess.run(self.indexer_argv(index_dir), capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, KB_INDEX_THREADS="1"))
        if r.returncode != 0:
            raise ClusterError(f"kb-indexer exited {r.returncode}: {r.stderr[-2000:]}")
        return time.monotonic() - t0

    def master_revision(self):
        out = subprocess.run(["xapian-delve", "-v", os.path.join(self.indexing, "index")],
                             capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            if line.startswith("revision = "):
                return int(line.split("=")[1])
        raise ClusterError(f"no revision in xapian-delve's output: {out}")

    def start_indexing_host(self):
        """The first build into index.1, the link index -> index.1, the replicate server's folder
        holding only the link to it, and xapian-replicate-server."""
        self.builds = 1
        self.index(os.path.join(self.indexing, "index.1"))
        os.symlink("index.1", os.path.join(self.indexing, "index"))
        os.makedirs(os.path.join(self.indexing, "replicate"))
        os.symlink("../index", os.path.join(self.indexing, "replicate", "index"))
        env = dict(self.replicate_env, KB_REPLICATE_HOST=INDEXING_HOST,
                   KB_REPLICATE_PORT=str(self.replicate_port))
        argv = expand(unit_exec_start(os.path.join(CLUSTER_FILES, "kb-replicate-server.service")),
                      env, {"/var/lib/kb": self.indexing})
        self.spawn("replicate-server", argv)
        wait_for(lambda: socket.create_connection((INDEXING_HOST, self.replicate_port), 1).close()
                 or True, 20, "xapian-replicate-server listening")

    # -- search nodes (DEPLOY.md, "Each search node, step by step")
    def replicate_argv(self, node):
        env = dict(self.replicate_env, KB_REPLICATE_HOST=INDEXING_HOST,
                   KB_REPLICATE_PORT=str(self.replicate_port))
        return expand(unit_exec_start(os.path.join(CLUSTER_FILES, "kb-replicate.service")),
                      env, {"/var/lib/kb": node.root})

    def first_copy(self, node):
        """DEPLOY.md's step 3: the first copy by hand (-o: once), with the service's program."""
        cmd = [self.replicate_argv(node)[0], "-h", INDEXING_HOST, "-p", str(self.replicate_port),
               "-m", "index", "-o", node.index]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not os.path.exists(os.path.join(node.index, "XAPIANDB")):
            raise ClusterError(f"first copy on {node.name}: exit {r.returncode}: {r.stderr[-1000:]}")

    def searchd_argv(self, node):
        env = dict(self.node_env)
        env["KB_LISTEN"] = f"{node.host}:{node.port}"
        env["KB_DATA"] = self.store_uri(node)
        argv = unit_exec_start(os.path.join(DEPLOY, "systemd", "kb-searchd.service"),
                               os.path.join(CLUSTER_FILES, "kb-searchd.service.d", "cluster.conf"))
        return expand(argv, env, {"/usr/sbin/kb-searchd": os.path.join(self.bin, "kb-searchd"),
                                  "/var/lib/kb": node.root, "/etc/kb": node.etc})

    def write_tokens(self, n_agents, gap_agents):
        """The same tokens and agents list on every node (DEPLOY.md, step 2)."""
        tok = lambda: os.urandom(20).hex()  # noqa: E731
        self.tokens = {"lead": ("lead-1", tok()), "editor": ("editor-1", tok()),
                       "admin": ("ops", tok())}
        self.agents = [(f"agent-{i:03d}", tok()) for i in range(n_agents)]
        self.gap_agents = [(f"gap-agent-{i:02d}", tok()) for i in range(gap_agents)]
        lines = [f"{t} {role} {name}" for role, (name, t) in self.tokens.items()]
        lines += [f"{t} agent {name}" for name, t in self.agents + self.gap_agents]
        agents = [f"{name}\t坐席{name[-3:]}\t{'一组' if i % 2 else '二组'}"
                  for i, (name, _) in enumerate(self.agents + self.gap_agents)]
        for node in self.nodes:
            with open(os.path.join(node.etc, "tokens"), "w") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(os.path.join(node.etc, "tokens"), 0o600)
            with open(os.path.join(node.etc, "agents"), "w", encoding="utf-8") as f:
                f.write("\n".join(agents) + "\n")

    def start_replicate(self, node):
        node.replicate = self.spawn(f"{node.name}-replicate", self.replicate_argv(node))

    def start_searchd(self, node, timeout=60):
        node.searchd = self.spawn(f"{node.name}-searchd", self.searchd_argv(node))
        wait_for(lambda: node.searchd.poll() is not None or node.ready(), timeout,
                 f"{node.name}'s kb-searchd answering /healthz")
        if node.searchd.poll() is not None:
            raise ClusterError(f"{node.name}'s kb-searchd exited {node.searchd.returncode}: "
                               f"{self.log_text(node.name + '-searchd')[-2000:]}")

    def start_node(self, node):
        if not os.path.exists(os.path.join(node.index, "XAPIANDB")):
            self.first_copy(node)
        self.start_replicate(node)
        self.start_searchd(node)

    def kill_node(self, node):
        """The node's machine dies: its kb-searchd and its xapian-replicate, with SIGKILL."""
        self.kill(f"{node.name}-searchd")
        self.kill(f"{node.name}-replicate")

    # -- haproxy (DEPLOY.md, "The load balancer")
    def haproxy_cfg(self):
        lines, servers_done = [], False
        for line in open(os.path.join(CLUSTER_FILES, "haproxy.cfg"), encoding="utf-8").read().splitlines():
            words = line.split()
            if words[:1] == ["bind"]:
                line = line.replace(words[1], f"{FRONT_HOST}:{self.front_port}")
            elif words[:2] == ["stats", "socket"]:
                line = line.replace(words[2], self.haproxy_sock)
            elif words[:1] == ["server"]:
                if servers_done:
                    continue
                servers_done = True
                rest = " ".join(words[3:])
                lines += [f"    server {n.name} {n.host}:{n.port} {rest}" for n in self.nodes]
                continue
            lines.append(line)
        return "\n".join(lines) + "\n"

    def start_haproxy(self):
        cfg = os.path.join(self.tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(self.haproxy_cfg())
        r = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise ClusterError(f"haproxy -c refused the configuration: {r.stdout}{r.stderr}")
        self.spawn("haproxy", ["haproxy", "-db", "-f", cfg])
        wait_for(lambda: all(s["status"] == "UP" for s in self.haproxy_servers()), 30,
                 "haproxy seeing every node UP")

    def haproxy_stat(self):
        """haproxy's `show stat` over its stats socket: one dict per line."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.haproxy_sock)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        lines = data.decode().splitlines()
        head = lines[0].lstrip("# ").split(",")
        return [dict(zip(head, line.split(","))) for line in lines[1:] if line]

    def haproxy_servers(self):
        return [r for r in self.haproxy_stat() if r["pxname"] == "kb_nodes"
                and r["svname"] not in ("FRONTEND", "BACKEND")]

    def haproxy_backend(self):
        return next(r for r in self.haproxy_stat()
                    if r["pxname"] == "kb_nodes" and r["svname"] == "BACKEND")

    def front(self, method, path, token=None, body=None, timeout=10):
        return http_request(FRONT_HOST, self.front_port, method, path, token, body, timeout)

    # -- all of it
    def start(self, source, n_agents=40, gap_agents=30):
        check_loopback_addresses()
        for tool in ("xapian-replicate", "xapian-replicate-server", "xapian-delve", "haproxy", "psql"):
            if not shutil.which(tool):
                raise ClusterError(f"{tool} is missing: run tools/install-deps.sh")
        t0 = time.monotonic()
        self.start_postgresql()
        self.log(f"cluster: PostgreSQL on {PG_HOST}:{self.pg.port} ({time.monotonic() - t0:.1f} s)")
        self.write_source(source)
        self.start_indexing_host()
        self.log(f"cluster: indexing host on {INDEXING_HOST}:{self.replicate_port}, revision "
                 f"{self.master_revision()} ({time.monotonic() - t0:.1f} s)")
        self.write_tokens(n_agents, gap_agents)
        for node in self.nodes:
            self.start_node(node)
            self.log(f"cluster: {node.name} on {node.host}:{node.port} ({time.monotonic() - t0:.1f} s)")
        self.start_haproxy()
        self.log(f"cluster: haproxy on {FRONT_HOST}:{self.front_port} ({time.monotonic() - t0:.1f} s)")
