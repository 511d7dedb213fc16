"""What every job kind shares with the scheduler: how its state is read and moved (`JobStateRepo`),
how it is run (`KindRunner`) and how a run is told to stop (`RunStop`).

The scheduler (`jobs.scheduler`) drives every kind through these alone, so queueing, resuming a job
a dead process left, stopping and shutting down work the same way for a real-time recommendation
job as for an AI benchmark or recommendation job.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from infrec.jobs import states


class RunStop(threading.Event):
    """A run's stop signal: `set()` when a user stops the job (it ends STOPPED), `interrupt()` when
    this process shuts down (the job stays unfinished and the next process resumes it). An Event, so
    the waits deep in a run (host lock, endpoint start, load) take it as their cancel event."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False

    def interrupt(self) -> None:
        self.interrupted = True
        self.set()


@dataclass(frozen=True)
class Unfinished:
    """A job that has not ended, and who runs it."""

    kind: str
    name: str
    owner: str | None
    created_at: datetime


class JobStateRepo(Protocol):
    """A job kind's state in the database. Transitions are conditional (`jobs.states.sources`), so
    two writers — the API stopping a job, the runner ending it — never both succeed."""

    kind: str

    def status(self, name: str) -> str:
        """The job's state (`jobs.states`), whatever its API's spelling; NotFoundError if none."""
        ...

    def set_status(self, name: str, new: str, *, failure_reason: str | None = None) -> bool:
        """Move the job to `new` if the state machine allows it from where it is; False otherwise."""
        ...

    def finish_stop(self, name: str) -> None:
        """A STOPPING job that nothing runs any more ends STOPPED."""
        ...

    def claim(self, name: str, expected: str | None, owner: str) -> bool:
        """Take the job over from `expected` (its dead owner); False when another process did first."""
        ...

    def owner(self, name: str) -> str | None:
        """The process that runs the job (`jobs.scheduler.this_owner`'s form)."""
        ...

    def unfinished(self) -> list[Unfinished]:
        """Every job of this kind not in a terminal state."""
        ...


class KindRunner(Protocol):
    """Runs one job of its kind to its end (or until `stop`), writing each change before acting on
    it so that a run killed at any point leaves a job its next run resumes."""

    def run(self, name: str, stop: RunStop) -> None:
        ...


@dataclass(frozen=True)
class Kind:
    """One job kind as the scheduler sees it."""

    repo: JobStateRepo
    runner: KindRunner


def begin(repo: JobStateRepo, name: str) -> bool:
    """Start a job the scheduler hands over: a queued job moves to IN_PROGRESS, a resumed one stays
    there. False when it must not run: it has ended, or was stopped meanwhile (it ends STOPPED now)."""
    status = repo.status(name)
    if status == states.STOPPING:
        repo.finish_stop(name)
        return False
    if status in states.TERMINAL:
        return False
    if status == states.PENDING and not repo.set_status(name, states.IN_PROGRESS):
        # A stop landed between the read and the move: finish the stop.
        conclude(repo, name, states.STOPPED)
        return False
    return True


def conclude(repo: JobStateRepo, name: str, new: str, reason: str | None = None) -> None:
    """End the job as `new`, unless a stop got there first: then it ends STOPPED."""
    if new != states.STOPPED and repo.set_status(name, new, failure_reason=reason):
        return
    if repo.status(name) == states.STOPPING:
        repo.finish_stop(name)
