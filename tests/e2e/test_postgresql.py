#!/usr/bin/env python3
"""test_postgresql.py — kb-searchd and kb-report with the event store in PostgreSQL
(`--data postgresql://...`, docs/CLUSTER.md) against the throw-away server tests/pg_server.py
starts: help requests, feedback that teaches a phrasing, a lead's review, coaching, kb-report
reading the same database, the data kept across a restart, /healthz saying whether the database
is reachable, no password in any answer or log line; the editors' gap queue through the HTTP
API; and two kb-searchd on one database, where the queue's work moves to the survivor when the
node doing it is killed, and every question is in the queue once. What happens while the
database is away: test_spool.py.
"""
import json
import os
import random
import subprocess
import sys
import time

from harness import (AgentsService, check, check_status, doc_xml, documents_file, run_tests,
                     test, wait_until)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pg_server import remove_shared, shared as pg  # noqa: E402


ROAMING = doc_xml(
    "roam-intl-001", "国际漫游开通办理", keywords="出国 漫游 开通", questions=["出国了手机怎么用"],
    paragraphs=["客户出国前需开通国际漫游功能，可拨打客服热线或到营业厅办理国际漫游开通，开通后即时生效。"],
    must_know=[])
PLAN = doc_xml(
    "plan-001", "流量套餐变更办理", keywords="套餐 变更 流量",
    paragraphs=["流量套餐变更次月生效，可通过营业厅或手机营业厅办理套餐变更。"])

AGENTS = "test-agent\t测试坐席\t一组\na-li\t李娜\t一组\n"


def password():
    uri = pg().uri
    return uri.split("://kb:", 1)[1].split("@", 1)[0]


class PgService(AgentsService):
    """kb-searchd with --data the test server's URI (its own schema: a new database each time;
    create=False joins a schema another PgService made, as a second node)."""

    def __init__(self, schema, create=True):
        if create:
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", pg().socket_uri, "-c",
                            f"CREATE SCHEMA {schema}"], check=True, capture_output=True)
        super().__init__({"kb.xml": documents_file(ROAMING, PLAN)}, AGENTS,
                         data=pg().uri + f"?options=-csearch_path%3D{schema}")


TAKES_ROLE = "this node now does the queue's work"


def queued(s, role="editor"):
    """Every item of the queue (any status): {id: item}."""
    items = s.json("GET", "/api/gaps?status=all&limit=500", role)["items"]
    return {it["id"]: it for it in items}


def queued_refs(s):
    """The search ids and help request ids behind every item of the queue, as listed."""
    refs = []
    for gid in queued(s):
        refs += [q["ref"] for q in s.json("GET", f"/api/gaps/{gid}", "editor")["questions"]]
    return refs


def unresolved(s, q):
    """Search q as the agent; the search must be one the queue takes in. Its search_id."""
    r = s.search(q).json()
    check(r["unresolved"], f"{q}: expected an unresolved search, got {r}")
    return r["search_id"]


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
        # the gap queue took the unanswerable help request in before the review moved it out
        r = s.report("--format", "json", "gaps", "--status", "all")
        check(r.returncode == 0, r.stderr)

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
        check(TAKES_ROLE in log, "the only node takes the queue's work")


