"""The load generator is isolated and checked: its own pinned processes, its CPU measured, a run
it could not drive flagged, and no process of it left behind on any way out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psutil
import pytest

from infrec.config import Settings
from infrec.core.stats import STOP_CANCELLED, STOP_COMPLETED, WindowStats
from infrec.core.traffic import OpenLoop, from_sagemaker
from infrec.loadgen import LoadPlan, generator_bound_reason, more_workers, run_load
from infrec.loadgen.generator import GENERATOR_BOUND, LoadgenOptions
from infrec.measure import MeasureOptions
from tests.helpers import REPO, HostNoise
from tests.integration.loadgen.conftest import PAYLOADS, TestServer

pytestmark = pytest.mark.timeout(120)
Start = Callable[..., TestServer]
OWN = sorted(os.sched_getaffinity(0))


def _generators(server: TestServer) -> list[psutil.Process]:
    """Children started after the test's server: the generator's (not e.g. a session's moto server)."""
    since = psutil.Process(server.proc.pid).create_time()
    out = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if p.pid != server.proc.pid and p.create_time() >= since:
                out.append(p)
    return out


def _no_generator_left(server: TestServer) -> None:
    left = [p for p in _generators(server) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, left


@pytest.mark.parametrize("workers", [1, 2])
def test_each_worker_is_its_own_process_pinned_to_its_cpu(server: Start, workers: int) -> None:
    if workers > len(OWN):
        pytest.skip("needs a CPU per worker")
    srv = server("--delays-ms", "2", "--uvloop")
    cpus = OWN[-workers:]
    seen: list[tuple[int, list[int]]] = []

    def look(_w: WindowStats) -> None:
        if not seen:
            seen.extend((p.pid, sorted(p.cpu_affinity() or [])) for p in _generators(srv))

    res = run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=200, duration_s=2), None, deadline_s=20,
                            workers=workers, cpu_ids=cpus), on_window=look)
    assert res.stop_reason == STOP_COMPLETED and res.total.successes >= 390
    # From outside, while it ran: processes other than this one, each on one of the given CPUs.
    assert len(seen) == workers and all(pid != os.getpid() for pid, _ in seen)
    assert sorted(a for _, a in seen) == [[c] for c in cpus]
    # From inside: what each worker saw after pinning itself.
    assert res.generator_affinity == [[c] for c in cpus]
    assert res.generator_cpus == workers
    _no_generator_left(srv)


def test_more_workers_than_cpus_share_the_whole_set(server: Start) -> None:
    srv = server("--delays-ms", "2", "--uvloop")
    res = run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=100, duration_s=1), None, deadline_s=20,
                            workers=3, cpu_ids=OWN[:2]))
    assert res.stop_reason == STOP_COMPLETED
    assert res.generator_affinity == [OWN[:2]] * 3
    assert res.generator_cpus == min(3, len(OWN[:2]))


def test_generator_cpu_is_measured(server: Start) -> None:
    srv = server("--delays-ms", "1", "--uvloop")
    low = run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=100, duration_s=2), None, deadline_s=20,
                            cpu_ids=OWN[:1]))
    high = run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=1000, duration_s=2), None, deadline_s=20,
                             cpu_ids=OWN[:1]))
    for res in (low, high):
        assert res.total.errors == 0
        assert res.generator_cpus == 1
        assert 0 < res.generator_busy < GENERATOR_BOUND and not res.generator_bound, res.generator_busy
        assert 0 <= res.generator_wait <= 1
        # Percent of one CPU, over the run and per window.
        assert res.generator_cpu_percent == pytest.approx(100 * res.generator_busy, rel=0.01)
        assert all(0 < w.generator_cpu_percent < 100 for w in res.windows)
    # Ten times the requests cost clearly more CPU (per request it is about constant).
    assert high.generator_busy > 2 * low.generator_busy, (low.generator_busy, high.generator_busy)
    d = high.to_dict()
    assert d["generator_cpus"] == 1 and d["generator_bound"] is False and d["generator_affinity"] == [OWN[:1]]


def test_a_run_above_the_bound_is_generator_bound(server: Start) -> None:
    srv = server("--delays-ms", "1", "--uvloop")
    tiny = LoadgenOptions(max_busy=0.0001)
    res = run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=300, duration_s=1), None, deadline_s=20,
                            cpu_ids=OWN[:1]), options=tiny)
    assert res.generator_bound and res.generator_busy > 0.0001
    assert any(n.startswith("generator-bound") for n in res.notes), res.notes
    # One CPU, one process: nowhere to grow; more CPUs: double, up to one process per CPU.
    assert more_workers(res, OWN[:1]) is None
    assert more_workers(res, [0, 1, 2, 3]) == 2
    assert more_workers(res, [0, 1, 2]) == 2
    res.workers = 2
    assert more_workers(res, [0, 1, 2]) == 3
    reason = generator_bound_reason(res)
    assert "% of its 1 CPU at 300 req/s offered" in reason and "INFREC_LOADGEN_CPUS" in reason
    closed = run_load(LoadPlan([srv.url], PAYLOADS, from_sagemaker({"Phases": [
        {"InitialNumberOfUsers": 2, "SpawnRate": 0, "DurationInSeconds": 1}]}), None, deadline_s=20),
                      options=tiny)
    assert closed.generator_bound and "with 2 users" in generator_bound_reason(closed)


