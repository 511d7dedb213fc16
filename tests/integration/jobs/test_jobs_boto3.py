"""Recommendation jobs end to end through boto3 against a real `infrec serve`: real endpoints,
real load, persisted steps; stop; and a SIGKILL of the service mid-job followed by a resume."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from infrec.core.catalog import Catalog
from tests.helpers import InfrecServer, poll_until
from tests.integration.jobs.conftest import endpoint_processes, job_env, wait_no_endpoints

ROLE = "arn:aws:iam::000000000000:role/infrec"


def _register(sm: Any, payload: Path, service_ms: str = "2") -> str:
    sm.create_model_package_group(ModelPackageGroupName="synthetic")
    return str(sm.create_model_package(
        ModelPackageGroupName="synthetic",
        InferenceSpecification={
            "Containers": [{"Image": "infrec/synthetic", "Environment": {"INFREC_SYNTHETIC_SERVICE_MS": service_ms}}],
            "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.t2.medium", "ml.c5.large"],
        },
        SamplePayloadUrl=payload.as_uri())["ModelPackageArn"])


def _cpu_seconds(home: Path) -> float:
    """CPU seconds the test's model-server processes have spent so far."""
    import psutil

    total = 0.0
    for p in endpoint_processes(home):
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _wait(sm: Any, name: str, statuses: set[str], timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        d = sm.describe_inference_recommendations_job(JobName=name)
        if d["Status"] in statuses:
            return dict(d)
        time.sleep(0.3)
    raise AssertionError(f"job {name} not in {statuses} within {timeout}s: {d['Status']}")


def test_default_and_advanced_jobs(tmp_path: Path, payload_archive: Path) -> None:
    home = tmp_path / "home"
    srv = InfrecServer(job_env(home))
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        sm.create_inference_recommendations_job(
            JobName="default-job", JobType="Default", RoleArn=ROLE,
            InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": 300})
        job = _wait(sm, "default-job", {"COMPLETED", "FAILED"}, 240)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
        recs = job["InferenceRecommendations"]
        assert {r["EndpointConfiguration"]["InstanceType"] for r in recs} == {"ml.t2.medium", "ml.c5.large"}
        catalog = Catalog.default()
        for r in recs:
            m, itype = r["Metrics"], catalog.get(r["EndpointConfiguration"]["InstanceType"])
            # 2 ms of CPU time per request: the full instance serves at most vCPUs × 30,000/min,
            # whatever this host's speed (CPU time, not wall time; 3 % for the read-back's rounding).
            # The floor is the host's share, not the product's: tests/integration/jobs/test_measure.py
            # bounds it on its own.
            assert 0 < m["MaxInvocations"] <= 1.03 * itype.vcpus * 30_000, (itype.name, m)
            assert m["ModelLatency"] >= 2, m          # at least the 2 ms the model spends, rounded up
            assert m["CostPerHour"] == pytest.approx(round(itype.price_per_hour, 6)), m
            assert m["CostPerInference"] == pytest.approx(m["CostPerHour"] / (m["MaxInvocations"] * 60), rel=1e-3)
        costs = [r["Metrics"]["CostPerInference"] for r in recs]
        assert costs == sorted(costs)
        assert sm.describe_inference_recommendations_job(JobName="DEFAULT-JOB")["JobName"] == "default-job"
        steps = sm.list_inference_recommendations_job_steps(JobName="default-job")["Steps"]
        assert len(steps) == 2 and all(s["Status"] == "COMPLETED" for s in steps)
        # Seconds until /ping answered, rounded up: a process start takes more than no time, so at
        # least 1 (0 would mean the setup went unmeasured).
        assert all(s["InferenceBenchmark"]["Metrics"]["ModelSetupTime"] >= 1 for s in steps), steps

        advice = sm.get_scaling_configuration_recommendation(
            InferenceRecommendationsJobName="default-job", RecommendationId=recs[0]["RecommendationId"],
            TargetCpuUtilizationPerCore=50,
            ScalingPolicyObjective={"MinInvocationsPerMinute": 100, "MaxInvocationsPerMinute": 100000})
        dyn = advice["DynamicScalingConfiguration"]
        policy = dyn["ScalingPolicies"][0]["TargetTracking"]
        assert policy["MetricSpecification"]["Predefined"]["PredefinedMetricType"] == \
            "SageMakerVariantInvocationsPerInstance"
        # One instance at 50 % of its measured capacity (the exact figure may sit up to one above the
        # reported, floored MaxInvocations); enough instances for the objective's minimum and maximum.
        target = policy["TargetValue"]
        assert target == pytest.approx(max(1, recs[0]["Metrics"]["MaxInvocations"] * 50 // 100), abs=1), policy
        assert dyn["MinCapacity"] == max(1, math.ceil(100 / target)), dyn
        assert dyn["MaxCapacity"] == max(dyn["MinCapacity"], math.ceil(100000 / target)), dyn

        sm.create_inference_recommendations_job(
            JobName="advanced-job", JobType="Advanced", RoleArn=ROLE,
            InputConfig={
                "ModelPackageVersionArn": arn, "JobDurationInSeconds": 300,
                "TrafficPattern": {"TrafficType": "PHASES",
                                   "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 4}]},
                "ResourceLimit": {"MaxNumberOfTests": 4, "MaxParallelOfTests": 1},
                "EndpointConfigurations": [{
                    "InstanceType": "ml.c5.large",
                    "EnvironmentParameterRanges": {"CategoricalParameterRanges": [
                        {"Name": "SAGEMAKER_MODEL_SERVER_WORKERS", "Value": ["1", "2"]}]}}],
            },
            StoppingConditions={"MaxInvocations": 100000,
                                "ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 500}]})
        job = _wait(sm, "advanced-job", {"COMPLETED", "FAILED"}, 180)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
        steps = sm.list_inference_recommendations_job_steps(JobName="advanced-job")["Steps"]
        envs = sorted(s["InferenceBenchmark"]["ModelConfiguration"]["EnvironmentParameters"][0]["Value"]
                      for s in steps)
        assert envs == ["1", "2"]
        assert all(s["InferenceBenchmark"]["Metrics"]["ModelLatency"] <= 500 for s in steps)
        listed = sm.list_inference_recommendations_jobs(StatusEquals="COMPLETED", SortBy="Name",
                                                        SortOrder="Ascending")["InferenceRecommendationsJobs"]
        assert [j["JobName"] for j in listed] == ["advanced-job", "default-job"]
    finally:
        srv.stop()
    assert endpoint_processes(home) == []


def test_stop_mid_run(tmp_path: Path, payload_archive: Path) -> None:
    home = tmp_path / "home"
    srv = InfrecServer(job_env(home))
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        sm.create_inference_recommendations_job(
            JobName="to-stop", JobType="Advanced", RoleArn=ROLE,
            InputConfig={"ModelPackageVersionArn": arn,
                         "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                             {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]},
                         "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]})
        def started() -> bool:
            steps = sm.list_inference_recommendations_job_steps(JobName="to-stop")["Steps"]
            return bool(steps and steps[0]["Status"] == "IN_PROGRESS" and endpoint_processes(home))

        poll_until(started, 60, "the step running on its endpoint")
        # Mid-run is when the load flows: the model server has spent a second of CPU on requests
        # (its start spends far less), which a 120 s phase cannot have finished.
        base = _cpu_seconds(home)
        poll_until(lambda: _cpu_seconds(home) >= base + 1.0, 60, "serving the load")
        sm.stop_inference_recommendations_job(JobName="to-stop")
        job = _wait(sm, "to-stop", {"STOPPED", "COMPLETED", "FAILED"}, 30)
        assert job["Status"] == "STOPPED", job.get("FailureReason")
        # The step keeps what the load measured before the stop (COMPLETED) or, with nothing
        # measured, is STOPPED; either way its load ended because of the stop, as its log says.
        steps = sm.list_inference_recommendations_job_steps(JobName="to-stop")["Steps"]
        assert [s["Status"] for s in steps] in (["STOPPED"], ["COMPLETED"]), steps
        if steps[0]["Status"] == "COMPLETED":
            logs = boto3.client("logs", endpoint_url=srv.url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")

            def log_lines() -> list[str]:
                return [e["message"] for e in logs.get_log_events(
                    logGroupName="/aws/sagemaker/InferenceRecommendationsJobs", logStreamName="to-stop/execution",
                    startFromHead=True)["events"]]

            poll_until(lambda: "Step 1/1: traffic pattern ended: Cancelled" in log_lines(), 15,
                       "the stop named as the traffic pattern's end in the log", every_s=0.3)
        assert wait_no_endpoints(home) == []
    finally:
        srv.stop()


def test_sigkill_and_resume(tmp_path: Path, payload_archive: Path) -> None:
    home = tmp_path / "home"
    env = job_env(home)
    srv = InfrecServer(env)
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        sm.create_inference_recommendations_job(
            JobName="resumable", JobType="Advanced", RoleArn=ROLE,
            InputConfig={"ModelPackageVersionArn": arn,
                         "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                             {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 3}]},
                         "EndpointConfigurations": [{"InstanceType": "ml.c5.large"},
                                                    {"InstanceType": "ml.t2.medium"},
                                                    {"InstanceType": "ml.m5.large"}]})
        end = time.monotonic() + 120
        first: dict[str, Any] = {}
        while time.monotonic() < end:
            steps = sm.list_inference_recommendations_job_steps(JobName="resumable")["Steps"]
            done = [s for s in steps if s["Status"] == "COMPLETED"]
            if done and any(s["Status"] == "IN_PROGRESS" for s in steps):
                first = done[0]["InferenceBenchmark"]
                break
            time.sleep(0.2)
        assert first, "no step finished while another ran"
    finally:
        srv.kill()
    srv = InfrecServer(env)
    try:
        sm = srv.client()
        job = _wait(sm, "resumable", {"COMPLETED", "FAILED"}, 120)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
        steps = sm.list_inference_recommendations_job_steps(JobName="resumable")["Steps"]
        assert all(s["Status"] == "COMPLETED" for s in steps)
        again = next(s["InferenceBenchmark"] for s in steps
                     if s["InferenceBenchmark"]["EndpointConfiguration"]["EndpointName"] ==
                     first["EndpointConfiguration"]["EndpointName"])
        assert again["InvocationStartTime"] == first["InvocationStartTime"]  # not run again
    finally:
        srv.stop()
    assert endpoint_processes(home) == []


def test_stop_while_endpoint_starts(tmp_path: Path, payload_archive: Path) -> None:
    """A model that takes 60 s to load: a stop during its setup ends the job within seconds."""
    home = tmp_path / "home"
    srv = InfrecServer(job_env(home))
    try:
        sm = srv.client()
        sm.create_model_package_group(ModelPackageGroupName="slow")
        arn = sm.create_model_package(
            ModelPackageGroupName="slow",
            InferenceSpecification={"Containers": [{"Image": "infrec/synthetic", "Environment": {
                "INFREC_SYNTHETIC_SERVICE_MS": "1", "INFREC_SYNTHETIC_LOAD_S": "60"}}]},
            SamplePayloadUrl=payload_archive.as_uri())["ModelPackageArn"]
        sm.create_inference_recommendations_job(
            JobName="slow-start", JobType="Default", RoleArn=ROLE,
            InputConfig={"ModelPackageVersionArn": arn, "ContainerConfig": {"SupportedInstanceTypes": ["ml.c5.large"]}})
        end = time.monotonic() + 30
        while time.monotonic() < end and not endpoint_processes(home):
            time.sleep(0.2)
        assert endpoint_processes(home), "the endpoint never started"
        sm.stop_inference_recommendations_job(JobName="slow-start")
        # The model takes 60 s to load and the wait allows 30: STOPPED within it means the stop cut
        # the setup short instead of waiting the load out.
        job = _wait(sm, "slow-start", {"STOPPED", "FAILED", "COMPLETED"}, 30)
        assert job["Status"] == "STOPPED"
        steps = sm.list_inference_recommendations_job_steps(JobName="slow-start")["Steps"]
        assert [s["Status"] for s in steps] == ["STOPPED"]
        assert wait_no_endpoints(home) == []
    finally:
        srv.stop()
