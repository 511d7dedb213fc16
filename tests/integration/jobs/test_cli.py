"""`infrec recommend` and `infrec jobs` as a user runs them: embedded, and against `infrec serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import InfrecServer
from tests.integration.jobs.conftest import endpoint_processes, job_env, wait_no_endpoints

EXE = str(Path(sys.executable).parent / "infrec")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example (model.tar.gz, payload.tar.gz), made once for the module: the tests only
    read it. `infrec example create` itself is run by the first test and tests/integration/artifacts."""
    from infrec.examples import create_example

    folder = tmp_path_factory.mktemp("example")
    create_example(folder)
    return folder


def infrec(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **job_env(home)}
    env.pop("INFREC_ENDPOINT_URL", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_recommend_embedded_and_remote(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ex = tmp_path / "example"
    assert infrec(home, "example", "create", str(ex)).returncode == 0
    model, payload = ex / "model.tar.gz", ex / "payload.tar.gz"

    out = infrec(home, "recommend", str(model), "--payload", str(payload), "--content-type", "application/json,text/csv",
                 "--instance-types", "ml.c5.large", "--job-name", "cli-embedded")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Recommendations" in out.stdout and "ml.c5.large" in out.stdout
    assert endpoint_processes(home) == []
    assert not (home / "jobs" / "cli-embedded").exists()    # its extracted artifacts went with the job
    report = tmp_path / "report.html"
    assert infrec(home, "jobs", "report", "cli-embedded", "--outfile", str(report)).returncode == 0
    assert "cli-embedded" in report.read_text() and "<table>" in report.read_text()

    listed = infrec(home, "jobs", "list")
    assert "cli-embedded" in listed.stdout and "COMPLETED" in listed.stdout
    steps = infrec(home, "jobs", "steps", "cli-embedded")
    assert steps.returncode == 0 and "COMPLETED" in steps.stdout
    missing = infrec(home, "jobs", "describe", "no-such-job")
    assert missing.returncode == 1 and "ResourceNotFound" in missing.stderr and "Traceback" not in missing.stderr
    typo = infrec(home, "jobs", "describe", "cli-embeded")
    assert typo.returncode == 1 and "did you mean cli-embedded?" in typo.stderr
    exported = infrec(home, "jobs", "export", "cli-embedded", "--format", "csv").stdout

    srv = InfrecServer(job_env(home))
    try:
        # Through the server: an Advanced job (--advanced, a short TrafficPattern), the Default
        # flow having run embedded above.
        advanced = tmp_path / "advanced.json"
        advanced.write_text(json.dumps({
            "EndpointConfigurations": [{"InstanceType": "ml.m5.large"}],
            "TrafficPattern": {"TrafficType": "PHASES",
                               "Phases": [{"InitialNumberOfUsers": 2, "SpawnRate": 0, "DurationInSeconds": 4}]}}))
        out = infrec(home, "recommend", str(model), "--payload", str(payload), "--content-type", "application/json",
                     "--content-type", "text/csv", "--advanced", str(advanced), "--job-name", "cli-remote",
                     "--endpoint-url", srv.url)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ml.m5.large" in out.stdout
        remote = infrec(home, "jobs", "list", "--endpoint-url", srv.url)
        assert "cli-remote" in remote.stdout and "cli-embedded" in remote.stdout
        # report and export read the server's database through its pages, as embedded they read the file.
        assert infrec(home, "jobs", "export", "cli-embedded", "--format", "csv", "--endpoint-url", srv.url).stdout == \
            exported
        remote_report = tmp_path / "remote.html"
        got = infrec(home, "jobs", "report", "cli-remote", "--outfile", str(remote_report), "--endpoint-url", srv.url)
        assert got.returncode == 0, got.stderr
        assert "cli-remote" in remote_report.read_text() and "ml.m5.large" in remote_report.read_text()
        gone = infrec(home, "jobs", "export", "cli-remot", "--endpoint-url", srv.url)
        assert gone.returncode == 1 and "did you mean cli-remote?" in gone.stderr, gone.stderr
        described = json.loads(infrec(home, "jobs", "describe", "cli-remote", "--endpoint-url", srv.url,
                                      "--output", "json").stdout)
        assert described["Job"]["JobType"] == "Advanced" and described["Job"]["Status"] == "COMPLETED"
        # --no-wait through the server: the name and how to follow it; stopped at once, followed to its end.
        queued = infrec(home, "recommend", str(model), "--payload", str(payload), "--instance-types", "ml.c5.large",
                        "--max-tests", "1", "--no-wait", "--job-name", "cli-queued", "--endpoint-url", srv.url)
        assert queued.returncode == 0, queued.stderr
        assert "cli-queued" in queued.stdout and f"infrec jobs watch cli-queued --endpoint-url {srv.url}" in queued.stdout
        assert infrec(home, "jobs", "stop", "cli-queued", "--endpoint-url", srv.url).returncode == 0
        followed = infrec(home, "jobs", "watch", "cli-queued", "--endpoint-url", srv.url, "--output", "json")
        assert json.loads(followed.stdout)["Job"]["Status"] == "STOPPED" and followed.returncode == 1
        import urllib.request

        with urllib.request.urlopen(f"{srv.url}/ui", timeout=10) as resp:
            index = resp.read().decode()
        assert "cli-remote" in index and "cli-embedded" in index
        with urllib.request.urlopen(f"{srv.url}/ui/jobs/cli-remote", timeout=10) as resp:
            page = resp.read().decode()
        assert "Recommendations" in page and "ml.m5.large" in page
        with urllib.request.urlopen(f"{srv.url}/ui/jobs/cli-embedded", timeout=10) as resp:
            page = resp.read().decode()
        assert "Recommendations" in page and "ml.c5.large" in page and "rate search" in page
        bad = infrec(home, "recommend", str(model), "--payload", str(payload), "--latency", "fast",
                     "--endpoint-url", srv.url)
        assert bad.returncode == 2 and "P95:50ms" in bad.stderr
    finally:
        srv.stop()
    assert endpoint_processes(home) == []


def test_sigterm_of_an_embedded_recommend_stops_the_job_and_leaves_no_process(tmp_path: Path, example: Path) -> None:
    import signal
    import time

    home = tmp_path / "home"
    ex = example
    env = {**os.environ, **job_env(home), "INFREC_HOLD_SECONDS": "120"}
    env.pop("INFREC_ENDPOINT_URL", None)
    proc = subprocess.Popen([EXE, "recommend", str(ex / "model.tar.gz"), "--payload", str(ex / "payload.tar.gz"),
                             "--content-type", "application/json", "--content-type", "text/csv",
                             "--instance-types", "ml.c5.large", "--job-name", "cli-term"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        end = time.monotonic() + 90
        while not endpoint_processes(home) and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.2)
        assert endpoint_processes(home), "the job never started its endpoint"
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)          # what `timeout`, a CI runner or a closed terminal sends
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert wait_no_endpoints(home) == [], out
    described = infrec(home, "jobs", "describe", "cli-term")
    assert "STOPPED" in described.stdout, described.stdout + described.stderr


def test_jobs_clean_removes_leftover_folders_and_nothing_recent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old, recent = home / "jobs" / "left-behind", home / "jobs" / "just-now"
    for folder in (old, recent):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "weights.bin").write_bytes(b"x" * 4096)
    os.utime(old, (1_000_000_000, 1_000_000_000))
    out = infrec(home, "jobs", "clean", "--older-than-days", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert not old.exists() and recent.exists()
    assert "left-behind" in out.stdout and "1 job folder(s) removed" in out.stdout


def test_a_killed_embedded_job_is_resumed_only_when_asked(tmp_path: Path, example: Path) -> None:
    import signal
    import time

    home = tmp_path / "home"
    ex = example
    env = {**os.environ, **job_env(home)}
    env.pop("INFREC_ENDPOINT_URL", None)
    advanced = tmp_path / "advanced.json"          # what is resumed does not depend on the job type
    advanced.write_text(json.dumps({
        "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}],
        "TrafficPattern": {"TrafficType": "PHASES",
                           "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 0, "DurationInSeconds": 4}]}}))
    proc = subprocess.Popen([EXE, "recommend", str(ex / "model.tar.gz"), "--payload", str(ex / "payload.tar.gz"),
                             "--content-type", "application/json", "--content-type", "text/csv",
                             "--advanced", str(advanced), "--job-name", "cli-killed"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 90
        while not endpoint_processes(home) and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.2)
        assert endpoint_processes(home), "the job never started its endpoint"
        proc.send_signal(signal.SIGKILL)          # no chance to clean up: the job stays IN_PROGRESS
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "IN_PROGRESS" in infrec(home, "jobs", "describe", "cli-killed").stdout
    done = infrec(home, "jobs", "resume", "cli-killed", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming cli-killed" in done.stdout and "ml.c5.large" in done.stdout
    assert "COMPLETED" in infrec(home, "jobs", "describe", "cli-killed").stdout
    assert wait_no_endpoints(home) == []                # the killed run's endpoint was reaped too
    again = infrec(home, "jobs", "resume", "cli-killed")
    assert again.returncode == 1 and "nothing to resume" in again.stderr


def test_a_job_whose_payloads_the_model_refuses_fails_fast_naming_file_and_status(tmp_path: Path, example: Path) -> None:
    import tarfile
    import time

    home = tmp_path / "home"
    ex = example
    payload = tmp_path / "json-only.tar.gz"          # JSON bodies, declared as text/csv only
    body = tmp_path / "request-0.json"
    body.write_bytes(b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
    with tarfile.open(payload, "w:gz") as tar:
        tar.add(body, arcname="request-0.json")
    t0 = time.monotonic()
    out = infrec(home, "recommend", str(ex / "model.tar.gz"), "--payload", str(payload), "--content-type", "text/csv",
                 "--instance-types", "ml.c5.large", "--job-name", "cli-wrong-type")
    took = time.monotonic() - t0
    assert out.returncode == 1, out.stdout + out.stderr
    steps = infrec(home, "jobs", "steps", "cli-wrong-type").stdout + infrec(home, "jobs", "describe",
                                                                             "cli-wrong-type").stdout
    assert "request-0.json (text/csv)" in steps.replace("\n", " ") or "request-0.json" in steps, steps
    assert "HTTP 4" in steps, steps
    assert took < 60, took