def test_the_bound_setting() -> None:
    assert LoadgenOptions().max_busy == GENERATOR_BOUND == 0.85
    assert MeasureOptions.from_settings(Settings.from_env({"INFREC_LOADGEN_MAX_BUSY": "0.5"})).loadgen.max_busy == 0.5
    for bad in ("0", "1.5", "lots"):
        with pytest.raises(ValueError, match="INFREC_LOADGEN_MAX_BUSY"):
            Settings.from_env({"INFREC_LOADGEN_MAX_BUSY": bad})


def test_cpu_ids_are_checked() -> None:
    shape = OpenLoop(rate=1, duration_s=1)
    with pytest.raises(ValueError, match="at least one CPU"):
        run_load(LoadPlan(["http://127.0.0.1:1"], PAYLOADS, shape, None, deadline_s=1, cpu_ids=[]))
    with pytest.raises(ValueError, match="not among"):
        run_load(LoadPlan(["http://127.0.0.1:1"], PAYLOADS, shape, None, deadline_s=1,
                          cpu_ids=[max(OWN) + 1]))


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_is_prompt_and_reaps_every_worker(server: Start, workers: int) -> None:
    srv = server("--delays-ms", "5")
    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)
    noise = HostNoise()
    timer.start()
    t = time.monotonic()
    try:
        res = run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=100, duration_s=30), None, deadline_s=60,
                                workers=workers), cancel=cancel)
    finally:
        timer.cancel()
    # The stop reason is the mechanism; prompt means the 30 s run ended near the 1 s cancel, with
    # far more slack (8 s) than this host's stalls could take.
    assert res.stop_reason == STOP_CANCELLED and time.monotonic() - t < 8, str(noise)
    assert not _generators(srv)  # reaped: not even a zombie


def test_cancel_before_the_start_returns_at_once(server: Start) -> None:
    srv = server("--delays-ms", "5")
    cancel = threading.Event()
    cancel.set()
    res = run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=100, duration_s=30), None,
                            deadline_s=60), cancel=cancel)
    assert res.stop_reason == STOP_CANCELLED and not res.windows
    assert not _generators(srv)


def test_workers_are_reaped_when_the_caller_fails(server: Start) -> None:
    srv = server("--delays-ms", "5")

    class Boom(BaseException):
        pass

    windows: list[WindowStats] = []

    def explode(w: WindowStats) -> None:
        windows.append(w)
        raise Boom  # not an Exception: run_load does not swallow it

    with pytest.raises(Boom):
        run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=100, duration_s=30), None, deadline_s=60,
                          workers=2), on_window=explode)
    assert len(windows) == 1  # the failure ended the run at its first window, not the 30 s run's end
    assert not _generators(srv)


def test_a_failed_start_stops_the_workers_already_started(server: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = server("--delays-ms", "5")
    real_fork = os.fork
    forks: list[int] = []

    def fork_once() -> int:
        if forks:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", fork_once)
    with pytest.raises(RuntimeError, match="could not start"):
        run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=100, duration_s=30), None, deadline_s=60,
                          workers=2))
    monkeypatch.undo()
    assert forks and not _generators(srv)


ORPHAN = """
import sys, psutil
from infrec.core.traffic import OpenLoop
from infrec.loadgen import LoadPlan, Payload, run_load

def show(_w):
    print(" ".join(str(p.pid) for p in psutil.Process().children()), flush=True)

run_load(LoadPlan([sys.argv[1]], [Payload(b"{}", "application/json")], OpenLoop(rate=50, duration_s=60), None,
                  deadline_s=120), on_window=show)
"""


def test_workers_stop_when_their_caller_is_killed(server: Start) -> None:
    srv = server("--delays-ms", "5")
    caller = subprocess.Popen([sys.executable, "-c", ORPHAN, srv.url], stdout=subprocess.PIPE, cwd=REPO)
    pids: list[int] = []
    try:
        assert caller.stdout is not None
        pids = [int(p) for p in caller.stdout.readline().split()]
        assert len(pids) == 1, pids
        worker = psutil.Process(pids[0])
        caller.send_signal(signal.SIGKILL)
        caller.wait(10)
        end = time.monotonic() + 5
        while time.monotonic() < end and worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.05)
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait(10)
        for pid in pids:  # only if the test failed: the worker it started, by pid
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


def test_a_worker_that_cannot_pin_itself_fails_the_start_with_its_reason(
        server: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = server("--delays-ms", "5")

    def refuse(_pid: int, _cpus: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)  # the forked worker inherits it
    with pytest.raises(RuntimeError, match="did not start: worker 0: PermissionError"):
        run_load(LoadPlan([srv.url], PAYLOADS, OpenLoop(rate=100, duration_s=30), None, deadline_s=60,
                          cpu_ids=OWN[:1]))
    assert not _generators(srv)
