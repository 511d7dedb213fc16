"""Fixtures shared by the whole suite: free ports, a moto server on loopback, PostgreSQL databases.

Everything started here is a real process, tracked and reaped at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, stop_process, wait_for_port

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session", autouse=True)
def test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The environment of this process and of every process a test starts.

    - Tests keep model archives and payloads in pytest's temporary folders, beside (not inside) the
      state folder, and infrec reads file:// URIs only under the folders its operator allows (by
      default the state folder and the current directory): allow those folders and the repository.
      tests/security sets its own, narrower value where that is under test.
    - Nothing reaches beyond the machine for credentials: no instance metadata service, and dummy
      keys instead of whatever the developer's shell holds (tests that use moto set their own).
    """
    roots = os.pathsep.join([str(tmp_path_factory.getbasetemp()), str(Path(__file__).resolve().parents[1])])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFREC_ALLOW_FILES", roots)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on loopback: our S3, EC2 and IAM. Yields its endpoint URL."""
    port = free_port()
    env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
    exe = VENV_BIN / "moto_server"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen(
        [*cmd, "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 30.0, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Standard AWS settings pointing every boto3 client at moto's server."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture
def infrec_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "infrec-home"
    monkeypatch.setenv("INFREC_HOME", str(home))
    monkeypatch.delenv("INFREC_DATABASE_URL", raising=False)
    return home


def _pg_admin_url() -> str | None:
    return os.environ.get("INFREC_TEST_PG_URL")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    admin = _pg_admin_url()
    if not admin:
        pytest.skip("PostgreSQL leg SKIPPED: no server (INFREC_TEST_PG_URL unset; make test starts one)")
    import sqlalchemy as sa

    name = f"infrec_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both store back-ends: a SQLite file and a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'infrec.db'}"
    return str(request.getfixturevalue("postgres_url"))


# Tests that assert no measured figure run first: they give the quickest answer, and they are what
# `scripts/test.sh` lets overlap the SageMaker SDK module, the api tests and the behaviour tests
# (browser, hosting, ...), which run in pytest processes of their own beside this one. Some start
# endpoints or run a job (Ray placement, a Default job through the CLI or boto3) but only check
# behaviour; the tests after them assert figures (rates, latencies, quotas) and so run with the
# CPUs to themselves. The order inside each group is pytest's own.
LIGHT_FIRST = ("tests/unit/", "tests/security/", "tests/integration/api/", "tests/integration/artifacts/",
               "tests/integration/vpc/", "tests/integration/serving/", "tests/integration/executors/test_ray.py",
               "tests/integration/executors/test_hostlock.py", "tests/integration/executors/test_budget.py",
               "tests/integration/executors/test_pinning.py", "tests/integration/executors/test_loadgen_cpus.py",
               "tests/integration/jobs/test_cli.py", "tests/integration/jobs/test_jobs_boto3.py",
               "tests/integration/jobs/test_job_states.py", "tests/integration/jobs/test_joblog.py")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    def group(item: pytest.Item) -> int:
        path = item.nodeid.replace(os.sep, "/")
        return next((i for i, prefix in enumerate(LIGHT_FIRST) if path.startswith(prefix)), len(LIGHT_FIRST))

    items.sort(key=group)


# The gates of `scripts/test.sh` (four pytest processes): before the SDK module's job has stopped
# measuring, only tests that start no endpoint and drive no load run here (BEFORE_GATE); before the
# api and behaviour tests running beside this process have ended (INFREC_TEST_WAIT_LIGHT: their
# files, separated by os.pathsep), only tests that measure nothing (LIGHT_FIRST). So the SDK job
# and the tests beside this process never share the CPUs with a measuring test.
BEFORE_GATE = ("tests/unit/", "tests/security/")
GATE_WAIT_S = 900.0
_passed: set[str] = set()


def _wait_for_file(env: str) -> None:
    import time

    paths = [Path(p) for p in os.environ.get(env, "").split(os.pathsep) if p]
    if not paths or env in _passed:
        return
    end = time.monotonic() + GATE_WAIT_S
    while not all(p.exists() for p in paths) and time.monotonic() < end:
        time.sleep(0.2)
    _passed.add(env)


def pytest_runtest_setup(item: pytest.Item) -> None:
    path = item.nodeid.replace(os.sep, "/")
    if not path.startswith(BEFORE_GATE):
        _wait_for_file("INFREC_TEST_WAIT_GATE")
    if not path.startswith(LIGHT_FIRST):
        _wait_for_file("INFREC_TEST_WAIT_LIGHT")
