"""The web pages: output escaped, behind the API's keys when --auth is on, and a loopback server
reachable only by loopback names (DNS rebinding) and not from other web pages (CSRF)."""

from __future__ import annotations

import base64

import pytest

from tests.helpers import InfrecServer
from tests.security.conftest import AKID, SECRET, api, request

XSS_PATH = "/ui/jobs/%3Cimg%20src%3Dx%20onerror%3Dalert(document.domain)%3E"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_job_page_escapes_the_name_it_repeats(open_server: InfrecServer) -> None:
    answer = request(open_server, "GET", XSS_PATH)
    assert 400 <= answer.status < 500
    assert "<img" not in answer.text
    assert "&lt;img src=x onerror=alert(document.domain)&gt;" in answer.text
    # A second line of defence: the pages may not run scripts at all.
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_pages_need_the_api_keys_when_auth_is_on(keyed_server: InfrecServer) -> None:
    for path in ("/ui", "/ui/jobs/anything", XSS_PATH, "/"):
        answer = request(keyed_server, "GET", path)
        assert answer.status == 401, (path, answer.status, answer.text)
        assert answer.headers["www-authenticate"].startswith('Basic realm="infrec"')
        assert "<img" not in answer.text
    for bad in (_basic(AKID, "wrong"), _basic("UNKNOWN", SECRET), _basic(AKID, ""),
                {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}):
        assert request(keyed_server, "GET", "/ui", headers=bad).status == 401
    good = request(keyed_server, "GET", "/ui", headers=_basic(AKID, SECRET))
    assert good.status == 200 and "<html" in good.text.lower()
    missing = request(keyed_server, "GET", XSS_PATH, headers=_basic(AKID, SECRET))
    assert missing.status == 404 and "<img" not in missing.text


def test_open_server_pages_still_answer(open_server: InfrecServer) -> None:
    answer = request(open_server, "GET", "/ui")
    assert answer.status == 200 and "<html" in answer.text.lower()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}",
                                  "127.0.0.1:1", "localhost:1", "", "127.0.0.1:{port}@evil.example"])
def test_loopback_server_refuses_other_host_names(open_server: InfrecServer, host: str) -> None:
    """DNS rebinding: a page on evil.example, its name re-pointed at 127.0.0.1, is same-origin with
    the server in the browser's eyes; only the Host header still says evil.example."""
    value = host.format(port=open_server.port)
    page = request(open_server, "GET", "/ui", headers={"Host": value})
    assert page.status == 403, (value, page.status)
    assert "DNS rebinding" in page.text
    call = api(open_server, "ListModels", {}, headers={"Host": value})
    assert call.status == 403 and call.json()["__type"] == "AccessDeniedException"
    assert "DNS rebinding" in call.json()["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_names_are_accepted(open_server: InfrecServer, host: str) -> None:
    value = host.format(port=open_server.port)
    assert request(open_server, "GET", "/ui", headers={"Host": value}).status == 200
    assert api(open_server, "ListModels", {}, headers={"Host": value}).status == 200


def test_requests_from_other_web_pages_are_refused(open_server: InfrecServer) -> None:
    for origin in ("http://evil.example", "null", f"http://localhost:{open_server.port + 1}"):
        answer = api(open_server, "CreateModelPackageGroup", {"ModelPackageGroupName": "csrf"},
                     headers={"Origin": origin})
        assert answer.status == 403, origin
        assert answer.json()["__type"] == "AccessDeniedException" and "cross-site" in answer.json()["message"]
        form = request(open_server, "POST", "/ui", b"a=b", {"Origin": origin,
                                                             "Content-Type": "application/x-www-form-urlencoded"})
        assert form.status == 403
    sm = open_server.client()
    assert all(g["ModelPackageGroupName"] != "csrf" for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"])
    same = api(open_server, "ListModels", {}, headers={"Origin": f"http://127.0.0.1:{open_server.port}"})
    assert same.status == 200
