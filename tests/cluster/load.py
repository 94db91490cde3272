"""load.py — the agents' floor for the cluster test: a bounded, steady load through haproxy that
records every request it makes and everything the cluster acknowledged.

Four streams, each at a fixed rate (requests a second), on a pool of worker threads, every
request on a fresh connection as a browser's would be after an idle keep-alive:

- searches: kbgen's (or the sample KB's) questions, by 40 agents in turn;
- help requests: an agent asks the support desk; each question carries a nonce of letters (no
  digits: redaction must not touch it) so that the database's row can be matched to the
  acknowledged id;
- feedback: on a search answered at least a second earlier (an agent reads before clicking),
  click or helpful on one of its hits, or not_found; each (search, kind, document) once;
- questions the knowledge base cannot answer, from 30 other agents, each asking at most every
  8 s (longer than kb-searchd's default typing window of 5 s, so none is taken for a step of
  typing): what the editors' queue takes in, for the check that it holds each question once.

Every request is a Record (when, what, status, latency, error); acknowledged help requests
(201 with an id), feedback (201) and unresolved searches are kept for the database checks.
Nothing is retried by the load: a failure is what an agent would have seen.
"""
import collections
import concurrent.futures
import http.client
import json
import random
import string
import threading
import time
import urllib.parse

# Questions about things no knowledge base of a bank or telecom holds: unresolved, so they go
# to the editors' queue; each is asked many times, by different agents.
GAP_QUESTIONS = (
    "宠物医疗保险怎么理赔", "火星旅游签证怎么申请", "恐龙化石收藏证在哪办", "月球土地产权证书查询",
    "量子纠缠通信套餐资费", "外星人来电如何登记", "时光机票改签手续费", "龙舟赛事直播会员退订",
)


class Record:
    __slots__ = ("t", "kind", "status", "ms", "error", "search_id")

    def __init__(self, t, kind, status, ms, error, search_id=None):
        self.t, self.kind, self.status, self.ms, self.error = t, kind, status, ms, error
        self.search_id = search_id  # feedback: the search it is about

    @property
    def ok(self):
        return self.error is None and self.status in (200, 201)


