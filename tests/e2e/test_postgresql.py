#!/usr/bin/env python3
"""test_postgresql.py — kb-searchd and kb-report with the event store in PostgreSQL
(`--data postgresql://...`, docs/CLUSTER.md) against the throw-away server tests/pg_server.py
starts: help requests, feedback that teaches a phrasing, a lead's review, coaching, kb-report
reading the same database, the data kept across a restart, /healthz saying whether the database
is reachable, no password in any answer or log line, and the gap queue saying clearly that it is
not yet available there. What happens while the database is away: test_spool.py.
"""
import json
import os
import subprocess
import sys
import time

from harness import (AgentsService, check, check_status, doc_xml, documents_file, run_tests,
                     test, wait_until)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pg_server import PgServer  # noqa: E402


ROAMING = doc_xml(
    "roam-intl-001", "国际漫游开通办理", keywords="出国 漫游 开通", questions=["出国了手机怎么用"],
    paragraphs=["客户出国前需开通国际漫游功能，可拨打客服热线或到营业厅办理国际漫游开通，开通后即时生效。"],
    must_know=[])
PLAN = doc_xml(
    "plan-001", "流量套餐变更办理", keywords="套餐 变更 流量",
    paragraphs=["流量套餐变更次月生效，可通过营业厅或手机营业厅办理套餐变更。"])

AGENTS = "test-agent\t测试坐席\t一组\na-li\t李娜\t一组\n"

_pg = None


def pg():
    global _pg
    if _pg is None:
        _pg = PgServer().__enter__()
    return _pg


def password():
    uri = pg().uri
    return uri.split("://kb:", 1)[1].split("@", 1)[0]


class PgService(AgentsService):
    """kb-searchd with --data the test server's URI (its own schema: a new database each time)."""

    def __init__(self, schema):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", pg().socket_uri, "-c",
                        f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
        super().__init__({"kb.xml": documents_file(ROAMING, PLAN)}, AGENTS,
                         data=pg().uri + f"?options=-csearch_path%3D{schema}")


