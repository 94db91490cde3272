#!/usr/bin/env python3
"""test_coaching.py — end-to-end tests of must-know misses, study lists and coaching (issue 19,
docs/COACHING.md, docs/API.md) against the real kb-searchd, kb-indexer and kb-report: the
must-know snapshot taken when a help request is filed or reviewed, an agent's own study list
and its marks, coaching sessions with redacted notes, the reports, and the roles of every
endpoint.
"""
import datetime
import json

from harness import (AgentsService, check, check_status, doc_xml, documents_file, run_tests,
                     test)


# Must-know for 一组 only.
ROAMING = doc_xml(
    "roam-intl-001", "国际漫游开通办理", keywords="出国 漫游 开通", questions=["出国了手机怎么用"],
    paragraphs=["客户出国前需开通国际漫游功能，可拨打客服热线或到营业厅办理国际漫游开通，开通后即时生效。"],
    must_know=["一组"])
# Must-know for every team.
BROADBAND = doc_xml(
    "broadband-001", "宽带故障报修流程", keywords="宽带 报修 故障",
    paragraphs=["宽带无法上网时，先检查光猫指示灯是否正常，再重启路由器，仍无法恢复请登记报修。"],
    must_know=[])
# Not must-know.
PLAN = doc_xml(
    "plan-001", "流量套餐变更办理", keywords="套餐 变更 流量",
    paragraphs=["流量套餐变更次月生效，可通过营业厅或手机营业厅办理套餐变更。"])

AGENTS = "test-agent\t测试坐席\t一组\na-li\t李娜\t一组\na-wang\t王强\t二组\n"


class CoachingService(AgentsService):
    """The agent token's NAME (test-agent) is in 一组."""

    def __init__(self):
        super().__init__({"kb.xml": documents_file(ROAMING, BROADBAND, PLAN)}, AGENTS)


_shared = None


def shared():
    global _shared
    if _shared is None:
        _shared = CoachingService()
    return _shared


def today():
    return datetime.date.today().isoformat()


def file_request(s, question, agent=None, role="agent"):
    body = {"question": question}
    if agent:
        body["agent"] = agent
    return s.json("POST", "/api/help-requests", role, body=body, status=201)


# ---------------------------------------------------------------- roles
ENDPOINTS = [  # method, path, body, the role besides admin that may call it
    ("GET", "/api/me/study", None, "agent"),
    ("POST", "/api/me/study/roam-intl-001", None, "agent"),
    ("GET", "/api/agents/test-agent/study", None, "lead"),
    ("GET", "/api/coaching", None, "lead"),
    ("POST", "/api/coaching", {"agent": "a-li", "date": "2026-10-15"}, "lead"),
    ("GET", "/api/reports/coaching", None, "lead"),
    ("GET", "/api/reports/help-requests", None, "lead"),
]


@test
def every_coaching_endpoint_checks_token_and_role():
    s = shared()
    problems = []
    for method, path, body, allowed in ENDPOINTS:
        for token in (None, "not-a-token"):
            r = s.request(method, path, token=token, body=body)
            if r.status != 401:
                problems.append(f"{method} {path} token {token}: {r.status}")
        for role in ("agent", "editor", "lead", "admin"):
            r = s.call(method, path, role, body=body)
            may = role == "admin" or role == allowed
            if may and r.status in (401, 403):
                problems.append(f"{method} {path} as {role}: {r.status} {r.body[:100]!r}")
            if not may and (r.status != 403 or "error" not in r.json()):
                problems.append(f"{method} {path} as {role}: expected 403 with an error, got {r.status}")
    check(not problems, "\n".join(problems))


