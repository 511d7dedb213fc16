"""Recommendation jobs end to end through boto3 against a real `infrec serve`: real endpoints,
real load, persisted steps; stop; and a SIGKILL of the service mid-job followed by a resume."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import InfrecServer
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
        for r in recs:
            m = r["Metrics"]
            assert m["MaxInvocations"] > 0 and m["ModelLatency"] >= 0
            assert m["CostPerHour"] > 0 and m["CostPerInference"] == pytest.approx(
                m["CostPerHour"] / (m["MaxInvocations"] * 60), rel=1e-3)
        costs = [r["Metrics"]["CostPerInference"] for r in recs]
        assert costs == sorted(costs)
        assert sm.describe_inference_recommendations_job(JobName="DEFAULT-JOB")["JobName"] == "default-job"
        steps = sm.list_inference_recommendations_job_steps(JobName="default-job")["Steps"]
        assert len(steps) == 2 and all(s["Status"] == "COMPLETED" for s in steps)
        assert all(s["InferenceBenchmark"]["Metrics"]["ModelSetupTime"] >= 0 for s in steps)

        advice = sm.get_scaling_configuration_recommendation(
            InferenceRecommendationsJobName="default-job", RecommendationId=recs[0]["RecommendationId"],
            TargetCpuUtilizationPerCore=50,
            ScalingPolicyObjective={"MinInvocationsPerMinute": 100, "MaxInvocationsPerMinute": 100000})
        dyn = advice["DynamicScalingConfiguration"]
        assert dyn["MinCapacity"] >= 1 and dyn["MaxCapacity"] >= dyn["MinCapacity"]
        policy = dyn["ScalingPolicies"][0]["TargetTracking"]
        assert policy["MetricSpecification"]["Predefined"]["PredefinedMetricType"] == \
            "SageMakerVariantInvocationsPerInstance"
        assert 0 < policy["TargetValue"] <= recs[0]["Metrics"]["MaxInvocations"]

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
        end = time.monotonic() + 60
        while time.monotonic() < end:
            steps = sm.list_inference_recommendations_job_steps(JobName="to-stop")["Steps"]
            if steps and steps[0]["Status"] == "IN_PROGRESS" and endpoint_processes(home):
                break
            time.sleep(0.2)
        time.sleep(1.0)
        t0 = time.monotonic()
        sm.stop_inference_recommendations_job(JobName="to-stop")
        job = _wait(sm, "to-stop", {"STOPPED"}, 30)
        assert job["Status"] == "STOPPED"
        assert time.monotonic() - t0 < 30
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
        t0 = time.monotonic()
        sm.stop_inference_recommendations_job(JobName="slow-start")
        job = _wait(sm, "slow-start", {"STOPPED", "FAILED", "COMPLETED"}, 30)
        assert job["Status"] == "STOPPED"
        assert time.monotonic() - t0 < 15
        steps = sm.list_inference_recommendations_job_steps(JobName="slow-start")["Steps"]
        assert [s["Status"] for s in steps] == ["STOPPED"]
        assert wait_no_endpoints(home) == []
    finally:
        srv.stop()
