#!/usr/bin/env python3
"""pg_server.py — a throw-away PostgreSQL server for the tests, started and stopped by the tests
themselves: no system service, no root-owned cluster, nothing left behind.

initdb writes a cluster into a fresh directory under /tmp; the server listens on a Unix socket in
that directory and on 127.0.0.1 at a free port, with a database `kb` owned by the superuser `kb`
(UTF-8, bytewise collation as docs/CLUSTER.md asks of a production database).
The socket takes the `kb` user without a password (trust); TCP asks for the generated password
(scram-sha-256), so tests can check that a password never shows in a message. PostgreSQL refuses
to run as root: when the tests run as root (CI on a fresh Debian 12 does), the server runs as
the `postgres` user that Debian's postgresql-common creates (or `nobody` without it), through
runuser; the directory is given to that user.

From Python (tests/e2e and others):

    from pg_server import PgServer
    with PgServer() as pg:          # initdb + start; stop + remove at exit (atexit too)
        pg.uri                      # postgresql://kb:PASSWORD@127.0.0.1:PORT/kb
        pg.socket_uri               # postgresql://kb@/kb?host=DIR&port=PORT
        pg.stop(); pg.start()       # e.g. to cut the database off mid-test
    pg = shared()                   # one server for the whole program; remove_shared() at the end

From the shell (tests/run-all.sh starts one for the unit tests):

    eval "$(python3 tests/pg_server.py start)"   # exports KB_TEST_PG_URI, KB_TEST_PG_SOCKET_URI,
                                                # KB_TEST_PG_DIR and KB_TEST_PG_CTL
    $KB_TEST_PG_CTL stop | start | remove       # = python3 tests/pg_server.py --dir DIR ...

Options: --durable keeps fsync on (the default turns it off: tests do not need crash safety, and
it makes initdb and commits fast); benchmarks that compare with SQLite use --durable.

The cluster test (tests/cluster/) runs its server on an address of its own and in its own
temporary folder, with the superuser `postgres` and no database: it creates the role and the
database the nodes use as docs/DEPLOY.md says: PgServer(host="127.0.0.15", parent=DIR,
conf=[lines for postgresql.conf], superuser="postgres", database=None).
"""
import atexit
import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

STATE = "kb-pg-server.json"  # what `--dir DIR stop|start|remove` needs, kept in DIR


