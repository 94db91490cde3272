#!/usr/bin/env python3
"""test_run_sample.py — `make run` (tools/run-sample.sh) as a newcomer meets it.

The script indexes docs/sample-kb, creates tokens once and serves on 127.0.0.1:$KB_PORT. Here it
runs with KB_RUN_DIR in a temporary folder (never the repository's run/), on free ports.
- A port already in use is said before anything else is printed (no banner, no tokens, no
  indexing), with how to choose another: KB_PORT=N make run.
- A KB_PORT that is no port is refused the same way.
- On a free port: the banner names the port, the service answers, Ctrl-C stops it cleanly.
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import BIN, ROOT, check, free_port, run_tests, scaled, test, wait_until

SCRIPT = os.path.join(ROOT, "tools", "run-sample.sh")


def run_sample(run_dir, port, timeout=60):
    env = dict(os.environ, BIN=BIN, KB_RUN_DIR=run_dir, KB_PORT=str(port))
    return subprocess.run([SCRIPT], capture_output=True, text=True, env=env, timeout=scaled(timeout))


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="kb-run-sample-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


@test
def port_in_use_is_said_first_with_how_to_choose_another():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        with TempDir() as tmp:
            run_dir = os.path.join(tmp, "run")
            t = time.time()
            r = run_sample(run_dir, port)
            out = r.stdout + r.stderr
            check(r.returncode != 0, f"exit {r.returncode}:\n{out}")
            check(f"127.0.0.1:{port} is already in use" in out, out)
            check("KB_PORT=" in out and "make run" in out, f"no way out offered:\n{out}")
            # said first: nothing indexed, no banner, no tokens created or shown
            check(out.startswith("run-sample: "), out)
            check("indexing" not in out and "starting" not in out and "Bearer" not in out, out)
            check(not os.path.exists(run_dir), f"{run_dir} was created before the port was checked")
            check(time.time() - t < scaled(5), "the port was checked only after the slow steps")
            # the port it suggests is free
            suggested = int(out.split("KB_PORT=")[1].split()[0])
            probe = socket.socket()
            try:
                check(probe.connect_ex(("127.0.0.1", suggested)) != 0, f"suggested port {suggested} is in use")
            finally:
                probe.close()
    finally:
        blocker.close()


@test
def a_kb_port_that_is_no_port_is_refused():
    with TempDir() as tmp:
        for bad in ("abc", "0", "65536", "99999", ""):
            r = run_sample(os.path.join(tmp, "run"), bad)
            check(r.returncode == 2 and "KB_PORT" in r.stderr and "1 to 65535" in r.stderr,
                  f"KB_PORT={bad!r}: exit {r.returncode}: {r.stderr}")
            check("starting" not in r.stdout + r.stderr, r.stderr)


@test
def free_port_serves_the_sample_and_ctrl_c_stops_it():
    with TempDir() as tmp:
        port = free_port()
        env = dict(os.environ, BIN=BIN, KB_RUN_DIR=os.path.join(tmp, "run"), KB_PORT=str(port))
        out_path = os.path.join(tmp, "out")
        with open(out_path, "w+") as out:
            p = subprocess.Popen([SCRIPT], stdout=out, stderr=subprocess.STDOUT, env=env)
            try:
                def healthy():
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    try:
                        c.request("GET", "/healthz")
                        return c.getresponse().status == 200
                    except OSError:
                        return False
                    finally:
                        c.close()
                wait_until(lambda: healthy() or p.poll() is not None, 60, "the sample service")
                check(p.poll() is None, f"exited {p.returncode}:\n{open(out_path).read()}")
                text = open(out_path).read()
                check(f"http://127.0.0.1:{port}/" in text, text)
                check("KB_PORT=" in text, f"the banner does not say how to choose another port:\n{text}")
                p.send_signal(signal.SIGINT)  # what Ctrl-C sends
                check(p.wait(timeout=scaled(30)) == 0, f"exit {p.returncode}:\n{open(out_path).read()}")
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    run_tests()
