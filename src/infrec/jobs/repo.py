"""Reading and writing real-time recommendation jobs and their steps. Each change is its own short
transaction, committed before the runner acts on it, so a crash at any point leaves a state that
resume can read. `JobRepo` is the real-time kind's `jobs.lifecycle.JobStateRepo`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from infrec.core.errors import NotFoundError
from infrec.jobs import states
from infrec.jobs.lifecycle import Unfinished
from infrec.store import Store
from infrec.store.tables import JobRow, JobStepRow


def now_dt() -> datetime:
    return datetime.now(UTC)


def epoch(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:  # SQLite returns naive datetimes; they were stored as UTC
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp(), 3)


class JobRepo:
    kind = states.REALTIME

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, name: str) -> JobRow:
        with self.store.session() as s:
            # Names are unique regardless of case (their ARNs are lower-cased), so lookups ignore it.
            row = s.scalar(select(JobRow).where(func.lower(JobRow.name) == name.lower()))
            if row is None:
                raise NotFoundError(f"Inference recommendations job {name!r} does not exist")
            s.expunge(row)
            return row

    def all(self) -> list[JobRow]:
        with self.store.session() as s:
            rows = list(s.scalars(select(JobRow)))
            for r in rows:
                s.expunge(r)
            return rows

    def status(self, name: str) -> str:
        return self.get(name).status

    def owner(self, name: str) -> str | None:
        return self.get(name).owner

    def unfinished(self) -> list[Unfinished]:
        with self.store.session() as s:
            rows = s.execute(select(JobRow.name, JobRow.owner, JobRow.created_at)
                             .where(JobRow.status.in_(states.ACTIVE))).all()
            return [Unfinished(self.kind, name, owner, created) for name, owner, created in rows]

    def steps(self, name: str) -> list[JobStepRow]:
        with self.store.session() as s:
            rows = list(s.scalars(select(JobStepRow).where(JobStepRow.job_name == name)
                                  .order_by(JobStepRow.step_index)))
            for r in rows:
                s.expunge(r)
            return rows

    def set_status(self, name: str, new: str, *, failure_reason: str | None = None) -> bool:
        """Move the job to `new` if the state machine allows it from its current state; False when it
        did not move. One conditional UPDATE, so two writers (the API stopping the job, the runner
        finishing it) can never both succeed, on SQLite as on PostgreSQL."""
        allowed = states.sources(new)
        now = now_dt()
        values: dict[str, Any] = {"status": new, "modified_at": now}
        if failure_reason is not None:
            values["failure_reason"] = failure_reason[:1024]
        if new in states.TERMINAL:
            values["completed_at"] = now
        with self.store.session() as s:
            result = s.execute(update(JobRow).where(JobRow.name == name, JobRow.status.in_(allowed))
                               .values(**values))
            moved = bool(getattr(result, "rowcount", 0))
            if not moved and s.scalar(select(JobRow.id).where(JobRow.name == name)) is None:
                raise NotFoundError(f"Inference recommendations job {name!r} does not exist")
            return moved

    def finish_stop(self, name: str) -> None:
        """A STOPPING job that nothing runs any more: its unfinished steps and the job end STOPPED."""
        for step in self.steps(name):
            if step.status in (states.PENDING, states.IN_PROGRESS):
                self.update_step(name, step.step_index, status=states.STOPPED, Progress=None)
        self.set_status(name, states.STOPPED)

    def claim(self, name: str, expected: str | None, owner: str) -> bool:
        """Take a job over from `expected` (its dead owner); False when someone else got there first."""
        cond = JobRow.owner.is_(None) if expected is None else JobRow.owner == expected
        with self.store.session() as s:
            result = s.execute(update(JobRow).where(JobRow.name == name, cond).values(owner=owner))
            return bool(getattr(result, "rowcount", 0))

    def update_result(self, name: str, **fields: Any) -> None:
        with self.store.session() as s:
            row = s.scalar(select(JobRow).where(JobRow.name == name).with_for_update())
            if row is None:
                return
            result = dict(row.result or {})
            result.update(fields)
            row.result = result
            row.modified_at = now_dt()

    def update_step(self, name: str, index: int, *, status: str | None = None, started: bool = False,
                    ended: bool = False, scale: float | None = None, **doc_fields: Any) -> None:
        with self.store.session() as s:
            row = s.scalar(select(JobStepRow).where(JobStepRow.job_name == name, JobStepRow.step_index == index)
                           .with_for_update())
            if row is None:
                return
            if status is not None:
                row.status = status
            if started:
                row.started_at = now_dt()
                row.ended_at = None
            if ended:
                row.ended_at = now_dt()
            if scale is not None:
                row.emulation_scale = scale
            if doc_fields:
                doc = dict(row.doc)
                for k, v in doc_fields.items():
                    if v is None:
                        doc.pop(k, None)
                    else:
                        doc[k] = v
                row.doc = doc


def stamp() -> float:
    return round(time.time(), 3)
