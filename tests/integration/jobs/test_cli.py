"""`infrec recommend` and `infrec jobs` as a user runs them: embedded, and against `infrec serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import InfrecServer
from tests.integration.jobs.conftest import endpoint_processes, job_env

EXE = str(Path(sys.executable).parent / "infrec")


def infrec(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **job_env(home)}
    env.pop("INFREC_ENDPOINT_URL", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_recommend_embedded_and_remote(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ex = tmp_path / "example"
    assert infrec(home, "example", "create", str(ex)).returncode == 0
    model, payload = ex / "model.tar.gz", ex / "payload.tar.gz"

    out = infrec(home, "recommend", str(model), "--payload", str(payload), "--content-type", "application/json",
                 "--content-type", "text/csv", "--instance-types", "ml.c5.large", "--job-name", "cli-embedded")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Recommendations" in out.stdout and "ml.c5.large" in out.stdout
    assert endpoint_processes(home) == []
    report = tmp_path / "report.html"
    assert infrec(home, "jobs", "report", "cli-embedded", "-o", str(report)).returncode == 0
    assert "cli-embedded" in report.read_text() and "<table>" in report.read_text()

    listed = infrec(home, "jobs", "list")
    assert "cli-embedded" in listed.stdout and "COMPLETED" in listed.stdout
    steps = infrec(home, "jobs", "steps", "cli-embedded")
    assert steps.returncode == 0 and "COMPLETED" in steps.stdout
    missing = infrec(home, "jobs", "describe", "no-such-job")
    assert missing.returncode == 1 and "ResourceNotFound" in missing.stderr and "Traceback" not in missing.stderr

    srv = InfrecServer(job_env(home))
    try:
        out = infrec(home, "recommend", str(model), "--payload", str(payload), "--content-type", "application/json",
                     "--content-type", "text/csv", "--instance-types", "ml.m5.large", "--job-name", "cli-remote",
                     "--endpoint-url", srv.url)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ml.m5.large" in out.stdout
        remote = infrec(home, "jobs", "list", "--endpoint-url", srv.url)
        assert "cli-remote" in remote.stdout and "cli-embedded" in remote.stdout
        import urllib.request

        with urllib.request.urlopen(f"{srv.url}/ui", timeout=10) as resp:
            index = resp.read().decode()
        assert "cli-remote" in index and "cli-embedded" in index
        with urllib.request.urlopen(f"{srv.url}/ui/jobs/cli-remote", timeout=10) as resp:
            page = resp.read().decode()
        assert "Recommendations" in page and "ml.m5.large" in page and "rate search" in page
        bad = infrec(home, "recommend", str(model), "--payload", str(payload), "--latency", "fast",
                     "--endpoint-url", srv.url)
        assert bad.returncode == 2 and "P95:50ms" in bad.stderr
    finally:
        srv.stop()
    assert endpoint_processes(home) == []
