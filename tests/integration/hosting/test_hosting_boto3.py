"""Local hosting end to end through boto3 against a real `infrec serve`: endpoint configs and
endpoints with SageMaker's lifecycle, InvokeEndpoint (plain and streamed) on real model-server
processes, SageMaker's errors for bad input, and endpoints that survive a restart and a crash."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infrec.core.catalog import Catalog
from tests.helpers import InfrecServer
from tests.integration.jobs.conftest import endpoint_processes, wait_no_endpoints


def _runtime(srv: InfrecServer) -> Any:
    return boto3.client("sagemaker-runtime", endpoint_url=srv.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}))


def _wait(sm: Any, name: str, statuses: set[str], timeout: float = 60.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    d: dict[str, Any] = {}
    while time.monotonic() < end:
        d = sm.describe_endpoint(EndpointName=name)
        if d["EndpointStatus"] in statuses:
            return d
        time.sleep(0.2)
    raise AssertionError(f"endpoint {name} not in {statuses} within {timeout}s: {d.get('EndpointStatus')}")


def _model(sm: Any, name: str, service_ms: str = "1", load_s: str = "0") -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::000000000000:role/infrec",
                    PrimaryContainer={"Image": "infrec/synthetic",
                                      "Environment": {"INFREC_SYNTHETIC_SERVICE_MS": service_ms,
                                                      "INFREC_SYNTHETIC_LOAD_S": load_s}})


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def server(tmp_path: Path) -> Any:
    home = tmp_path / "home"
    srv = InfrecServer({"INFREC_HOME": str(home)})
    srv.home = home  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        srv.stop()
        assert wait_no_endpoints(home) == []


def test_endpoint_lifecycle_invoke_update_and_errors(server: InfrecServer) -> None:
    sm, rt = server.client(), _runtime(server)
    _model(sm, "m1")
    arn = sm.create_endpoint_config(EndpointConfigName="cfg1", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m1", "InstanceType": "ml.c5.large",
         "InitialInstanceCount": 1}])["EndpointConfigArn"]
    assert arn.endswith(":endpoint-config/cfg1")
    assert sm.describe_endpoint_config(EndpointConfigName="cfg1")["ProductionVariants"][0]["ModelName"] == "m1"

    ep_arn = sm.create_endpoint(EndpointName="ep1", EndpointConfigName="cfg1",
                                Tags=[{"Key": "team", "Value": "ml"}])["EndpointArn"]
    assert sm.list_tags(ResourceArn=ep_arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "prod"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "prod"}]
    assert sm.describe_endpoint(EndpointName="ep1")["EndpointStatus"] in ("Creating", "InService")
    d = _wait(sm, "ep1", {"InService", "Failed"})
    assert d["EndpointStatus"] == "InService", d.get("FailureReason")
    pv = d["ProductionVariants"][0]
    assert pv["VariantName"] == "AllTraffic" and pv["CurrentInstanceCount"] == 1
    assert pv["DeployedImages"][0]["SpecifiedImage"] == "infrec/synthetic"
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["ep1"]
    assert [e["EndpointName"] for e in sm.list_endpoints(CreationTimeAfter=datetime(2000, 1, 1))["Endpoints"]] == ["ep1"]
    assert sm.list_endpoint_configs(CreationTimeBefore=datetime(2000, 1, 1))["EndpointConfigs"] == []
    assert sm.list_endpoints(StatusEquals="Failed")["Endpoints"] == []

    out = rt.invoke_endpoint(EndpointName="ep1", ContentType="application/json", Body=b'{"instances": [[1, 2]]}')
    assert out["InvokedProductionVariant"] == "AllTraffic"
    assert out["Body"].read() == b'{"instances": [[1, 2]]}'  # infrec/synthetic echoes the body
    streamed = rt.invoke_endpoint_with_response_stream(EndpointName="ep1", ContentType="application/json",
                                                       Body=b'{"instances": [[1, 2]]}')
    parts = [e["PayloadPart"]["Bytes"] for e in streamed["Body"] if "PayloadPart" in e]
    assert b"".join(parts) == b'{"instances": [[1, 2]]}'

    # SageMaker's errors: names in use, missing resources, a busy endpoint, a missing endpoint at runtime.
    with pytest.raises(ClientError) as exc:
        sm.create_endpoint(EndpointName="ep1", EndpointConfigName="cfg1")
    assert _code(exc) == "ValidationException" and "already existing endpoint" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        sm.create_endpoint_config(EndpointConfigName="cfg1", ProductionVariants=[
            {"VariantName": "v", "ModelName": "m1", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    assert "already existing endpoint configuration" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        sm.create_endpoint_config(EndpointConfigName="cfg-x", ProductionVariants=[
            {"VariantName": "v", "ModelName": "no-such-model", "InstanceType": "ml.c5.large",
             "InitialInstanceCount": 1}])
    assert "Could not find model" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        sm.create_endpoint(EndpointName="ep2", EndpointConfigName="no-such-config")
    assert "Could not find endpoint configuration" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        sm.describe_endpoint(EndpointName="no-such-endpoint")
    assert _code(exc) == "ValidationException" and "Could not find endpoint" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        rt.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"{}", ContentType="application/json")
    assert _code(exc) == "ValidationError" and "not found" in str(exc.value)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # Update to a config with two instances: the old processes are replaced, requests keep working.
    # The new model takes 3 s to load, so the endpoint is still Updating when the second update
    # comes, whatever the host's speed: the refusal is always exercised.
    _model(sm, "m2", service_ms="2", load_s="3")
    sm.create_endpoint_config(EndpointConfigName="cfg2", ProductionVariants=[
        {"VariantName": "Blue", "ModelName": "m2", "InstanceType": "ml.t2.medium", "InitialInstanceCount": 2}])
    before = {p.pid for p in endpoint_processes(server.home)}  # type: ignore[attr-defined]
    sm.update_endpoint(EndpointName="ep1", EndpointConfigName="cfg2")
    assert sm.describe_endpoint(EndpointName="ep1")["EndpointStatus"] == "Updating"
    with pytest.raises(ClientError) as exc:
        sm.update_endpoint(EndpointName="ep1", EndpointConfigName="cfg2")
    assert "Cannot update in-progress endpoint" in str(exc.value)
    d = _wait(sm, "ep1", {"InService", "Failed"})
    assert d["EndpointStatus"] == "InService" and d["EndpointConfigName"] == "cfg2", d.get("FailureReason")
    assert d["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    out = rt.invoke_endpoint(EndpointName="ep1", Body=b'{"new": 2}', ContentType="application/json")
    assert out["InvokedProductionVariant"] == "Blue" and out["Body"].read() == b'{"new": 2}'
    after = {p.pid for p in endpoint_processes(server.home)}  # type: ignore[attr-defined]
    assert after and not (after & before)

    # Deleting a config leaves the endpoint running (it holds its own copy), as in SageMaker.
    sm.delete_endpoint_config(EndpointConfigName="cfg2")
    assert sm.describe_endpoint(EndpointName="ep1")["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName="ep1")
    end = time.monotonic() + 30
    while sm.list_endpoints()["Endpoints"] and time.monotonic() < end:
        time.sleep(0.2)
    assert sm.list_endpoints()["Endpoints"] == []
    assert wait_no_endpoints(server.home) == []  # type: ignore[attr-defined]


def test_a_model_that_cannot_start_fails_the_endpoint_with_its_reason(server: InfrecServer, tmp_path: Path) -> None:
    sm = server.client()
    junk = tmp_path / "model"
    junk.mkdir()
    (junk / "model.joblib").write_bytes(b"not a model at all")
    sm.create_model(ModelName="broken", ExecutionRoleArn="arn:aws:iam::000000000000:role/infrec",
                    PrimaryContainer={"Image": "infrec/sklearn", "ModelDataUrl": junk.as_uri()})
    sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[
        {"VariantName": "v", "ModelName": "broken", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    d = _wait(sm, "ep", {"InService", "Failed"})
    reason = d.get("FailureReason", "")
    assert d["EndpointStatus"] == "Failed" and "exited with code" in reason and len(reason) <= 1024, reason
    assert "Error" in reason[-300:], reason  # the model server's last words, where the error is
    with pytest.raises(ClientError) as exc:
        _runtime(server).invoke_endpoint(EndpointName="ep", Body=b"{}", ContentType="application/json")
    assert "is Failed" in str(exc.value)


def test_endpoints_survive_a_restart_and_a_crash_of_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    srv = InfrecServer({"INFREC_HOME": str(home)})
    try:
        sm = srv.client()
        _model(sm, "m")
        sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[
            {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
        assert _wait(sm, "ep", {"InService", "Failed"})["EndpointStatus"] == "InService"
        first = {p.pid for p in endpoint_processes(home)}
        assert len(first) >= 1

        srv.stop()  # a clean stop ends the processes; the endpoint is kept
        assert wait_no_endpoints(home) == []
        srv = InfrecServer({"INFREC_HOME": str(home)}, port=srv.port)
        sm = srv.client()
        assert _wait(sm, "ep", {"InService", "Failed"})["EndpointStatus"] == "InService"
        assert _runtime(srv).invoke_endpoint(EndpointName="ep", Body=b'{"n": 1}', ContentType="application/json")[
            "Body"].read() == b'{"n": 1}'

        srv.kill()  # a crash leaves the model server behind; the next server reaps it and starts anew
        left = {p.pid for p in endpoint_processes(home)}
        srv = InfrecServer({"INFREC_HOME": str(home)}, port=srv.port)
        sm = srv.client()
        assert _wait(sm, "ep", {"InService", "Failed"})["EndpointStatus"] == "InService"
        now = {p.pid for p in endpoint_processes(home)}
        assert now and not (now & left)
        assert _runtime(srv).invoke_endpoint(EndpointName="ep", Body=b'{"n": 1}', ContentType="application/json")[
            "Body"].read() == b'{"n": 1}'
    finally:
        srv.stop()
        assert wait_no_endpoints(home) == []


def test_a_job_load_tests_a_hosted_endpoint_without_deploying_anything(tmp_path: Path,
                                                                        payload_archive: Path) -> None:
    """InputConfig.Endpoints naming an infrec endpoint: EndpointPerformances from the running
    processes, priced by the endpoint's instance type; the endpoint keeps running, untouched."""
    from tests.integration.jobs.conftest import job_env
    from tests.integration.jobs.test_jobs_boto3 import ROLE, _register
    from tests.integration.jobs.test_jobs_boto3 import _wait as wait_job

    home = tmp_path / "home"
    srv = InfrecServer(job_env(home))
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        sm.create_model(ModelName="from-package", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arn}])
        sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[
            {"VariantName": "v", "ModelName": "from-package", "InstanceType": "ml.c5.large",
             "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="hosted", EndpointConfigName="cfg")
        assert _wait(sm, "hosted", {"InService", "Failed"})["EndpointStatus"] == "InService"
        pids = {p.pid for p in endpoint_processes(home)}
        sm.create_inference_recommendations_job(
            JobName="existing", JobType="Advanced", RoleArn=ROLE,
            InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": 120,
                         "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                             {"InitialNumberOfUsers": 2, "SpawnRate": 1, "DurationInSeconds": 6}]},
                         "Endpoints": [{"EndpointName": "hosted"}]})
        job = wait_job(sm, "existing", {"COMPLETED", "FAILED"}, 90)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
        perf = job["EndpointPerformances"]
        assert [p["EndpointInfo"]["EndpointName"] for p in perf] == ["hosted"]
        # Two closed-loop users on a 2 ms model: each sends at most one request per 2 ms of CPU,
        # 2 × 30,000/min on a host with the CPUs to spare — never more, and some got through.
        assert 0 < perf[0]["Metrics"]["MaxInvocations"] <= 2 * 30_000, perf
        bench = sm.list_inference_recommendations_job_steps(JobName="existing")["Steps"][0]["InferenceBenchmark"]
        price = Catalog.default().get("ml.c5.large").price_per_hour          # one instance, catalog price
        assert bench["Metrics"]["CostPerHour"] == pytest.approx(round(price, 6)), bench["Metrics"]
        # The endpoint's pid is known, so its CPU was sampled: busy (it served requests) and at most
        # its vCPUs' 100 % (a sample's rounding may pass it by a hair).
        assert 0 < bench["Metrics"]["CpuUtilization"] <= 101, bench["Metrics"]
        assert sm.describe_endpoint(EndpointName="hosted")["EndpointStatus"] == "InService"
        assert {p.pid for p in endpoint_processes(home)} == pids
    finally:
        srv.stop()
        assert wait_no_endpoints(home) == []


def test_an_instance_whose_process_dies_is_replaced(server: InfrecServer) -> None:
    """The watch thread finds a model server that died (SIGKILL here) and starts a new one; the
    endpoint stays InService and answers again."""
    import os
    import signal

    sm, rt = server.client(), _runtime(server)
    _model(sm, "m")
    sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[
        {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    assert _wait(sm, "ep", {"InService", "Failed"})["EndpointStatus"] == "InService"
    home = server.home  # type: ignore[attr-defined]
    first = {p.pid for p in endpoint_processes(home)}
    os.killpg(os.getpgid(min(first)), signal.SIGKILL)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        now = {p.pid for p in endpoint_processes(home)}
        if now and not (now & first):
            break
        time.sleep(0.2)
    assert now and not (now & first), "no new model server after the old one was killed"
    assert _wait(sm, "ep", {"InService", "Failed"})["EndpointStatus"] == "InService"
    end = time.monotonic() + 15
    while True:  # the new instance may still be starting its workers
        try:
            assert rt.invoke_endpoint(EndpointName="ep", Body=b'{"n": 1}', ContentType="application/json")[
                "Body"].read() == b'{"n": 1}'
            break
        except ClientError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)
