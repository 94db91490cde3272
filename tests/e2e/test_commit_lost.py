#!/usr/bin/env python3
"""test_commit_lost.py — "COMMIT sent, answer lost" on kb-searchd with its event store in
PostgreSQL (docs/CLUSTER.md, "The spool as built"): the node's writer sends the COMMIT of a batch
holding searches, a help request and feedback, PostgreSQL commits it, and the connection dies
before the answer reaches the node. The node cannot know whether the batch is stored: it keeps
it in its spool and delivers it again, and the database must end up with every event exactly
once — searches by their id, feedback by feedback_once, help requests by the id the lost
attempt drew — and the node must go on. The same again for a COMMIT of the spool's delivery.

The connection runs through tests/pg_proxy.py, which reads the protocol just enough to find
the COMMIT of such a transaction, lets the server answer it, and closes both connections without
passing the answer on. To get searches, a help request and feedback into one batch, the answer
to the COMMIT of the batch before is held for a moment (a slow commit): the three queue up
behind it and the writer takes them together.
"""
import os
import subprocess
import sys
import threading
import time

from harness import AgentsService, check, check_status, doc_xml, documents_file, run_tests, scaled, test, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pg_proxy import PgProxy  # noqa: E402
from pg_server import remove_shared, shared as pg  # noqa: E402

ROAMING = doc_xml(
    "roam-intl-001", "国际漫游开通办理", keywords="出国 漫游 开通", questions=["出国了手机怎么用"],
    paragraphs=["客户出国前需开通国际漫游功能，可拨打客服热线或到营业厅办理国际漫游开通，开通后即时生效。"])
PLAN = doc_xml(
    "plan-001", "流量套餐变更办理", keywords="套餐 变更 流量",
    paragraphs=["流量套餐变更次月生效，可通过营业厅或手机营业厅办理套餐变更。"])
AGENTS = "test-agent\t测试坐席\t一组\n"


def has(statements, *texts):
    return all(any(t in s for s in statements) for t in texts)


def a_batch(statements):
    """A writer's batch of direct writes: searches, feedback and a help request (RETURNING id)."""
    return has(statements, "INSERT INTO searches", "INSERT INTO feedback", "RETURNING id")


def a_delivery(statements):
    """A delivery of the spool: searches skipped when stored, help requests with their ids."""
    return has(statements, "ON CONFLICT (search_id) DO NOTHING", "INSERT INTO feedback",
               "ON CONFLICT (id) DO NOTHING")


class ProxiedService(AgentsService):
    """kb-searchd whose store, in a schema of its own on the test server, it reaches through a
    PgProxy."""

    def __init__(self, schema):
        self.schema = schema
        self.proxy = PgProxy(("127.0.0.1", pg().port)).start()
        self.sql(f"CREATE SCHEMA {schema}", search_path=False)
        server = pg()
        data = (f"postgresql://{server.superuser}:{server.password}@127.0.0.1:{self.proxy.port}/kb"
                f"?options=-csearch_path%3D{schema}&application_name=commit-lost")
        super().__init__({"kb.xml": documents_file(ROAMING, PLAN)}, AGENTS, data=data)

    def sql(self, query, search_path=True):
        prefix = f"SET search_path TO {self.schema}; " if search_path else ""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            pg().socket_uri, "-c", prefix + query], check=True, capture_output=True,
                           text=True)
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def count(self, query):
        return int(self.sql(query)[0][0])

    def health(self):
        r = self.request("GET", "/healthz")
        check_status(r, 200, "healthz")
        return r.json()

    def cleanup(self):
        super().cleanup()
        self.proxy.close()


