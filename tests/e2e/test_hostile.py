#!/usr/bin/env python3
"""test_hostile.py — kb-searchd under hostile requests, while a well-behaved agent keeps searching.

Each test runs one kind of attack (oversized request lines, headers and bodies; slow and stalled
clients; more connections than the limits; bad percent-encoding and invalid UTF-8; deep or
ill-typed JSON; path traversal) against a running daemon, with a "bystander" thread searching
from another loopback address the whole time. The bystander's searches must all answer 200 within
a bound, during the attack and afterwards: the point of the limits in docs/API.md ("Limits") is
that one bad client cannot take the service away from the others.

test_searchd.py already covers the plain cases (bad JSON, a 70 KiB body, bad document ids, odd
queries); this file covers the abusive ones. Raw sockets are used wherever http.client would
refuse to send what an attacker sends.
"""
import json
import multiprocessing
import os
import re
import resource
import selectors
import socket
import subprocess
import threading
import time
import urllib.parse

from harness import (Response, Service, check, check_status, doc_xml, documents_file, run_tests, scaled, test)

KB_FILES = {"kb.xml": documents_file(
    doc_xml("roam-001", "国际漫游开通办理", categories=["业务办理/漫游"],
            paragraphs=["客户出国前需开通国际漫游功能，号码须已实名登记且无欠费。"]),
    doc_xml("bb-001", "宽带故障报修流程", categories=["故障处理/宽带"],
            paragraphs=["宽带无法上网时，先检查光猫指示灯是否正常，再重启路由器。"]))}

# The bystander connects from this address and the attackers from others: the per-IP connection
# limit applies to each address on its own, as it would to separate machines.
BYSTANDER_IP = "127.0.0.2"
BYSTANDER_BOUND_S = 2.0  # a search on this tiny index takes ~1 ms; 2 s allows for a busy CI box

_shared = None


def shared():
    global _shared
    if _shared is None:
        _shared = Service(KB_FILES)
    return _shared


# ---------------------------------------------------------------- raw HTTP
def connect(s, src=None, timeout=10):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(scaled(timeout))
    if src:
        c.bind((src, 0))
    c.connect(("127.0.0.1", s.port))
    return c


