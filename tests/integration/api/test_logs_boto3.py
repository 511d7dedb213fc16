"""CloudWatch Logs through boto3's own `logs` client against `infrec serve`: a real job's execution
log (GetLogEvents tokens, time ranges, FilterLogEvents, DescribeLogStreams/Groups), the Logs error
shapes, SigV4 scoped to `logs`; tags on the job's ARN; and DescribeModel's instant recommendations
drawn from that job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from tests.helpers import InfrecServer, poll_until
from tests.integration.jobs.conftest import job_env, make_payload_archive

ROLE = "arn:aws:iam::000000000000:role/infrec"
GROUP = "/aws/sagemaker/InferenceRecommendationsJobs"
JOB = "logged-job"


def _logs(srv: InfrecServer, key: str = "testing", secret: str = "testing", **kw: Any) -> Any:
    return boto3.client("logs", endpoint_url=srv.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **kw))


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InfrecServer, Any]]:
    """A server that has run one short Advanced job (one step) on the synthetic image, to the end."""
    base = tmp_path_factory.mktemp("logs")
    srv = InfrecServer(job_env(base / "home"))
    try:
        sm = srv.client()
        sm.create_model_package_group(ModelPackageGroupName="logged")
        arn = sm.create_model_package(
            ModelPackageGroupName="logged",
            InferenceSpecification={
                "Containers": [{"Image": "infrec/synthetic", "Framework": "XGBOOST",
                                "Environment": {"INFREC_SYNTHETIC_SERVICE_MS": "2"}}],
                "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.c5.large"]},
            SamplePayloadUrl=make_payload_archive(base).as_uri())["ModelPackageArn"]
        sm.create_inference_recommendations_job(
            JobName=JOB, JobType="Advanced", RoleArn=ROLE, Tags=[{"Key": "team", "Value": "ml"}],
            InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": 300,
                         "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                             {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 3}]},
                         "EndpointConfigurations": [{"InstanceType": "ml.c5.large"}]})
        end = time.monotonic() + 120
        while sm.describe_inference_recommendations_job(JobName=JOB)["Status"] not in ("COMPLETED", "FAILED"):
            assert time.monotonic() < end, "job did not end within 120 s"
            time.sleep(0.3)
        # The log holds back its last second (joblog.SETTLE_MS): wait for its closing line to show.
        logs, closing = _logs(srv), f"Job {JOB} COMPLETED with 1 recommendation(s)"
        poll_until(lambda: any(e["message"] == closing for e in logs.get_log_events(
            logGroupName=GROUP, logStreamName=f"{JOB}/execution", startFromHead=True)["events"]),
            15, "the log's closing line shown", every_s=0.2)
        yield srv, sm
    finally:
        srv.stop()


def test_get_log_events_tokens_and_ranges(ran: tuple[InfrecServer, Any]) -> None:
    srv, sm = ran
    logs = _logs(srv)
    job = sm.describe_inference_recommendations_job(JobName=JOB)
    assert job["Status"] == "COMPLETED", job.get("FailureReason")
    everything = logs.get_log_events(logGroupName=GROUP, logStreamName=f"{JOB}/execution", startFromHead=True)
    lines = [e["message"] for e in everything["events"]]
    assert lines[0].startswith(f"Inference recommendations job {JOB} created: Advanced job")
    assert any(line.startswith("Step 1/1 started: ml.c5.large × 1") for line in lines)
    assert any(line.startswith("Step 1/1: traffic pattern ended") for line in lines)
    assert any(line.startswith("Step 1/1 completed: MaxInvocations") for line in lines)
    assert lines[-1] == f"Job {JOB} COMPLETED with 1 recommendation(s)"
    stamps = [e["timestamp"] for e in everything["events"]]
    assert stamps == sorted(stamps)
    assert stamps[0] == pytest.approx(job["CreationTime"].timestamp() * 1000, abs=2)
    assert stamps[-1] == pytest.approx(job["CompletionTime"].timestamp() * 1000, abs=2)

    # Paging forward two at a time reads every line once; at the end the same token comes back.
    seen: list[str] = []
    page = logs.get_log_events(logGroupName=GROUP, logStreamName=f"{JOB}/execution", startFromHead=True, limit=2)
    while page["events"]:
        seen += [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]
        page = logs.get_log_events(logGroupName=GROUP, logStreamName=f"{JOB}/execution", nextToken=token, limit=2)
    assert seen == lines and page["nextForwardToken"] == token
    # Latest first without a token; backwards from there.
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName=f"{JOB}/execution", limit=1)
    assert [e["message"] for e in tail["events"]] == lines[-1:]
    back = logs.get_log_events(logGroupName=GROUP, logStreamName=f"{JOB}/execution", limit=1,
                               nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == lines[-2:-1]
    # A time range: only the creation line is before the first step.
    first = logs.get_log_events(logGroupName=GROUP, logStreamName=f"{JOB}/execution", startFromHead=True,
                                endTime=stamps[0] + 1)
    assert [e["message"] for e in first["events"]] == lines[:1]
    # A group named by ARN.
    by_arn = logs.get_log_events(logGroupIdentifier=f"arn:aws:logs:us-east-1:000000000000:log-group:{GROUP}",
                                 logStreamName=f"{JOB}/execution", startFromHead=True)
    assert [e["message"] for e in by_arn["events"]] == lines


def test_filter_describe_and_errors(ran: tuple[InfrecServer, Any]) -> None:
    srv, _ = ran
    logs = _logs(srv)
    found = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix=JOB, filterPattern='"Step 1/1" completed')
    assert [e["logStreamName"] for e in found["events"]] == [f"{JOB}/execution"]
    assert found["events"][0]["message"].startswith("Step 1/1 completed")
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"{JOB}/execution"]
    assert streams[0]["firstEventTimestamp"] <= streams[0]["lastEventTimestamp"]
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [GROUP]

    def code(call: Any, **kw: Any) -> tuple[str, int]:
        with pytest.raises(ClientError) as exc:
            call(**kw)
        return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]

    assert code(logs.get_log_events, logGroupName=GROUP, logStreamName="nope/execution") == \
        ("ResourceNotFoundException", 400)
    assert code(logs.get_log_events, logGroupName="/aws/nothing", logStreamName=f"{JOB}/execution") == \
        ("ResourceNotFoundException", 400)
    assert code(logs.describe_log_streams, logGroupName="/aws/nothing") == ("ResourceNotFoundException", 400)
    assert code(logs.get_log_events, logGroupName=GROUP, logStreamName=f"{JOB}/execution", nextToken="f/bogus") == \
        ("InvalidParameterException", 400)
    assert code(logs.describe_log_streams, logGroupName=GROUP, logStreamNamePrefix="x", orderBy="LastEventTime") == \
        ("InvalidParameterException", 400)
    assert code(logs.filter_log_events, logGroupName=GROUP, filterPattern='{ $.x = 1 }') == \
        ("InvalidParameterException", 400)
    # What botocore would refuse before sending, sent anyway: the server's own model check.
    raw = _logs(srv, parameter_validation=False)
    assert code(raw.get_log_events, logGroupName=GROUP, logStreamName=f"{JOB}/execution", limit=0) == \
        ("InvalidParameterException", 400)
    with pytest.raises(ParamValidationError):
        logs.get_log_events(logGroupName=GROUP)
    assert code(logs.put_log_events, logGroupName=GROUP, logStreamName="s",
                logEvents=[{"timestamp": 1, "message": "x"}])[0] == "UnknownOperationException"


def test_tags_on_the_job_arn(ran: tuple[InfrecServer, Any]) -> None:
    _, sm = ran
    arn = sm.describe_inference_recommendations_job(JobName=JOB)["JobArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    assert sm.describe_inference_recommendations_job(JobName=JOB)["Status"] == "COMPLETED"
    with pytest.raises(ClientError) as exc:
        sm.list_tags(ResourceArn=arn.replace(JOB, "no-such-job"))
    assert exc.value.response["Error"]["Code"] == "ValidationException"


def test_instant_recommendations_from_the_job(ran: tuple[InfrecServer, Any]) -> None:
    _, sm = ran
    job = sm.describe_inference_recommendations_job(JobName=JOB)
    source = job["InferenceRecommendations"][0]
    package = job["InputConfig"]["ModelPackageVersionArn"]
    # A model of the package the job benchmarked: the job's recommendation, no load test.
    sm.create_model(ModelName="from-package", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"ModelPackageName": package})
    rec = sm.describe_model(ModelName="from-package")["DeploymentRecommendation"]
    assert rec["RecommendationStatus"] == "COMPLETED"
    [only] = rec["RealTimeInferenceRecommendations"]
    assert only["InstanceType"] == source["EndpointConfiguration"]["InstanceType"]
    assert only["RecommendationId"].startswith("from-package/") and len(only["RecommendationId"]) == 21
    assert only["Environment"] == {}
    # Another model on the same image: similar, so the same evidence.
    sm.create_model(ModelName="same-image", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "infrec/synthetic:latest"})
    other = sm.describe_model(ModelName="same-image")["DeploymentRecommendation"]
    assert [r["InstanceType"] for r in other["RealTimeInferenceRecommendations"]] == [only["InstanceType"]]
    # Another serving stack: nothing infrec has run applies.
    sm.create_model(ModelName="other-image", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "infrec/sklearn"})
    assert sm.describe_model(ModelName="other-image")["DeploymentRecommendation"] == {
        "RecommendationStatus": "NOT_APPLICABLE", "RealTimeInferenceRecommendations": []}


def test_logs_requests_are_signed_for_logs(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"AKIDINFREC": "s3cret"}))
    srv = InfrecServer({"INFREC_HOME": str(tmp_path / "home")}, ["--auth", str(keys)])
    try:
        good = _logs(srv, key="AKIDINFREC", secret="s3cret")
        assert [g["logGroupName"] for g in good.describe_log_groups()["logGroups"]] == [GROUP]
        with pytest.raises(ClientError) as exc:
            _logs(srv, key="AKIDINFREC", secret="wrong").describe_log_groups()
        assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"
        # A signature made for SageMaker does not open the Logs API.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        req = AWSRequest(method="POST", url=srv.url + "/", data=b"{}",
                         headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                                  "Content-Type": "application/x-amz-json-1.1"})
        SigV4Auth(Credentials("AKIDINFREC", "s3cret"), "sagemaker", "us-east-1").add_auth(req)
        import urllib.request

        prepared = req.prepare()
        http_req = urllib.request.Request(prepared.url, data=prepared.body, method="POST",
                                          headers=dict(prepared.headers))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(http_req, timeout=10)
        body = json.loads(refused.value.read())
        assert refused.value.code == 403 and body["__type"] == "InvalidSignatureException"
        assert "'logs'" in body["message"]
    finally:
        srv.stop()
