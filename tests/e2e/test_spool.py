#!/usr/bin/env python3
"""test_spool.py — kb-searchd with its event store in PostgreSQL while the database goes away
and comes back (docs/CLUSTER.md, "When the database is unreachable: the spool"): searches,
help requests and feedback keep coming and are answered (200, 201 with ids); /healthz shows the
backlog in the spool and then 0; afterwards every acknowledged help request, feedback and search
is in PostgreSQL exactly once, in the order the node took them. Leads' and editors' actions answer 503
while the database is away; a node restarted during the outage serves and delivers later; a --spool
with a data directory is refused.
"""
import os
import stat
import subprocess
import sys
import threading
import time

from harness import (SEARCHD, AgentsService, Service, check, check_status, doc_xml,
                     documents_file, run_tests, scaled, test, wait_until)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pg_server import remove_shared, shared as pg  # noqa: E402

ROAMING = doc_xml(
    "roam-intl-001", "国际漫游开通办理", keywords="出国 漫游 开通", questions=["出国了手机怎么用"],
    paragraphs=["客户出国前需开通国际漫游功能，可拨打客服热线或到营业厅办理国际漫游开通，开通后即时生效。"],
    must_know=["一组"])
PLAN = doc_xml(
    "plan-001", "流量套餐变更办理", keywords="套餐 变更 流量",
    paragraphs=["流量套餐变更次月生效，可通过营业厅或手机营业厅办理套餐变更。"])
AGENTS = "test-agent\t测试坐席\t一组\na-li\t李娜\t一组\n"
QUESTIONS = ["出国了手机怎么用", "流量套餐怎么变更", "宠物保险怎么理赔", "国际漫游开通 13812345678"]


class SpoolService(AgentsService):
    """kb-searchd on the test server, its tables in a schema of their own, its spool the default
    (beside the index directory)."""

    def __init__(self, schema):
        self.schema = schema
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", pg().socket_uri, "-c",
                        f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
        super().__init__({"kb.xml": documents_file(ROAMING, PLAN)}, AGENTS,
                         data=pg().uri + f"?options=-csearch_path%3D{schema}")

    def sql(self, query):
        """Rows of a query on this service's tables, as lists of strings."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            pg().socket_uri, "-c", f"SET search_path TO {self.schema}; {query}"],
                           check=True, capture_output=True, text=True)
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def health(self):
        r = self.request("GET", "/healthz")
        check_status(r, 200, "healthz")
        return r.json()


class Load(threading.Thread):
    """One agent's steady work, in order: a search, then now and then a help request or
    feedback on that search. Records what was acknowledged, and any other answer."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.s = s
        self.stop = threading.Event()
        self.searches, self.help, self.feedback, self.failures = [], [], [], []

    def run(self):
        n = 0
        while not self.stop.is_set():
            q = QUESTIONS[n % len(QUESTIONS)]
            try:
                r = self.s.search(f"{q} {n}")
                if r.status != 200:
                    self.failures.append(("search", r.status, r.body[:200]))
                    continue
                sid = r.json()["search_id"]
                self.searches.append(sid)
                if n % 3 == 0:
                    question = f"第{n}个求助：{q}"
                    r = self.s.call("POST", "/api/help-requests", "agent", body={"question": question})
                    if r.status == 201 and r.json()["id"] > 0:
                        self.help.append((r.json()["id"], question))
                    else:
                        self.failures.append(("help", r.status, r.body[:200]))
                if n % 4 == 1:
                    fb = {"search_id": sid, "kind": "helpful", "doc_id": "roam-intl-001"}
                    r = self.s.call("POST", "/api/feedback", "agent", body=fb)
                    if r.status == 201:
                        self.feedback.append(sid)
                    else:
                        self.failures.append(("feedback", r.status, r.body[:200]))
            except OSError as e:
                self.failures.append(("connection", str(e)))
            n += 1
            time.sleep(0.01)


