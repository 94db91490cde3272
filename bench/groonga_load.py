#!/usr/bin/env python3
"""groonga_load.py — turn knowledge-base XML into Groonga `load` commands, for the benchmark.

    bench/groonga_load.py KB_DIR_OR_FILE... > docs.grn
    groonga DB < docs.grn

Each <document> becomes one record of the table Docs (created by bench/run.sh):
  _key   the document id
  title  the <title>
  body   every text of <body> (section titles, paragraphs, list items, table cells), one block
         a line, then the <questions>, so Groonga searches the same text kb-indexer indexes
         (categories and keywords, which kbgen's documents use for filtering, are left out).
Records go out in `load --table Docs` commands of 1,000 records each. Python 3 stdlib only.
Prints the number of documents to stderr.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

BATCH = 1000
TEXT_MAX = 65000  # Groonga's Text column holds up to 64 KiB


def xml_files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if f.endswith(".xml") and not f.startswith("."):
                        yield os.path.join(root, f)
        else:
            yield p


def blocks(body):
    """Section titles and the text of every block of a <body>, in document order."""
    for el in body.iter():
        if el.tag == "section" and el.get("title"):
            yield el.get("title")
        if el.tag in ("p", "item", "td", "th"):
            text = "".join(el.itertext()).strip()
            if text:
                yield text


def records(path):
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag != "document":
            continue
        title = (el.findtext("title") or "").strip()
        body = el.find("body")
        lines = list(blocks(body)) if body is not None else []
        lines += [(q.text or "").strip() for q in el.iterfind("questions/q") if (q.text or "").strip()]
        text = "\n".join(lines)
        if len(text.encode("utf-8")) > TEXT_MAX:
            text = text.encode("utf-8")[:TEXT_MAX].decode("utf-8", "ignore")
        yield {"_key": el.get("id"), "title": title, "body": text}
        el.clear()


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    out = sys.stdout
    batch, total = [], 0

    def flush():
        out.write("load --table Docs\n[\n")
        out.write(",\n".join(json.dumps(r, ensure_ascii=False) for r in batch))
        out.write("\n]\n")
        batch.clear()

    for path in xml_files(sys.argv[1:]):
        for r in records(path):
            batch.append(r)
            total += 1
            if len(batch) == BATCH:
                flush()
    if batch:
        flush()
    sys.stderr.write(f"groonga_load: {total} documents\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
