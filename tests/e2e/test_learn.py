#!/usr/bin/env python3
"""test_learn.py — end-to-end tests of learning agents' phrasings (issue 17; docs/SEARCH.md,
"Learning from feedback"; docs/API.md): feedback teaches, the two-agent rule, poisoning,
clicks, editors' removal and pinning, restarts, re-indexing, replaced and removed documents,
redaction of learned text, explain=1, and the roles of every new endpoint.
"""
import os
import sqlite3
import time
import urllib.parse

from harness import Service, check, check_status, doc_xml, documents_file, run_tests, test, wait_until

DOCS = [
    doc_xml("huabei-close", "关闭花呗服务的流程", categories=["支付/花呗"],
            paragraphs=["在支付宝我的页面进入花呗设置，选择关闭服务，确认后即可关闭。"]),
    doc_xml("huabei-limit", "花呗额度调整", categories=["支付/花呗"],
            paragraphs=["花呗额度根据账户综合情况评估，可在花呗页面申请提额。"]),
    doc_xml("pwd-reset", "服务密码重置", categories=["业务办理/密码"],
            paragraphs=["凭身份证到营业厅或在APP重置服务密码，重置后请妥善保管。"]),
    doc_xml("roam", "国际漫游开通办理", categories=["业务办理/漫游"],
            paragraphs=["出国前请拨打10099开通国际漫游，开通后在境外可以正常使用。"]),
    doc_xml("bill", "账单查询与电子发票", categories=["账单/发票"],
            paragraphs=["在手机营业厅查询每月账单，并申请开具电子发票。"]),
    doc_xml("broadband", "宽带故障报修流程", categories=["故障处理/宽带"],
            paragraphs=["宽带无法上网时先重启光猫和路由器，仍无法恢复请登记报修。"]),
]
AGENTS = [f"agent-{i}" for i in range(6)]
QUESTION = "不想用那个先买后付了咋弄"   # nothing in the knowledge base says it like that


class LearnService(Service):
    """kb-searchd with six more agents (distinct teachers)."""

    def __init__(self):
        super().__init__({"kb.xml": documents_file(*DOCS)}, start=False)
        self.agent_tokens = {a: f"tok-{a}" for a in AGENTS}
        self.write_tokens([f"tok-{a} agent {a}" for a in AGENTS])
        self.run_indexer(check=True)
        self.start()

    def search_as(self, q, token, **params):
        params = dict(params, q=q)
        r = self.request("GET", "/api/search?" + urllib.parse.urlencode(params), token=token)
        check_status(r, 200, f"search {q}")
        return r.json()

    def feedback_as(self, q, doc_id, agent, kind="helpful"):
        sid = self.search_as(q, self.agent_tokens[agent])["search_id"]
        r = self.request("POST", "/api/feedback", token=self.agent_tokens[agent],
                         body={"search_id": sid, "kind": kind, "doc_id": doc_id})
        check_status(r, 201, f"feedback {kind} {doc_id}")

    def reload(self):
        r = self.call("POST", "/api/admin/reload", "admin", body={})
        check_status(r, 200, "reload")
        return r.json()

    def ids(self, q, n=10):
        return [h["id"] for h in self.search_as(q, self.tokens["agent"], limit=n)["hits"]]

    def learned(self, doc_id, role="editor"):
        r = self.call("GET", f"/api/documents/{doc_id}/learned", role)
        check_status(r, 200, f"learned of {doc_id}")
        return r.json()


def fresh():
    return LearnService()


@test
def two_agents_helpful_teach_a_phrasing_that_search_uses_after_reload():
    with fresh() as s:
        check(s.ids(QUESTION, 3)[:1] != ["huabei-close"], f"already found: {s.ids(QUESTION)}")
        s.feedback_as(QUESTION, "huabei-close", "agent-0")
        s.feedback_as(QUESTION, "huabei-close", "agent-1")
        check(s.reload()["learned_phrasings"] == 1, "reload counts the phrasing")
        check(s.ids(QUESTION)[0] == "huabei-close", f"taught phrasing: {s.ids(QUESTION)}")
        # an unseen phrasing that shares its words
        check(s.ids("先买后付不想用了")[0] == "huabei-close", f"unseen: {s.ids('先买后付不想用了')}")
        got = s.learned("huabei-close")["phrasings"]
        check(len(got) == 1 and got[0]["teachers"] == 2 and got[0]["counted"]
              and got[0]["sources"] == ["helpful"] and got[0]["taught"] == 2, got)