def read_all(c, limit=1 << 20):
    """What the server sends until it closes, or until one whole answer (by its Content-Length)
    arrived (or the socket times out, or limit bytes)."""
    out = b""
    try:
        while len(out) < limit:
            d = c.recv(65536)
            if not d:
                break
            out += d
            head, sep, body = out.partition(b"\r\n\r\n")
            if sep:
                lengths = [l for l in head.lower().split(b"\r\n") if l.startswith(b"content-length:")]
                if lengths and len(body) >= int(lengths[0].split(b":")[1]):
                    break
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def parse_response(raw):
    """(status, {lower-case header: value}, body) of the first response in raw, or None."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1."):
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", len(body)))
    return status, headers, body[:n]


def exchange(s, data, src=None, timeout=10):
    """Send data (bytes; as much as the server takes before it closes), read the answer."""
    c = connect(s, src, timeout)
    try:
        try:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the server refused the rest; its answer may still be waiting
        return parse_response(read_all(c))
    finally:
        c.close()


def auth(s, role="agent"):
    return b"Authorization: Bearer " + s.tokens[role].encode() + b"\r\n"


def check_json_error(resp, statuses, what):
    check(resp is not None, f"{what}: no HTTP answer")
    status, headers, body = resp
    check(status in statuses, f"{what}: status {status} not in {statuses}: {body[:200]!r}")
    check(headers.get("content-type", "").startswith("application/json"), f"{what}: {headers}")
    check("error" in json.loads(body.decode("utf-8")), f"{what}: {body[:200]!r}")


def daemon_fds(s):
    return len(os.listdir(f"/proc/{s.proc.pid}/fd"))


# ---------------------------------------------------------------- the bystander
class Bystander:
    """A well-behaved agent searching every 50 ms from BYSTANDER_IP, on a fresh connection each
    time, for the duration of a with-block; at the end every search must have answered 200 within
    BYSTANDER_BOUND_S, and at least a few must have run."""

    def __init__(self, s, min_searches=5):
        self.s = s
        self.min = min_searches
        self.results = []  # (status or error text, seconds)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def one(self):
        path = "/api/search?" + urllib.parse.urlencode({"q": "国际漫游"})
        req = (f"GET {path} HTTP/1.1\r\nHost: kb\r\nConnection: close\r\n").encode() + \
            auth(self.s) + b"\r\n"
        t = time.monotonic()
        try:
            r = exchange(self.s, req, src=BYSTANDER_IP, timeout=scaled(BYSTANDER_BOUND_S) + 5)
            status = r[0] if r else "no answer"
            if status == 200 and not json.loads(r[2])["hits"]:
                status = "200 without hits"
        except OSError as e:
            status = f"error {e}"
        return status, time.monotonic() - t

    def run(self):
        while not self.stop.is_set():
            self.results.append(self.one())
            self.stop.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, exc_type, *rest):
        deadline = time.monotonic() + scaled(10)  # a quick attack: let it search a few times more
        while len(self.results) < self.min and time.monotonic() < deadline and not exc_type:
            time.sleep(0.05)
        self.stop.set()
        self.thread.join()
        if exc_type:
            return False
        after = self.one()  # and afterwards
        bad = [(st, round(t, 2)) for st, t in self.results + [after]
               if st != 200 or t > scaled(BYSTANDER_BOUND_S)]
        check(not bad, f"the bystander was not served: {bad[:10]} ({len(bad)} of {len(self.results) + 1})")
        check(len(self.results) >= self.min, f"the bystander ran only {len(self.results)} searches")
        slowest = max(t for _, t in self.results)
        print(f"    (bystander: {len(self.results) + 1} searches, all 200, slowest {slowest * 1000:.0f} ms)")
        return False


def alive(s):
    check(s.proc.poll() is None, f"kb-searchd died: exit {s.proc.returncode}\n{s.log_text()[-2000:]}")
    check_status(s.request("GET", "/healthz"), 200, "healthz after the attack")


# ---------------------------------------------------------------- oversized requests
@test
def oversized_request_line_and_headers_are_refused():
    s = shared()
    search = b"GET /api/search?q=x HTTP/1.1\r\nHost: kb\r\n" + auth(s)
    cases = [
        ("100 KB header", search + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n", (431,)),
        ("10,000 headers", search + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\n", (431,)),
        ("100 KB request line", b"GET /api/search?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: kb\r\n\r\n",
         (414,)),
        ("100 KB header name", search + b"X" * 100_000 + b": v\r\n\r\n", (431,)),
        ("header without a colon", search + b"this is no header\r\n\r\n", (400,)),
        ("1 MB of header lines without an end", search + b"X-A: b\r\n" * 150_000, (431,)),
    ]
    with Bystander(s):
        for _ in range(3):
            for what, raw, statuses in cases:
                r = exchange(s, raw)
                check(r is not None, f"{what}: no HTTP answer")
                check(r[0] in statuses, f"{what}: {r[0]} not in {statuses}: {r[2][:200]!r}")
                # MHD answers these itself, before our code sees the request: with its own short
                # HTML body (docs/API.md says so), always closing the connection
                check(r[1].get("connection", "").lower() == "close", f"{what}: {r[1]}")
    alive(s)
    check("http:" in s.log_text(), "the HTTP layer's refusals are not in the log")


def timed_exchange(s, raw, bound=2.0):
    """exchange() that must end (an answer or a close) within bound seconds: (response, seconds)."""
    t = time.monotonic()
    r = exchange(s, raw, timeout=scaled(bound) + 1)
    took = time.monotonic() - t
    return r, took


@test
def many_query_arguments_and_long_targets_are_414_at_once():
    """libmicrohttpd keeps a record per query argument in the connection's 64 KiB pool; when they
    overflowed it, 0.9.75 logged the 431 it meant and left the request hanging for the 30 s
    time-out, then closed it without an answer (issue 15, item 12: ~1,000 arguments, or 1,300
    bare '&' in a 1.3 KB URL). Now the daemon refuses such targets itself, at once, with JSON."""
    s = shared()
    head = b" HTTP/1.1\r\nHost: kb\r\n" + auth(s) + b"\r\n"
    args = lambda n: b"".join(b"&a%d=1" % i for i in range(n))
    ours = [  # (what, raw request, text of the JSON error)
        ("1,000 arguments", b"GET /api/search?q=x" + args(1000) + head, "too many query arguments: 1001"),
        ("1,300 bare &", b"GET /api/search?q=x" + b"&" * 1300 + head, "too many query arguments"),
        ("65 arguments", b"GET /api/search?q=x" + args(64) + head, "at most 64"),
        ("1,000 arguments on a POST", b"POST /api/feedback?" + args(1000)[1:] +
         b" HTTP/1.1\r\nHost: kb\r\nContent-Type: application/json\r\nContent-Length: 2\r\n" + auth(s) +
         b"\r\n{}", "too many query arguments"),
        ("17 KB target", b"GET /api/search?q=x&pad=" + b"p" * 17_000 + head, "request target too long"),
        ("20 KB path", b"GET /api/documents/" + b"d" * 20_000 + head, "request target too long"),
        ("40 KB path with arguments", b"GET /api/documents/" + b"d" * 40_000 + b"?q=x" + args(2000) + head,
         "request target too long"),
    ]
    with Bystander(s):
        for what, raw, message in ours:
            r, took = timed_exchange(s, raw)
            check_json_error(r, (414,), what)
            check(message in json.loads(r[2])["error"], f"{what}: {r[2][:200]!r}")
            check(took < scaled(2.0), f"{what}: answered after {took:.1f} s")
        # at the limits: answered as usual, and the connection kept alive for the next request
        c = connect(s)
        try:
            for _ in range(2):
                c.sendall(b"GET /api/search?q=%E5%9B%BD%E9%99%85%E6%BC%AB%E6%B8%B8" + args(63) + head)
                r = parse_response(read_all(c))
                check(r is not None and r[0] == 200 and json.loads(r[2])["hits"], f"64 arguments: {r}")
        finally:
            c.close()
        # The neighbours: many headers, many cookies, one huge header, all within the pool or
        # beyond it; libmicrohttpd answers these itself (431 or 200), always at once.
        search = b"GET /api/search?q=x HTTP/1.1\r\nHost: kb\r\n" + auth(s)
        for what, raw, statuses in [
            ("1,000 headers", search + b"".join(b"X-H%d: v\r\n" % i for i in range(1000)) + b"\r\n", (431,)),
            ("2,000 cookies", search + b"Cookie: " + b"; ".join(b"c%d=1" % i for i in range(2000)) +
             b"\r\n\r\n", (431,)),
            ("60 KB header", search + b"X-Big: " + b"v" * 60_000 + b"\r\n\r\n", (200,)),
        ]:
            r, took = timed_exchange(s, raw)
            check(r is not None and r[0] in statuses, f"{what}: {r and r[0]} not in {statuses}")
            check(took < scaled(2.0), f"{what}: answered after {took:.1f} s")
        # Requests whose line and headers end within a few hundred bytes of the 64 KiB pool: no
        # hang (this used to hang for 30 s at some sizes); an answer, or a close when not even
        # the error answer fits in what is left of the pool (docs/API.md, "Limits").
        seen = {}
        for n in range(64_800, 65_600, 64):
            for what, raw in (("path", b"GET /api/documents/" + b"a" * n + b"?a=1&b=2&c=3" + head),
                              ("header", search + b"X-Big: " + b"v" * n + b"\r\n\r\n")):
                r, took = timed_exchange(s, raw)
                status = r[0] if r else "closed"
                check(status in (200, 414, 431, "closed"), f"{what} {n}: {status}")
                check(took < scaled(2.0), f"{what} {n}: ended after {took:.1f} s")
                seen.setdefault(what, {}).setdefault(status, []).append(n)
        print(f"    (near the pool limit: { {w: {st: f'{min(ns)}..{max(ns)}' for st, ns in v.items()} for w, v in seen.items()} })")
    alive(s)
    check("access method=GET path=/api/search status=414" in s.log_text(), "the 414s are not in the log")


@test
def oversized_bodies_are_413_and_endless_ones_are_cut_off():
    s = shared()
    post = b"POST /api/help-requests HTTP/1.1\r\nHost: kb\r\nContent-Type: application/json\r\n" + auth(s)
    big = b'{"agent":"a","question":"' + b"x" * 200_000 + b'"}'
    chunked = b"".join(b"%x\r\n" % len(big[i:i + 8192]) + big[i:i + 8192] + b"\r\n"
                       for i in range(0, len(big), 8192)) + b"0\r\n\r\n"
    with Bystander(s):
        check_json_error(exchange(s, post + b"Content-Length: %d\r\n\r\n" % len(big) + big), (413,),
                         "200 KB body with Content-Length")
        check_json_error(exchange(s, post + b"Transfer-Encoding: chunked\r\n\r\n" + chunked), (413,),
                         "200 KB chunked body")
        # declared far beyond what is worth reading: refused before the body, connection closed
        c = connect(s)
        try:
            c.sendall(post + b"Content-Length: 10000000000\r\n\r\n")
            r = parse_response(read_all(c))
            check_json_error(r, (413,), "10 GB declared")
        finally:
            c.close()
        # an endless chunked body: the daemon stops reading after 1 MiB and drops the connection
        c = connect(s)
        sent = 0
        try:
            c.sendall(post + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + b"y" * 0x10000 + b"\r\n"
            while sent < 64 << 20:
                c.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            c.close()
        check(sent < 8 << 20, f"the daemon read {sent} bytes of an endless body")
        # Content-Length that is not a number, or negative, or huge: a 4xx, never a hang
        for value in (b"abc", b"-1", b"99999999999999999999999999", b"1, 2", b"0x10"):
            r = exchange(s, post + b"Content-Length: " + value + b"\r\n\r\n{}")
            check(r is not None and 400 <= r[0] < 500, f"Content-Length {value!r}: {r}")
        # both Content-Length and chunked (request smuggling): one answer, a 4xx
        r = exchange(s, post + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        check(r is not None and 400 <= r[0] < 500, f"Content-Length with chunked: {r}")
    alive(s)


# ---------------------------------------------------------------- slow clients
@test
def slow_and_stalled_clients_are_timed_out():
    s = shared()
    timeout = 30  # SEARCHD_CONNECTION_TIMEOUT_S, docs/API.md "Limits"
    closed = {}

    def watch(name, c, dribble=None):
        """Wait for the server to close c; dribble: bytes to send one per second meanwhile."""
        t = time.monotonic()
        c.settimeout(1.0)
        i = 0
        while time.monotonic() - t < timeout * 3:
            if dribble is not None:
                try:
                    c.send(dribble[i % len(dribble):i % len(dribble) + 1])
                    i += 1
                except OSError:
                    break
            try:
                if c.recv(4096) == b"":
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        closed[name] = time.monotonic() - t
        c.close()

    clients = []
    # idle: connects and says nothing
    clients.append(("idle", connect(s), None))
    # slowloris: a request whose headers come one byte per second, forever
    c = connect(s)
    c.sendall(b"GET /api/search?q=x HTTP/1.1\r\nHost: kb\r\n")
    clients.append(("slowloris headers", c, b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"))
    # a slow request line
    clients.append(("slowloris request line", connect(s), b"GET /api/search?q=" + b"a" * 60 + b"&"))
    # a body that never completes: 10 of 1000 declared bytes, then silence
    c = connect(s)
    c.sendall(b"POST /api/help-requests HTTP/1.1\r\nHost: kb\r\nContent-Type: application/json\r\n" +
              auth(s) + b"Content-Length: 1000\r\n\r\n" + b'{"agent":"')
    clients.append(("stalled body", c, None))
    # a body sent one byte per second
    c = connect(s)
    c.sendall(b"POST /api/help-requests HTTP/1.1\r\nHost: kb\r\nContent-Type: application/json\r\n" +
              auth(s) + b"Content-Length: 60000\r\n\r\n")
    clients.append(("slow body", c, b"a"))
    threads = [threading.Thread(target=watch, args=cl, daemon=True) for cl in clients]
    with Bystander(s, min_searches=50):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    late = {k: round(v, 1) for k, v in closed.items() if not timeout - 2 <= v <= timeout + 10}
    check(not late, f"not closed after about {timeout} s: {late} (all: {closed})")
    print(f"    (closed after: { {k: round(v, 1) for k, v in closed.items()} } s)")
    check("took more than 30 s to send a request" in s.log_text(), "the log does not say why slow clients were cut off")
    alive(s)


# ---------------------------------------------------------------- many connections
def raise_own_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def open_idle(s, src, n):
    """n connections from src that send nothing; returns those the server has not closed."""
    conns = []
    for _ in range(n):
        try:
            conns.append(connect(s, src, timeout=5))
        except OSError:
            pass
    time.sleep(1.0)
    alive_conns = []
    for c in conns:
        c.setblocking(False)
        try:
            d = c.recv(1)
            gone = d == b""
        except BlockingIOError:
            gone = False
        except OSError:
            gone = True
        if gone:
            c.close()
        else:
            alive_conns.append(c)
    return alive_conns


def flood(port, src, path, token, n, seconds, max_connects, out, depth=4):
    """What `wrk -c n` does, from the address src: n keep-alive connections, each keeping depth
    requests in flight (pipelined, so the server always has work queued as with wrk, however
    slowly this Python loop runs) and sending the next as soon as an answer is in, and
    reconnecting at once when the server closes it. Loopback only, for `seconds` and at most
    max_connects connection attempts. Runs in a process of its own (so the test's own threads
    keep their timing); puts its counts on out."""
    req = f"GET {path} HTTP/1.1\r\nHost: kb\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    counts = {"answers": 0, "closed": 0, "connects": 0}

    def connect_one():
        if counts["connects"] >= max_connects:
            return
        counts["connects"] += 1
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.bind((src, 0))
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            c.close()
            counts["closed"] += 1
            return
        sel.register(c, selectors.EVENT_WRITE, [b""])

    for _ in range(n):
        connect_one()
    end = time.monotonic() + seconds
    while time.monotonic() < end and sel.get_map():
        for key, events in sel.select(0.1):
            c, buf = key.fileobj, key.data
            try:
                if events & selectors.EVENT_WRITE:
                    if c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        raise OSError("connect failed")
                    c.send(req * depth)
                    sel.modify(c, selectors.EVENT_READ, buf)
                    continue
                data = c.recv(65536)
                if not data:
                    raise OSError("closed by the server")
                buf[0] += data
                while True:  # every whole answer in the buffer
                    head, sep, body = buf[0].partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head) if sep else None
                    if not m or len(body) < int(m.group(1)):
                        break
                    counts["answers"] += 1
                    buf[0] = body[int(m.group(1)):]
                    c.send(req)
            except OSError:
                sel.unregister(c)
                c.close()
                counts["closed"] += 1
                connect_one()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    out.put(counts)


@test
def one_address_with_a_thousand_connections_does_not_starve_the_others():
    """`wrk -c1000` against the daemon from one address: /healthz from 127.0.0.2 timed out 3 of
    12 times (3 s) and the log gained ~11,400 warning lines in 10 s (issue 15, item 11). The
    per-address limit now leaves the service to the others, and repeated warnings are logged once
    per 10 s with a count. A daemon of its own: its log is read whole, and its stop flushes the
    counts."""
    raise_own_fd_limit(4096)
    with Service(KB_FILES) as s:
        path = "/api/search?" + urllib.parse.urlencode({"q": "国际漫游"})
        out = multiprocessing.get_context("fork").Queue()
        attacker = multiprocessing.get_context("fork").Process(
            target=flood, args=(s.port, "127.0.0.1", path, s.tokens["agent"], 1000, 6.0, 300_000, out),
            daemon=True)
        probes = []  # (status or error, seconds) of /healthz from 127.0.0.2
        with Bystander(s, min_searches=20):
            attacker.start()
            time.sleep(1.0)  # the flood at full strength
            while attacker.is_alive() and len(probes) < 40:
                t = time.monotonic()
                try:
                    r = exchange(s, b"GET /healthz HTTP/1.1\r\nHost: kb\r\nConnection: close\r\n\r\n",
                                 src=BYSTANDER_IP, timeout=scaled(3))
                    status = r[0] if r else "no answer"
                except OSError as e:
                    status = f"error {e}"
                probes.append((status, round(time.monotonic() - t, 3)))
                time.sleep(0.1)
            attacker.join(scaled(30))
        counts = out.get(timeout=5)
        # Promptly: 1 s (~20-200 ms seen on a busy 2-core machine; AddressSanitizer makes the
        # daemon about three times slower)
        bound = scaled(3.0 if os.environ.get("KB_SANITIZED") else 1.0)
        slow = [p for p in probes if p[0] != 200 or p[1] > bound]
        print(f"    (flood from one address: {counts}; /healthz from another: {len(probes)} probes, "
              f"slowest {max(p[1] for p in probes) * 1000:.0f} ms)")
        check(len(probes) >= 10, f"only {len(probes)} probes ran")
        check(not slow, f"/healthz from {BYSTANDER_IP} was not answered within {bound:.0f} s: {slow[:10]} "
              f"({len(slow)} of {len(probes)})")
        check(counts["answers"] > 1000 and counts["closed"] > 1000,
              f"the flood was not one: {counts} (answered, and refused beyond the per-address limit)")
        # Per-address limit and log: the refusals are logged once, not once each
        lines = [l for l in s.log_text().splitlines() if " access " not in l]
        refusals = [l for l in lines if "connection limit" in l]
        check(1 <= len(refusals) <= 2, f"{len(refusals)} lines about refused connections:\n" +
              "\n".join(refusals[:5]))
        check(len(lines) < 30, f"the log gained {len(lines)} lines besides access lines:\n" +
              "\n".join(lines[:30]))
        check(s.stop() == 0, "kb-searchd did not stop cleanly")
        summary = [l for l in s.log_text().splitlines() if "connection limit" in l and "more like this" in l]
        check(summary, "the count of the refusals not logged was never written:\n" + s.log_text()[-2000:])
        n = int(re.search(r"(\d+) more like this", summary[-1]).group(1))
        check(n > 100, f"counted {n} refusals: {summary[-1]}")


@test
def connections_beyond_the_per_ip_limit_are_refused():
    s = shared()
    per_ip = 64  # SEARCHD_PER_IP_CONNECTION_LIMIT, the default of --max-connections-per-ip
    raise_own_fd_limit(4096)
    base = daemon_fds(s)
    with Bystander(s):
        # An address of its own: the raw-socket tests before shut down their sending side after
        # each request, and libmicrohttpd may keep such a connection for the 30 s idle time-out
        # once answered (docs/OPERATIONS.md, "Connections"), counting against 127.0.0.1.
        held = open_idle(s, "127.0.0.9", 700)
        try:
            check(per_ip - 2 <= len(held) <= per_ip, f"{len(held)} of 700 connections from one address held")
            peak = daemon_fds(s)
            check(peak >= base + per_ip - 10, f"daemon fds {base} -> {peak}")
            # the limit is per address: another client is served at once (the bystander checks it)
            time.sleep(1.0)
        finally:
            for c in held:
                c.close()
    deadline = time.time() + scaled(10)
    while daemon_fds(s) > base + 5 and time.time() < deadline:
        time.sleep(0.2)
    check(daemon_fds(s) <= base + 5, f"daemon fds after the attack: {daemon_fds(s)} (before: {base}, peak {peak})")
    print(f"    (held {len(held)} of 700; daemon fds {base} -> {peak} -> {daemon_fds(s)})")
    alive(s)


@test
def connections_beyond_the_total_limit_wait_and_are_served_once_others_leave():
    # As behind a NAT: up to 400 connections from one address (--max-connections-per-ip), and
    # the default total of 1024 (SEARCHD_CONNECTION_LIMIT)
    total = 1024
    raise_own_fd_limit(4096)
    with Service(KB_FILES, extra_args=["--max-connections-per-ip", "400"]) as s:
        total_limit_test(s, total)


def total_limit_test(s, total):
    base = daemon_fds(s)
    held = []
    try:
        for ip in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):  # 3 x 350: within the per-IP limit
            held += open_idle(s, ip, 350)
        accepted = daemon_fds(s) - base
        check(total - 10 <= accepted <= total, f"the daemon accepted {accepted} of 1050 connections")
        # At the limit the daemon stops accepting: a new client's connection waits in the listen
        # backlog (behind the attacker's surplus) rather than being refused ...
        by = Bystander(s)
        t = time.monotonic()
        pending = threading.Thread(target=lambda: by.results.append(by.one()), daemon=True)
        pending.start()
        pending.join(1.5)
        check(pending.is_alive(), f"answered although the daemon was at its connection limit: {by.results}")
        # ... and is served as soon as the idle connections go away
        for c in held:
            c.close()
        pending.join(scaled(5))
        waited = time.monotonic() - t
        check(not pending.is_alive() and by.results[0][0] == 200,
              f"the waiting client was not served once the connections were freed: {by.results}")
        print(f"    (the daemon accepted {accepted} of 1050; a new client waited {waited:.1f} s)")
    finally:
        for c in held:
            c.close()
    # Usually the daemon notices the closed connections at once; a pool thread that was at its
    # share of the limit has been seen to notice only at the idle time-out (libmicrohttpd 0.9.75).
    t = time.monotonic()
    deadline = time.time() + scaled(40)
    while daemon_fds(s) > base + 5 and time.time() < deadline:
        time.sleep(0.2)
    check(daemon_fds(s) <= base + 5, f"daemon fds after the attack: {daemon_fds(s)} (before: {base})")
    print(f"    (daemon fds back to {daemon_fds(s)} {time.monotonic() - t:.1f} s after the clients closed)")
    with Bystander(s):
        time.sleep(0.5)
    alive(s)


class FewFilesService(Service):
    """kb-searchd allowed only 300 open files (soft and hard limit), through util-linux's prlimit."""

    def command(self):
        return ["prlimit", "--nofile=300:300", "--"] + super().command()