@test
def searches_help_requests_and_feedback_go_on_while_the_database_is_away():
    with SpoolService("e2e_spool") as s:
        h = s.health()
        check(h["store"] == "ok" and h["spool_events"] == 0, h)
        spool = os.path.join(s.tmp, "spool")  # the default: beside the index directory
        check(stat.S_IMODE(os.stat(spool).st_mode) == 0o700, "spool directory is private")
        gap = s.json("POST", "/api/help-requests", "agent", status=201, body={"question": "宠物保险怎么理赔"})
        load = Load(s)
        load.start()
        try:
            time.sleep(1.0)
            pg().stop()
            t0 = time.time()
            try:
                wait_until(lambda: s.health()["store"] == "unreachable", 15, "unreachable")
                wait_until(lambda: s.health()["spool_events"] > 0, 10, "a backlog in the spool")
                # What needs the shared state answers 503, at once.
                started = time.time()
                for method, path, role, body in [
                        ("PUT", f"/api/help-requests/{gap['id']}/review", "lead",
                         {"kb_answerable": True, "doc_id": "plan-001"}),
                        ("GET", "/api/help-requests", "lead", None),
                        ("GET", "/api/gaps", "editor", None),
                        ("PUT", "/api/agents", "admin", {"agents": [{"id": "a-li", "name": "李娜"}]}),
                        ("POST", "/api/coaching", "lead",
                         {"agent": "a-li", "date": "2026-10-15", "doc_ids": ["plan-001"]}),
                        ("POST", "/api/documents/plan-001/learned", "editor",
                         {"phrasing": "套餐怎么改", "pinned": True})]:
                    r = s.call(method, path, role, body=body)
                    check(r.status == 503 and "event store unreachable" in r.json()["error"],
                          f"{method} {path} while down: {r!r}")
                check(time.time() - started < scaled(3), "the 503s were not at once")
                # A lead files for a listed agent (the list this node last read), not an unlisted one.
                r = s.call("POST", "/api/help-requests", "lead",
                           body={"agent": "a-li", "question": "出国了手机怎么用"})
                check(r.status == 201 and r.json()["must_know"] is True, f"lead for a-li: {r!r}")
                load.help.append((r.json()["id"], "出国了手机怎么用"))  # acknowledged too
                r = s.call("POST", "/api/help-requests", "lead",
                           body={"agent": "nobody", "question": "出国了手机怎么用"})
                check(r.status == 400 and "agents list" in r.json()["error"], f"unlisted: {r!r}")
                # The agents' page still learns the agent's team (its 应知应会 badges), from the
                # same list.
                me = s.json("GET", "/api/me", "agent")
                check(me == {"name": "test-agent", "role": "agent", "team": "一组"}, f"me while down: {me}")
                time.sleep(max(0.0, 4.0 - (time.time() - t0)))  # a few seconds of outage
                backlog = s.health()["spool_events"]
                outage = time.time() - t0
            finally:
                pg().start()
            back = time.time()
            wait_until(lambda: s.health()["store"] == "ok", 15, "reachable again")
            wait_until(lambda: s.health()["spool_events"] == 0, 30, "the spool delivered")
            drained = time.time() - back
            time.sleep(1.0)  # the load goes on straight into the database
        finally:
            load.stop.set()
            load.join(30)
        check(not load.failures, f"answers other than 200/201: {load.failures[:5]}")
        check(backlog >= 10 and len(load.help) >= 10, f"backlog {backlog}, {len(load.help)} help requests")

        # Every acknowledged help request once, with its id, in the order the node took them.
        rows = s.sql("SELECT id, question FROM help_requests WHERE id <> %d ORDER BY seq" % gap["id"])
        check([(int(i), q) for i, q in rows] == [(i, q.replace("13812345678", "[手机号]"))
                                                 for i, q in load.help],
              f"help requests: {len(rows)} stored, {len(load.help)} acknowledged")
        # Every acknowledged feedback once, in order; each taught once.
        got = [r[0] for r in s.sql("SELECT search_id FROM feedback ORDER BY id")]
        check(got == load.feedback, f"feedback: {len(got)} stored, {len(load.feedback)} acknowledged")
        taught = s.sql("SELECT count(*) FROM teachings WHERE source = 'helpful'")[0][0]
        check(int(taught) == len(load.feedback), f"{taught} teachings for {len(load.feedback)} feedback")
        # Every search once, in order.
        got = [r[0] for r in s.sql("SELECT search_id FROM searches ORDER BY seq")]
        check(got[-len(load.searches):] == load.searches and len(set(got)) == len(got),
              f"searches: {len(got)} stored, {len(load.searches)} answered")
        check(not s.sql("SELECT 1 FROM searches WHERE query LIKE '%13812345678%'"), "redacted")
        # Straight to the database again; the leads' actions work.
        s.json("PUT", f"/api/help-requests/{gap['id']}/review", "lead",
               body={"kb_answerable": True, "doc_id": "plan-001"})
        log = s.log_text()
        check("cannot reach the database" in log and "the spool is delivered" in log, log[-3000:])
        print(f"    (database away {outage:.1f} s: {len(load.searches)} searches, {len(load.help)} help "
              f"requests, {len(load.feedback)} feedback acknowledged in all, none failed; a backlog of "
              f"{backlog} events delivered {drained:.1f} s after the server was started)")


