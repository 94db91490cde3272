"""pg_proxy.py — a TCP proxy between kb-searchd and its PostgreSQL server that can cut the
network and lose the answer to a COMMIT, for tests that need neither root nor network
namespaces nor firewall rules (CI runs on a fresh machine without them).

    from pg_proxy import PgProxy
    proxy = PgProxy((pg_host, pg_port), listen_host=pg_host, source_host=node_host).start()
    uri = f"postgresql://kb@{pg_host}:{proxy.port}/kb"   # the node connects through it
    proxy.blackhole()             # the network between the two is cut, from now
    proxy.blackhole(at_write_lock=True)   # ... at the moment a session gets the write lock
    proxy.heal()                  # and works again
    rec = proxy.drop_after_commit(lambda statements: ...)  # the next such COMMIT reaches the
    rec.done.wait(10)             # server and commits; its answer never reaches the node
    rec = proxy.hold_commit_answer(1.0, lambda statements: ...)  # ... or reaches it a second late
    proxy.events                  # [(monotonic time, what, connection)], for the figures
    proxy.close()

**Blackhole.** Nothing is forwarded either way, and every socket stays open: nothing closes,
as on a cut network. Connections opened meanwhile are taken but get no answer, as a SYN would
not. Because the proxy's own kernel keeps acknowledging each endpoint, neither endpoint's TCP
could ever notice; so the proxy ends each endpoint's connection when that endpoint's own TCP
would have on a real cut, from the settings in force on its socket (tests/tcp_timers.py: the
node's TCP_USER_TIMEOUT and keepalives, PostgreSQL's tcp_keepalives_*), with a reset.
**Heal**: a connection whose two ends are both still there resumes with what was held (TCP
would retransmit it); one whose other end gave up is reset (the peer that forgot it answers its
next segment with a reset); connections begun during the cut go through (the next SYN would).

**Drop after COMMIT.** The proxy reads the PostgreSQL protocol from the node just enough to know
each transaction's statements: simple queries ('Q', which libpq's PQexec sends: kb/db/db_pg.c
runs BEGIN and COMMIT that way) and the extended protocol's Parse, Bind and Execute (PQexecParams
and PQexecPrepared: the writer's INSERTs). When a COMMIT ends a transaction the caller's
predicate accepts (it gets the transaction's SQL texts), the COMMIT is forwarded, the server's
answer is read to its end (CommandComplete, ReadyForQuery: the commit has happened), and then
both connections are closed without it — the node's with a reset. Holding the answer instead
delays it (a slow commit), which lets a test collect several events into one writer batch.

The proxy runs one thread with a selector; it does not speak TLS (a connection that turns to TLS
is forwarded as bytes, and none of the above applies to it): the tests' servers have none.
"""
import selectors
import socket
import struct
import threading
import time

from tcp_timers import peer_timers, syn_gives_up_s

NODE, SERVER = 0, 1
SIDE_NAME = ("node", "server")
SSL_REQUEST, GSSENC_REQUEST, CANCEL_REQUEST, PROTOCOL_3 = 80877103, 80877104, 80877102, 196608
COMMITS = {"COMMIT", "END", "COMMIT WORK", "COMMIT TRANSACTION", "END WORK", "END TRANSACTION"}