@test
def connection_limits_are_options_checked_against_the_open_files_limit():
    with FewFilesService(KB_FILES, start=False) as s:
        s.run_indexer()
        s.port = 9  # never listened on: every run below ends before it would
        base = Service.command(s)
        for args, message in [(["--max-connections", "0"], "--max-connections 0: give a number from 1 to 65536"),
                              (["--max-connections", "many"], "--max-connections many"),
                              (["--max-connections", "70000"], "from 1 to 65536"),
                              (["--max-connections-per-ip", "2000"], "from 1 to 1024 (at most --max-connections)"),
                              (["--max-connections", "100", "--max-connections-per-ip", "101"],
                               "from 1 to 100 (at most --max-connections)"),
                              (["--max-connections-per-ip"], "--max-connections-per-ip needs a value")]:
            r = subprocess.run(base + args, capture_output=True, text=True, timeout=scaled(30))
            check(r.returncode == 2 and message in r.stderr, f"{args}: exit {r.returncode}: {r.stderr[-500:]}")
        # more connections than descriptors: an explicit limit is refused at start-up ...
        r = subprocess.run(s.command() + ["--max-connections", "1024"], capture_output=True, text=True,
                           timeout=scaled(30))
        check(r.returncode == 1 and "open files" in r.stderr and "ulimit -n" in r.stderr,
              f"exit {r.returncode}: {r.stderr[-500:]}")
        # ... and the default is lowered to what fits, with a warning; the per-address one stays
        s.start()
        m = re.search(r"at most (\d+) connections instead of 1024: the open-files limit is 300", s.log_text())
        check(m and 100 < int(m.group(1)) < 300, s.log_text()[-1000:])
        check(f"at most {m.group(1)} connections (64 per client address)" in s.log_text(), s.log_text()[-1000:])
        check_status(s.request("GET", "/healthz"), 200, "healthz")
        limit, base = int(m.group(1)), daemon_fds(s)
        held = []
        try:
            for ip in ("127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"):  # 4 x 60, beyond the limit
                held += open_idle(s, ip, 60)
            accepted = daemon_fds(s) - base
            check(limit - 10 <= accepted <= limit, f"{accepted} of 240 connections accepted (limit {limit})")
        finally:
            for c in held:
                c.close()
        print(f"    (300 open files: at most {limit} connections; {accepted} of 240 accepted)")
        time.sleep(1.0)
        alive(s)
        check("Too many open files" not in s.log_text(), s.log_text()[-1000:])


