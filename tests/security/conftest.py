"""Fixtures for the security suite: real `infrec serve` processes on 127.0.0.1 (as tests/integration/api
starts them), with and without keys, and a raw HTTP helper for requests no AWS client would send."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import InfrecServer

CT = "application/x-amz-json-1.1"
AKID, SECRET = "AKIDSECURITY", "s3cret-security"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(server: InfrecServer, method: str, path: str, body: bytes = b"",
            headers: dict[str, str] | None = None) -> Answer:
    """One raw HTTP request; `headers` may replace Host (http.client then sends ours, not its own)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    hdrs = dict(headers or {})
    try:
        conn.putrequest(method, path, skip_host="Host" in hdrs, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if body or method == "POST":
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def api(server: InfrecServer, operation: str, body: bytes | dict, headers: dict[str, str] | None = None) -> Answer:  # type: ignore[type-arg]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request(server, "POST", "/", raw, {"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": CT,
                                              **(headers or {})})


@pytest.fixture(scope="module")
def allowed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one folder the module's servers may read file:// URIs from."""
    return tmp_path_factory.mktemp("allowed")


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory, allowed_dir: Path) -> Iterator[InfrecServer]:
    """`infrec serve` as a first-time user starts it: loopback, no keys, no opt-ins."""
    home = tmp_path_factory.mktemp("open") / "home"
    srv = InfrecServer({"INFREC_HOME": str(home), "INFREC_ALLOW_FILES": str(allowed_dir),
                        "INFREC_ALLOW_COMMANDS": "",
                        # A lock of its own: a benchmark someone runs on this host does not queue a job here.
                        "INFREC_HOST_LOCK": str(home.parent / "host.lock")})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory, allowed_dir: Path) -> Iterator[InfrecServer]:
    """`infrec serve --auth keys.json`."""
    base = tmp_path_factory.mktemp("keyed")
    keys = base / "keys.json"
    keys.write_text(json.dumps({AKID: SECRET}))
    srv = InfrecServer({"INFREC_HOME": str(base / "home"), "INFREC_ALLOW_FILES": str(allowed_dir),
                        "INFREC_ALLOW_COMMANDS": ""}, ["--auth", str(keys)])
    try:
        yield srv
    finally:
        srv.stop()
