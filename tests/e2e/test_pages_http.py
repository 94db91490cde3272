#!/usr/bin/env python3
"""test_pages_http.py — the web pages and their assets over HTTP, as a browser (or a proxy's
health check) fetches them: every page, every file a page links to, revalidation with ETag,
HEAD, and the security headers (docs/API.md, "Web pages"). The browser tests (tests/browser)
check what the pages do; these check what the server answers, and, like every end-to-end test,
feed the OpenAPI check (tests/openapi) with their requests.
"""
import re

from harness import Service, check, check_status, doc_xml, documents_file, run_tests, test

KB = {"kb.xml": documents_file(doc_xml("doc-1", "国际漫游开通", paragraphs=["出国前开通国际漫游。"]))}
PAGES = ["/", "/agent", "/editor", "/lead"]
_service = None


def service():
    global _service
    if _service is None:
        _service = Service(KB)
    return _service


def linked_assets(html):
    return sorted(set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html)))


@test
def pages_and_their_assets():
    s = service()
    assets = set()
    for page in PAGES:
        r = s.request("GET", page)
        check_status(r, 200, page)
        check(r.headers["content-type"].startswith("text/html"), f"{page}: {r.headers['content-type']}")
        for h in ("content-security-policy", "etag", "x-frame-options", "referrer-policy"):
            check(h in r.headers, f"{page}: no {h}")
        assets.update(linked_assets(r.body.decode()))
    check(len(assets) >= 5, f"only {sorted(assets)}")
    types = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
    for a in sorted(assets):
        r = s.request("GET", a)
        check_status(r, 200, a)
        ext = a[a.rfind("."):]
        check(r.headers["content-type"].startswith(types.get(ext, "")), f"{a}: {r.headers['content-type']}")


@test
def revalidation_and_head():
    s = service()
    r = s.request("GET", "/static/css/app.css")
    check_status(r, 200, "css")
    etag = r.headers["etag"]
    r2 = s.request("GET", "/static/css/app.css", headers={"If-None-Match": etag})
    check_status(r2, 304, "If-None-Match with the ETag")
    check(r2.body == b"", "a 304 with a body")
    r3 = s.request("HEAD", "/agent")
    check_status(r3, 200, "HEAD /agent")
    check(r3.body == b"" and r3.headers.get("etag"), "HEAD: no body, the headers")


@test
def login_asks_who_the_token_is():
    """What login.js does with a pasted token: GET /api/me tells its role and name (and no team:
    this service has no agents list)."""
    s = service()
    for role in s.ROLES:
        r = s.call("GET", "/api/me", role)
        check_status(r, 200, f"/api/me as {role}")
        check(r.json() == {"name": s.names[role], "role": role, "team": None}, r.body)
    check_status(s.call("GET", "/api/me", None), 401, "/api/me without a token")


@test
def unknown_pages_and_assets_are_404():
    s = service()
    for path in ("/static/nothing.js", "/agent.html", "/static/", "/admin"):
        r = s.request("GET", path)
        check_status(r, 404, path)
        check("error" in r.json(), f"{path}: {r.body[:100]}")


if __name__ == "__main__":
    run_tests(cleanups=[lambda: _service and _service.cleanup()])