# ---------------------------------------------------------------- bad encodings
def check_sane_json(r, what, statuses=(200, 400, 404)):
    check(r.status in statuses, f"{what}: {r!r}")
    try:
        r.body.decode("utf-8")  # strict: invalid UTF-8 in an answer breaks clients
        json.loads(r.body)
    except ValueError as e:
        raise AssertionError(f"{what}: answer is not valid UTF-8 JSON ({e}): {r.body[:200]!r}")


BAD_ESCAPES = ["%", "%%", "%z", "%zz", "%4", "%c0%af", "%c0%ae%c0%ae", "%e0%80%af", "%f0%80%80%af",
               "%ed%a0%80", "%ed%bf%bf", "%f4%90%80%80", "%fe%ff", "%ff", "%00", "a%00b", "%C3%28",
               "%E4%B8", "%F0%9F%98", "%2500", "%u4e2d", "%%30%30", "\xff\xfe", "\xc0\xaf", "+%2B+"]


@test
def bad_percent_encoding_and_invalid_utf8_in_query_and_path():
    s = shared()
    with Bystander(s):
        for bad in BAD_ESCAPES:
            raw = bad.encode("latin-1")
            for path in (b"/api/search?q=" + raw, b"/api/search?q=x&" + raw + b"=1",
                         b"/api/search?" + raw, b"/api/suggest?q=" + raw,
                         b"/api/search?q=x&limit=" + raw, b"/api/documents/" + raw,
                         b"/api/documents/a" + raw, b"/static/" + raw, b"/" + raw, b"/api/" + raw,
                         b"/api/search" + raw + b"?q=x"):
                r = exchange(s, b"GET " + path + b" HTTP/1.1\r\nHost: kb\r\nConnection: close\r\n" + auth(s) + b"\r\n")
                check(r is not None, f"{path!r}: no answer")
                check_sane_json(Response(r[0], r[1], r[2]), repr(path))
    # what was searched with broken bytes is stored valid (redacted) and shown as valid UTF-8
    r = s.call("GET", "/api/gaps?status=all&limit=500", role="editor")
    check_sane_json(r, "editors' gap queue after broken queries", (200,))
    alive(s)


