"""tcp_timers.py — when an endpoint's TCP gives a connection up on a cut network, for the tests'
proxy (tests/pg_proxy.py), which cannot cut a network itself.

Why a model: a proxy in user space is, to each endpoint's kernel, the peer. Its kernel
acknowledges every segment and answers every keepalive probe, so neither kb-searchd's kernel
nor PostgreSQL's ever sees the cut the proxy makes by no longer forwarding: their
TCP_USER_TIMEOUT and keepalives, the very settings that end a connection on a real cut
(kb/db/db_pg.c for the node, tcp_keepalives_* in deploy/cluster/postgresql-kb.conf for the
server), would never fire. So the proxy plays them: it reads each endpoint's settings from the
endpoint's own socket (through pidfd_getfd, Linux 5.6+: a copy of the other process's file
descriptor; root, or the same user), computes from them when that endpoint's kernel would give
the connection up, as Linux does, and resets the endpoint's connection at that moment. What is
tested is then the product's settings as they are in force, and the programs' reaction to a
connection their kernel ends — not a timing the test assumed.

Linux's rules (net/ipv4/tcp_timer.c), for a peer that answers nothing from the cut on:
- Data sent after the cut is never acknowledged. With TCP_USER_TIMEOUT = U the connection is
  given up U after that first unacknowledged send; without, after tcp_retries2 retransmissions
  (15 by default: about 15 minutes at the minimum retransmission timeout of 200 ms).
- An idle connection with SO_KEEPALIVE sends its first probe KEEPIDLE after it last heard from
  the peer, then one every KEEPINTVL. Without U it gives up when KEEPCNT probes went
  unanswered; with U, at the first probe timer once U has passed since it last heard and a
  probe is out (U overrides KEEPCNT). A send stops the probes: the rule above applies then.
- Before the cut the peer answered everything, probes included: an idle connection last heard
  from it at its last probe (one every KEEPIDLE of silence), or at its last data.
"""
import ctypes
import math
import os
import socket
import struct

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (since 5.6)
TCP_USER_TIMEOUT = 18  # <netinet/tcp.h>; Python's socket module names it only on newer versions
RTO_MIN_S, RTO_MAX_S = 0.2, 120.0


def retries2_s():
    """How long Linux retransmits unacknowledged data without TCP_USER_TIMEOUT."""
    try:
        with open("/proc/sys/net/ipv4/tcp_retries2") as f:
            n = int(f.read())
    except (OSError, ValueError):
        n = 15
    return sum(min(RTO_MIN_S * 2 ** i, RTO_MAX_S) for i in range(n + 1))


def syn_gives_up_s():
    """How long a connect() whose SYN is never answered takes to fail (tcp_syn_retries, from a
    1 s timeout doubling: 127 s by default)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_syn_retries") as f:
            n = int(f.read())
    except (OSError, ValueError):
        n = 6
    return float(2 ** (n + 1) - 1)


class TcpTimers:
    """One socket's settings, in seconds (user_timeout 0: none)."""

    def __init__(self, keepalive, idle, interval, count, user_timeout):
        self.keepalive, self.idle, self.interval, self.count = keepalive, idle, interval, count
        self.user_timeout = user_timeout

    def __repr__(self):
        ka = (f"keepalives {self.idle:g}/{self.interval:g}/{self.count}" if self.keepalive
              else "no keepalives")
        return f"{ka}, TCP_USER_TIMEOUT {self.user_timeout:g} s"

    def last_heard(self, last_activity, cut):
        """When the kernel last heard from the peer before the cut: its last data, or the
        answer to its last keepalive probe (one every `idle` of silence)."""
        if not self.keepalive or self.idle <= 0 or cut <= last_activity:
            return min(last_activity, cut)
        return last_activity + math.floor((cut - last_activity) / self.idle) * self.idle

    def keepalive_gives_up(self, heard):
        """When an idle connection's probes end it (None: never)."""
        if not self.keepalive:
            return None
        first_probe = heard + self.idle
        if self.user_timeout > 0:
            k = max(1, math.ceil((self.user_timeout - self.idle) / self.interval))
            return first_probe + k * self.interval
        return first_probe + self.count * self.interval

    def gives_up(self, last_activity, cut, first_send):
        """When the kernel ends the connection on a network cut at `cut`; first_send: the first
        time it sent anything after the cut (None: nothing yet). None: not yet known (idle,
        no keepalives)."""
        probes_end = self.keepalive_gives_up(self.last_heard(last_activity, cut))
        if first_send is not None and (probes_end is None or first_send < probes_end):
            return first_send + (self.user_timeout if self.user_timeout > 0 else retries2_s())
        return probes_end


# ---------------------------------------------------------------- reading another process's socket
def _hex_addr(addr):
    """/proc/net/tcp's form of an IPv4 (host, port): little-endian address, port in hex."""
    host, port = addr
    return "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(host))[0], port)


def _inode(local, remote):
    """The inode of the TCP socket whose local and remote addresses are these."""
    want = (_hex_addr(local), _hex_addr(remote))
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if (cols[1], cols[2]) == want:
                return int(cols[9])
    raise LookupError(f"no socket {local} -> {remote} in /proc/net/tcp")


def _holder(inode, pids=None):
    """(pid, fd) of a process holding the socket with this inode."""
    link = f"socket:[{inode}]"
    candidates = pids if pids else [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in candidates:
        d = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(d)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{d}/{fd}") == link:
                    return int(pid), int(fd)
            except OSError:
                continue
    raise LookupError(f"no process holds {link}")


_libc = ctypes.CDLL(None, use_errno=True)


def _copy_fd(pid, fd):
    pidfd = os.pidfd_open(pid)
    try:
        copy = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"pidfd_getfd of process {pid}'s descriptor {fd}: {os.strerror(e)}")
        return copy
    finally:
        os.close(pidfd)


def peer_timers(sock, pids=None):
    """The TCP settings of the socket at the other end of `sock` (a connection on this machine),
    read from that socket itself in the process holding it. pids: where to look first (e.g. a
    PostgreSQL backend's pid from its BackendKeyData); every process otherwise."""
    local, remote = sock.getsockname(), sock.getpeername()
    inode = _inode(remote, local)
    try:
        pid, fd = _holder(inode, pids)
    except LookupError:
        if not pids:
            raise
        pid, fd = _holder(inode)
    s = socket.socket(fileno=_copy_fd(pid, fd))
    try:
        return TcpTimers(
            keepalive=bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)),
            idle=float(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)),
            interval=float(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)),
            count=s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            user_timeout=s.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT) / 1000.0)
    finally:
        s.close()  # the copy only: the process keeps its socket