@test
def one_agent_alone_cannot_rewire_answers_however_often():
    with fresh() as s:
        before = s.ids("宽带上不了网", 3)
        for _ in range(5):
            s.feedback_as("宽带上不了网", "bill", "agent-0")
        s.reload()
        check("bill" not in s.ids("宽带上不了网", 3)[:3] or "bill" in before, s.ids("宽带上不了网"))
        got = s.learned("bill")["phrasings"]
        check(len(got) == 1 and got[0]["teachers"] == 1 and not got[0]["counted"], got)


@test
def clicks_are_weak_and_not_found_teaches_nothing():
    with fresh() as s:
        for a in AGENTS[:3]:
            s.feedback_as("出境手机咋用", "roam", a, kind="click")
        sid = s.search_as("出境手机咋用", s.agent_tokens["agent-5"])["search_id"]
        check_status(s.request("POST", "/api/feedback", token=s.agent_tokens["agent-5"],
                               body={"search_id": sid, "kind": "not_found"}), 201)
        got = s.learned("roam")["phrasings"]
        check(len(got) == 1 and got[0]["teachers"] == 3 and not got[0]["counted"], got)
        s.feedback_as("出境手机咋用", "roam", "agent-3", kind="click")  # four clickers
        check(s.learned("roam")["phrasings"][0]["counted"], "four agents' clicks count")


@test
def a_lead_alone_teaches_and_the_effect_comes_within_seconds_without_reload():
    with fresh() as s:
        sid = s.search("不想用那个先买后付了咋弄", role="lead").json()["search_id"]
        check_status(s.call("POST", "/api/feedback", "lead",
                            body={"search_id": sid, "kind": "helpful", "doc_id": "huabei-close"}), 201)
        wait_until(lambda: s.ids(QUESTION)[:1] == ["huabei-close"], 15, "background refresh")


@test
def removed_phrasing_is_tombstoned_and_never_learned_again():
    with fresh() as s:
        s.feedback_as(QUESTION, "huabei-close", "agent-0")
        s.feedback_as(QUESTION, "huabei-close", "agent-1")
        s.reload()
        r = s.call("DELETE", "/api/documents/huabei-close/learned?" +
                   urllib.parse.urlencode({"phrasing": "不想用那个先买后付了，咋弄？"}), "editor")
        check_status(r, 200, "remove")
        check(r.json()["removed"] and not r.json()["counted"], r.json())
        check(s.ids(QUESTION)[:1] != ["huabei-close"], "removal applies at once")
        for a in AGENTS[2:5]:  # new events of the same phrasing
            s.feedback_as(QUESTION, "huabei-close", a)
        s.reload()
        check(s.ids(QUESTION)[:1] != ["huabei-close"], "relearned from new events")
        check_status(s.call("POST", "/api/documents/huabei-close/learned", "editor",
                            body={"phrasing": QUESTION, "pinned": True}), 409, "pin a removed phrasing")
        check_status(s.call("DELETE", "/api/documents/huabei-close/learned?phrasing=%E6%B2%A1%E6%95%99",
                            "editor"), 404, "remove an untaught phrasing")