def filer(path):
    """The role that posts to path: help requests name an agent ("a1"), which only the support
    desk (lead, admin) may do; feedback comes from agents."""
    return "lead" if path == "/api/help-requests" else "agent"


def post(s, path, raw, role=None):
    return s.call("POST", path, role=role or filer(path), raw_body=raw)


@test
def invalid_utf8_in_json_strings_is_refused_or_stored_valid():
    s = shared()
    bodies = [b'{"agent":"a\xff\xfe","question":"\xe5\x9b\xbd\xe9\x99"}',
              b'{"agent":"\xc0\xafadmin","question":"\xed\xa0\x80 roaming"}',
              b'{"agent":"a1","question":"\xf8\x88\x80\x80\x80 x","answer":"\xff"}',
              b'{"agent":"a1","question":"\\ud800 lone high surrogate"}',
              b'{"agent":"a1","question":"\\udc00 lone low surrogate"}',
              b'{"agent":"a1","question":"nul \\u0000 inside"}',
              b'{"agent":"nul\\u0000agent","question":"x"}',
              b'{"agent":"a1","question":"\x00raw nul"}',
              b'\xef\xbb\xbf{"agent":"a1","question":"BOM first"}',
              b'{"agent":"a1","question":"\\uD83D\\uDE00 pair is fine"}']
    with Bystander(s):
        for i, raw in enumerate(bodies):
            r = post(s, "/api/help-requests", raw)
            check_sane_json(r, f"help request {raw!r}", (201, 400))
            if i < 3:  # raw bytes that are not UTF-8: refused, saying so
                check(r.status == 400 and "UTF-8" in r.json()["error"], f"{raw!r}: {r!r}")
        for raw in (b'{"search_id":"\xff\xff","kind":"not_found"}',
                    b'{"search_id":"0123456789abcdef0123456789abcdef","kind":"not\xff_found"}',
                    b'{"search_id":"0123456789abcdef0123456789abcdef","kind":"click","doc_id":"\xc0\xaf"}'):
            check_sane_json(post(s, "/api/feedback", raw), f"feedback {raw!r}", (400, 404))
    # whatever was stored comes back as valid UTF-8 JSON to the leads and editors
    check_sane_json(s.call("GET", "/api/help-requests?limit=500", role="lead"), "leads' list", (200,))
    check_sane_json(s.call("GET", "/api/gaps?status=all&limit=500", role="editor"), "gap queue", (200,))
    check_sane_json(s.call("GET", "/api/reports/help-requests", role="lead"), "report", (200, 400))
    alive(s)