def bin_dir():
    """The PostgreSQL server programs' directory (Debian keeps them off PATH)."""
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        d = out.stdout.strip()
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL server programs not found (initdb): run tools/install-deps.sh "
                           "(Debian package postgresql-15)")
    return os.path.dirname(found[-1])


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_user():
    """None when the server can run as we are; otherwise the user to run it as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


class PgServer:
    def __init__(self, durable=False, directory=None, host="127.0.0.1", parent="/tmp", conf=(),
                 superuser="kb", database="kb"):
        self.durable = durable
        self.dir = directory
        self.host = host        # the address it listens on (TCP)
        self.parent = parent    # where its folder is made
        self.conf = list(conf)  # more postgresql.conf lines
        self.superuser = superuser  # initdb's superuser, with the generated password
        self.database = database    # created, owned by the superuser; None: none
        self.port = None
        self.password = None
        self.user = None
        self.bin = None
        self.running = False
        if directory:
            self._load()

    # ---- state shared between the shell commands
    def _save(self):
        with open(os.path.join(self.dir, STATE), "w") as f:
            json.dump({"port": self.port, "password": self.password, "user": self.user,
                       "bin": self.bin, "durable": self.durable, "host": self.host,
                       "superuser": self.superuser, "database": self.database}, f)

    def _load(self):
        with open(os.path.join(self.dir, STATE)) as f:
            st = json.load(f)
        self.port, self.password, self.user = st["port"], st["password"], st["user"]
        self.bin, self.durable = st["bin"], st["durable"]
        self.host = st.get("host", "127.0.0.1")
        self.superuser, self.database = st.get("superuser", "kb"), st.get("database", "kb")

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def uri(self):
        return (f"postgresql://{self.superuser}:{self.password}@{self.host}:{self.port}/"
                f"{self.database or 'postgres'}")

    @property
    def socket_uri(self):
        return (f"postgresql://{self.superuser}@/{self.database or 'postgres'}?host={self.dir}"
                f"&port={self.port}")

    def _run(self, args, **kw):
        """Run a server program, as the server's user when we are root."""
        cmd = [os.path.join(self.bin, args[0])] + args[1:]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, **kw)

    def _check(self, what, r):
        if r.returncode != 0:
            log = ""
            try:
                with open(os.path.join(self.dir, "server.log")) as f:
                    log = f.read()[-2000:]
            except OSError:
                pass
            raise RuntimeError(f"{what} failed ({r.returncode}): {r.stdout}{r.stderr}{log}")

    # ---- life cycle
    def create(self):
        self.bin = bin_dir()
        self.user = server_user()
        # Under /tmp, short: the socket's path must fit in 107 bytes.
        self.dir = tempfile.mkdtemp(prefix="kb-pg-", dir=self.parent)
        self.port = free_port(self.host)
        self.password = secrets.token_hex(12)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)  # the socket must be reachable by the tests' user
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self.user:
            os.chown(pwfile, pwd.getpwnam(self.user).pw_uid, -1)
        args = ["initdb", "-D", self.data, "-U", self.superuser, f"--pwfile={pwfile}", "-E", "UTF8",
                "--lc-collate=C", "--lc-ctype=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"]
        if not self.durable:
            args.append("--no-sync")
        self._check("initdb", self._run(args))
        os.unlink(pwfile)
        conf = [f"port = {self.port}", f"listen_addresses = '{self.host}'",
                f"unix_socket_directories = '{self.dir}'", "max_connections = 60",
                "shared_buffers = 32MB", "logging_collector = off"]
        if not self.durable:
            conf += ["fsync = off", "full_page_writes = off"]
        conf += self.conf
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# tests/pg_server.py\n" + "\n".join(conf) + "\n")
        self._save()
        self.start()
        if self.database:
            r = subprocess.run([os.path.join(self.bin, "createdb"), "-h", self.dir, "-p",
                                str(self.port), "-U", self.superuser, self.database],
                               capture_output=True, text=True)
            self._check("createdb", r)
        return self

    def start(self):
        r = self._run(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                       "-w", "-t", "60", "start"])
        self._check("pg_ctl start", r)
        self.running = True

    def stop(self, mode="fast"):
        r = self._run(["pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"])
        if r.returncode != 0 and "not running" not in r.stderr + r.stdout and \
                "No such file" not in r.stderr:
            self._check("pg_ctl stop", r)
        self.running = False

    def remove(self):
        if self.dir and os.path.isdir(self.dir):
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self.stop("immediate")
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        self.create()
        atexit.register(self.remove)
        return self

    def __exit__(self, *exc):
        self.remove()

    def env(self):
        me = os.path.abspath(__file__)
        return {"KB_TEST_PG_URI": self.uri, "KB_TEST_PG_SOCKET_URI": self.socket_uri,
                "KB_TEST_PG_DIR": self.dir,
                "KB_TEST_PG_CTL": f"python3 {me} --dir {self.dir}"}


_shared = None


def shared():
    """One server for a whole test program, started at the first call; remove_shared() (or the
    program's exit) removes it. The end-to-end tests of PostgreSQL use it."""
    global _shared
    if _shared is None:
        _shared = PgServer().__enter__()
    return _shared


def remove_shared():
    global _shared
    if _shared is not None:
        _shared.__exit__(None, None, None)
        _shared = None


def main(argv):
    durable = "--durable" in argv
    argv = [a for a in argv if a != "--durable"]
    directory = None
    if len(argv) >= 2 and argv[0] == "--dir":
        directory, argv = argv[1], argv[2:]
    cmd = argv[0] if argv else ""
    if cmd == "start" and not directory:
        pg = PgServer(durable=durable)
        try:
            pg.create()
        except Exception as e:
            pg.remove()
            print(f"pg_server: {e}", file=sys.stderr)
            return 1
        for k, v in pg.env().items():
            print(f"export {k}='{v}'")
        return 0
    if not directory or cmd not in ("start", "stop", "kill", "remove", "uri"):
        print(__doc__, file=sys.stderr)
        return 2
    pg = PgServer(directory=directory)
    if cmd == "start":
        pg.start()
    elif cmd == "stop":
        pg.stop()
    elif cmd == "kill":
        pg.stop("immediate")
    elif cmd == "remove":
        pg.remove()
    else:
        print(pg.uri)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
