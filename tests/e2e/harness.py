"""harness.py — end-to-end test harness for kb-indexer and kb-searchd (Python 3 stdlib only).

It builds a small knowledge base in a temporary folder, runs the real $BIN/kb-indexer on it,
starts the real $BIN/kb-searchd on a free loopback port, waits for /healthz, lets tests call the
HTTP API with tokens, and always stops the process and removes the folder afterwards.

Test protocol (tests/run-all.sh counts these lines): every test prints "PASS name" or
"FAIL name" followed by indented details; the program exits 1 when any test failed.
"""
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from xml.sax.saxutils import escape, quoteattr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BIN", "bin")
if not os.path.isabs(BIN):
    BIN = os.path.join(ROOT, BIN)

# ---------------------------------------------------------------- valgrind mode (KB_VALGRIND=1)
# With KB_VALGRIND=1 (make valgrind) every binary the tests start runs under valgrind's memcheck:
# BIN is replaced by a folder of wrapper scripts with the same names that exec valgrind on the
# real binary, so every test file that takes its paths from this module (BIN, INDEXER, SEARCHD)
# is covered without change. Each process writes its own log; run_tests reads, after each test,
# the logs of the processes that ended meanwhile and fails the test with valgrind's report when
# it found a memory error or a definitely/indirectly lost block ("still reachable" memory, which
# the program could still free, is not counted). Time limits are multiplied by SLOW.
VALGRIND = os.environ.get("KB_VALGRIND", "") not in ("", "0")
SLOW = float(os.environ.get("KB_VALGRIND_SLOW", "10")) if VALGRIND else 1.0
REAL_BIN = BIN
VALGRIND_SUPP = os.path.join(ROOT, "tests", "valgrind.supp")
VALGRIND_OPTS = ["--leak-check=full", "--show-leak-kinds=definite,indirect",
                 "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                 "--track-fds=no", "--num-callers=30", "--child-silent-after-fork=yes",
                 "--suppressions=" + VALGRIND_SUPP]


def scaled(seconds):
    """A time limit allowing for valgrind's slowdown when KB_VALGRIND is set."""
    return seconds * SLOW


class _Valgrind:
    """The wrapper scripts, the logs, and which logs were already checked."""

    def __init__(self):
        import atexit
        import shlex
        self.dir = tempfile.mkdtemp(prefix="kb-valgrind-")
        self.bin = os.path.join(self.dir, "bin")
        self.keep = bool(os.environ.get("KB_VALGRIND_LOGS"))
        program = os.path.splitext(os.path.basename(sys.argv[0]))[0]
        self.logs = (os.path.join(os.environ["KB_VALGRIND_LOGS"], f"{program}-{os.getpid()}") if self.keep
                     else os.path.join(self.dir, "logs"))
        os.makedirs(self.bin)
        os.makedirs(self.logs, exist_ok=True)
        self.seen = set()
        self.checked = 0
        self.unchecked = 0
        for name in ("kb-indexer", "kb-searchd", "kb-report"):
            real = os.path.join(REAL_BIN, name)
            log = os.path.join(self.logs, name + ".%p.$(date +%s%N).log")
            script = os.path.join(self.bin, name)
            with open(script, "w") as f:
                # exec: the process the test starts (and signals) is valgrind running the program
                f.write("#!/bin/sh\nexec valgrind " + " ".join(shlex.quote(o) for o in VALGRIND_OPTS) +
                        f' --log-file="{log}" ' + shlex.quote(real) + ' "$@"\n')
            os.chmod(script, 0o755)
        atexit.register(self._remove)

    def _remove(self):
        shutil.rmtree(self.bin, ignore_errors=True)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def problems(self, final=False):
        """Reports of the logs of processes that have ended since the last call: a list of strings.
        A process still running is left for a later call (final: report it as unfinished)."""
        out = []
        for name in sorted(os.listdir(self.logs)):
            path = os.path.join(self.logs, name)
            if path in self.seen:
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            summary = [l for l in text.splitlines() if "ERROR SUMMARY:" in l]
            if not summary:
                pid = int(name.split(".")[1])
                if _alive(pid) and not final:
                    continue  # still running: checked once it has ended
                # ended without valgrind's final check: killed by SIGKILL (kill -9 tests, clean-up)
                self.seen.add(path)
                self.unchecked += 1
                continue
            self.seen.add(path)
            self.checked += 1
            errors = int(summary[-1].split("ERROR SUMMARY:")[1].split()[0])
            if errors:
                lines = text.splitlines()
                head = next((l for l in lines if "Command:" in l), "")
                banner = ("Memcheck,", "Copyright", "Using Valgrind", "Parent PID", "Command:")
                body = [l for l in lines if l.startswith("==") and not any(w in l for w in banner)][-160:]
                out.append(f"valgrind: {errors} errors in {name} ({head.split('Command:')[-1].strip()}):\n" +
                           "\n".join(body))
        return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