NUL_BODIES = [  # (path, role, raw body): each holds a NUL character in a string or a key
    ("/api/help-requests", "lead", b'{"agent":"a1","question":"a\\u0000b"}'),
    ("/api/help-requests", "lead", b'{"agent":"a1","question":"x","answer":"ok\\u0000 13812345678"}'),
    ("/api/help-requests", "lead", b'{"agent":"a1\\u0000x","question":"x"}'),
    ("/api/help-requests", "lead", b'{"agent":"a1","question":"\\u0000"}'),
    ("/api/help-requests", "lead", b'{"agent":"a1","question":"x","answer\\u0000x":"y"}'),
    ("/api/help-requests", "lead", b'{"agent":"a1","question":"x\\\\\\u0000"}'),
    ("/api/help-requests", "lead", b'{"agent":"a1","question":"raw \x00 byte"}'),
    ("/api/feedback", "agent", b'{"search_id":"0123456789abcdef0123456789abcdef","kind":"not_found\\u0000x"}'),
    ("/api/help-requests/1/review", "lead", b'{"kb_answerable":false,"note":"a\\u0000b"}'),
    ("/api/gaps/1", "editor", b'{"status":"open","note":"a\\u0000b"}'),
    ("/api/agents", "admin", b'{"agents":[{"id":"a1\\u0000x","name":"n"}]}'),
]


