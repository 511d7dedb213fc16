"""Serverless configurations and existing endpoints, end to end through boto3 against a real
`infrec serve`: a serverless Advanced job on a real endpoint process under its memory limit, and a
job that load-tests a model server already running (registered as an external endpoint)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infrec.core import serverless as sl
from tests.helpers import InfrecServer
from tests.integration.jobs.conftest import endpoint_processes, job_env
from tests.integration.jobs.test_jobs_boto3 import ROLE, _register, _wait

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
from server import ModelServer

PATTERN = {"TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 4}]}


def test_serverless_advanced_job(tmp_path: Path, payload_archive: Path) -> None:
    home = tmp_path / "home"
    srv = InfrecServer(job_env(home))
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        loose = srv.client(parameter_validation=False)   # what botocore would stop client-side
        for cfg, field in (({"MemorySizeInMB": 1500, "MaxConcurrency": 2}, "MemorySizeInMB"),
                           ({"MemorySizeInMB": 8192, "MaxConcurrency": 2}, "MemorySizeInMB"),
                           ({"MemorySizeInMB": 1024, "MaxConcurrency": 500}, "MaxConcurrency"),
                           ({"MemorySizeInMB": 1024, "MaxConcurrency": 2, "ProvisionedConcurrency": 1},
                            "ProvisionedConcurrency")):
            with pytest.raises(ClientError) as err:
                loose.create_inference_recommendations_job(
                    JobName="bad-serverless", JobType="Advanced", RoleArn=ROLE,
                    InputConfig={"ModelPackageVersionArn": arn, "EndpointConfigurations": [{"ServerlessConfig": cfg}]})
            assert err.value.response["Error"]["Code"] == "ValidationException"
            assert field in err.value.response["Error"]["Message"]

        sm.create_inference_recommendations_job(
            JobName="serverless-job", JobType="Advanced", RoleArn=ROLE,
            InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": 300, "TrafficPattern": PATTERN,
                         "EndpointConfigurations": [{"ServerlessConfig": {"MemorySizeInMB": 1024,
                                                                          "MaxConcurrency": 2}}]})
        job = _wait(sm, "serverless-job", {"COMPLETED", "FAILED"}, 150)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
        rec = job["InferenceRecommendations"][0]
        ec = rec["EndpointConfiguration"]
        assert ec["ServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 2}
        assert "InstanceType" not in ec and "InitialInstanceCount" not in ec
        m = rec["Metrics"]
        # ModelSetupTime is the cold start's seconds rounded up: a launch, a load and a first answer
        # take more than no time, so it is at least 1 (0 would mean the cold start went unmeasured).
        assert m["MaxInvocations"] > 0 and m["ModelSetupTime"] >= 1, m
        # CostPerInference = 1 GB × billed seconds (whole milliseconds) × $0.00002 per GB-second.
        billed_ms = m["CostPerInference"] / (1.0 * sl.PRICE_PER_GB_SECOND) * 1000.0
        assert billed_ms == pytest.approx(round(billed_ms), abs=1e-6) and 1 <= round(billed_ms) <= 2000
        assert m["CostPerHour"] == pytest.approx(m["CostPerInference"] * m["MaxInvocations"] * 60, rel=0.02)
        with pytest.raises(ClientError, match="serverless"):
            sm.get_scaling_configuration_recommendation(InferenceRecommendationsJobName="serverless-job",
                                                        RecommendationId=rec["RecommendationId"])
    finally:
        srv.stop()
    assert endpoint_processes(home) == []


def test_existing_endpoint_job(tmp_path: Path, payload_archive: Path) -> None:
    home = tmp_path / "home"
    model = ModelServer("infrec/synthetic", None, {"INFREC_SYNTHETIC_SERVICE_MS": "2"})
    registry = tmp_path / "endpoints.json"
    registry.write_text(json.dumps({"already-running": {"Url": f"http://127.0.0.1:{model.port}",
                                                         "Pid": model.proc.pid}}))
    srv = InfrecServer({**job_env(home), "INFREC_EXTERNAL_ENDPOINTS": str(registry)})
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        with pytest.raises(ClientError) as err:
            sm.create_inference_recommendations_job(
                JobName="missing-endpoint", JobType="Advanced", RoleArn=ROLE,
                InputConfig={"ModelPackageVersionArn": arn, "Endpoints": [{"EndpointName": "not-there"}]})
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert "Could not find endpoint" in err.value.response["Error"]["Message"]
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

        sm.create_inference_recommendations_job(
            JobName="existing-job", JobType="Advanced", RoleArn=ROLE,
            InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": 120, "TrafficPattern": PATTERN,
                         "Endpoints": [{"EndpointName": "already-running"}]})
        job: dict[str, Any] = _wait(sm, "existing-job", {"COMPLETED", "FAILED"}, 90)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
        perf = job["EndpointPerformances"]
        assert [p["EndpointInfo"]["EndpointName"] for p in perf] == ["already-running"]
        assert perf[0]["Metrics"]["MaxInvocations"] > 0 and perf[0]["Metrics"]["ModelLatency"] >= 0
        steps = sm.list_inference_recommendations_job_steps(JobName="existing-job")["Steps"]
        bench = steps[0]["InferenceBenchmark"]
        assert bench["EndpointMetrics"] == perf[0]["Metrics"]
        assert "CostPerHour" not in bench["Metrics"]            # no instance type known: no price
        # The pid is known, so its CPU was sampled: busy (it served the load), and at most all of
        # this host's CPUs (a sample's rounding may pass it by a hair).
        cpu = bench["Metrics"]["CpuUtilization"]
        assert 0 < cpu <= 100 * (os.cpu_count() or 1) + 1, bench["Metrics"]
        assert endpoint_processes(home) == []                   # nothing was deployed
        assert model.proc.poll() is None                        # and the endpoint was left running
    finally:
        srv.stop()
        model.stop()
    time.sleep(0)