_valgrind = _Valgrind() if VALGRIND else None
if VALGRIND:
    BIN = _valgrind.bin
INDEXER = os.path.join(BIN, "kb-indexer")
SEARCHD = os.path.join(BIN, "kb-searchd")
REPORT = os.path.join(BIN, "kb-report")


# ---------------------------------------------------------------- knowledge-base documents
def doc_xml(doc_id, title, paragraphs=(), sections=(), categories=(), keywords=None,
            questions=(), valid=None, updated=None, must_know=None):
    """One <document> element. sections: (id, title, [paragraph, ...]) tuples.
    valid: (from, until) with either None. must_know: None for none, [] for every team, or the
    teams' names."""
    out = [f"<document id={quoteattr(doc_id)}>", f"  <title>{escape(title)}</title>"]
    for c in categories:
        out.append(f"  <category>{escape(c)}</category>")
    if keywords:
        out.append(f"  <keywords>{escape(keywords)}</keywords>")
    if valid:
        attrs = ""
        if valid[0]:
            attrs += f" from={quoteattr(valid[0])}"
        if valid[1]:
            attrs += f" until={quoteattr(valid[1])}"
        out.append(f"  <valid{attrs}/>")
    if updated:
        out.append(f"  <updated>{escape(updated)}</updated>")
    if questions:
        out.append("  <questions>" + "".join(f"<q>{escape(q)}</q>" for q in questions) + "</questions>")
    if must_know is not None:
        out.append("  <must-know>" + "".join(f"<team>{escape(t)}</team>" for t in must_know) +
                   "</must-know>")
    out.append("  <body>")
    for sid, stitle, paras in sections:
        out.append(f"    <section id={quoteattr(sid)} title={quoteattr(stitle)}>")
        out.extend(f"      <p>{escape(p)}</p>" for p in paras)
        out.append("    </section>")
    out.extend(f"    <p>{escape(p)}</p>" for p in paragraphs)
    out.append("  </body>")
    out.append("</document>")
    return "\n".join(out)


def documents_file(*docs):
    return '<?xml version="1.0" encoding="UTF-8"?>\n<documents>\n' + "\n".join(docs) + "\n</documents>\n"


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def new_token():
    return secrets.token_hex(20)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body        # bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


# ---------------------------------------------------------------- the API trace (KB_API_TRACE)
# With KB_API_TRACE=FILE every request made through Service.request, and its answer, is appended
# to FILE as one JSON line; tests/openapi checks each against docs/openapi.yaml, so that the
# description cannot fall behind what the service answers (tests/run-all.sh sets it).
API_TRACE = os.environ.get("KB_API_TRACE", "")
_TRACE_BODY_MAX = 1 << 20
_trace_lock = None


def _trace_exchange(service, method, path, token, headers, data, resp):
    global _trace_lock
    import threading
    if _trace_lock is None:
        _trace_lock = threading.Lock()
    roles = {t: r for r, t in service.tokens.items()}
    rec = {"method": method, "path": path,
           # the role of the token sent: "none" without one, "unknown" for a token not in the file
           "role": "none" if token is None else roles.get(token, "unknown"),
           "request_type": headers.get("Content-Type"),
           "request_body": None if data is None else data[:_TRACE_BODY_MAX].decode("utf-8", "replace"),
           "status": resp.status, "headers": resp.headers,
           "body": resp.body[:_TRACE_BODY_MAX].decode("utf-8", "replace"),
           "body_truncated": len(resp.body) > _TRACE_BODY_MAX,
           "test": os.path.basename(sys.argv[0])}
    line = json.dumps(rec, ensure_ascii=False) + "\n"
    with _trace_lock:
        with open(API_TRACE, "a", encoding="utf-8") as f:
            f.write(line)


