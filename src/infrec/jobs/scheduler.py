"""Runs queued jobs of every kind in the background, one at a time (the host's CPUs are the budget
every job shares: two measuring at once would measure each other), and on start takes over the jobs
a dead control process left behind, whatever their kind.

Each kind is a `jobs.lifecycle.Kind`: its state repository and its runner. The scheduler owns what
is common to them: the queue, owner claims, the stop signal of the running job (`RunStop`), a
watch for stops written by another process, and shutting down without ending the running job.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Iterable, Mapping

import psutil

from infrec.executors.base import Executor
from infrec.jobs import states
from infrec.jobs.lifecycle import JobStateRepo, Kind, RunStop, Unfinished
from infrec.jobs.repo import epoch

log = logging.getLogger("infrec.jobs")
WATCH_S = 0.5


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
    """The one job queue of a control process (module doc). Calls that take a job name alone
    (`submit`, `cancel`, `resume`, `orphans`) default to real-time recommendation jobs."""

    def __init__(self, kinds: Mapping[str, Kind], executor: Executor) -> None:
        self.kinds = dict(kinds)
        self.executor = executor
        self.owner = this_owner()
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()
        self._current: tuple[str, str] | None = None
        self._stop: RunStop | None = None
        self.resumed: list[str] = []

    def repo(self, kind: str) -> JobStateRepo:
        return self.kinds[kind].repo

    def start(self, resume: bool = True) -> None:
        if self._thread is not None:
            return
        # Endpoints of a dead control process are reaped even when its jobs ended meanwhile.
        self._reap()
        if resume:
            self.resumed = self.resume_orphans()
        self._thread = threading.Thread(target=self._loop, name="infrec-jobs", daemon=True)
        self._thread.start()

    def _orphans(self, kinds: Iterable[str]) -> list[Unfinished]:
        """Unfinished jobs of `kinds` whose owner died (left by a killed process), oldest first."""
        rows = [u for kind in kinds for u in self.repo(kind).unfinished()
                if u.owner != self.owner and not owner_alive(u.owner)]
        return sorted(rows, key=lambda u: epoch(u.created_at) or 0.0)

    def resume_orphans(self) -> list[str]:
        """Jobs of every kind whose owner died: queue them again, each from where it stood."""
        names = []
        for u in self._orphans(self.kinds):
            if self.repo(u.kind).claim(u.name, u.owner, self.owner):  # two starting services never both run it
                self._queue.put((u.kind, u.name))
                names.append(u.name)
        return names

    def resume(self, name: str, kind: str = states.REALTIME) -> str | None:
        """Queue one unfinished job whose owner died (what `infrec jobs resume` asks for); None when
        queued, else why not. Embedded commands never resume older jobs unasked."""
        repo = self.repo(kind)
        status = repo.status(name)
        if status not in states.ACTIVE:
            return f"job {name} is {states.wire(kind, status)}: nothing to resume"
        owner = repo.owner(name)
        if owner == self.owner:
            return None
        if owner_alive(owner):
            return f"job {name} is being run by a live process ({owner})"
        if not repo.claim(name, owner, self.owner):
            return f"job {name} was taken over by another process meanwhile"
        self.submit(name, kind)
        return None

    def orphans(self, kind: str = states.REALTIME) -> list[str]:
        """Unfinished jobs of `kind` whose owner died, oldest first."""
        return [u.name for u in self._orphans([kind])]

    def _reap(self) -> None:
        try:
            reaped = self.executor.reap_orphans()
            if reaped:
                log.warning("reaped %d process(es) left by a previous run", reaped)
        except Exception:
            log.exception("reaping orphaned endpoints failed")

    def submit(self, name: str, kind: str = states.REALTIME) -> None:
        self._queue.put((kind, name))

    def cancel(self, name: str, kind: str = states.REALTIME) -> None:
        """Stop a job the API has moved to STOPPING: the running one through its stop signal; a
        queued one, or one whose owner died, at once (a queued job that has ended is skipped)."""
        with self._mutex:
            if self._current == (kind, name) and self._stop is not None:
                self._stop.set()
                return
        repo = self.repo(kind)
        owner = repo.owner(name)
        if owner == self.owner or not owner_alive(owner):
            self._reap()
            repo.finish_stop(name)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            kind, name = item
            stop = RunStop()
            with self._mutex:
                self._current, self._stop = item, stop
            done = threading.Event()
            watcher = threading.Thread(target=self._watch, args=(self.repo(kind), name, stop, done),
                                       name="infrec-jobs-watch", daemon=True)
            watcher.start()
            try:
                self.kinds[kind].runner.run(name, stop)
            except Exception:
                log.exception("job %s crashed the runner", name)
            finally:
                done.set()
                watcher.join(timeout=2)
                with self._mutex:
                    self._current, self._stop = None, None

    @staticmethod
    def _watch(repo: JobStateRepo, name: str, stop: RunStop, done: threading.Event) -> None:
        """A stop may be written by another process sharing the database (the CLI while a server
        runs the job); poll for it so the stop still takes effect within a second."""
        while not done.wait(WATCH_S):
            try:
                if repo.status(name) == states.STOPPING:
                    stop.set()
                    return
            except Exception:
                continue

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the running job's endpoints and load, leaving it resumable by the next start."""
        if self._thread is None:
            return
        with self._mutex:
            if self._stop is not None:
                # Not a user stop: the job stays unfinished so the next start resumes it.
                self._stop.interrupt()
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None