@test
def the_gap_queue_works_over_postgresql():
    with PgService("e2e_gaps") as s:
        # unanswered searches and an unanswerable help request become items, grouped
        asked = [unresolved(s, "宠物保险怎么理赔"), unresolved(s, "寵物保險怎麼理賠"),
                 unresolved(s, "电动车上牌需要什么材料")]
        helped = s.json("POST", "/api/help-requests", "agent", status=201,
                        body={"question": "宠物保险理赔要多久 客户13812345678"})
        check(not helped["kb_answerable"], helped)
        wait_until(lambda: s.json("GET", "/api/gaps", "editor")["total"] == 2, 15, "two items")
        page = s.json("GET", "/api/gaps", "editor")
        pet = page["items"][0]
        check(pet["count"] == 3 and pet["sources"] == {"search": 2, "not_found": 0,
                                                       "help_request": 1}, pet)
        detail = s.json("GET", f"/api/gaps/{pet['id']}", "editor")
        check(sorted(q["ref"] for q in detail["questions"]) ==
              sorted(asked[:2] + [str(helped["id"])]), detail)
        check("13812345678" not in json.dumps(page, ensure_ascii=False), "redacted")
        # an editor resolves one: it leaves the default list, with who and why
        bike = next(it for it in page["items"] if it["id"] != pet["id"])
        done = s.json("PUT", f"/api/gaps/{bike['id']}", "editor",
                      body={"status": "dismissed", "note": "不是知识库的范围"})
        check(done["status"] == "dismissed" and done["status_by"] == "test-editor", done)
        page = s.json("GET", "/api/gaps", "editor")
        check(page["total"] == 1 and page["items"][0]["id"] == pet["id"], page)
        check(s.call("PUT", f"/api/gaps/{bike['id']}", "editor",
                      body={"status": "in_progress"}).status == 409, "dismissed, not re-opened")
        # content health and kb-report read the same queue
        health = s.json("GET", "/api/content-health?days=7", "editor")
        check(health["documents"] == 2, health)
        r = s.report("--format", "json", "gaps", "--status", "all")
        check(r.returncode == 0 and json.loads(r.stdout)["total"] == 2, r.stderr)
        r = s.report("gaps")
        check(r.returncode == 0 and pet["question"] in r.stdout, r.stdout + r.stderr)
        r = s.report("health", "--index", s.index_dir)
        check(r.returncode == 0, r.stderr)
        check(TAKES_ROLE in s.log_text(), "the start-up takes the queue's work")
        check(password() not in s.log_text(), "no password in the log")


@test
def the_queue_moves_to_the_other_node_when_the_one_doing_it_is_killed():
    """Two kb-searchd on one database: one does the queue's work (it says so in its log). It is
    killed with SIGKILL; new unanswered searches sent to the survivor are grouped by it within
    30 s, and every question is in the queue once."""
    with PgService("e2e_takeover") as a, PgService("e2e_takeover", create=False) as b:
        wait_until(lambda: (TAKES_ROLE in a.log_text()) + (TAKES_ROLE in b.log_text()) == 1, 15,
                   "one node takes the queue's work")
        time.sleep(2.5)  # the other has tried the lock and not got it
        check((TAKES_ROLE in a.log_text()) + (TAKES_ROLE in b.log_text()) == 1,
              "only one node does the queue's work")
        holder, survivor = (a, b) if TAKES_ROLE in a.log_text() else (b, a)
        # both nodes take searches; the holder groups them all
        sent = [unresolved(n, q) for n in (a, b) for q in ("宠物保险怎么理赔", "宠物保险怎么理赔赔付")]
        wait_until(lambda: sum(it["count"] for it in queued(survivor).values()) == len(sent), 15,
                   "the searches of both nodes in the queue")
        # at any moment of the survivor's one-second retry cycle, not one in step with it
        time.sleep(random.random())
        holder.kill9()
        killed = time.time()
        sent += [unresolved(survivor, q) for q in ("电动车上牌需要什么材料", "电动车上牌要带什么",
                                                   "宠物保险怎么理赔")]
        took = grouped = None
        while time.time() - killed < 30 and grouped is None:
            if took is None and TAKES_ROLE in survivor.log_text():
                took = time.time() - killed
            if sum(it["count"] for it in queued(survivor).values()) == len(sent):
                grouped = time.time() - killed
            time.sleep(0.1)
        check(grouped is not None, "the survivor did not group the new searches within 30 s")
        took = took if took is not None else grouped
        print(f"  info: takeover after SIGKILL: the survivor took the queue's work after {took:.1f} s "
              f"and had grouped the new searches after {grouped:.1f} s")
        refs = queued_refs(survivor)
        check(sorted(refs) == sorted(sent), f"each question once: {sorted(refs)} vs {sorted(sent)}")
        check(password() not in survivor.log_text(), "no password in the log")


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


if __name__ == "__main__":
    run_tests(cleanups=[remove_shared])
