#!/usr/bin/env python3
"""test_service_manager.py — kb-searchd as systemd runs it (docs/DEPLOY.md): readiness and
reload through the sd_notify protocol (Type=notify), journal priorities on the log lines, and
the access log turned off or sent to a file (--access-log).

systemd is not needed: the tests play its part. NOTIFY_SOCKET names a datagram socket the test
binds; JOURNAL_STREAM names the "device:inode" of the file the daemon's stderr goes to, which is
how a service learns that its stderr is the journal.
"""
import os
import signal
import socket
import subprocess
import tempfile

from harness import (INDEXER, REPORT, Service, check, check_status, doc_xml, documents_file,
                     free_port, run_tests, scaled, test, wait_until)

KB = {"kb.xml": documents_file(doc_xml(
    "roam-intl-001", "国际漫游开通办理", paragraphs=["客户出国前需开通国际漫游功能。"]))}


def started(extra_args=(), env=None, before_start=None):
    """A service over KB, started with extra kb-searchd options and environment variables."""
    s = Service(KB, start=False, extra_args=extra_args)
    s.run_indexer(check=True)
    if before_start:
        before_start(s)
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        s.start()
    except Exception:
        s.cleanup()
        raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return s


def log_lines(s):
    return [l for l in s.log_text().splitlines() if l]


