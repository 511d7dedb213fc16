"""An AI job kind's state (AIBenchmarkJob or AIRecommendationJob) in `store.tables.AIResourceRow`:
the `jobs.lifecycle.JobStateRepo` the scheduler drives, as `jobs.repo.JobRepo` is the real-time
kind's.

The row keeps its status in the AI API's spelling (InProgress…) both in the `status` column, which
the conditional UPDATE tests, and in the document's `<kind>Status`, which Describe returns; a
transition writes the two in one transaction, mapped from `jobs.states` by `states.wire`.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infrec.core.arn import resource_name
from infrec.core.errors import NotFoundError
from infrec.jobs import states
from infrec.jobs.lifecycle import Unfinished
from infrec.store import Store
from infrec.store.tables import AIResourceRow


def now() -> float:
    """The AI documents' timestamps (CreationTime, StartTime, EndTime): epoch seconds, to the ms."""
    return round(time.time(), 3)


class AIJobRepo:
    """One AI job kind's state (module doc)."""

    def __init__(self, store: Store, kind: str) -> None:
        self.store = store
        self.kind = kind

    def _row(self, s: Session, name: str) -> AIResourceRow:
        row = s.scalar(select(AIResourceRow).where(AIResourceRow.kind == self.kind,
                                                   AIResourceRow.name == resource_name(name)))
        if row is None:
            raise NotFoundError(f"{self.kind} {resource_name(name)!r} does not exist")
        return row

    def status(self, name: str) -> str:
        with self.store.session() as s:
            return states.from_wire(self.kind, str(self._row(s, name).status))

    def owner(self, name: str) -> str | None:
        with self.store.session() as s:
            return self._row(s, name).owner

    def set_status(self, name: str, new: str, *, failure_reason: str | None = None, **fields: Any) -> bool:
        """Move the job to `new` (a `jobs.states` state) if the state machine allows it, merging
        `fields` into its document; False when it did not move. An ending sets EndTime."""
        name = resource_name(name)
        allowed = [states.wire(self.kind, s) for s in states.sources(new)]
        spelled = states.wire(self.kind, new)
        with self.store.session() as s:
            result = s.execute(update(AIResourceRow)
                               .where(AIResourceRow.kind == self.kind, AIResourceRow.name == name,
                                      AIResourceRow.status.in_(allowed))
                               .values(status=spelled))
            if not getattr(result, "rowcount", 0):
                self._row(s, name)  # NotFoundError when there is no such job
                return False
            row = self._row(s, name)
            doc = {**row.doc, f"{self.kind}Status": spelled}
            if failure_reason is not None:
                doc["FailureReason"] = failure_reason[:1024]
            if new in states.TERMINAL:
                doc["EndTime"] = now()
            doc.update({k: v for k, v in fields.items() if v is not None})
            row.doc = doc
            return True

    def finish_stop(self, name: str) -> None:
        self.set_status(name, states.STOPPED)

    def claim(self, name: str, expected: str | None, owner: str) -> bool:
        cond = AIResourceRow.owner.is_(None) if expected is None else AIResourceRow.owner == expected
        with self.store.session() as s:
            result = s.execute(update(AIResourceRow)
                               .where(AIResourceRow.kind == self.kind, AIResourceRow.name == resource_name(name),
                                      cond)
                               .values(owner=owner))
            return bool(getattr(result, "rowcount", 0))

    def unfinished(self) -> list[Unfinished]:
        active = [states.wire(self.kind, s) for s in states.ACTIVE]
        with self.store.session() as s:
            rows = s.execute(select(AIResourceRow.name, AIResourceRow.owner, AIResourceRow.created_at)
                             .where(AIResourceRow.kind == self.kind, AIResourceRow.status.in_(active))).all()
        return [Unfinished(self.kind, name, owner, created) for name, owner, created in rows]
