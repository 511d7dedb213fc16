"""The job state machine holds under concurrent writers, on SQLite and PostgreSQL: a stop and a
completion racing for one job never both win, and terminal states never move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from infrec.jobs import states
from infrec.jobs.repo import JobRepo
from infrec.store import Store
from infrec.store.tables import JobRow, JobStepRow


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
