"""Runs queued jobs in the background, one at a time (the host's CPUs are the budget every job's
steps share), and on start takes over the jobs a dead control process left behind."""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading

import psutil

from infrec.jobs import states
from infrec.jobs.repo import JobRepo
from infrec.jobs.runner import JobRunner

log = logging.getLogger("infrec.jobs")


def this_owner() -> str:
    me = psutil.Process(os.getpid())
    return f"{socket.gethostname()}:{me.pid}:{me.create_time():.3f}"


def owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_s, _, created = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine's process: we cannot tell, so we leave its jobs alone
    try:
        proc = psutil.Process(int(pid_s))
        return f"{proc.create_time():.3f}" == created
    except (psutil.NoSuchProcess, ValueError):
        return False


class Scheduler:
    def __init__(self, repo: JobRepo, runner: JobRunner) -> None:
        self.repo = repo
        self.runner = runner
        self.owner = this_owner()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._current: str | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.resumed: list[str] = []

    def start(self, resume: bool = True) -> None:
        if self._thread is not None:
            return
        # Endpoints of a dead control process are reaped even when its jobs ended meanwhile.
        self._reap()
        if resume:
            self.resumed = self.resume_orphans()
        self._thread = threading.Thread(target=self._loop, name="infrec-jobs", daemon=True)
        self._thread.start()

    def resume_orphans(self) -> list[str]:
        """Jobs whose owner died: reap what their endpoints left and queue them again."""
        orphans = [r for r in self.repo.active() if r.owner != self.owner and not owner_alive(r.owner)]
        if not orphans:
            return []
        names = []
        for r in sorted(orphans, key=lambda r: r.created_at):
            if self.repo.claim(r.name, r.owner, self.owner):  # two starting services never both run it
                self._queue.put(r.name)
                names.append(r.name)
        return names

    def resume(self, name: str) -> str | None:
        """Queue one unfinished job whose owner died (what `infrec jobs resume` asks for); None when
        queued, else why not. Embedded commands never resume older jobs unasked."""
        row = self.repo.get(name)
        if row.name not in {r.name for r in self.repo.active()}:
            return f"job {row.name} is {row.status}: nothing to resume"
        if row.owner == self.owner:
            return None
        if owner_alive(row.owner):
            return f"job {row.name} is being run by a live process ({row.owner})"
        if not self.repo.claim(row.name, row.owner, self.owner):
            return f"job {row.name} was taken over by another process meanwhile"
        self.submit(row.name)
        return None

    def orphans(self) -> list[str]:
        """Unfinished jobs whose owner died (left by a killed process), oldest first."""
        rows = [r for r in self.repo.active() if r.owner != self.owner and not owner_alive(r.owner)]
        return [r.name for r in sorted(rows, key=lambda r: r.created_at)]

    def _reap(self) -> None:
        try:
            reaped = self.runner.executor.reap_orphans()
            if reaped:
                log.warning("reaped %d process(es) left by a previous run", reaped)
        except Exception:
            log.exception("reaping orphaned endpoints failed")

    def submit(self, name: str) -> None:
        self._idle.clear()
        self._queue.put(name)

    def cancel(self, name: str) -> None:
        """Stop a job: the running one through its cancel event; a queued one, or one whose owner
        died, at once (the runner skips jobs that are already STOPPED)."""
        if name == self._current:
            self.runner.cancel(name)
            return
        row = self.repo.get(name)
        if row.owner == self.owner or not owner_alive(row.owner):
            self._reap()
            self.repo.finish_stop(name)

    def _loop(self) -> None:
        while True:
            name = self._queue.get()
            if name is None:
                return
            self._current = name
            self._idle.clear()
            try:
                self.runner.run(name)
            except Exception:
                log.exception("job %s crashed the runner", name)
            finally:
                self._current = None
                if self._queue.empty():
                    self._idle.set()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the running job's endpoints and load, leaving it resumable by the next start."""
        if self._thread is None:
            return
        current = self._current
        if current:
            # Not a user stop: the job stays IN_PROGRESS so the next start resumes it.
            self.runner.interrupt(current)
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None


__all__ = ["Scheduler", "states"]