class Load:
    def __init__(self, host, port, agents, gap_agents, queries, rates=None, workers=48, seed=1):
        self.host, self.port = host, port
        self.agents = agents          # [(name, token)]
        self.gap_agents = gap_agents  # [(name, token)]
        self.queries = queries
        self.rates = dict(rates or {"search": 80.0, "help": 2.0, "feedback": 3.0})
        self.gap_period = 8.0         # seconds between two questions of one gap agent
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.records = []
        self.help_acked = []          # (id, nonce, agent, time)
        self.help_unacked = []        # (nonce, status, error, time): not acknowledged
        self.feedback_acked = []      # (search_id, kind, doc_id, duplicate, time)
        self.feedback_unacked = []    # (search_id, kind, doc_id, status, error, time)
        self.unresolved = []          # (search_id, question, agent, time) of the gap agents
        self.answered = []            # (search_id, time) of every search answered
        self.searched = collections.deque()  # (time, search_id, agent, token, hit ids) for feedback
        self.stop_flag = threading.Event()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        self.thread = threading.Thread(target=self._schedule, daemon=True)
        self.t0 = None

    # -- HTTP
    def _request(self, kind, method, path, token, body=None, search_id=None):
        t = time.monotonic()
        status, answer, error = None, None, None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            headers = {"Authorization": "Bearer " + token}
            data = None
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            status = r.status
            try:
                answer = json.loads(raw.decode("utf-8"))
            except ValueError:
                answer = None
            if status not in (200, 201):
                error = f"HTTP {status}: {raw[:200]!r}"
        except Exception as e:  # refused, reset, timed out: what the agent sees as a failure
            error = repr(e)
        finally:
            conn.close()
        rec = Record(t, kind, status, (time.monotonic() - t) * 1000.0, error, search_id)
        with self.lock:
            self.records.append(rec)
        return status, answer, error

    # -- the four kinds of request
    def search(self):
        name, token = self.agents[self.rng.randrange(len(self.agents))]
        q = self.queries[self.rng.randrange(len(self.queries))]
        t = time.monotonic()
        status, a, error = self._request("search", "GET", "/api/search?" + urllib.parse.urlencode(
            {"q": q, "limit": 10}), token)
        if status == 200 and a:
            with self.lock:
                self.searched.append((time.monotonic(), a["search_id"], name, token,
                                      [h["id"] for h in a["hits"]]))
                self.answered.append((a["search_id"], t))

    def help_request(self):
        name, token = self.agents[self.rng.randrange(len(self.agents))]
        nonce = "".join(self.rng.choice(string.ascii_lowercase) for _ in range(12))
        q = self.queries[self.rng.randrange(len(self.queries))]
        t = time.monotonic()
        status, a, error = self._request("help", "POST", "/api/help-requests", token,
                                         {"agent": name, "question": f"{q} ref {nonce}"})
        with self.lock:
            if status == 201 and a and isinstance(a.get("id"), int):
                self.help_acked.append((a["id"], nonce, name, t))
            else:
                self.help_unacked.append((nonce, status, error, t))

    def feedback(self):
        with self.lock:
            # the newest search answered at least a second ago (an agent reads, then clicks);
            # searches older than 10 s are forgotten, so feedback never trails far behind
            now = time.monotonic()
            while self.searched and now - self.searched[0][0] > 10:
                self.searched.popleft()
            pick = next((i for i in range(len(self.searched) - 1, -1, -1)
                         if now - self.searched[i][0] >= 1.0), None)
            if pick is None:
                return False
            _, sid, name, token, hits = self.searched[pick]
            del self.searched[pick]
        roll = self.rng.random()
        if hits and roll < 0.45:
            kind, doc = "click", hits[0]
        elif hits and roll < 0.9:
            kind, doc = "helpful", hits[self.rng.randrange(min(3, len(hits)))]
        else:
            kind, doc = "not_found", None
        body = {"search_id": sid, "kind": kind}
        if doc:
            body["doc_id"] = doc
        t = time.monotonic()
        status, a, error = self._request("feedback", "POST", "/api/feedback", token, body, sid)
        with self.lock:
            if status == 201:
                self.feedback_acked.append((sid, kind, doc, bool(a and a.get("duplicate")), t))
            else:
                self.feedback_unacked.append((sid, kind, doc, status, error, t))
        return True

    def gap_question(self, agent):
        name, token = agent
        q = GAP_QUESTIONS[self.rng.randrange(len(GAP_QUESTIONS))]
        t = time.monotonic()
        status, a, error = self._request("gap-search", "GET", "/api/search?" + urllib.parse.urlencode(
            {"q": q, "limit": 10}), token)
        if status == 200 and a:
            with self.lock:
                self.answered.append((a["search_id"], t))
                if a.get("unresolved"):
                    self.unresolved.append((a["search_id"], q, name, t))

    # -- pacing
    def _schedule(self):
        done = collections.Counter()
        gap_next = {i: self.t0 + self.gap_period * i / max(1, len(self.gap_agents))
                    for i in range(len(self.gap_agents))}
        jobs = {"search": self.search, "help": self.help_request, "feedback": self.feedback}
        while not self.stop_flag.is_set():
            now = time.monotonic()
            elapsed = now - self.t0
            for kind, rate in self.rates.items():
                while done[kind] < int(rate * elapsed):
                    done[kind] += 1
                    self.pool.submit(jobs[kind])
            for i, t in gap_next.items():
                if now >= t:
                    gap_next[i] = t + self.gap_period
                    self.pool.submit(self.gap_question, self.gap_agents[i])
            time.sleep(0.005)

    def start(self):
        self.t0 = time.monotonic()
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        self.thread.join(10)
        self.pool.shutdown(wait=True)

    # -- figures
    def write_csv(self, path):
        """Every request: seconds from the start, kind, status, milliseconds, error."""
        with self.lock, open(path, "w", encoding="utf-8") as f:
            f.write("t,kind,status,ms,error\n")
            for r in self.records:
                err = (r.error or "").replace('"', "'")
                f.write(f'{r.t - self.t0:.3f},{r.kind},{r.status or ""},{r.ms:.2f},"{err}"\n')

    def answered_snapshot(self):
        """(search_id, time sent) of every search answered so far."""
        with self.lock:
            return list(self.answered)

    def window(self, t_from, t_to, kinds=None):
        """The records of requests sent in [t_from, t_to)."""
        with self.lock:
            return [r for r in self.records if t_from <= r.t < t_to and (kinds is None or r.kind in kinds)]


def summary(records):
    """requests, failures, p50 and p99 latency (ms) of a list of Records."""
    n = len(records)
    failed = [r for r in records if not r.ok]
    lat = sorted(r.ms for r in records if r.ok)
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")  # noqa: E731
    return {"requests": n, "failed": len(failed), "p50": pct(0.50), "p99": pct(0.99),
            "errors": collections.Counter((r.kind, r.status if r.status else (r.error or "")[:60])
                                          for r in failed)}
