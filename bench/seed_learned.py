#!/usr/bin/env python3
"""seed_learned: give a kb-searchd event store N learned phrasings, for `make bench`.

  bench/seed_learned.py DATA_DIR QUERIES N DOC_ID_FORMAT DOCS

Issue 17's target is search latency with 100,000 learned phrasings stored. Teaching them
through the API (a search and two agents' feedback each) would take most of the benchmark's
time, so they are written straight into the store's `teachings` table (docs/EVENT-STORE.md) the
way two agents' `helpful` feedback writes them: two rows per phrasing, by two agents. Phrasings
are made of the load's own questions (the first half of one and the second half of another,
so each is new and shares words with what the load asks) and taught to documents drawn at
random (DOC_ID_FORMAT % k, k < DOCS, kbgen's ids). The store must exist (kb-searchd creates
it); its schema version is checked so that a layout this script does not know is refused.
Deterministic. Prints the number of phrasings written.
"""
import os, random, sqlite3, sys

KNOWN_FROM = 5  # teachings came with schema version 5


def main():
    data_dir, queries, n, fmt, docs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    db = sqlite3.connect(os.path.join(data_dir, "events.sqlite3"))
    version = db.execute("PRAGMA user_version").fetchone()[0]
    cols = [r[1] for r in db.execute("PRAGMA table_info(teachings)")]
    want = ["id", "doc_id", "question", "source", "teacher", "role", "ref", "time_ms"]
    if version < KNOWN_FROM or cols[:len(want)] != want:
        sys.exit(f"seed_learned: event store schema {version} with teachings {cols}: not the layout "
                 "this script writes (update bench/seed_learned.py)")
    qs = [q.strip() for q in open(queries, encoding="utf-8") if len(q.strip()) >= 4]
    rnd = random.Random(17)
    seen, rows, t = set(), [], 1_700_000_000_000
    while len(seen) < n:
        a, b = rnd.choice(qs), rnd.choice(qs)
        p = a[: len(a) // 2] + b[len(b) // 2:]
        if p in seen:
            continue
        seen.add(p)
        doc = fmt % rnd.randrange(docs)
        for agent in ("bench-agent-1", "bench-agent-2"):
            t += 1
            rows.append((doc, p, "helpful", agent, "agent", None, t))
    with db:
        db.executemany("INSERT INTO teachings (doc_id, question, source, teacher, role, ref, time_ms) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    print(len(seen))


if __name__ == "__main__":
    main()
