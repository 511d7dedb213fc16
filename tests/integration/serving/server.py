"""Start `python -m infrec.serving` as a real process for a test, and talk to it."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers import free_port, stop_process


class ModelServer:
    def __init__(self, image: str, model_dir: Path | None, env: dict[str, str] | None = None,
                 wait: bool = True) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        full = {**os.environ, "INFREC_IMAGE": image, "SAGEMAKER_BIND_TO_PORT": str(self.port),
                "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "1", **(env or {})}
        if model_dir is not None:
            full["SM_MODEL_DIR"] = str(model_dir)
        self.proc = subprocess.Popen([sys.executable, "-m", "infrec.serving"], env=full, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()

    def wait_ready(self, deadline_s: float = 30.0) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                if self.request("GET", "/ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not ready in {deadline_s}s: {self.output()}")

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type") or "", r.read()
        finally:
            conn.close()

    def invoke(self, body: bytes, content_type: str, accept: str | None = None) -> tuple[int, str, bytes]:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        return self.request("POST", "/invocations", body, headers)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        import contextlib
        import signal

        stop_process(self.proc)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # any worker the master left behind
        self.log.close()
