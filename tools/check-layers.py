#!/usr/bin/env python3
"""check-layers.py — the dependency rules of libkb and the programs, checked on every build.

libkb is one folder per concern under kb/ (docs/ARCHITECTURE.md). Each concern has a layer; a
file may include the headers of its own concern and of concerns in lower layers only, so
dependencies point one way (down). The public API is include/kb/; the programs (indexer/,
searchd/, report/, bench/) include only that and their own headers, and never name a type of
the Xapian wrapper (kbx_*). Only kb/db includes libpq: the rest reach PostgreSQL through it.

Prints one "PASS rule" or "FAIL rule: where" line per rule (the test runner counts them) and
exits 1 when any rule fails.
"""
import os
import re
import sys

# Layer of each concern, lowest first. Keep in step with docs/ARCHITECTURE.md.
LAYERS = {
    "util": 0, "db": 0,
    "analysis": 1, "document": 1, "xapian": 1, "events": 1, "index/glass": 1,
    "index": 2, "search": 2, "learn": 2,
    "gaps": 3,
    "review": 4,
    "coaching": 5,
}
# Public headers (include/kb/NAME.h) and the concern that implements each.
PUBLIC = {
    "status": "util", "journal": "util",
    "analyzer": "analysis", "document": "document",
    "store": "events", "redact": "events",
    "index": "index", "search": "search", "doc_list": "search", "learn": "learn",
    "gaps": "gaps", "review": "review", "coaching": "coaching",
}
PROGRAMS = ["indexer", "searchd", "report", "bench"]
# Concerns that hand out structs only: the programs format them (JSON at the edge), so neither
# their code nor their public header includes cJSON. Every concern, a new one too, but document,
# whose one use of JSON is reading documents that index format 2 stored as JSON
# (kb/document/stored_doc.c), so that a daemon upgraded before its index is rebuilt still shows
# them.
JSON_ALLOWED = {"document"}
NO_JSON = [c for c in LAYERS if c not in JSON_ALLOWED]
CJSON = re.compile(r'^\s*#\s*include\s+[<"]cjson/', re.M)
# The database clients. libpq is kb/db's alone: every other module reaches PostgreSQL through
# kb/db's portable calls, so each statement is written once for both databases. sqlite3.h is
# kb/db's too, and events/'s for the SQL function of SQLite's released migration step 3 -> 4.
DB_CLIENT_ONLY_IN = {"libpq-fe.h": {"db"}, "sqlite3.h": {"db", "events"}}
DB_CLIENT = re.compile(r'^\s*#\s*include\s+[<"](libpq-fe\.h|sqlite3\.h)[>"]', re.M)
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def concern_of_private(path):
    """kb/index/glass/glass.h -> index/glass; kb/util/buf.c -> util."""
    parts = path.split("/")[1:-1]
    for n in range(len(parts), 0, -1):
        key = "/".join(parts[:n])
        if key in LAYERS:
            return key
    return None


def concern_of_include(name):
    """The concern a quoted include names, or None when it is not libkb's."""
    if name.startswith("kb/"):
        stem = name[3:-2]
        return PUBLIC.get(stem, "?public:" + stem)
    return concern_of_private("kb/" + name) if "/" in name else None


def sources(root, top):
    for base, _, files in os.walk(os.path.join(root, top)):
        for f in files:
            if f.endswith((".c", ".cc", ".h")):
                yield os.path.relpath(os.path.join(base, f), root)


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    failures = {"libkb_layers_point_down": [], "public_headers_are_listed": [],
                "programs_use_only_the_public_api": [], "programs_name_no_xapian_wrapper_type": [],
                "every_libkb_folder_has_a_layer": [], "json_stays_at_the_edge": [],
                "libpq_stays_in_db": []}
    for path in sources(root, "kb"):
        own = concern_of_private(path)
        if own is None:
            failures["every_libkb_folder_has_a_layer"].append(path)
            continue
        text = open(os.path.join(root, path), encoding="utf-8").read()
        for name in INCLUDE.findall(text):
            other = concern_of_include(name)
            if other is None or other == own:
                continue
            if other not in LAYERS or LAYERS[other] >= LAYERS[own]:
                failures["libkb_layers_point_down"].append(f"{path} ({own}) includes {name} ({other})")
    for path in sources(root, "include"):
        stem = os.path.basename(path)[:-2]
        if not path.startswith("include/kb/") or stem not in PUBLIC:
            failures["public_headers_are_listed"].append(path)
            continue
        own = PUBLIC[stem]
        text = open(os.path.join(root, path), encoding="utf-8").read()
        for name in INCLUDE.findall(text):
            other = concern_of_include(name)
            if not name.startswith("kb/"):
                failures["public_headers_are_listed"].append(f"{path} includes private {name}")
            elif other != own and (other not in LAYERS or LAYERS[other] > LAYERS[own]):
                failures["libkb_layers_point_down"].append(f"{path} ({own}) includes {name} ({other})")
    for concern in NO_JSON:
        paths = list(sources(root, "kb/" + concern))
        paths += [f"include/kb/{stem}.h" for stem, c in PUBLIC.items() if c == concern]
        for path in paths:
            if CJSON.search(open(os.path.join(root, path), encoding="utf-8").read()):
                failures["json_stays_at_the_edge"].append(path)
    for top in ["kb", "include"] + PROGRAMS:
        for path in sources(root, top):
            own = concern_of_private(path) if top == "kb" else None
            text = open(os.path.join(root, path), encoding="utf-8").read()
            for header in DB_CLIENT.findall(text):
                if own not in DB_CLIENT_ONLY_IN[header]:
                    failures["libpq_stays_in_db"].append(f"{path} includes {header}")
    for prog in PROGRAMS:
        for path in sources(root, prog):
            text = open(os.path.join(root, path), encoding="utf-8").read()
            for name in INCLUDE.findall(text):
                local = os.path.exists(os.path.join(root, os.path.dirname(path), name))
                if not local and not (name.startswith("kb/") and name[3:-2] in PUBLIC):
                    failures["programs_use_only_the_public_api"].append(f"{path} includes {name}")
            code = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
            if re.search(r"\bkbx_\w+", code):
                failures["programs_name_no_xapian_wrapper_type"].append(path)
    for rule, where in failures.items():
        if where:
            print(f"FAIL {rule}: " + "; ".join(where[:10]) + (" …" if len(where) > 10 else ""))
        else:
            print(f"PASS {rule}")
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
