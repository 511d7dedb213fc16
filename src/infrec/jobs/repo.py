"""Reading and writing jobs and steps. Each change is its own short transaction, committed before
the runner acts on it, so a crash at any point leaves a state that resume can read."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from infrec.core.errors import NotFoundError
from infrec.jobs import states
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
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, name: str) -> JobRow:
        with self.store.session() as s:
            row = s.scalar(select(JobRow).where(JobRow.name == name))
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

    def active(self) -> list[JobRow]:
        with self.store.session() as s:
            rows = list(s.scalars(select(JobRow).where(JobRow.status.in_(states.ACTIVE))))
            for r in rows:
                s.expunge(r)
            return rows

    def steps(self, name: str) -> list[JobStepRow]:
        with self.store.session() as s:
            rows = list(s.scalars(select(JobStepRow).where(JobStepRow.job_name == name)
                                  .order_by(JobStepRow.step_index)))
            for r in rows:
                s.expunge(r)
            return rows

    def set_status(self, name: str, new: str, *, failure_reason: str | None = None,
                   only_from: frozenset[str] | None = None) -> bool:
        """Move the job to `new` if the state machine allows it; False when it did not move."""
        with self.store.session() as s:
            row = s.scalar(select(JobRow).where(JobRow.name == name).with_for_update())
            if row is None:
                raise NotFoundError(f"Inference recommendations job {name!r} does not exist")
            if only_from is not None and row.status not in only_from:
                return False
            if not states.can_move(row.status, new):
                return False
            row.status = new
            row.modified_at = now_dt()
            if failure_reason is not None:
                row.failure_reason = failure_reason[:1024]
            if new in states.TERMINAL:
                row.completed_at = row.modified_at
            return True

    def set_owner(self, name: str, owner: str | None) -> None:
        with self.store.session() as s:
            row = s.scalar(select(JobRow).where(JobRow.name == name))
            if row is not None:
                row.owner = owner

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