# ---------------------------------------------------------------- the must-know snapshot
@test
def filing_marks_a_must_know_miss_for_the_agents_team_only():
    s = shared()
    mine = file_request(s, "国际漫游怎么开通")  # test-agent, 一组: must-know for 一组
    check(mine["kb_answerable"] and mine["doc_id"] == "roam-intl-001" and mine["must_know"], mine)
    other = file_request(s, "国际漫游怎么开通", agent="a-wang", role="lead")  # 二组
    check(other["doc_id"] == "roam-intl-001" and other["must_know"] is False, other)
    every = file_request(s, "宽带故障怎么报修", agent="a-wang", role="lead")  # every team
    check(every["doc_id"] == "broadband-001" and every["must_know"], every)
    plain = file_request(s, "流量套餐怎么变更")
    check(plain["doc_id"] == "plan-001" and plain["must_know"] is False, plain)
    item = s.json("GET", f"/api/help-requests/{mine['id']}", "lead")
    check(item["must_know"] and item["must_know_miss"] and item["doc_title"] == "国际漫游开通办理", item)

    month = datetime.date.today().strftime("%Y-%m")
    rep = s.json("GET", f"/api/reports/help-requests?month={month}&months=1&persist=1", "lead")
    rows = {r["agent"]: r for r in rep["rows"]}
    check(rows["test-agent"]["must_know_misses"] >= 1, rows)
    check(rows["a-wang"]["must_know_misses"] == 1 and rows["a-wang"]["requests"] == 2, rows["a-wang"])
    check(rows["a-wang"]["must_know_share"] == 0.5 and rows["a-wang"]["must_know_persistent"], rows)
    check(rep["must_know_min"] == 1 and "must_know_misses" in rep["totals"], rep)
    check_status(s.call("GET", "/api/reports/help-requests?must_know_min=0", "lead"), 400, "min 0")


@test
def me_tells_the_agents_team_that_decides_its_must_know_badges():
    """GET /api/me gives the token NAME's team from the agents list (the agents' page shows a
    team's 应知应会 badge to that team only), null when not listed or listed without one, and
    follows a new list at once, as the must-know verdict of a help request does."""
    with AgentsService({"kb.xml": documents_file(ROAMING, BROADBAND, PLAN)}, AGENTS) as s:
        check(s.json("GET", "/api/me", "agent") == {"name": "test-agent", "role": "agent", "team": "一组"},
              "listed agent")
        for role in ("editor", "lead", "admin"):
            me = s.json("GET", "/api/me", role)
            check(me == {"name": f"test-{role}", "role": role, "team": None}, f"not listed: {me}")
        s.json("PUT", "/api/agents", "admin", body={"agents": [
            {"id": "test-agent", "name": "测试坐席", "team": "二组"},
            {"id": "test-lead", "name": "班长", "team": ""}]})
        check(s.json("GET", "/api/me", "agent")["team"] == "二组", "the new list at once")
        check(s.json("GET", "/api/me", "lead")["team"] is None, "listed without a team")
        # The page's rule is the server's: roaming is must-know for 一组 only, so not for 二组.
        check(file_request(s, "国际漫游怎么开通")["must_know"] is False, "must-know for 二组")


@test
def a_review_naming_a_document_resets_the_must_know_mark():
    s = shared()
    h = file_request(s, "流量套餐怎么变更", agent="a-li", role="lead")
    check(h["must_know"] is False, h)
    item = s.json("PUT", f"/api/help-requests/{h['id']}/review", "lead",
                  body={"kb_answerable": True, "doc_id": "broadband-001"})
    check(item["must_know"] and item["must_know_miss"] and item["doc_title"] == "宽带故障报修流程", item)
    item = s.json("PUT", f"/api/help-requests/{h['id']}/review", "lead", body={"kb_answerable": False})
    check(item["must_know"] and not item["must_know_miss"], item)


# ---------------------------------------------------------------- study lists
@test
def an_agent_reads_and_marks_only_their_own_study_list():
    s = shared()
    file_request(s, "出国了手机怎么用")
    file_request(s, "流量套餐怎么变更")
    mine = s.json("GET", "/api/me/study", "agent")
    check(mine["agent"] == "test-agent", mine)
    ids = [it["doc_id"] for it in mine["items"]]
    check(ids[0] == "roam-intl-001" and "plan-001" in ids, f"must-know first: {ids}")
    roam = mine["items"][0]
    check(roam["must_know"] and roam["count"] >= 2 and roam["title"] == "国际漫游开通办理", roam)
    check(roam["studied"] is False and roam["studied_at"] is None, roam)

    marked = s.json("POST", "/api/me/study/roam-intl-001", "agent")
    check(marked["studied"] and marked["studied_at"], marked)
    again = s.json("POST", "/api/me/study/roam-intl-001", "agent")
    check(again["studied_at"] == marked["studied_at"], "a second mark keeps the first time")
    # broadband-001 answered a-wang's requests, not this agent's
    check_status(s.call("POST", "/api/me/study/broadband-001", "agent"), 404, "not on my list")
    check_status(s.call("POST", "/api/me/study/bad%20id", "agent"), 404, "not an id")
    check_status(s.call("GET", "/api/me/study/roam-intl-001", "agent"), 405, "GET on a mark")

    lead_view = s.json("GET", "/api/agents/test-agent/study", "lead")
    check(lead_view["items"] == s.json("GET", "/api/me/study", "agent")["items"], lead_view)
    wang = s.json("GET", "/api/agents/a-wang/study", "lead")
    check([it["doc_id"] for it in wang["items"]][0] == "broadband-001", wang)
    check_status(s.call("GET", "/api/agents/test-agent/study", "agent"), 403, "agent reads another's")

    r = s.report("--format", "json", "study", "--agent", "test-agent")
    check(r.returncode == 0 and json.loads(r.stdout) == lead_view, f"kb-report study: {r.stderr}")
    r = s.report("study", "--agent", "test-agent")
    check(r.returncode == 0 and r.stdout.startswith("agent,doc_id,title,must_know"), r.stdout[:200])


