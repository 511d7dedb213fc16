"""A job's wait for the host, the same for every job kind: one benchmark at a time per host (the
host-wide lock of `executors.hostlock`), and while another process holds it the job says whom it
waits for in its description (`HostLock`, an infrec extension), so a queued job never looks hung."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infrec.core.errors import JobStopped
from infrec.executors.hostlock import HostLock

log = logging.getLogger("infrec.jobs")


def _nothing(_message: str | None) -> None:
    return None


@dataclass(frozen=True)
class HostWait:
    """How one job waits: `job` labels it in the lock file and the log; `record` writes the job's
    HostLock field ({"Waiting": …}, {"WaitedSeconds": …}, {"Cancelled": …}); `on_message` shows the
    wait anywhere else the kind shows progress (None once the wait is over)."""

    job: str
    deadline: float
    cancel: threading.Event
    record: Callable[[dict[str, Any]], object]
    on_message: Callable[[str | None], None] = field(default=_nothing)


def hold_host(wait: HostWait, lock: HostLock | None = None) -> HostLock:
    """Hold the host for the job and return the lock, which the caller releases with
    `lock.release(wait.job)`. Raises JobStopped when the job is stopped while it waits and
    executors.hostlock.HostLockTimeout (naming the holder) when the deadline passes first."""
    lock = lock if lock is not None else HostLock()
    waited_any = False

    def waiting(message: str) -> None:
        nonlocal waited_any
        (log.warning if not waited_any else log.info)("job %s: %s", wait.job, message)
        waited_any = True
        try:
            wait.record({"Waiting": message})
            wait.on_message(message)
        except Exception:  # showing the wait must never end it; the next report tries again
            log.exception("job %s: could not record the wait for the host", wait.job)

    try:
        waited = lock.acquire(wait.job, deadline=wait.deadline, cancel=wait.cancel, on_wait=waiting)
    except JobStopped:
        if waited_any:
            wait.record({"Cancelled": "stopped while waiting for the host"})
        raise
    finally:
        if waited_any:
            wait.on_message(None)
    if waited_any:
        log.info("job %s: has the host after waiting %.0f s", wait.job, waited)
        wait.record({"WaitedSeconds": round(waited, 1)})
    return lock
