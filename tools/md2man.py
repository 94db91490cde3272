#!/usr/bin/env python3
"""md2man.py — render a Markdown page of the docs as a man(7) page, so that the man pages and
the docs are one text (the Makefile's rule for man pages says which page comes from which file).

    tools/md2man.py SOURCE.md OUT [--name N --section S --description TEXT] [--see-also TEXT]

The name, section and one-line description come from the first heading when it reads
"# name(section) — description" (docs/man/*.md); otherwise (docs/FORMAT.md, written for
editors) from the options. The version and date in the page's header come from the first entry
of debian/changelog, so a rebuild of the same release gives the same page.

Only the Markdown the docs use is understood: headings (## → .SH, ### → .SS), paragraphs,
"- " lists with indented continuation lines, fenced code blocks, tables (rendered as tagged
paragraphs, one per row: tables as tbl(1) would not fit 80 columns), `code`, **bold**, *italics*
and [links](...). Anything else is written as text, never dropped. Python 3 stdlib only.
"""
import argparse
import email.utils
import os
import re
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def release():
    """(version, date) of the newest debian/changelog entry; ("", today) without one."""
    try:
        with open(os.path.join(ROOT, "debian", "changelog"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return "", time.strftime("%Y-%m-%d", time.gmtime())
    version = re.match(r"\S+ \(([^)]+)\)", text).group(1)
    stamp = re.search(r"^ -- .*?  (.+)$", text, re.M).group(1)
    date = email.utils.parsedate_to_datetime(stamp).strftime("%Y-%m-%d")
    return version, date


def escape(text):
    """Text to roff: backslashes, and the characters roff would take for requests."""
    return text.replace("\\", "\\e")


def code(text):
    # Literal text: bold, with '-' as the minus sign it is on a command line.
    return "\\fB" + escape(text).replace("-", "\\-") + "\\fR"


INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])|"
                    r"\[([^\]]+)\]\(([^)]+)\)")


def inline(text):
    """Markdown inline markup to roff font changes."""
    out, pos = [], 0
    for m in INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(code(m.group(1)))
        elif m.group(2) is not None:
            out.append("\\fB" + inline(m.group(2)) + "\\fR")
        elif m.group(3) is not None:
            out.append("\\fI" + inline(m.group(3)) + "\\fR")
        else:
            label, target = m.group(4), m.group(5)
            out.append(inline(label))
            if re.match(r"https?://", target) and target != label:
                out.append(" <" + escape(target) + ">")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def text_lines(text):
    """A paragraph's text as roff input lines: a line may not start with '.' or "'"."""
    line = inline(" ".join(text.split()))
    return ["\\&" + line if line[:1] in (".", "'") else line]


def cells(row):
    return [c.strip() for c in row.strip().strip("|").split("|")]


def render(lines, out):
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("```"):
            i += 1
            block = []
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            i += 1
            out += [".PP", ".RS 4", ".nf"]
            out += ["\\&" + escape(b) for b in block]
            out += [".fi", ".RE"]
            continue
        m = re.match(r"(#{2,6}) +(.*)", line)
        if m:
            title = inline(m.group(2).strip())
            out.append((".SH " if len(m.group(1)) == 2 else ".SS ") + '"' +
                       (title.upper() if len(m.group(1)) == 2 else title) + '"')
            i += 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            head, body = rows[0], [r for r in rows[1:] if not all(re.fullmatch(r":?-+:?", c) for c in r)]
            for r in body:
                out += [".TP", inline(r[0]) or "\\&"]
                parts = []
                for name, value in zip(head[1:], r[1:]):
                    if value:
                        parts.append((name + ": " if name else "") + value)
                out += text_lines("; ".join(parts) if parts else "")
            continue
        m = re.match(r"( *)(- |\d+\. )(.*)", line)
        if m:
            indent = len(m.group(1)) + len(m.group(2))
            item = [m.group(3)]
            i += 1
            while (i < len(lines) and lines[i].strip() and lines[i].startswith(" " * indent)
                   and not re.match(r" *(- |\d+\. )", lines[i])):
                item.append(lines[i].strip())
                i += 1
            tag = re.match(r"`([^`]+)`: (.*)", " ".join(item))
            if tag and not m.group(1) and m.group(2) == "- ":
                # "- `--option ARG`: what it does" is an option list: a tagged paragraph.
                out += [".TP", code(tag.group(1))] + text_lines(tag.group(2))
                continue
            if m.group(1):  # a nested item: indent it under its parent
                out += [".RS 2"]
            out += [".IP \\(bu 2" if m.group(2) == "- " else f".IP {m.group(2).strip()} 4"]
            out += text_lines(" ".join(item))
            if m.group(1):
                out += [".RE"]
            continue
        para = []
        while i < len(lines) and lines[i].strip() and not re.match(r"(#|```|\||- |\d+\. )", lines[i]):
            para.append(lines[i])
            i += 1
        if not para:  # an indented fence or the like: keep it as text
            para, i = [lines[i]], i + 1
        out += [".PP"] + text_lines(" ".join(para))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("output")
    ap.add_argument("--name")
    ap.add_argument("--section")
    ap.add_argument("--description")
    ap.add_argument("--see-also", default="")
    a = ap.parse_args()
    with open(a.source, encoding="utf-8") as f:
        lines = f.read().splitlines()
    # Indented fences (a code block inside a list item) become plain fences.
    lines = [re.sub(r"^ +```", "```", l) for l in lines]
    first = next(n for n, l in enumerate(lines) if l.startswith("# "))
    m = re.match(r"# (\S+)\((\d)\) — (.*)", lines[first])
    name = a.name or (m and m.group(1))
    section = a.section or (m and m.group(2))
    description = a.description or (m and m.group(3))
    if not (name and section and description):
        sys.exit(f"md2man: {a.source}: give --name, --section and --description, or start the "
                 "page with '# name(section) — description'")
    version, date = release()
    source = f"kb-search {version}" if version else "kb-search"
    out = [f'.TH {name.upper()} {section} "{date}" "{source}" "kb manual"',
           f".\\\" Generated by tools/md2man.py from {os.path.relpath(a.source, ROOT)}: do not edit.",
           # No hyphenation, ragged right: option names and paths must not be split.
           ".nh", ".ad l",
           ".SH NAME", escape(name).replace("-", "\\-") + " \\- " + escape(description)]
    rest = lines[first + 1:]
    # Text before the first section (the docs' introduction) is the page's description.
    if next((l for l in rest if l.strip()), "## ").startswith("## ") is False:
        out.append(".SH DESCRIPTION")
    out = render(rest, out)
    if a.see_also:
        out += [".SH \"SEE ALSO\""] + text_lines(a.see_also)
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(a.output + ".tmp", a.output)


if __name__ == "__main__":
    main()