@test
def the_service_keeps_every_kind_of_event_in_postgresql_across_a_restart():
    with PgService("e2e_main") as s:
        h = s.request("GET", "/healthz").json()
        check(h["store"] == "ok", h)
        # help requests: the verdict and an id from the database
        first = s.json("POST", "/api/help-requests", "agent", status=201,
                       body={"question": "出国了手机怎么用 客户13812345678"})
        check(first["kb_answerable"] and first["doc_id"] == "roam-intl-001", first)
        gap = s.json("POST", "/api/help-requests", "agent", status=201,
                     body={"question": "宠物保险怎么理赔"})
        check(gap["id"] > first["id"] and not gap["kb_answerable"], gap)
        # feedback: stored once, a repeat says so; two agents' helpful teach a phrasing
        sid = s.search("出境手机咋用").json()["search_id"]
        fb = {"search_id": sid, "kind": "helpful", "doc_id": "roam-intl-001"}
        check_status(s.call("POST", "/api/feedback", "agent", body=fb), 201, "feedback")
        again = s.call("POST", "/api/feedback", "agent", body=fb)
        check_status(again, 201, "repeated feedback")
        check(again.json().get("duplicate") is True, again.json())
        check_status(s.call("POST", "/api/feedback", "agent",
                            body={"search_id": "no-such", "kind": "not_found"}), 404, "unknown")
        sid = s.search("出境手机咋用", role="lead").json()["search_id"]
        check_status(s.call("POST", "/api/feedback", "lead",
                            body={"search_id": sid, "kind": "helpful", "doc_id": "roam-intl-001"}),
                     201, "lead's feedback")
        check_status(s.call("POST", "/api/admin/reload", "admin", body={}), 200, "reload")
        learned = s.json("GET", "/api/documents/roam-intl-001/learned", "editor")["phrasings"]
        check(any(p["counted"] for p in learned), learned)
        # a lead's review, the list and the agents list
        item = s.json("PUT", f"/api/help-requests/{gap['id']}/review", "lead",
                      body={"kb_answerable": True, "doc_id": "plan-001", "note": "见套餐文档"})
        check(item["review"] is not None and item["answerable"], item)
        listed = s.json("GET", "/api/help-requests?limit=10", "lead")
        check(listed["total"] == 2 and listed["items"][0]["id"] == gap["id"], listed)
        check("13812345678" not in json.dumps(listed, ensure_ascii=False), "redacted")
        # coaching: a session and an agent's study list
        made = s.json("POST", "/api/coaching", "lead", status=201,
                      body={"agent": "test-agent", "date": "2026-10-15",
                            "doc_ids": ["roam-intl-001", "plan-001"], "note": "回拨13812345678"})
        got = s.json("GET", "/api/coaching?agent=test-agent", "lead")
        check(got["total"] == 1 and [d["doc_id"] for d in got["items"][0]["documents"]] ==
              ["roam-intl-001", "plan-001"], got)
        check("13812345678" not in json.dumps(got, ensure_ascii=False), "note redacted")
        study = s.json("GET", "/api/me/study", "agent")
        check([i["doc_id"] for i in study["items"]] == ["roam-intl-001", "plan-001"], study)
        s.json("POST", "/api/me/study/roam-intl-001", "agent")
        # kb-report reads the same database
        r = s.report("--format", "json", "help-requests", "--by", "team")
        check(r.returncode == 0, r.stderr)
        r = s.report("--format", "json", "coaching")
        check(r.returncode == 0 and json.loads(r.stdout)["total"] == 1, r.stderr)
        r = s.report("agents")
        check(r.returncode == 0 and "李娜" in r.stdout, r.stderr)
        # the gap queue is not there yet, and says so
        r = s.call("GET", "/api/gaps", "editor")
        check_status(r, 501, "gaps")
        check("PostgreSQL" in r.json()["error"], r.json())
        r = s.report("gaps")
        check(r.returncode == 1 and "not yet available with a PostgreSQL" in r.stderr, r.stderr)

        # a restart keeps everything
        check(s.stop() == 0, "clean stop")
        s.start()
        item = s.json("GET", f"/api/help-requests/{gap['id']}", "lead")
        check(item["review"] is not None and item["reviews"][0]["note"] == "见套餐文档", item)
        again = s.call("POST", "/api/feedback", "agent", body=fb)
        check(again.status == 201 and again.json().get("duplicate") is True, "still stored once")
        third = s.json("POST", "/api/help-requests", "agent", status=201,
                       body={"question": "流量套餐怎么变更"})
        check(third["id"] > gap["id"], third)
        got = s.json("GET", "/api/coaching?agent=test-agent", "lead")
        check(got["total"] == 1 and got["items"][0]["id"] == made["id"], got)
        study = s.json("GET", "/api/me/study", "agent")
        check(study["items"][0]["studied"], study)
        learned = s.json("GET", "/api/documents/roam-intl-001/learned", "editor")["phrasings"]
        check(any(p["counted"] for p in learned), learned)

        log = s.log_text()
        check(password() not in log, "the password is in the log")
        check("gap queue is not yet available" in log, "the start-up says the queue is missing")


@test
def healthz_says_when_the_database_is_unreachable_and_when_it_is_back():
    with PgService("e2e_health") as s:
        check(s.request("GET", "/healthz").json()["store"] == "ok", "ok at start")
        for _ in range(4):  # every HTTP thread keeps a session to the database from now on
            s.json("GET", "/api/help-requests", "lead")
        pg().stop()
        try:
            wait_until(lambda: s.request("GET", "/healthz").json()["store"] == "unreachable", 15,
                       "unreachable")
            h = s.request("GET", "/healthz")
            check(h.status == 200, "still in service: searches are answered")
            check(password() not in h.body.decode(), "no password in /healthz")
            check_status(s.search("出国了手机怎么用"), 200, "search while the database is down")
            # kept in the node's spool meanwhile (tests/e2e/test_spool.py has the whole story)
            r = s.call("POST", "/api/help-requests", "agent", body={"question": "出国了手机怎么用"})
            check(r.status == 201 and r.json()["id"] > 0, f"help request while down: {r!r}")
            check(password() not in r.body.decode(), "no password in the answer")
            r = s.call("GET", "/api/help-requests", "lead")
            check(r.status == 503 and "unreachable" in r.json()["error"], f"list while down: {r!r}")
        finally:
            pg().start()
        wait_until(lambda: s.request("GET", "/healthz").json()["store"] == "ok", 15, "ok again")
        s.json("POST", "/api/help-requests", "agent", status=201, body={"question": "出国了手机怎么用"})
        # the HTTP threads' sessions from before the restart connect again on their next use
        for _ in range(4):
            check(s.json("GET", "/api/help-requests", "lead")["total"] == 2, "after the restart")
        check(password() not in s.log_text(), "no password in the log")


def stop_server():
    if _pg is not None:
        _pg.__exit__(None, None, None)


if __name__ == "__main__":
    run_tests(cleanups=[stop_server])