@test
def pinning_counts_one_agents_phrasing_and_adds_an_editors_own():
    with fresh() as s:
        s.feedback_as(QUESTION, "huabei-close", "agent-0")
        s.reload()
        check(not s.learned("huabei-close")["phrasings"][0]["counted"], "one agent")
        r = s.call("POST", "/api/documents/huabei-close/learned", "editor",
                   body={"phrasing": QUESTION, "pinned": True})
        check_status(r, 200, "pin")
        check(r.json()["pinned"] and r.json()["counted"], r.json())
        check(s.ids(QUESTION)[0] == "huabei-close", "pinned phrasing used at once")
        r = s.call("POST", "/api/documents/pwd-reset/learned", "admin",
                   body={"phrasing": "登录口令忘了", "pinned": True})
        check_status(r, 200, "an editor's own phrasing")
        check(r.json()["sources"] == ["editor"], r.json())
        check(s.ids("登录口令忘了")[0] == "pwd-reset", s.ids("登录口令忘了"))
        r = s.call("POST", "/api/documents/huabei-close/learned", "editor",
                   body={"phrasing": QUESTION, "pinned": False})
        check_status(r, 200, "unpin")
        check(not r.json()["counted"], r.json())


@test
def learning_survives_restart_reindex_and_follows_replaced_and_removed_documents():
    with fresh() as s:
        s.feedback_as(QUESTION, "huabei-close", "agent-0")
        s.feedback_as(QUESTION, "huabei-close", "agent-1")
        s.reload()
        s.stop()
        s.start()
        check(s.ids(QUESTION)[0] == "huabei-close", "after a restart")
        replaced = doc_xml("huabei-close", "花呗服务注销说明", categories=["支付/花呗"],
                           paragraphs=["注销后不能再使用相关额度。"])
        others = [d for d in DOCS if 'id="huabei-close"' not in d]
        s.write_kb_file("kb.xml", documents_file(replaced, *others))
        s.run_indexer(check=True)
        s.reload()
        check(s.ids(QUESTION)[0] == "huabei-close", "a replaced document keeps its phrasings")
        s.write_kb_file("kb.xml", documents_file(*others))
        r = s.run_indexer(check=False, paths=["--sync", s.kb])
        check(r.returncode == 0, r.stderr)
        s.reload()
        check("huabei-close" not in s.ids(QUESTION), "a removed document is not found through phrasings")
        got = s.learned("huabei-close")
        check(not got["in_index"] and len(got["phrasings"]) == 1, got)


@test
def learned_text_is_redacted():
    with fresh() as s:
        s.feedback_as("13812345678这个号的密码忘了", "pwd-reset", "agent-0")
        s.feedback_as("13987654321这个号的密码忘了", "pwd-reset", "agent-1")
        s.reload()
        got = s.learned("pwd-reset")["phrasings"]
        check(len(got) == 1 and got[0]["teachers"] == 2 and got[0]["counted"], got)
        check("138" not in got[0]["text"] and "[手机号]" in got[0]["text"], got[0]["text"])
        r = s.call("POST", "/api/documents/pwd-reset/learned", "editor",
                   body={"phrasing": "身份证110101199003071234的密码", "pinned": True})
        check_status(r, 200, "pin")
        check("110101199003071234" not in r.json()["text"], r.json())
        s.stop()
        db = sqlite3.connect(os.path.join(s.data, "events.sqlite3"))
        rows = db.execute("SELECT question, teacher FROM teachings").fetchall()
        db.close()
        text = repr(rows)
        check("13812345678" not in text and "110101199003071234" not in text, text)


@test
def explain_says_why_each_hit_ranked_for_editors_and_admins_only():
    with fresh() as s:
        s.feedback_as(QUESTION, "huabei-close", "agent-0")
        s.feedback_as(QUESTION, "huabei-close", "agent-1")
        s.reload()
        for role in ("editor", "admin"):
            r = s.search(QUESTION, role=role, explain=1)
            check_status(r, 200, f"explain as {role}")
            hit = r.json()["hits"][0]
            e = hit["explain"]
            check(hit["id"] == "huabei-close" and e["learned"] > 0 and e["learned_similarity"] > 0.9
                  and e["learned_phrasing"] == QUESTION and e["structure_boost"] >= 1
                  and "bm25" in e, e)
        for role in ("agent", "lead"):
            check_status(s.search(QUESTION, role=role, explain=1), 403, f"explain as {role}")
        check("explain" not in s.search(QUESTION, role="editor").json()["hits"][0], "no explain")
        check_status(s.search(QUESTION, role="editor", explain="maybe"), 400, "bad explain")


