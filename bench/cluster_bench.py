#!/usr/bin/env python3
"""cluster_bench.py — `make bench`'s cluster part (bench/run.sh, BENCH_PARTS=cluster): the search
throughput of three nodes behind haproxy against one node, on this one machine.

It builds the cluster of the cluster test (tests/cluster/cluster.py: deploy/cluster/'s files,
PostgreSQL with fsync on, an indexing host, three search nodes with their replicas, haproxy, on
127.0.0.11-16) over the knowledge base given, then runs wrk, saturated (each connection sends
its next search when the last is answered), alternately against one node directly and against
haproxy in front of the three, `--rounds` times each, with bench/wrk-search.lua over the
questions given. All of it shares the machine's cores, so three nodes cannot search faster than
one: the difference is what haproxy and the two more processes cost, not what three machines
would give. The CPU time a search costs (the kb-searchd processes, and haproxy's) is measured
from /proc: it does not depend on other work on the machine as throughput does.

    BIN=bin python3 bench/cluster_bench.py --kb KBDIR --queries QUERIES.txt \\
        [--duration 15] [--warmup 5] [--rounds 2] [--connections 64] [--threads 2]

Prints markdown (a section for bench/out/results.md) on stdout, progress on stderr; exit 1 when
the cluster could not be built or a wrk run failed. Stops everything and removes its folder.
"""
import argparse
import os
import re
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
import cluster as cl  # noqa: E402

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def log(msg):
    print(f"cluster bench: {msg}", file=sys.stderr, flush=True)


def paths_file(queries, out):
    n = 0
    with open(queries, encoding="utf-8") as f, open(out, "w") as o:
        for line in f:
            line = line.strip()
            if line:
                o.write("/api/search?q=" + urllib.parse.quote(line, safe="") + "&limit=10\n")
                n += 1
    return n


def wrk(url, paths, token, seconds, args):
    """One saturated wrk run: (searches/s, p50, p99 in ms, failed)."""
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
           "--latency", "-s", os.path.join(ROOT, "bench", "wrk-search.lua"), url, "--", paths, token]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    t = r.stdout + r.stderr
    m = re.search(r"Requests/sec:\s+([\d.]+)", t)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({r.returncode}): {t[-1000:]}")
    lat = {}
    for p in ("50", "99"):
        mm = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % p, t, re.M)
        lat[p] = float(mm.group(1)) * UNITS_MS[mm.group(2)] if mm else float("nan")
    non2xx = re.search(r"non-2xx: (\d+) of (\d+)", t)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    failed = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return float(m.group(1)), lat["50"], lat["99"], failed


def cpu_seconds(pid):
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    bin_dir = os.environ.get("BIN", os.path.join(ROOT, "bin"))
    c = cl.Cluster(bin_dir, log=log)
    try:
        t0 = time.monotonic()
        c.start(args.kb)
        built = time.monotonic() - t0
        n_docs = c.nodes[0].healthz()[1]["documents"]
        paths = os.path.join(c.tmp, "paths.txt")
        n_q = paths_file(args.queries, paths)
        token = c.agents[0][1]
        node = c.nodes[0]
        one = f"http://{node.host}:{node.port}"
        three = f"http://{cl.FRONT_HOST}:{c.front_port}"
        haproxy_pid = c.procs["haproxy"].pid
        log(f"warm-up, {args.warmup} s through haproxy")
        wrk(three, paths, token, args.warmup, args)
        runs = {"one": [], "three": []}
        cpu_us = {"one": [], "three": []}  # CPU of the kb-searchd processes (+ haproxy) a search
        haproxy_us = []
        pids = [c.procs[f"{n.name}-searchd"].pid for n in c.nodes]
        for r in range(args.rounds):
            for which, url in (("one", one), ("three", three)):
                log(f"round {r + 1}: wrk -c{args.connections} -d{args.duration}s against "
                    f"{'node1 alone' if which == 'one' else 'haproxy and three nodes'}")
                h0 = cpu_seconds(haproxy_pid)
                s0 = sum(cpu_seconds(p) for p in pids)
                result = wrk(url, paths, token, args.duration, args)
                requests = max(1.0, result[0] * args.duration)
                h = cpu_seconds(haproxy_pid) - h0
                s = sum(cpu_seconds(p) for p in pids) - s0
                if which == "three":
                    haproxy_us.append(h / requests * 1e6)
                    s += h
                cpu_us[which].append(s / requests * 1e6)
                runs[which].append(result)
        load = open("/proc/loadavg").read().split()[:3]
    except (cl.ClusterError, cl.CannotRun, RuntimeError, OSError) as e:
        log(f"failed: {e}")
        c.cleanup()
        return 1
    c.cleanup()

    def row(name, rs):
        rps = [r[0] for r in rs]
        return (f"| {name} | **{min(rps):,.0f}–{max(rps):,.0f}** | "
                + " / ".join(f"{r[1]:.1f}" for r in rs) + " | "
                + " / ".join(f"{r[2]:.1f}" for r in rs) + f" | {sum(r[3] for r in rs)} |")
    mean = lambda rs: sum(r[0] for r in rs) / len(rs)  # noqa: E731
    print(f"## Cluster: three search nodes behind haproxy against one node ({n_docs:,} documents)")
    print()
    print(f"tests/cluster/cluster.py's cluster (built in {built:.0f} s: PostgreSQL with fsync on, "
          f"the indexing host, three nodes with their replicas, haproxy with "
          f"deploy/cluster/haproxy.cfg), all on this machine's {os.cpu_count()} cores; wrk "
          f"-t{args.threads} -c{args.connections} saturated, {args.duration} s a run, "
          f"alternately, {args.rounds} rounds, over {n_q:,} questions; event store on "
          f"(PostgreSQL).")
    print()
    print("| target | searches/s | p50 ms (each run) | p99 ms (each run) | failed |")
    print("|---|---|---|---|---|")
    print(row("node1 alone (its address)", runs["one"]))
    print(row("haproxy, three nodes", runs["three"]))
    print()
    print(f"Three nodes behind haproxy / one node: **{mean(runs['three']) / mean(runs['one']):.2f}×** "
          f"the searches a second on the same cores; haproxy's own CPU "
          f"{' / '.join(f'{u:.0f}' for u in haproxy_us)} µs a search. CPU a search (kb-searchd "
          f"processes, plus haproxy behind it): one node "
          f"{' / '.join(f'{u:.0f}' for u in cpu_us['one'])} µs, three nodes behind haproxy "
          f"{' / '.join(f'{u:.0f}' for u in cpu_us['three'])} µs: the cost of the cluster that "
          f"other work on the machine does not change. Load average at the end: {' '.join(load)}.")
    return 0 if all(r[3] == 0 for rs in runs.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
