"""A job with InputConfig.VpcConfig runs the VPC preflight before any endpoint starts: a failing
network ends the job FAILED within seconds naming the check; a passing one lets the job run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import InfrecServer
from tests.integration.jobs.conftest import endpoint_processes, job_env
from tests.integration.vpc.conftest import Net, clients, compliant  # noqa: F401  (fixtures)

ROLE_PATTERN = {"TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 1,
                                                     "DurationInSeconds": 2}]}


def _job(sm: Any, name: str, net: Net, vpc_config: dict[str, Any]) -> None:
    try:
        sm.create_model_package_group(ModelPackageGroupName="vpc-models")
    except sm.exceptions.ConflictException:
        pass
    arn = sm.create_model_package(
        ModelPackageGroupName="vpc-models",
        InferenceSpecification={"Containers": [{"Image": "infrec/synthetic",
                                                "Environment": {"INFREC_SYNTHETIC_SERVICE_MS": "1"}}],
                                "SupportedContentTypes": ["text/csv"]},
        SamplePayloadUrl=net.payload)["ModelPackageArn"]
    sm.create_inference_recommendations_job(
        JobName=name, JobType="Advanced", RoleArn=net.role_arn,
        InputConfig={"ModelPackageVersionArn": arn, "VpcConfig": vpc_config, "TrafficPattern": ROLE_PATTERN,
                     "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]})


def _wait(sm: Any, name: str, timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        d = sm.describe_inference_recommendations_job(JobName=name)
        if d["Status"] in ("COMPLETED", "FAILED", "STOPPED"):
            return dict(d)
        time.sleep(0.2)
    raise AssertionError(f"{name} still {d['Status']}")


def test_failing_vpc_fails_fast_and_passing_vpc_proceeds(tmp_path: Path, compliant: Callable[..., Net]) -> None:  # noqa: F811
    home = tmp_path / "home"
    bad = compliant(endpoint=False)          # private subnets, no NAT, no S3 endpoint
    good = compliant()
    srv = InfrecServer(job_env(home))
    try:
        sm = srv.client()
        _job(sm, "vpc-bad", bad, bad.vpc_config)
        job = _wait(sm, "vpc-bad", 30)
        assert job["Status"] == "FAILED"
        # Fast means before any endpoint: the preflight refused it (asserted on the step below).
        reason = job["FailureReason"]
        assert "VPC-S3" in reason and bad.subnets[0] in reason and len(reason) <= 1024
        steps = sm.list_inference_recommendations_job_steps(JobName="vpc-bad")["Steps"]
        assert all(s["Status"] == "FAILED" for s in steps)
        assert "no endpoint was started" in steps[0]["InferenceBenchmark"]["FailureReason"]

        _job(sm, "vpc-good", good, good.vpc_config)
        job = _wait(sm, "vpc-good", 120)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
    finally:
        srv.stop()
    assert endpoint_processes(home) == []

    # The report is kept with the job, and `infrec jobs describe` shows it.
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "infrec"
    out = subprocess.run([str(exe), "jobs", "describe", "vpc-bad"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "INFREC_HOME": str(home)})
    assert "VPC-S3" in out.stdout and "fix" in out.stdout.lower(), out.stdout + out.stderr
