#!/usr/bin/env python3
"""gaps_load.py — does the editors' queue take CPU from searches under a saturated load, and does
it catch up when the load eases? (bench/README.md, "Figures")

    BIN=bin bench/gaps_load.py [--index DIR] [--queries FILE] [--seconds 45] [--slice 15]

Starts kb-searchd (a fresh event store) on the index of an earlier `make bench` search part
(default /var/tmp/kb-bench/idx-kb100k, kbgen's queries beside it), then runs wrk saturated with 64
connections (the search part's wrk script) for SECONDS in slices of SLICE seconds, back to back.
For each slice it prints the searches/s, and the CPU the gap queue's thread (`kb-gaps`; found with
gdb in binaries older than the thread names) and the whole daemon used, in % of one core, from
/proc/PID/task/TID/stat. Then, with the load stopped, how many searches the queue had still to
take in and how long it took to catch up. Every process it starts is stopped when it ends.
"""
import argparse
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(path):
    """utime + stime of a /proc stat file (the fields after the command's closing parenthesis)."""
    with open(path) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def find_gaps_thread(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "kb-gaps":
                return int(tid)
    # A binary from before the threads had names: the thread whose stack holds worker_main.
    out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                         capture_output=True, text=True, timeout=60).stdout
    for block in re.split(r"\n(?=Thread \d+ )", out):
        m = re.match(r"Thread \d+ .*\(LWP (\d+)\)", block)
        if m and "worker_main" in block:
            return int(m.group(1))
    sys.exit("gaps_load: cannot find the gap queue's thread")


def backlog(db_path):
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        newest = db.execute("SELECT coalesce(max(rowid), 0) FROM searches").fetchone()[0]
        row = db.execute("SELECT last_id FROM gap_progress WHERE source = 'searches'").fetchone()
        queued = db.execute("SELECT count(*) FROM gap_questions").fetchone()[0]
        return newest - (row[0] if row else 0), queued
    finally:
        db.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="/var/tmp/kb-bench/idx-kb100k")
    ap.add_argument("--queries", default="/var/tmp/kb-bench/kb100k/queries.txt")
    ap.add_argument("--seconds", type=int, default=45)
    ap.add_argument("--slice", type=int, default=15)
    ap.add_argument("--catch-up-limit", type=int, default=600)
    args = ap.parse_args()
    binary = os.path.join(os.environ.get("BIN", os.path.join(ROOT, "bin")), "kb-searchd")
    work = tempfile.mkdtemp(prefix="kb-gaps-load.")
    token = secrets.token_hex(20)
    with open(f"{work}/tokens", "w") as f:
        f.write(f"{token} agent bench\n")
    os.chmod(f"{work}/tokens", 0o600)
    with open(args.queries, encoding="utf-8") as src, open(f"{work}/paths", "w") as out:
        for line in src:
            if line.strip():
                out.write("/api/search?q=" + urllib.parse.quote(line.strip(), safe="") + "&limit=10\n")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = open(f"{work}/searchd.log", "w")
    daemon = subprocess.Popen([binary, "--index", args.index, "--data", f"{work}/data", "--listen",
                               f"127.0.0.1:{port}", "--tokens", f"{work}/tokens",
                               "--max-connections-per-ip", "1024"], stderr=log)
    try:
        for _ in range(1200):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("gaps_load: kb-searchd did not become ready")
        tid = find_gaps_thread(daemon.pid)
        gstat, pstat = f"/proc/{daemon.pid}/task/{tid}/stat", f"/proc/{daemon.pid}/stat"
        print(f"# {binary}, load average at start {os.getloadavg()[0]:.2f}")
        print("| slice | searches/s | gap thread, % of a core | kb-searchd, % of a core |")
        print("|---|---|---|---|")
        env = dict(os.environ, WRK_CONNECTIONS="64", WRK_THREADS="2")
        for k in range(args.seconds // args.slice):
            g0, p0, t0 = cpu_ticks(gstat), cpu_ticks(pstat), time.monotonic()
            out = subprocess.run(["wrk", "-t2", "-c64", f"-d{args.slice}s", "--timeout", "10s", "-s",
                                  f"{ROOT}/bench/wrk-search.lua", f"http://127.0.0.1:{port}", "--",
                                  f"{work}/paths", token], capture_output=True, text=True,
                                 env=env, timeout=args.slice + 60).stdout
            dt = time.monotonic() - t0
            g, p = cpu_ticks(gstat) - g0, cpu_ticks(pstat) - p0
            rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
            print(f"| {k * args.slice}–{(k + 1) * args.slice} s | {float(rps.group(1)) if rps else 0:.0f} "
                  f"| {100 * g / TICK / dt:.0f}% | {100 * p / TICK / dt:.0f}% |", flush=True)
        db = f"{work}/data/events.sqlite3"
        waiting, queued = backlog(db)
        behind = waiting
        t0, g0 = time.monotonic(), cpu_ticks(gstat)
        while waiting > 0 and time.monotonic() - t0 < args.catch_up_limit:
            time.sleep(1)
            waiting, queued = backlog(db)
        dt = time.monotonic() - t0
        busy = 100 * (cpu_ticks(gstat) - g0) / TICK / max(dt, 1e-9)
        print(f"\nload stopped with {behind} searches not yet taken in; "
              + (f"caught up {dt:.0f} s later" if waiting == 0
                 else f"still {waiting} waiting after {dt:.0f} s")
              + f" (gap thread {busy:.0f}% of a core meanwhile); {queued} questions queued; "
              f"load average {os.getloadavg()[0]:.2f}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
