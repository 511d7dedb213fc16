"""A job's execution log rendered from rows written through the real repo, as the runner writes
them: failures, stops and preflight say why; a poller holding a forward token sees every line once
while the job's rows change under it (the stream only grows at its end)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from infrec.core.arn import ArnBuilder
from infrec.core.logpaging import get_log_events
from infrec.jobs import states
from infrec.jobs.joblog import LOG_GROUP, JobLogSource
from infrec.jobs.repo import JobRepo
from infrec.logs.cloudwatch import LogsService
from infrec.store import Store
from infrec.store.tables import JobRow, JobStepRow


def _create(store: Store, name: str, types: list[str]) -> None:
    now = datetime.now(UTC)
    req = {"RoleArn": "arn:aws:iam::0:role/r", "InputConfig": {"ModelName": "m", "VpcConfig": {}},
           "StoppingConditions": {"ModelLatencyThresholds": [{"Percentile": "P99", "ValueInMilliseconds": 50}]}}
    with store.session() as s:
        s.add(JobRow(name=name, arn=f"arn:{name}", job_type="Advanced", status=states.PENDING, model_name="m",
                     created_at=now, modified_at=now, request=req, result={}))
        s.flush()
        for i, t in enumerate(types):
            s.add(JobStepRow(job_name=name, step_index=i, status=states.PENDING, doc={
                "EndpointConfiguration": {"EndpointName": f"{name}-{i + 1}", "InstanceType": t,
                                          "InitialInstanceCount": 1},
                "ModelConfiguration": {"EnvironmentParameters": [{"Key": "OMP_NUM_THREADS", "Value": "2"}]}}))


def _tick() -> None:
    time.sleep(0.005)  # stored times are milliseconds: keep successive writes apart


def test_failures_and_a_poller_that_reads_along(database_url: str) -> None:
    store = Store(database_url)
    repo = JobRepo(store)
    source = JobLogSource(repo, settle_ms=0)
    stream = "job-a/execution"
    try:
        _create(store, "job-a", ["ml.c5.large", "ml.m5.large", "ml.g5.xlarge"])
        page = get_log_events(source.events(LOG_GROUP, stream) or [], start_from_head=True)
        seen = [e.message for e in page.events]
        token = page.next_forward_token

        def poll() -> None:
            nonlocal token
            p = get_log_events(source.events(LOG_GROUP, stream) or [], token=token)
            seen.extend(e.message for e in p.events)
            token = p.next_forward_token

        _tick()
        repo.set_status("job-a", states.IN_PROGRESS)
        repo.update_result("job-a", VpcPreflight={"ok": True, "counts": {"pass": 9, "warn": 1}, "checks": [
            {"id": "S3-ENDPOINT", "status": "warn", "message": "no gateway endpoint for S3"}]})
        poll()  # nothing new yet: the preflight is told when the first step starts
        assert len(seen) == 1
        _tick()
        repo.update_step("job-a", 2, status=states.FAILED, ended=True,
                         FailureReason="ml.g5.xlarge needs 1 NVIDIA GPU; this host has none")
        _tick()
        repo.update_step("job-a", 0, status=states.IN_PROGRESS, started=True, scale=0.5)
        poll()
        _tick()
        repo.update_step("job-a", 0, status=states.FAILED, ended=True, FailureReason="endpoint failed to start: boom",
                         Details={"SetupTimeSeconds": 1.25, "Trials": [
                             {"Phase": "search", "TargetRps": 10.0, "SentRps": 10.0, "AchievedRps": 4.0,
                              "ErrorRate": 0.5, "P99Ms": 80.0, "Seconds": 3.0, "Verdict": "errors"}]})
        poll()
        _tick()
        # The job fails: the step that never ran ends with it, at the job's completion time.
        repo.set_status("job-a", states.FAILED, failure_reason="no benchmark succeeded")
        repo.update_step("job-a", 1, status=states.FAILED, FailureReason="no benchmark succeeded")
        poll()
        everything = [e.message for e in source.events(LOG_GROUP, stream) or []]
        assert seen == everything  # each line once, in order, though it was read in four pieces
        text = "\n".join(everything)
        assert "Job job-a started" in text
        assert "VPC preflight passed (9 pass, 1 warn)" in text and "[S3-ENDPOINT] WARN no gateway endpoint" in text
        assert "Step 3/3 FAILED: ml.g5.xlarge needs 1 NVIDIA GPU" in text
        assert ("Step 1/3 started: ml.c5.large × 1, environment: OMP_NUM_THREADS=2; endpoint job-a-1; "
                "emulated at 0.5 of the instance's size") in text
        assert "Step 1/3: trial 1 (search): offered 10.00 req/s (sent 10.00) → achieved 4.00 req/s, P99 80.00 ms, " \
               "errors 50.00 %, 3.0 s measured: FAIL (errors)" in text
        assert "Step 1/3 FAILED: endpoint failed to start: boom" in text
        assert "Step 2/3 FAILED: no benchmark succeeded" in text and "Step 2/3 started" not in text
        assert everything[-1] == "Job job-a FAILED: no benchmark succeeded"

        # A stop before anything ran: the log says so, and nothing about steps that never started.
        _create(store, "job-b", ["ml.c5.large"])
        repo.set_status("job-b", states.STOPPING)
        repo.finish_stop("job-b")
        lines = [e.message for e in source.events(LOG_GROUP, "job-b/execution") or []]
        assert lines[-2:] == ["Step 1/1 stopped", "Job job-b STOPPED"] and len(lines) == 3

        logs = LogsService(ArnBuilder("us-east-1", "000000000000"))
        logs.register(source)
        streams = logs.describe_log_streams({"logGroupName": LOG_GROUP, "orderBy": "LogStreamName"})["logStreams"]
        assert [s["logStreamName"] for s in streams] == ["job-a/execution", "job-b/execution"]
        assert source.events(LOG_GROUP, "JOB-A/execution") is None  # stream names are exact
    finally:
        store.close()


def test_recent_lines_wait_for_the_settle_window(database_url: str) -> None:
    store = Store(database_url)
    try:
        _create(store, "fresh", ["ml.c5.large"])
        assert JobLogSource(JobRepo(store), settle_ms=60_000).events(LOG_GROUP, "fresh/execution") == []
        assert len(JobLogSource(JobRepo(store), settle_ms=0).events(LOG_GROUP, "fresh/execution") or []) == 1
    finally:
        store.close()