# ---------------------------------------------------------------- coaching
@test
def a_lead_records_coaching_with_a_redacted_note():
    s = shared()
    day = today()
    body = {"agent": "test-agent", "date": day, "doc_ids": ["roam-intl-001", "broadband-001"],
            "note": "讲了漫游开通，客户电话13812345678不要记"}
    made = s.json("POST", "/api/coaching", "lead", body=body, status=201)
    check(made["agent"] == "test-agent" and made["agent_name"] == "测试坐席" and made["team"] == "一组", made)
    check(made["lead"] == "test-lead" and made["date"] == day, made)
    check("13812345678" not in made["note"] and made["note"].startswith("讲了漫游开通"), made)
    check([d["doc_id"] for d in made["documents"]] == ["roam-intl-001", "broadband-001"], made)
    check(made["documents"][0]["title"] == "国际漫游开通办理", made)

    for bad, why in ((dict(body, doc_ids=["no-such-doc"]), "unknown document"),
                     (dict(body, agent="nobody"), "not in the agents list"),
                     (dict(body, date="2026-02-30x"), "bad date"),
                     (dict(body, date="2026-02-30"), "a day February does not have"),
                     (dict(body, date="2026-04-31"), "a day April does not have"),
                     (dict(body, doc_ids="roam-intl-001"), "not an array"),
                     ({"date": day}, "no agent")):
        check_status(s.call("POST", "/api/coaching", "lead", body=bad), 400, why)

    listed = s.json("GET", "/api/coaching?agent=test-agent", "lead")
    check(listed["total"] >= 1 and listed["items"][0]["id"] == made["id"], listed)
    check_status(s.call("GET", "/api/coaching?from=yesterday", "lead"), 400, "bad from")
    # A day no calendar has is refused everywhere a day is asked for, not moved to March.
    for path in ("/api/coaching?from=2026-02-30", "/api/reports/coaching?to=2026-02-29",
                 "/api/help-requests?from=2026-02-31"):
        check_status(s.call("GET", path, "lead"), 400, path)
    check_status(s.call("GET", "/api/help-requests?from=2026-02-01&to=2026-02-28", "lead"), 200,
                 "the last day of February")

    rep = s.json("GET", "/api/reports/coaching?weeks=2", "lead")
    check(rep["weeks"] == 2, rep)
    row = [x for x in rep["sessions"] if x["session_id"] == made["id"]]
    check(len(row) == 1, rep)
    row = row[0]
    # Everything filed in these tests is today: the session day is in neither window.
    check(row["before"]["requests"] == 0 and row["after"]["requests"] == 0, row)
    check(row["complete"] is False and row["documents"] == 2, row)
    teams = {t["team"]: t for t in rep["teams"]}
    check(teams["一组"]["sessions"] >= 1 and teams["一组"]["coached_agents"] >= 1, teams)
    check_status(s.call("GET", "/api/reports/coaching?weeks=0", "lead"), 400, "weeks 0")

    r = s.report("--format", "json", "coaching-effect", "--weeks", "2")
    got = json.loads(r.stdout) if r.returncode == 0 else None
    # "complete" depends on the clock; everything else must be the API's.
    check(got == s.json("GET", "/api/reports/coaching?weeks=2", "lead"), f"kb-report: {r.stderr}")
    r = s.report("--format", "json", "coaching", "--agent", "test-agent")
    check(r.returncode == 0 and json.loads(r.stdout) == listed, r.stderr)
    r = s.report("coaching-effect")
    check(r.returncode == 0 and r.stdout.startswith("kind,session_id,date"), r.stdout[:200])
    check(any(line.startswith("team,") for line in r.stdout.splitlines()), r.stdout)
    r = s.report("coaching", "--from", "bad")
    check(r.returncode == 2, r.stderr)


def cleanup():
    if _shared:
        _shared.cleanup()


if __name__ == "__main__":
    run_tests([cleanup])