@test
def learned_endpoints_are_for_editors_and_admins_and_check_their_input():
    with fresh() as s:
        path = "/api/documents/roam/learned"
        body = {"phrasing": "出国怎么打电话", "pinned": True}
        for role in ("agent", "lead"):
            check_status(s.call("GET", path, role), 403, f"GET as {role}")
            check_status(s.call("POST", path, role, body=body), 403, f"POST as {role}")
            check_status(s.call("DELETE", path + "?phrasing=x", role), 403, f"DELETE as {role}")
        check_status(s.call("GET", path, None), 401, "no token")
        check_status(s.call("GET", path, "editor"), 200, "GET as editor")
        check_status(s.call("GET", path, "admin"), 200, "GET as admin")
        check_status(s.call("PUT", path, "editor", body=body), 405, "PUT")
        check_status(s.call("GET", "/api/documents/nope/learned", "editor"), 404, "unknown document")
        check_status(s.call("POST", "/api/documents/nope/learned", "editor", body=body), 404, "unknown")
        check_status(s.call("GET", "/api/documents/b%20d/learned", "editor"), 400, "bad id")
        check_status(s.call("POST", path, "editor", body={"phrasing": "x"}), 400, "no pinned")
        check_status(s.call("POST", path, "editor", body={"pinned": True}), 400, "no phrasing")
        check_status(s.call("POST", path, "editor", body={"phrasing": "？！", "pinned": True}), 400,
                     "punctuation only")
        check_status(s.call("DELETE", path, "editor"), 400, "DELETE without phrasing")
        check_status(s.call("GET", "/api/documents/roam", "agent"), 200, "the document itself")
        # feedback on a document the index does not hold is refused, as before
        sid = s.search("漫游").json()["search_id"]
        check_status(s.call("POST", "/api/feedback", "agent",
                            body={"search_id": sid, "kind": "helpful", "doc_id": "nope"}), 400, "unknown doc")


@test
def help_desk_answers_leads_reviews_and_answered_gaps_teach():
    with fresh() as s:
        # the desk's answer names a document: filed by a lead, it counts alone
        r = s.call("POST", "/api/help-requests", "lead",
                   body={"agent": "agent-0", "question": "境外打不了电话怎么回事", "answer": "开漫游",
                         "answer_doc_id": "roam"})
        check_status(r, 201, "help request")
        got = s.learned("roam")["phrasings"]
        check(len(got) == 1 and got[0]["sources"] == ["help_desk"] and got[0]["counted"], got)
        check_status(s.call("POST", "/api/help-requests", "lead",
                            body={"agent": "agent-0", "question": "x", "answer_doc_id": "nope"}),
                     400, "unknown answer_doc_id")
        # a lead's review names the document that answered
        r = s.call("POST", "/api/help-requests", "agent",
                   body={"question": "发票在哪开"})
        check_status(r, 201, "help request")
        hid = r.json()["id"]
        r = s.call("PUT", f"/api/help-requests/{hid}/review", "lead",
                   body={"kb_answerable": True, "doc_id": "bill"})
        check_status(r, 200, "review")
        got = s.learned("bill")["phrasings"]
        check(len(got) == 1 and got[0]["sources"] == ["review"] and got[0]["counted"], got)
        # an editor answers a gap item with a document: its questions teach it
        for q in ("光猫红灯一直闪", "光猫红灯闪烁"):
            s.search(q)
        wait_until(lambda: s.call("GET", "/api/gaps", "editor").json().get("items"), 10, "gap items")
        items = s.call("GET", "/api/gaps", "editor").json()["items"]
        gid = [i["id"] for i in items if "光猫" in i["question"]][0]
        check_status(s.call("PUT", f"/api/gaps/{gid}", "editor",
                            body={"status": "answered", "doc_id": "broadband"}), 200, "answer gap")
        got = s.learned("broadband")["phrasings"]
        check(got and all(p["sources"] == ["editor"] and p["counted"] for p in got), got)
        s.reload()
        check(s.ids("光猫红灯一直闪")[0] == "broadband", s.ids("光猫红灯一直闪"))


if __name__ == "__main__":
    run_tests()