def _reset(sock):
    """Close with a reset (RST), as a kernel that gave the connection up does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _is_commit(sql):
    return " ".join(sql.strip().rstrip(";").split()).upper() in COMMITS


class CommitRecord:
    """What became of an armed COMMIT: done is set once it happened."""

    def __init__(self, when, hold=None):
        self.when, self.hold = when, hold
        self.done = threading.Event()
        self.t = None           # when the server's answer was complete
        self.tag = None         # the server's answer: "COMMIT" (or "ROLLBACK" after an error)
        self.statements = None  # the transaction's SQL
        self.app = None


class _Conn:
    """One node session: the node's socket, the server's, and what the proxy knows of them."""

    def __init__(self, n, sock, now):
        self.n, self.socks = n, [sock, None]
        self.out = [bytearray(), bytearray()]    # to write to each side
        self.inbuf = [bytearray(), bytearray()]  # read from each side, not yet a whole message
        self.last = [now, now]                   # last data on each side
        self.dead = [False, False]
        self.mask = [0, 0]                       # what the selector watches on each side
        self.startup = True      # the node's first messages have no type byte
        self.ssl_answer = False  # the server's next byte answers an SSLRequest
        self.opaque = False      # TLS: bytes only
        self.app, self.backend_pid = "", None
        self.stmts, self.portals = {}, {}
        self.tx, self.last_query, self.tx_status = [], "", "I"
        self.answer = None       # (CommitRecord, buffer) while a COMMIT's answer is taken aside
        self.release_at = None   # a held answer goes to the node then
        self.cut = None          # the cut this connection is in: {"at", "before", "first_send", ...}

    def __str__(self):
        return f"#{self.n} {self.app or '?'}" + (f" (backend {self.backend_pid})" if self.backend_pid else "")


class PgProxy:
    def __init__(self, upstream, listen_host="127.0.0.1", source_host=None, node_pids=None, log=None):
        """upstream: the server's (host, port). source_host: the address its connections come
        from (the node's, so pg_stat_activity shows the node). node_pids: a callable giving the
        node's process ids, where its sockets' settings are looked for first."""
        self.upstream, self.source_host = upstream, source_host
        self.node_pids = node_pids or (lambda: None)
        self.log = log or (lambda msg: None)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((listen_host, 0))
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.host, self.port = self.listener.getsockname()
        self.sel = selectors.DefaultSelector()
        self.wake_r, self.wake_w = socket.socketpair()
        self.lock = threading.Lock()
        self.conns = set()
        self.n = 0
        self.cutting = None          # the current cut: {"at": time} (None: forwarding)
        self.cut_armed = False       # cut at the next write lock granted
        self.cut_done = threading.Event()
        self.armed = []              # CommitRecords waiting for their COMMIT
        self.events, self.errors = [], []
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True, name="pg-proxy")

    # ---------------------------------------------------------------- the tests' side
    def start(self):
        self.sel.register(self.listener, selectors.EVENT_READ, ("accept", None, None))
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", None, None))
        self.thread.start()
        return self

    def close(self):
        with self.lock:
            self.stopping = True
        self._wake()
        self.thread.join(10)

    def blackhole(self, at_write_lock=False):
        """Cut the network now, or (at_write_lock) right after the server grants a session the
        cluster's write lock (kb/db/db_pg.c's pg_advisory_xact_lock): the worst moment, when the
        server holds every node's writes for the cut one. cut_done is set at the cut."""
        with self.lock:
            self.cut_done.clear()
            if at_write_lock:
                self.cut_armed = True
            else:
                self._cut("by the test")
        self._wake()

    def heal(self):
        with self.lock:
            self._heal()
        self._wake()

    def drop_after_commit(self, when):
        rec = CommitRecord(when)
        with self.lock:
            self.armed.append(rec)
        return rec

    def hold_commit_answer(self, seconds, when):
        rec = CommitRecord(when, hold=seconds)
        with self.lock:
            self.armed.append(rec)
        return rec

    @property
    def cut_at(self):
        return self.cutting["at"] if self.cutting else None

    def gave_up(self, side, since=None):
        """When each connection's end on `side` ("node" or "server") was ended by the model of
        its TCP: [(time, connection)]."""
        with self.lock:
            return [(t, c) for t, what, c in self.events
                    if what == f"{side} gives up" and (since is None or t >= since)]

    # ---------------------------------------------------------------- the loop
    def _wake(self):
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass

    def _event(self, what, conn=None):
        t = time.monotonic()
        self.events.append((t, what, str(conn) if conn else ""))
        self.log(f"pg_proxy :{self.port}: {what}{' ' + str(conn) if conn else ''}")

    def _loop(self):
        while True:
            timeout = 0.05
            with self.lock:
                if self.stopping:
                    break
                self._update_interest()
            for key, mask in self.sel.select(timeout):
                kind, conn, side = key.data
                with self.lock:
                    try:
                        if kind == "accept":
                            self._accept()
                        elif kind == "wake":
                            self.wake_r.recv(4096)
                        else:
                            if mask & selectors.EVENT_WRITE:
                                self._write(conn, side)
                            if mask & selectors.EVENT_READ and not conn.dead[side]:
                                self._read(conn, side)
                    except Exception as e:  # a test helper must say what broke, not hang
                        self.errors.append(f"{type(e).__name__}: {e}")
                        self._event(f"error: {type(e).__name__}: {e}", conn)
            with self.lock:
                self._timers()
        with self.lock:
            for conn in list(self.conns):
                for side in (NODE, SERVER):
                    self._close_side(conn, side, reset=False)
            self.sel.close()
            self.listener.close()
            self.wake_r.close()
            self.wake_w.close()

    def _update_interest(self):
        for conn in self.conns:
            for side in (NODE, SERVER):
                sock = conn.socks[side]
                if sock is None or conn.dead[side]:
                    continue
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out[side] else 0)
                if want == conn.mask[side]:
                    continue
                if conn.mask[side]:
                    self.sel.modify(sock, want, ("io", conn, side))
                else:
                    self.sel.register(sock, want, ("io", conn, side))
                conn.mask[side] = want

    def _close_side(self, conn, side, reset):
        sock = conn.socks[side]
        if sock is None or conn.dead[side]:
            return
        conn.dead[side] = True
        try:
            self.sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        if reset:
            _reset(sock)
        else:
            sock.close()
        if all(conn.dead[s] or conn.socks[s] is None for s in (NODE, SERVER)):
            self.conns.discard(conn)

    def _connect_upstream(self, conn):
        s = socket.socket()
        if self.source_host:
            s.bind((self.source_host, 0))
        s.settimeout(5)
        try:
            s.connect(self.upstream)
        except OSError:
            s.close()
            self._close_side(conn, NODE, reset=True)  # as a refused connection would be
            return False
        s.setblocking(False)
        conn.socks[SERVER] = s
        conn.last[SERVER] = time.monotonic()
        return True

    def _accept(self):
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        self.n += 1
        conn = _Conn(self.n, sock, time.monotonic())
        self.conns.add(conn)
        if self.cutting:
            # no SYN gets through: the node's connect would time out, or go through at a heal
            conn.cut = {"at": time.monotonic(), "before": [conn.last[NODE], None],
                        "first_send": [None, None], "timers": [None, None], "new": True}
            return
        self._connect_upstream(conn)

    def _write(self, conn, side):
        buf = conn.out[side]
        if not buf or conn.dead[side]:
            return
        try:
            n = conn.socks[side].send(buf)
        except BlockingIOError:
            return
        except OSError:
            self._gone(conn, side)
            return
        del buf[:n]
        conn.last[side] = time.monotonic()

    def _read(self, conn, side):
        try:
            data = conn.socks[side].recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._gone(conn, side)
            return
        now = time.monotonic()
        conn.last[side] = now
        if conn.cut:
            conn.cut.setdefault("held", [bytearray(), bytearray()])[side] += data
            if conn.cut["first_send"][side] is None:
                conn.cut["first_send"][side] = now
            return
        conn.inbuf[side] += data
        if side == NODE:
            self._from_node(conn)
        else:
            self._from_server(conn)

    def _gone(self, conn, side):
        """One end closed its connection (or it failed)."""
        other = 1 - side
        self._close_side(conn, side, reset=False)
        if conn.cut:
            return  # its FIN is lost on the cut network: the other end learns nothing
        # pass the close on, after what is still to be written to the other end
        sock = conn.socks[other]
        if sock is not None and not conn.dead[other]:
            try:
                sock.setblocking(True)
                sock.settimeout(1)
                if conn.out[other]:
                    sock.sendall(conn.out[other])
            except OSError:
                pass
            self._close_side(conn, other, reset=False)

    # ---------------------------------------------------------------- the protocol
    @staticmethod
    def _messages(buf, typed):
        """Whole messages at the front of buf, taken off it: [(type, payload, raw)]."""
        out = []
        while True:
            head = 5 if typed else 4
            if len(buf) < head:
                break
            length = struct.unpack("!I", bytes(buf[head - 4:head]))[0]
            total = length + (1 if typed else 0)
            if length < 4 or len(buf) < total:
                break
            raw = bytes(buf[:total])
            del buf[:total]
            out.append((chr(raw[0]) if typed else None, raw[head:], raw))
        return out

    def _from_node(self, conn):
        if conn.opaque:
            conn.out[SERVER] += conn.inbuf[NODE]
            conn.inbuf[NODE].clear()
            return
        while conn.startup and not conn.opaque:
            msgs = self._messages(conn.inbuf[NODE], typed=False)
            if not msgs:
                return
            _, payload, raw = msgs[0]
            conn.out[SERVER] += raw
            code = struct.unpack("!I", payload[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                conn.ssl_answer = True
            elif code == PROTOCOL_3:
                conn.startup = False
                words = payload[4:].split(b"\0")
                params = dict(zip(words[0::2], words[1::2]))
                conn.app = params.get(b"application_name", b"").decode("utf-8", "replace")
        for kind, payload, raw in self._messages(conn.inbuf[NODE], typed=True):
            conn.out[SERVER] += raw
            if kind == "Q":
                self._statement(conn, payload[:-1].decode("utf-8", "replace"))
            elif kind == "P":
                name, rest = payload.split(b"\0", 1)
                conn.stmts[name] = rest.split(b"\0", 1)[0].decode("utf-8", "replace")
            elif kind == "B":
                portal, stmt = payload.split(b"\0", 2)[:2]
                conn.portals[portal] = conn.stmts.get(stmt, "")
            elif kind == "E":
                self._statement(conn, conn.portals.get(payload.split(b"\0", 1)[0], ""))

    def _statement(self, conn, sql):
        """The node runs sql: a COMMIT an armed record wants is taken aside."""
        if _is_commit(sql):
            for rec in self.armed:
                if rec.when(list(conn.tx)):
                    self.armed.remove(rec)
                    rec.statements, rec.app = list(conn.tx), conn.app
                    conn.answer = (rec, bytearray())
                    break
        conn.tx.append(sql)
        conn.last_query = sql

    def _from_server(self, conn):
        buf = conn.inbuf[SERVER]
        if conn.ssl_answer and buf:
            conn.ssl_answer = False
            answer = buf[:1]
            del buf[:1]
            conn.out[NODE] += answer
            if answer == b"S":
                conn.opaque = True  # TLS from here on
        if conn.opaque:
            conn.out[NODE] += buf
            buf.clear()
            return
        for kind, payload, raw in self._messages(buf, typed=True):
            if kind == "K":
                conn.backend_pid = struct.unpack("!I", payload[:4])[0]
            if conn.answer:
                rec, held = conn.answer
                held += raw
                if kind == "C":
                    rec.tag = payload.rstrip(b"\0").decode()
                if kind == "Z":
                    self._answer_complete(conn)
                continue
            conn.out[NODE] += raw
            if kind == "Z":
                conn.tx_status = chr(payload[0])
                if conn.tx_status == "I":
                    conn.tx = []
                if (self.cut_armed and conn.tx_status == "T"
                        and "pg_advisory_xact_lock" in conn.last_query):
                    self.cut_armed = False
                    self._cut(f"after the write lock was granted to {conn}")

    def _answer_complete(self, conn):
        rec, held = conn.answer
        rec.t = time.monotonic()
        conn.tx = []
        if rec.hold is None:
            conn.answer = None
            self._event(f"COMMIT answered {rec.tag!r} by the server; the answer dropped and the "
                        "connection closed", conn)
            self._close_side(conn, SERVER, reset=False)
            self._close_side(conn, NODE, reset=True)
            rec.done.set()
        else:
            conn.release_at = rec.t + rec.hold
            self._event(f"COMMIT answered {rec.tag!r}; the answer held {rec.hold:g} s", conn)

    # ---------------------------------------------------------------- the cut
    def _cut(self, why):
        now = time.monotonic()
        self.cutting = {"at": now}
        self.cut_done.set()
        self._event(f"network cut ({why})")
        node_pids = self.node_pids()
        for conn in list(self.conns):
            conn.cut = {"at": now, "before": list(conn.last), "first_send": [None, None],
                        "timers": [None, None], "new": conn.socks[SERVER] is None}
        # each end's TCP settings, from its own socket
        for conn in list(self.conns):
            for side, pids in ((NODE, node_pids), (SERVER, [conn.backend_pid] if conn.backend_pid else None)):
                sock = conn.socks[side]
                if sock is None or conn.dead[side]:
                    continue
                try:
                    conn.cut["timers"][side] = peer_timers(sock, pids)
                except (OSError, LookupError) as e:
                    self.errors.append(f"cannot read the {SIDE_NAME[side]}'s TCP settings of {conn}: {e}")
                    self._event(f"cannot read the {SIDE_NAME[side]}'s TCP settings: {e}", conn)

    def _timers(self):
        now = time.monotonic()
        for conn in list(self.conns):
            if conn.release_at is not None and now >= conn.release_at and conn.answer:
                rec, held = conn.answer
                conn.answer, conn.release_at = None, None
                conn.out[NODE] += held
                rec.done.set()
            cut = conn.cut
            if not cut:
                continue
            for side in (NODE, SERVER):
                if conn.socks[side] is None or conn.dead[side]:
                    continue
                if cut["new"] and side == NODE:
                    due = cut["at"] + syn_gives_up_s()  # its SYN is never answered
                else:
                    timers = cut["timers"][side]
                    due = timers.gives_up(cut["before"][side], cut["at"], cut["first_send"][side]) if timers else None
                if due is not None and now >= due:
                    self._event(f"{SIDE_NAME[side]} gives up", conn)
                    self._close_side(conn, side, reset=True)

    def _heal(self):
        if not self.cutting:
            return
        self.cutting = None
        self.cut_armed = False
        self._event("network healed")
        for conn in list(self.conns):
            cut, conn.cut = conn.cut, None
            if not cut:
                continue
            held = cut.get("held", [bytearray(), bytearray()])
            if cut["new"]:
                if not conn.dead[NODE] and self._connect_upstream(conn):
                    conn.inbuf[NODE] += held[NODE]
                    self._from_node(conn)
                continue
            if conn.dead[NODE] or conn.dead[SERVER]:
                for side in (NODE, SERVER):
                    if not conn.dead[side]:
                        self._event(f"{SIDE_NAME[side]} is reset: the other end gave up during the cut", conn)
                        self._close_side(conn, side, reset=True)
                continue
            # both ends still there: TCP retransmits what the cut held
            conn.inbuf[NODE] += held[NODE]
            conn.inbuf[SERVER] += held[SERVER]
            self._from_node(conn)
            self._from_server(conn)