@test
def notify_ready_reloading_stopping():
    """READY=1 only once /healthz answers 200; SIGHUP: RELOADING=1 then READY=1; SIGTERM:
    STOPPING=1 (what Type=notify and ExecReload=kill -HUP rely on)."""
    tmp = tempfile.mkdtemp(prefix="kb-notify-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(scaled(10))
    try:
        with started(env={"NOTIFY_SOCKET": path}) as s:
            msg = sock.recv(4096).decode()
            check(msg == "READY=1", f"first message {msg!r}")
            check_status(s.request("GET", "/healthz"), 200, "healthz once ready")
            s.proc.send_signal(signal.SIGHUP)
            got = [sock.recv(4096).decode(), sock.recv(4096).decode()]
            check(got == ["RELOADING=1", "READY=1"], f"on SIGHUP: {got!r}")
            check(s.stop() == 0, "exit status after SIGTERM")
            msg = sock.recv(4096).decode()
            check(msg == "STOPPING=1", f"on SIGTERM: {msg!r}")
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(tmp)


@test
def abstract_notify_socket():
    """An abstract socket ("@name"), as systemd may pass."""
    name = f"kb-notify-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(scaled(10))
    try:
        with started(env={"NOTIFY_SOCKET": "@" + name}):
            check(sock.recv(4096) == b"READY=1", "READY=1 on the abstract socket")
    finally:
        sock.close()


def journal_env(s):
    """Create the daemon's log file first, so that JOURNAL_STREAM can name it."""
    open(s.log_path, "ab").close()
    st = os.stat(s.log_path)
    os.environ["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"


@test
def journal_priorities():
    """With stderr on the journal every line starts with its priority: <6> info (access lines
    too), <3> error; without it, no line does."""
    saved = os.environ.get("JOURNAL_STREAM")
    try:
        with started(before_start=journal_env) as s:
            check_status(s.request("GET", "/healthz"), 200, "healthz")
            with open(s.tokens_path, "w") as f:
                f.write("short boss nobody\n")  # an unknown role: the reload fails, logged as error
            s.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "tokens not reloaded" in s.log_text(), 10, "the SIGHUP error line")
            lines = log_lines(s)
            check(all(l[:3] in ("<6>", "<4>", "<3>") for l in lines),
                  "a line without a priority:\n" + "\n".join(l for l in lines if l[:1] != "<"))
            check(any(l.startswith("<6>") and " info kb-searchd started" in l for l in lines),
                  "start-up line at <6>")
            check(any(l.startswith("<6>") and " info access " in l for l in lines), "access line at <6>")
            check(any(l.startswith("<3>") and "tokens not reloaded" in l for l in lines),
                  "error line at <3>")
    finally:
        if saved is None:
            os.environ.pop("JOURNAL_STREAM", None)
        else:
            os.environ["JOURNAL_STREAM"] = saved


@test
def no_priorities_when_stderr_is_not_the_journal():
    """A JOURNAL_STREAM inherited by a process whose stderr goes elsewhere is ignored."""
    with started(env={"JOURNAL_STREAM": "1:1"}) as s:
        check_status(s.request("GET", "/healthz"), 200, "healthz")
        lines = log_lines(s)
        check(lines and not any(l.startswith("<") for l in lines), "\n".join(lines[:5]))


def on_journal(cmd):
    """Run cmd as a systemd unit would, its stderr the journal: a file that JOURNAL_STREAM
    names. (exit status, stderr lines)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "stderr")
        with open(path, "wb") as f:
            st = os.fstat(f.fileno())
            env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
            r = subprocess.run(cmd, stderr=f, stdout=subprocess.DEVNULL, env=env,
                               timeout=scaled(120))
        with open(path, encoding="utf-8") as f:
            return r.returncode, f.read().splitlines()


BAD = ('<document id="bad-001">\n  <title>坏文档</title>\n  <body>\n    <blink>x</blink>\n'
       '  </body>\n</document>\n')


@test
def indexer_journal_priorities():
    """kb-indexer as kb-indexer.service runs it: a document's problem is an error
    ("<3>FILE:LINE: ..."), the note that --sync removed nothing a warning, the summary info;
    with stderr elsewhere the same lines carry no prefix."""
    with Service({**KB, "bad.xml": BAD}, start=False) as s:
        cmd = [INDEXER, "--index", s.index_dir, "--sync", s.kb]
        status, lines = on_journal(cmd)
        check(status == 1, f"exit status {status}: {lines}")
        bad = os.path.join(s.kb, "bad.xml")
        check(any(l.startswith(f"<3>{bad}:4: ") for l in lines), "problem at <3>:\n" + "\n".join(lines))
        check(any(l.startswith("<4>kb-indexer: --sync removes nothing") for l in lines),
              "--sync note at <4>:\n" + "\n".join(lines))
        check(any(l.startswith("<6>kb-indexer: 1 document from 2 files") for l in lines),
              "summary at <6>:\n" + "\n".join(lines))
        check(all(l[:3] in ("<3>", "<4>", "<6>") for l in lines), "a line without a priority")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(120))
        plain = r.stderr.splitlines()
        # The same lines but the summary's figures (a second run finds the document unchanged).
        check(r.returncode == 1 and plain[:-1] == [l[3:] for l in lines[:-1]] and
              plain[-1].startswith("kb-indexer: 1 document from 2 files"),
              f"without the journal:\n{r.stderr}\nwith it:\n" + "\n".join(lines))


@test
def report_journal_priorities():
    """kb-report's errors are errors in the journal too (a report run from a timer)."""
    with tempfile.TemporaryDirectory() as d:
        status, lines = on_journal([REPORT, "--data", os.path.join(d, "none"), "agents"])
        check(status == 1 and lines and lines[0].startswith("<3>kb-report: "), f"{status} {lines}")
        status, lines = on_journal([REPORT, "--data", d, "--no-such-option", "agents"])
        check(status == 2 and lines[0].startswith("<3>kb-report: unknown option"), f"{status} {lines}")


@test
def tokens_file_readable_by_the_services_group_is_no_warning():
    """0640 with the group the service runs as is how the package installs the tokens
    (root:kb): no warning. Readable by everyone: a warning."""
    def mode(m):
        return lambda s: os.chmod(s.tokens_path, m)
    for m, warned in ((0o640, False), (0o600, False), (0o644, True)):
        with started(before_start=mode(m)) as s:
            check_status(s.request("GET", "/healthz"), 200, "healthz")
            said = "is readable by other users" in s.log_text()
            check(said == warned, f"mode {m:o} (group {os.stat(s.tokens_path).st_gid}, "
                                  f"ours {os.getegid()}): warned {said}")


@test
def access_log_off():
    with started(extra_args=["--access-log", "off"]) as s:
        check_status(s.request("GET", "/healthz"), 200, "healthz")
        check_status(s.call("GET", "/api/me"), 200, "me")
        s.stop()
        text = s.log_text()
        check(" access " not in text, "an access line with --access-log off:\n" + text[-2000:])
        check("kb-searchd started" in text and "kb-searchd stopped" in text,
              "the other lines stay on stderr")


@test
def access_log_file_and_reopen():
    """Access lines go to the file only; after the file is moved away (logrotate), SIGHUP makes
    the daemon write to a new file of the same name."""
    tmp = tempfile.mkdtemp(prefix="kb-access-")
    path = os.path.join(tmp, "access.log")
    try:
        with started(extra_args=["--access-log", path]) as s:
            check_status(s.call("GET", "/api/me"), 200, "me")
            wait_until(lambda: os.path.exists(path) and "path=/api/me" in open(path).read(), 5,
                       "the access line in the file")
            check(os.stat(path).st_mode & 0o777 == 0o640, f"mode {oct(os.stat(path).st_mode)}")
            check(" access " not in s.log_text(), "access line on stderr too")
            line = [l for l in open(path).read().splitlines() if "path=/api/me" in l][0]
            check(" info access method=GET path=/api/me status=200 " in line and "role=agent" in line,
                  line)
            os.rename(path, path + ".1")
            s.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: os.path.exists(path), 10, "the new access log after SIGHUP")
            check_status(s.call("GET", "/api/search?q=%E6%BC%AB%E6%B8%B8"), 200, "search")
            wait_until(lambda: "path=/api/search" in open(path).read(), 5, "the line in the new file")
            check("path=/api/search" not in open(path + ".1").read(), "written to the old file")
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)


@test
def access_log_bad_target():
    """A relative path or a file that cannot be opened stops start-up (exit 1), saying why."""
    with Service(KB, start=False) as s:
        s.run_indexer(check=True)
        s.port = free_port()
        base = s.command()
        for target, words in (("access.log", "absolute file path"),
                              ("/nonexistent-dir/access.log", "No such file or directory")):
            r = subprocess.run(base + ["--access-log", target], capture_output=True, text=True,
                               timeout=scaled(30))
            check(r.returncode == 1 and words in r.stderr, f"{target}: {r.returncode} {r.stderr}")


if __name__ == "__main__":
    run_tests()
