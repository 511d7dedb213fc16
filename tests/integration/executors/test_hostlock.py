"""The host-wide benchmark lock between real processes: a second process waits and says for whom, gets
the host when the holder releases it or dies, one process shares its hold between threads, and a
cancel ends a wait at once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrec.config import Settings
from infrec.core.errors import JobStopped
from infrec.executors.hostlock import HostLock, HostLockTimeout, default_path
from tests.helpers import LOCK_HOLDER

# A process that tries for the lock until a deadline and prints what happened.
CONTENDER = """
import sys, time
from infrec.executors.hostlock import HostLock, HostLockTimeout
lock = HostLock(sys.argv[1])
try:
    lock.acquire("contender", deadline=time.time() + float(sys.argv[2]))
except HostLockTimeout as exc:
    print("timeout:", exc, flush=True)
else:
    print("acquired", flush=True)
    lock.release("contender")
"""


@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "host.lock"


@pytest.fixture
def holder(lock_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(lock_path), "job-a"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _contend(lock_path: Path, seconds: float) -> str:
    out = subprocess.run([sys.executable, "-c", CONTENDER, str(lock_path), str(seconds)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


class Waiter:
    """acquire() in a thread, recording the messages it reports while it waits."""

    def __init__(self, lock: HostLock, owner: str, **kw: object) -> None:
        self.messages: list[str] = []
        self.first_message = threading.Event()
        self.result: float | BaseException | None = None
        self.done = threading.Event()

        def on_wait(message: str) -> None:
            self.messages.append(message)
            self.first_message.set()

        def run() -> None:
            try:
                self.result = lock.acquire(owner, on_wait=on_wait, report_every_s=0.5, **kw)  # type: ignore[arg-type]
            except BaseException as exc:
                self.result = exc
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()


def test_second_process_waits_names_the_holder_and_gets_the_host_on_release(
        lock_path: Path, holder: subprocess.Popen[str]) -> None:
    lock = HostLock(lock_path)
    seen = lock.holder()
    assert seen is not None and seen.pid == holder.pid and seen.owners == ("job-a",)
    waiter = Waiter(lock, "job-b")
    assert waiter.first_message.wait(30)
    assert not waiter.done.is_set()
    message = waiter.messages[0]
    assert message.startswith("waiting for the host: ")
    assert f"pid {holder.pid}" in message and "job job-a" in message and "benchmarking since" in message
    assert str(lock_path) in message
    assert holder.stdin is not None
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert waiter.done.wait(30)
    assert isinstance(waiter.result, float)
    try:
        assert lock.held_here()
        now = lock.holder()
        assert now is not None and now.pid == os.getpid() and now.owners == ("job-b",)
        assert _contend(lock_path, 0.5).startswith("timeout:")  # and now we exclude others
    finally:
        lock.release("job-b")
    assert not lock.held_here() and lock.holder() is None
    assert _contend(lock_path, 10) == "acquired"


def test_the_host_is_free_when_its_holder_dies(lock_path: Path, holder: subprocess.Popen[str]) -> None:
    lock = HostLock(lock_path)
    waiter = Waiter(lock, "job-b")
    assert waiter.first_message.wait(30)
    os.kill(holder.pid, signal.SIGKILL)  # no release: the kernel drops the flock
    assert waiter.done.wait(30)
    assert isinstance(waiter.result, float), waiter.result
    lock.release("job-b")


def test_forked_children_do_not_keep_the_host(lock_path: Path) -> None:
    """Load-generator workers are forked from the process holding the host: when it dies, they must
    not keep the lock."""
    code = """
import os, sys, time
from infrec.executors.hostlock import HostLock
HostLock(sys.argv[1]).acquire("job-a")
child = os.fork()
if child == 0:
    time.sleep(120)
    os._exit(0)
print(child, flush=True)
sys.stdin.readline()
"""
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    try:
        assert _contend(lock_path, 0.3).startswith("timeout:")
        proc.kill()
        proc.wait(10)
        assert _contend(lock_path, 10) == "acquired"  # while the forked child still lives
        os.kill(child, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        proc.kill()
        proc.wait(10)


def test_one_process_shares_its_hold_between_threads(lock_path: Path) -> None:
    first, second = HostLock(lock_path), HostLock(lock_path)  # two handles, one process hold
    assert first.acquire("job-1") < 1.0
    got: list[float] = []
    t = threading.Thread(target=lambda: got.append(second.acquire("job-2", deadline=time.time() + 5)))
    t.start()
    t.join(10)
    # Re-entrant: a wait for our own process would have met the 5 s deadline (HostLockTimeout,
    # nothing appended) — the mechanism, not the wall clock, is what is checked.
    assert not t.is_alive() and got, got
    holder = first.holder()
    assert holder is not None and holder.pid == os.getpid() and set(holder.owners) == {"job-1", "job-2"}

    out = _contend(lock_path, 0.5)
    assert out.startswith("timeout:") and f"pid {os.getpid()}" in out and "job-1" in out
    first.release("job-1")
    assert second.held_here()  # job-2 still holds the host for this process
    assert _contend(lock_path, 0.5).startswith("timeout:")
    second.release("job-2")
    assert not first.held_here()
    assert _contend(lock_path, 10) == "acquired"


def test_cancel_interrupts_the_wait(lock_path: Path, holder: subprocess.Popen[str]) -> None:
    cancel = threading.Event()
    waiter = Waiter(HostLock(lock_path), "job-b", cancel=cancel)
    assert waiter.first_message.wait(30)
    cancel.set()
    # The waiter has no deadline and the holder keeps the lock: ending at all means the cancel ended
    # it, which its result names; the holder still holds.
    assert waiter.done.wait(10)
    assert isinstance(waiter.result, JobStopped), waiter.result
    assert holder.poll() is None and f"pid {holder.pid}" in _contend(lock_path, 0.3)
    assert not HostLock(lock_path).held_here()


def test_deadline_names_the_holder(lock_path: Path, holder: subprocess.Popen[str]) -> None:
    waiter = Waiter(HostLock(lock_path), "job-b", deadline=time.time() + 1.0)
    assert waiter.done.wait(30)
    assert isinstance(waiter.result, HostLockTimeout)
    assert f"pid {holder.pid}" in waiter.result.who and "job-a" in waiter.result.who
    assert waiter.messages  # it said why it waited before giving up


def test_where_the_lock_lives(tmp_path: Path) -> None:
    assert default_path(tmp_path / "x.lock") == tmp_path / "x.lock"
    assert default_path(Settings.from_env({"INFREC_HOST_LOCK": str(tmp_path / "y.lock")}).host_lock) == \
        tmp_path / "y.lock"
    off = HostLock(Settings.from_env({"INFREC_HOST_LOCK": "off"}).host_lock)
    assert not off.enabled and off.acquire("job") == 0.0
    off.release("job")
    path = default_path(None)
    assert path is not None and path.name == "infrec-benchmark.lock"
    assert path.parent in (Path("/run/lock"), Path("/tmp"))