# ---------------------------------------------------------------- the service under test
class Service:
    """A knowledge base, its index, and a running kb-searchd. Use as a context manager."""

    ROLES = ("agent", "editor", "lead", "admin")

    def __init__(self, files, threads=None, listen_host="127.0.0.1", start=True, typing_window=0,
                 regroup_interval=0, extra_args=()):
        self.tmp = tempfile.mkdtemp(prefix="kb-e2e-")
        self.kb = os.path.join(self.tmp, "kb")
        self.index_dir = os.path.join(self.tmp, "index")
        self.data = os.path.join(self.tmp, "data")
        self.tokens_path = os.path.join(self.tmp, "tokens")
        self.log_path = os.path.join(self.tmp, "searchd.log")
        self.threads = threads
        # 0: every unresolved search enters the gap queue at once (tests of the typing window
        # itself set it); the service's default of 5 s would only slow the other tests down.
        self.typing_window = typing_window
        # 0: the queue is not regrouped behind the tests' backs (a test of the pass sets it).
        self.regroup_interval = regroup_interval
        self.listen_host = listen_host
        self.extra_args = list(extra_args)  # more kb-searchd options, e.g. connection limits
        self.proc = None
        self.log = None
        os.makedirs(self.kb)
        for name, text in files.items():
            self.write_kb_file(name, text)
        self.tokens = {role: new_token() for role in self.ROLES}
        self.names = {role: f"test-{role}" for role in self.ROLES}
        self.write_tokens()
        if start:
            self.run_indexer(check=True)
            self.start()

    # -- files
    def write_kb_file(self, name, text):
        path = os.path.join(self.kb, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def write_tokens(self, extra_lines=()):
        lines = [f"{self.tokens[r]} {r} {self.names[r]}" for r in self.ROLES] + list(extra_lines)
        with open(self.tokens_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.tokens_path, 0o600)

    def run_indexer(self, check=True, paths=None):
        r = subprocess.run([INDEXER, "--index", self.index_dir] + (paths or [self.kb]),
                           capture_output=True, text=True, timeout=scaled(300))
        if check and r.returncode != 0:
            raise AssertionError(f"kb-indexer exited {r.returncode}:\n{r.stderr[-3000:]}")
        return r

    # -- process
    def command(self):
        if self.listen_host.startswith("["):
            listen = f"{self.listen_host}:{self.port}"
        else:
            listen = f"{self.listen_host}:{self.port}"
        cmd = [SEARCHD, "--index", self.index_dir, "--data", self.data, "--listen", listen,
               "--tokens", self.tokens_path]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        if self.typing_window is not None:
            cmd += ["--typing-window", str(self.typing_window)]
        if self.regroup_interval is not None:
            cmd += ["--regroup-interval", str(self.regroup_interval)]
        return cmd + self.extra_args

    def start(self, timeout=30):
        timeout = scaled(timeout)
        if self.listen_host.startswith("["):
            self.port = free_port(socket.AF_INET6, self.listen_host.strip("[]"))
        else:
            self.port = free_port()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kb-searchd exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                r = self.request("GET", "/healthz", timeout=2)
                if r.status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise AssertionError("kb-searchd did not answer /healthz with 200 within %d s" % timeout)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Send sig and wait; returns the exit status (killing it if it does not exit)."""
        timeout = scaled(timeout)
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"kb-searchd did not exit within {timeout} s after signal {sig}")
        finally:
            if self.log:
                self.log.close()
                self.log = None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def cleanup(self):
        try:
            if self.proc and self.proc.poll() is None:
                if VALGRIND:  # a graceful stop, so that valgrind checks for leaks at exit
                    self.proc.terminate()
                    try:
                        self.proc.wait(scaled(20))
                    except subprocess.TimeoutExpired:
                        pass
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            if self.log:
                self.log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- HTTP
    def request(self, method, path, token=None, body=None, raw_body=None, headers=None, timeout=30):
        """One HTTP request on a fresh connection. body: JSON-serialisable; raw_body: bytes."""
        host = self.listen_host.strip("[]")
        conn = http.client.HTTPConnection(host, self.port, timeout=scaled(timeout))
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h.setdefault("Content-Type", "application/json")
        elif raw_body is not None:
            data = raw_body
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()
        if API_TRACE:
            _trace_exchange(self, method, path, token, h, data, resp)
        return resp

    def call(self, method, path, role="agent", **kw):
        """Request with the token of a role (None: no token)."""
        return self.request(method, path, token=self.tokens[role] if role else None, **kw)

    def search(self, q, role="agent", **params):
        params = dict(params, q=q)
        return self.call("GET", "/api/search?" + urllib.parse.urlencode(params, doseq=True), role)


# ---------------------------------------------------------------- helpers of several test files
def health(s):
    r = s.request("GET", "/healthz")
    check_status(r, 200, "healthz")
    return r.json()


def top_hit(s, q):
    r = s.search(q)
    check_status(r, 200, f"search {q}")
    hits = r.json()["hits"]
    return hits[0]["id"] if hits else None


def wait_until(cond, timeout, what):
    timeout = scaled(timeout)  # the binaries may run under valgrind
    deadline = time.time() + timeout
    while True:
        if cond():
            return
        if time.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass  # a file the indexer removed meanwhile
    return total


def kill9_indexer_mid_run(s, inputs, query, top_id):
    """Start kb-indexer on inputs (large enough to take seconds) into s's index; once it has
    flushed postings of the new documents to disk, check that the daemon still answers query
    with top_id from the published state, then kill -9 the indexer and give the index watcher
    a check or more."""
    size0 = dir_bytes(s.index_dir)
    run = subprocess.Popen([INDEXER, "--index", s.index_dir, inputs], stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: dir_bytes(s.index_dir) > size0 + 1_000_000 or run.poll() is not None, 60,
                   "the large run wrote nothing")
        check(run.poll() is None, "the large run ended before it could be killed: enlarge the input")
        check(top_hit(s, query) == top_id, "search during the run")
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    time.sleep(1.5)


# ---------------------------------------------------------------- checks and the runner
def check(cond, message="check failed"):
    if not cond:
        raise AssertionError(message)


def check_status(resp, status, what=""):
    if resp.status != status:
        raise AssertionError(f"{what}: expected HTTP {status}, got {resp!r}")


class AgentsService(Service):
    """kb-searchd with --agents FILE (AGENTS: "ID<TAB>NAME<TAB>TEAM" lines), started on an index
    built from files; data, when given, is its --data (a PostgreSQL URI, say). json() makes a
    call as a role and checks its status; report() runs kb-report on the same store."""

    def __init__(self, files, agents, data=None, **service_args):
        self.agents_path = None
        super().__init__(files, start=False, **service_args)
        if data is not None:
            self.data = data
        self.agents_path = os.path.join(self.tmp, "agents.tsv")
        with open(self.agents_path, "w", encoding="utf-8") as f:
            f.write(agents)
        self.run_indexer(check=True)
        self.start()

    def command(self):
        return super().command() + ["--agents", self.agents_path]

    def json(self, method, path, role, body=None, status=200):
        r = self.call(method, path, role, body=body)
        check_status(r, status, f"{method} {path} as {role}")
        return r.json()

    def report(self, *args):
        return subprocess.run([REPORT, "--data", self.data] + list(args), capture_output=True,
                              text=True, timeout=scaled(60))


_tests = []


def test(fn):
    _tests.append(fn)
    return fn


def run_tests(cleanups=()):
    """Run every @test in order; print PASS/FAIL lines; exit 1 on any failure."""
    only = set(sys.argv[1:])
    failed = 0
    try:
        for fn in _tests:
            if only and fn.__name__ not in only:
                continue
            t = time.time()
            detail = ""
            try:
                fn()
            except Exception as e:  # any error is this test's failure; go on with the next
                detail = "".join(traceback.format_exception(type(e), e, e.__traceback__))
                detail = "\n".join(detail.rstrip().splitlines()[-25:])
            # valgrind mode: the processes this test started (and that have ended) must be clean
            leaks = _valgrind.problems() if VALGRIND else []
            if detail or leaks:
                failed += 1
                print(f"FAIL {fn.__name__}", flush=True)
                for line in "\n".join(filter(None, [detail] + leaks)).splitlines():
                    print("    " + line, flush=True)
            else:
                print(f"PASS {fn.__name__} ({time.time() - t:.1f} s)", flush=True)
    finally:
        for c in cleanups:
            try:
                c()
            except Exception:
                pass
    if VALGRIND:
        # processes shared between tests end with the clean-ups above
        late = _valgrind.problems(final=True)
        if late:
            failed += 1
            print("FAIL valgrind_processes_shared_between_tests", flush=True)
            for line in "\n".join(late).splitlines():
                print("    " + line, flush=True)
        print(f"    (valgrind: {_valgrind.checked} processes checked, {_valgrind.unchecked} killed "
              f"before valgrind's final check)", flush=True)
        if failed:
            _valgrind.keep = True
            print(f"    (valgrind logs kept in {_valgrind.logs})", flush=True)
    sys.exit(1 if failed else 0)