def in_background(fn):
    """Run fn in a thread; the result (or the exception) once joined."""
    out = {}

    def run():
        try:
            out["r"] = fn()
        except Exception as e:  # reported by the caller
            out["e"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


@test
def a_batch_whose_commit_answer_is_lost_is_stored_once_and_the_node_goes_on():
    with ProxiedService("e2e_commit_lost") as s:
        check_status(s.search("流量套餐怎么变更"), 200, "a first search")
        wait_until(lambda: s.health()["store"] == "ok", 10, "the store")
        time.sleep(scaled(0.3))  # its batch committed
        # armed in this order: the first batch with searches has its COMMIT answered late, the
        # batch after it (searches, feedback, a help request) has its answer lost, and so has the
        # first delivery of the spool after that
        hold = s.proxy.hold_commit_answer(scaled(1.5), lambda st: has(st, "INSERT INTO searches"))
        lost = s.proxy.drop_after_commit(a_batch)
        lost_delivery = s.proxy.drop_after_commit(a_delivery)

        s0 = s.search("出国了手机怎么用 0").json()["search_id"]
        wait_until(lambda: hold.statements is not None, 5, "the writer committing the first search")
        first = [s.search(f"出国了手机怎么用 {i}").json()["search_id"] for i in (1, 2, 3)]
        fb = in_background(lambda: s.call("POST", "/api/feedback", "agent", body={
            "search_id": first[0], "kind": "helpful", "doc_id": "roam-intl-001"}))
        help1 = in_background(lambda: s.call("POST", "/api/help-requests", "agent", body={
            "question": "出国了手机怎么用，求助一", "answer_doc_id": "roam-intl-001"}))
        time.sleep(scaled(0.3))
        check(not hold.done.is_set(), "the three were queued while the first commit waited")
        check(lost.done.wait(scaled(10)), "the batch's COMMIT was sent")
        check(lost.tag == "COMMIT", f"the server committed the batch: {lost.tag}")
        check(a_batch(lost.statements), lost.statements)

        # While the node cannot know, it spools: what comes now joins the spool (a help request
        # takes a reserved id), and the first delivery's COMMIT answer is lost as well.
        second = [s.search(f"流量套餐怎么变更 {i}").json()["search_id"] for i in (4, 5)]
        fb2 = s.call("POST", "/api/feedback", "agent", body={
            "search_id": second[0], "kind": "helpful", "doc_id": "plan-001"})
        help2 = s.call("POST", "/api/help-requests", "agent", body={
            "question": "流量套餐怎么变更，求助二", "answer_doc_id": "plan-001"})
        for t, out in (fb, help1):
            t.join(scaled(15))
        for what, r in (("feedback", fb[1].get("r")), ("help request", help1[1].get("r")),
                        ("feedback while spooling", fb2), ("help request while spooling", help2)):
            check(r is not None and r.status == 201, f"{what}: {r!r} {fb[1].get('e')} {help1[1].get('e')}")
        ids = [help1[1]["r"].json()["id"], help2.json()["id"]]
        check(lost_delivery.done.wait(scaled(15)), "the spool's delivery COMMIT was sent")
        check(lost_delivery.tag == "COMMIT", f"the server committed the delivery: {lost_delivery.tag}")
        delivered_help = sum("ON CONFLICT (id) DO NOTHING" in x for x in lost_delivery.statements)
        check(delivered_help == 2, f"both help requests in the delivery: {lost_delivery.statements}")

        wait_until(lambda: s.health()["store"] == "ok" and s.health()["spool_events"] == 0,
                   scaled(20), "the spool delivered")
        # every event once
        searches = [s0] + first + second
        for sid in searches:
            check(s.count(f"SELECT count(*) FROM searches WHERE search_id = '{sid}'") == 1, f"search {sid}")
        rows = s.sql("SELECT id, question FROM help_requests ORDER BY id")
        check(sorted(int(r[0]) for r in rows) == sorted(ids) and len(rows) == 2, f"help requests {rows}, acknowledged {ids}")
        for sid, doc in ((first[0], "roam-intl-001"), (second[0], "plan-001")):
            check(s.count(f"SELECT count(*) FROM feedback WHERE search_id = '{sid}' AND doc_id = '{doc}'") == 1,
                  f"feedback on {sid}")
            check(s.count(f"SELECT count(*) FROM teachings WHERE source = 'helpful' AND ref = '{sid}'") == 1,
                  f"its teaching, once: {s.sql('SELECT * FROM teachings')}")
        for hid in ids:
            check(s.count(f"SELECT count(*) FROM teachings WHERE source = 'help_desk' AND ref = '{hid}'") == 1,
                  f"the desk's teaching of help request {hid}, once")
        log = s.log_text()
        check("cannot reach the database" in log and "the spool is delivered" in log, log[-2000:])

        # the node goes on, straight into the database
        sid = s.search("出国了手机怎么用 6").json()["search_id"]
        check_status(s.call("POST", "/api/feedback", "agent", body={
            "search_id": sid, "kind": "click", "doc_id": "roam-intl-001"}), 201, "feedback after")
        h3 = s.json("POST", "/api/help-requests", "agent", status=201, body={"question": "套餐变更，求助三"})
        check(s.count(f"SELECT count(*) FROM feedback WHERE search_id = '{sid}'") == 1, "feedback after, stored")
        check(s.count(f"SELECT count(*) FROM help_requests WHERE id = {h3['id']}") == 1, "help request after, stored")
        check(s.health()["spool_events"] == 0, "not spooling any more")
        print(f"    (a batch of {len(lost.statements)} statements and a delivery of "
              f"{len(lost_delivery.statements)} committed without their answers; every event stored once)")


if __name__ == "__main__":
    run_tests(cleanups=[remove_shared])
