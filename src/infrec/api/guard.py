"""What every request passes before any route: the Host check, the Origin check and the web pages' login.

- **Host** (loopback binds): a browser tab on any web site can make a name of its own resolve to
  127.0.0.1 (DNS rebinding) and then talk to a loopback server as if it were same-origin. Such a
  request still carries the attacker's name in its Host header, so a server bound to loopback answers
  only requests addressed to a loopback name (127.0.0.1, localhost, [::1], or the name it was bound
  to) on its own port.
- **Origin** (all binds): a browser names the page that sent a request in Origin. A state-changing
  request (anything but GET/HEAD/OPTIONS) whose Origin is not this server is refused, so no web site
  can make a visitor's browser act on infrec (CSRF). API clients (boto3, the AWS CLI) send no Origin.
- **Web pages** (with --auth): `/ui` needs the same keys as the API, by HTTP Basic authentication,
  since a browser cannot SigV4-sign a request.

Every answer also carries headers that keep a browser from sniffing types or framing the pages, and
the pages a Content-Security-Policy that forbids scripts, so even markup that slipped through
escaping could not run (a page with live progress allows its one static script by hash: ui_csp).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrec.api.auth import AuthError, KeyStore, check_basic

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
UI_PREFIX = "/ui"
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]
# The pages' own forms (stop a job) must carry their Origin: under no-referrer Chromium sends
# `Origin: null`, which the CSRF check refuses, so the pages tell it same-origin (still nothing to others).
UI_HEADERS = [*(h for h in SECURITY_HEADERS if h[0] != b"referrer-policy"), (b"referrer-policy", b"same-origin")]
UI_CSP = (b"content-security-policy",
          b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
          b"form-action 'self'; base-uri 'none'")


def ui_csp(script_hash: str) -> str:
    """UI_CSP plus one script, named by its hash ('sha256-…'), that may fetch from this server: for
    the pages whose progress updates live. Never 'unsafe-inline', so injected markup still cannot run."""
    return UI_CSP[1].decode() + f"; script-src '{script_hash}'; connect-src 'self'"


def _split_host(value: str) -> tuple[str, int | None] | None:
    """(lower-case host name, port or None) of a Host header value; None if it is malformed."""
    try:
        parts = urlsplit("//" + value)
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return name.lower(), port


def _json_error(code: str, message: str, status: int) -> Response:
    return Response(json.dumps({"__type": code, "message": message}), status_code=status,
                    media_type="application/x-amz-json-1.1", headers={"x-amzn-ErrorType": code})


class RequestGuard:
    """ASGI middleware applying the checks above; `allowed_hosts` None means no Host check (a
    non-loopback bind, where clients reach the server by names the operator knows and infrec does not)."""

    def __init__(self, app: ASGIApp, *, keys: KeyStore | None, allowed_hosts: Iterable[str] | None,
                 port: int | None) -> None:
        self.app = app
        self.keys = keys
        self.allowed_hosts = None if allowed_hosts is None else {h.lower().strip("[]") for h in allowed_hosts}
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope.get("path", "")
        ui = path == UI_PREFIX or path.startswith(UI_PREFIX + "/") or (path == "/" and scope["method"] != "POST")
        extra = [*UI_HEADERS, UI_CSP] if ui else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", [])
                # A page that runs the live script sends ui_csp(its hash) itself; others get UI_CSP.
                mine = any(k.lower() == UI_CSP[0] for k, _ in own)
                message["headers"] = [*own, *(h for h in extra if not (mine and h[0] == UI_CSP[0]))]
            await send(message)

        refusal = self._refusal(scope, headers, ui)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: Headers, ui: bool) -> Response | None:
        host = headers.get("host", "")
        if self.allowed_hosts is not None:
            parsed = _split_host(host)
            port_ok = parsed is not None and (self.port is None or parsed[1] == self.port
                                              or (parsed[1] is None and self.port == 80))
            if parsed is None or parsed[0] not in self.allowed_hosts or not port_ok:
                return self._deny(ui, 403, "AccessDeniedException",
                                  f"Host header {host[:100]!r} does not name this server: a server bound to "
                                  f"loopback answers only {', '.join(sorted(self.allowed_hosts))} on port "
                                  f"{self.port} (protection against DNS rebinding)")
        origin = headers.get("origin")
        if origin is not None and scope["method"] not in SAFE_METHODS:
            try:
                netloc = urlsplit(origin).netloc.lower() if origin != "null" else None
            except ValueError:
                netloc = None
            if netloc is None or netloc != host.lower():
                return self._deny(ui, 403, "AccessDeniedException",
                                  f"Origin {origin[:100]!r} is not this server: requests from other web "
                                  "pages are refused (protection against cross-site request forgery)")
        if ui and self.keys is not None:
            try:
                check_basic(self.keys, headers.get("authorization"))
            except AuthError as exc:
                return PlainTextResponse(
                    f"{exc.message}. Sign in with an access key id as user name and its secret as password "
                    "(the keys of infrec serve --auth).\n", status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="infrec", charset="UTF-8"'})
        return None

    @staticmethod
    def _deny(ui: bool, status: int, code: str, message: str) -> Response:
        if ui:
            return PlainTextResponse(message + "\n", status_code=status)
        return _json_error(code, message, status)