@test
def nul_in_json_strings_is_400():
    """cJSON ends a string at \\u0000, so "a\\u0000b" would be stored as "a": refused instead, for
    every JSON body, saying where (issue 15, 15). An escaped backslash before "u0000" is text."""
    s = shared()
    with Bystander(s):
        for path, role, raw in NUL_BODIES:
            method = "PUT" if path.startswith("/api/agents") else "POST"
            r = s.call(method, path, role=role, raw_body=raw)
            check_sane_json(r, f"{path} {raw!r}", (400,))
            check("NUL" in r.json()["error"] and "byte" in r.json()["error"], f"{path} {raw!r}: {r!r}")
        r = post(s, "/api/help-requests", b'{"agent":"a1","question":"x\\\\u0000y"}', role="lead")
        check_status(r, 201, "an escaped backslash followed by u0000 is text")
        for q in ("a%00b", "%00", "x%00"):
            r = s.call("GET", "/api/search?q=" + q)
            check_sane_json(r, q, (400,))
            check("%00" in r.json()["error"], f"q={q}: {r!r}")
        check_status(s.call("GET", "/api/search?q=x&limit=1%00"), 400, "limit=1%00")
        check_status(s.call("GET", "/api/gaps?category=a%00b", role="editor"), 400, "category=a%00b")
    alive(s)


# ---------------------------------------------------------------- hostile JSON
FIELDS = {"/api/help-requests": {"agent": "a1", "question": "国际漫游怎么开通", "answer": "开通即可"},
          "/api/feedback": {"search_id": "0123456789abcdef0123456789abcdef", "kind": "not_found",
                            "doc_id": "roam-001"}}
WRONG = [None, 0, -1, 1.5, 1e308, True, False, [], ["x"], {}, {"x": "y"}, "", " ", "\u3000"]


