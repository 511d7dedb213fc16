from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import psutil
import pytest


def make_payload_archive(folder: Path, n: int = 4) -> Path:
    """A sample payload archive of JSON bodies, as a user would upload it."""
    path = folder / "payload.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for i in range(n):
            data = json.dumps({"instances": [[float(i), 1.0, 2.0, 3.0]]}).encode()
            info = tarfile.TarInfo(f"request-{i}.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def payload_archive(tmp_path: Path) -> Path:
    return make_payload_archive(tmp_path)


def endpoint_processes(home: Path) -> list[psutil.Process]:
    """Model-server processes started for this test's state folder."""
    found = []
    for p in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            env = p.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "infrec.serving" in cmd and str(home) in json.dumps(env):
            found.append(p)
    return found


def wait_no_endpoints(home: Path, timeout_s: float = 10.0) -> list[psutil.Process]:
    """Endpoint processes still alive after up to `timeout_s` (they may take a moment to exit)."""
    import time

    end = time.monotonic() + timeout_s
    while (left := endpoint_processes(home)) and time.monotonic() < end:
        time.sleep(0.2)
    return left


def job_env(home: Path) -> dict[str, str]:
    # Short trials and holds, no warm-up second (figures are not under test here); a lock of its
    # own, so a benchmark someone runs on this host meanwhile does not queue the test
    # (test_hostlock covers the lock).
    return {"INFREC_HOME": str(home), "INFREC_TRIAL_SECONDS": "1", "INFREC_HOLD_SECONDS": "2",
            "INFREC_WARMUP_SECONDS": "0", "INFREC_HOST_LOCK": str(home / "host.lock")}
