"""A factory of test servers (tests/integration/loadgen/server.py), each a real process, reaped."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infrec.loadgen import Payload
from tests.helpers import free_port, stop_process, wait_for_port

SERVER = Path(__file__).with_name("server.py")
PAYLOADS = [Payload(b'{"x": 1}', "application/json"), Payload(b'{"x": 2}', "application/json")]


class TestServer:
    __test__ = False

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, str(SERVER), "--port", str(self.port), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, 20.0, self.proc)
        except Exception:
            stop_process(self.proc)
            raise

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/stats", timeout=5) as r:
            return dict(json.loads(r.read()))


@pytest.fixture
def server() -> Iterator[Callable[..., TestServer]]:
    started: list[TestServer] = []

    def start(*args: str) -> TestServer:
        s = TestServer(*args)
        started.append(s)
        return s

    try:
        yield start
    finally:
        for s in started:
            stop_process(s.proc)