@test
def deep_huge_and_wrongly_typed_json_is_400():
    s = shared()
    with Bystander(s):
        for path in FIELDS:
            for raw, statuses in [(b"[" * 60_000, (400,)), (b"[" * 100_000, (413,)),
                                  (b'{"a":' * 30_000 + b"1" + b"}" * 30_000, (400, 413)),
                                  (b"{" * 60_000, (400,)),
                                  (b'{"agent":"a","question":"q","x":' + b"[" * 16 + b"]" * 16 + b"}", (400,)),
                                  (b'{"agent":1' + b"0" * 60_000 + b',"question":"q"}', (400,)),
                                  (b'{"agent":"a","question":1e999999}', (400,)),
                                  (b'{"agent":"a","question":-1e-999999}', (400,)),
                                  (b'{"agent":"a","question":NaN}', (400,)),
                                  (b'{"agent":"a","question":Infinity}', (400,)),
                                  (b'{"agent":"a","question":"\\u12"}', (400,)),
                                  (b'{"agent":"a","question":"unterminated', (400,)),
                                  (b'{"agent":"a",,"question":"q"}', (400,)),
                                  (b'{"agent":"a","question":"q",}', (400,)),
                                  (b'"just a string"', (400,)), (b"null", (400,)), (b"12345", (400,)),
                                  (b"\x00\x00\x00", (400,)), (b'{"\xff":"\xff"}', (400,))]:
                r = post(s, path, raw)
                check(r.status in statuses, f"{path} {raw[:40]!r}: {r!r}")
                check_sane_json(r, f"{path} {raw[:40]!r}", statuses)
            # every field with every wrong type
            for field in FIELDS[path]:
                for value in WRONG:
                    body = dict(FIELDS[path], **{field: value})
                    r = s.call("POST", path, role=filer(path), body=body)
                    if field in ("answer", "agent") and value is None:  # agent: the token's own
                        check(r.status == 201, f"{path} {field} null is 'not given': {r!r}")
                        continue
                    if path == "/api/feedback" and field == "doc_id" and value is None:
                        check(r.status == 404, f"not_found without doc_id: {r!r}")  # unknown search
                        continue
                    check_sane_json(r, f"{path} {field}={value!r}", (400,))
        # duplicate keys: the first one counts (cJSON), consistently, and nothing breaks
        r = post(s, "/api/help-requests", b'{"agent":"a1","agent":7,"question":"q","question":[]}')
        check(r.status == 201, f"duplicate keys, first valid: {r!r}")
        r = post(s, "/api/help-requests", b'{"agent":7,"agent":"a1","question":"q"}')
        check_sane_json(r, "duplicate keys, first wrong", (400,))
        # 4,000 members, all unknown: ignored (the body stays within the 64 KiB limit)
        many = "{" + ",".join(f'"k{i}":{i}' for i in range(4000)) + ',"agent":"a1","question":"q"}'
        check_status(post(s, "/api/help-requests", many.encode()), 201, "many unknown members")
    alive(s)


# ---------------------------------------------------------------- path traversal
TRAVERSALS = ["../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd",
              "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%252e%252e%252fetc%252fpasswd", "..%252f..%252fetc",
              "..\\..\\..\\etc\\passwd", "..%5c..%5cetc%5cpasswd", "/etc/passwd", "%2fetc%2fpasswd",
              "....//....//etc/passwd", "..;/..;/etc/passwd", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
              "..%c0%af..%c0%afetc%c0%afpasswd", "../../searchd/static.c", "../static.c",
              "app.js/../../../etc/passwd", "./agent.html", ".%2fagent.html", "agent.html%00",
              "agent.html%00.png", "%00", "~root/.bashrc", "file:///etc/passwd", "..", "."]


@test
def path_traversal_never_leaves_the_embedded_files():
    s = shared()
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()[:20]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "harness.py"), "rb") as f:
        harness_head = f.read()[:60]
    with Bystander(s):
        for t in TRAVERSALS:
            for prefix in ("/static/", "/", "/api/documents/", "/agent/", "/static/%2e%2e/", "//"):
                path = (prefix + t).encode("latin-1")
                r = exchange(s, b"GET " + path + b" HTTP/1.1\r\nHost: kb\r\nConnection: close\r\n" + auth(s) + b"\r\n")
                check(r is not None, f"{path!r}: no answer")
                check(r[0] in (400, 404), f"{path!r}: {r[0]} {r[2][:100]!r}")
                check(passwd not in r[2] and harness_head not in r[2], f"{path!r} served a file: {r[2][:100]!r}")
        # absolute-form and odd request targets
        for target in (b"http://kb/../../etc/passwd", b"http://evil.example/static/app.js", b"*",
                       b"../../etc/passwd", b"static/../../etc/passwd", b"\\..\\..\\etc\\passwd"):
            r = exchange(s, b"GET " + target + b" HTTP/1.1\r\nHost: kb\r\n\r\n")
            check(r is not None and r[0] in (400, 404), f"{target!r}: {r}")
            check(passwd not in r[2], f"{target!r} served /etc/passwd")
        # the real pages are still there
        check_status(s.request("GET", "/"), 200, "login page")
    alive(s)


if __name__ == "__main__":
    run_tests(cleanups=[lambda: _shared and _shared.cleanup()])
