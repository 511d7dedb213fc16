"""One worker process: loads the model (in a thread, so /ping can say 503 meanwhile) and serves
requests from the shared listening socket on its own event loop."""

from __future__ import annotations

import asyncio
import mmap
import os
import signal
import socket
import sys
import threading
import traceback
from typing import Any

from infrec.serving.errors import ModelLoadError, RequestError
from infrec.serving.http import HttpProtocol
from infrec.serving.images import create
from infrec.serving.settings import ServerSettings

LOAD_FAILED_EXIT = 3


class _Timeout(BaseException):  # not Exception: a handler's `except Exception` must not swallow it
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


class App:
    """Routes requests: GET /ping, POST /invocations. Never lets an exception reach the loop."""

    def __init__(self, settings: ServerSettings, ready: mmap.mmap, index: int) -> None:
        self.settings = settings
        self.ready = ready
        self.index = index
        self.all_ready = b"\x01" * settings.workers
        self.image = create(settings.image, settings)
        self.loaded = False
        self.timeout = settings.timeout_s

    def load(self) -> None:
        try:
            self.image.load()
        except ModelLoadError as exc:
            print(f"infrec.serving: model failed to load: {exc}", file=sys.stderr, flush=True)
            os._exit(LOAD_FAILED_EXIT)
        except BaseException:
            print("infrec.serving: model failed to load:", file=sys.stderr)
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(LOAD_FAILED_EXIT)
        self.loaded = True
        self.ready[self.index] = 1

    def handle(self, method: bytes, path: bytes, ctype: str | None, accept: str | None,
               body: bytes) -> tuple[int, str, bytes]:
        if path == b"/invocations":
            if method != b"POST":
                return 405, "text/plain", b"use POST /invocations"
            if not self.loaded:
                return 503, "text/plain", b"model is still loading"
            return self._invoke(body, ctype, accept)
        if path == b"/ping":
            if self.loaded and self.ready[: self.settings.workers] == self.all_ready:
                return 200, "application/json", b'{"status":"Healthy"}'
            return 503, "application/json", b'{"status":"Loading"}'
        return 404, "text/plain", b"not found: the server answers GET /ping and POST /invocations"

    def _invoke(self, body: bytes, ctype: str | None, accept: str | None) -> tuple[int, str, bytes]:
        timer = self.timeout > 0
        try:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, self.timeout)
            try:
                payload, out_type = self.image.invoke(body, ctype, accept)
            finally:
                if timer:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            return 200, out_type, payload
        except RequestError as exc:
            return exc.status, "text/plain", exc.message.encode("utf-8", "replace")
        except _Timeout:
            return 504, "text/plain", b"model did not answer within %gs (SAGEMAKER_MODEL_SERVER_TIMEOUT)" % \
                self.timeout
        except Exception as exc:
            msg = f"model error: {type(exc).__name__}: {exc}"
            return 500, "text/plain", msg[:4000].encode("utf-8", "replace")


def _die_with_parent() -> None:
    """Workers must not outlive the master, even when it is killed with SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_worker(settings: ServerSettings, sock: socket.socket, ready: mmap.mmap, index: int, parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:
        os._exit(1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = App(settings, ready, index)
    threading.Thread(target=app.load, name="model-load", daemon=True).start()
    server = loop.run_until_complete(
        loop.create_server(lambda: HttpProtocol(app.handle, settings.max_body_bytes), sock=sock, backlog=1024))
    try:
        loop.run_forever()
    finally:
        server.close()
