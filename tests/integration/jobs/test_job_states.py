"""The job state machine holds under concurrent writers, on SQLite and PostgreSQL, for every job
kind: a stop and a completion racing for one job never both win, and terminal states never move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from infrec.genai.repo import AIJobRepo
from infrec.jobs import states
from infrec.jobs.repo import JobRepo
from infrec.store import Store
from infrec.store.tables import AIResourceRow, JobRow, JobStepRow


def _job(store: Store, name: str, status: str) -> None:
    now = datetime.now(UTC)
    with store.session() as s:
        s.add(JobRow(name=name, arn=f"arn:{name}", job_type="Default", status=status, created_at=now,
                     modified_at=now, request={}, result={}))
        s.flush()
        s.add(JobStepRow(job_name=name, step_index=0, status=states.PENDING, doc={}))


def test_racing_stop_and_complete(database_url: str) -> None:
    store = Store(database_url)
    repo = JobRepo(store)
    try:
        for i in range(10):
            name = f"race-{i}"
            _job(store, name, states.IN_PROGRESS)
            results: dict[str, bool] = {}
            barrier = threading.Barrier(2)

            def move(new: str, name: str = name, barrier: threading.Barrier = barrier,
                     results: dict[str, bool] = results) -> None:
                barrier.wait()
                results[new] = repo.set_status(name, new)

            threads = [threading.Thread(target=move, args=(n,)) for n in (states.COMPLETED, states.STOPPING)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            final = repo.get(name).status
            if results[states.COMPLETED]:
                # Completed first: the stop must not have moved a terminal job.
                assert not results[states.STOPPING] and final == states.COMPLETED
            else:
                assert results[states.STOPPING] and final == states.STOPPING

        _job(store, "stopped", states.STOPPING)
        repo.finish_stop("stopped")
        assert repo.get("stopped").status == states.STOPPED
        assert [s.status for s in repo.steps("stopped")] == [states.STOPPED]
        assert not repo.set_status("stopped", states.IN_PROGRESS)
        assert not repo.set_status("stopped", states.COMPLETED)
    finally:
        store.close()


def _ai_job(store: Store, kind: str, name: str, status: str) -> None:
    spelled = states.wire(kind, status)
    with store.session() as s:
        s.add(AIResourceRow(kind=kind, name=name, arn=f"arn:{kind}:{name}", status=spelled,
                            created_at=datetime.now(UTC), doc={f"{kind}Status": spelled}, owner="host:1:0"))


def test_ai_jobs_go_through_the_same_state_machine(database_url: str) -> None:
    """An AI job's transitions are the same conditional moves: a racing stop and completion never
    both win, the row and the document say the same status in the AI API's spelling, terminal
    states never move, and owner claims are conditional."""
    store = Store(database_url)
    kind = states.AI_RECOMMENDATION
    repo = AIJobRepo(store, kind)
    try:
        for i in range(10):
            name = f"ai-race-{i}"
            _ai_job(store, kind, name, states.IN_PROGRESS)
            results: dict[str, bool] = {}
            barrier = threading.Barrier(2)

            def move(new: str, name: str = name, barrier: threading.Barrier = barrier,
                     results: dict[str, bool] = results) -> None:
                barrier.wait()
                results[new] = repo.set_status(name, new)

            threads = [threading.Thread(target=move, args=(n,)) for n in (states.COMPLETED, states.STOPPING)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert results[states.COMPLETED] != results[states.STOPPING]
            final = repo.status(name)
            assert final == (states.COMPLETED if results[states.COMPLETED] else states.STOPPING)
            with store.session() as s:
                row = s.scalar(select(AIResourceRow).where(AIResourceRow.name == name))
                assert row is not None and row.doc[f"{kind}Status"] == row.status == states.wire(kind, final)

        _ai_job(store, kind, "ai-stopped", states.STOPPING)
        repo.finish_stop("ai-stopped")
        assert repo.status("ai-stopped") == states.STOPPED
        assert not repo.set_status("ai-stopped", states.COMPLETED)
        assert "ai-stopped" not in {u.name for u in repo.unfinished()}
        assert not repo.claim("ai-race-0", "host:2:0", "me")      # not the owner it had
        assert repo.claim("ai-race-0", "host:1:0", "me") and repo.owner("ai-race-0") == "me"
    finally:
        store.close()