@test
def a_node_restarted_while_the_database_is_away_serves_and_delivers_later():
    with SpoolService("e2e_spool_restart") as s:
        first = s.json("POST", "/api/help-requests", "agent", status=201, body={"question": "流量套餐怎么变更"})
        pg().stop()
        try:
            wait_until(lambda: s.health()["store"] == "unreachable", 15, "unreachable")
            check(s.stop() == 0, "a clean stop while the database is away")
            s.start()  # the store cannot be reached: it starts all the same
            h = s.health()
            check(h["store"] == "unreachable", h)
            sid = s.search("出国了手机怎么用").json()["search_id"]
            # ids from the block reserved before the restart (recorded in the spool's ids file)
            during = s.json("POST", "/api/help-requests", "agent", status=201,
                            body={"question": "出国了手机怎么用"})
            check(during["id"] > 0 and during["id"] != first["id"] and during["kb_answerable"], during)
            check_status(s.call("POST", "/api/feedback", "agent",
                                body={"search_id": sid, "kind": "helpful", "doc_id": "roam-intl-001"}),
                         201, "feedback while down")
            check(s.health()["spool_events"] >= 3, s.health())
        finally:
            pg().start()
        wait_until(lambda: s.health()["store"] == "ok" and s.health()["spool_events"] == 0, 30,
                   "delivered after the restart")
        ids = sorted(int(r[0]) for r in s.sql("SELECT id FROM help_requests"))
        check(ids == sorted([first["id"], during["id"]]), ids)
        check(s.sql(f"SELECT count(*) FROM feedback WHERE search_id = '{sid}'") == [["1"]], "feedback")
        check(s.sql(f"SELECT count(*) FROM searches WHERE search_id = '{sid}'") == [["1"]], "search")
        # What was learned is read once the store answers (the node started without it).
        s.json("POST", "/api/admin/reload", "admin", body={})


@test
def a_spool_with_a_data_directory_is_refused():
    s = Service({"kb.xml": documents_file(PLAN)}, start=False)
    try:
        s.run_indexer(check=True)
        s.port = 1
        r = subprocess.run(s.command() + ["--spool", os.path.join(s.tmp, "spool")],
                           capture_output=True, text=True, timeout=scaled(30))
        check(r.returncode == 2 and "PostgreSQL" in r.stderr, r.stderr)
        check(not os.path.exists(os.path.join(s.tmp, "spool")), "nothing made")
    finally:
        s.cleanup()
    check(os.path.basename(SEARCHD) == "kb-searchd", SEARCHD)


if __name__ == "__main__":
    run_tests(cleanups=[remove_shared])
