"""The three AI resources end to end through boto3 against a real `infrec serve`: an AIBenchmarkJob on
an infrec endpoint running infrec/llmsim (known TTFT/ITL), results in Describe and as files in S3
(moto's server on loopback); an AIRecommendationJob searching concurrency per engine setting; and
ValidationExceptions that name the field."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers import InfrecServer, wait_status
from tests.integration.jobs.conftest import wait_no_endpoints

ROLE = "arn:aws:iam::000000000000:role/infrec"
SPEC_YAML = """
endpoint_type: chat
streaming: true
synthetic_input_tokens_mean: 20
output_tokens_mean: 12
concurrency: [1, 2]
benchmark_duration: 2
warmup_duration: 0.5
goodput: "time_to_first_token:60"
max_concurrency: 2
confirmation_duration: 2
engine_settings:
  INFREC_LLMSIM_MAX_CONCURRENCY: [1]
copies_per_instance: [1, 2]
"""


@pytest.fixture
def server(tmp_path: Path, aws_env: str) -> Any:
    home = tmp_path / "home"
    srv = InfrecServer({"INFREC_HOME": str(home)})
    try:
        yield srv
    finally:
        srv.stop()
        assert wait_no_endpoints(home) == []


def _wait(fn: Any, key: str, timeout: float = 60.0, **kw: str) -> dict[str, Any]:
    return dict(wait_status(fn, key, timeout, **kw))


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_benchmark_and_recommendation_jobs(server: InfrecServer, aws_env: str) -> None:
    sm = server.client()
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="genai")
    sm.create_ai_workload_config(AIWorkloadConfigName="wl", AIWorkloadConfigs={"WorkloadSpec": {"Inline": SPEC_YAML}})
    assert sm.list_ai_workload_configs()["AIWorkloadConfigs"][0]["AIWorkloadConfigName"] == "wl"
    # The target: an infrec endpoint serving infrec/llmsim with TTFT 30 ms, ITL 5 ms.
    sm.create_model(ModelName="sim", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "infrec/llmsim", "Environment": {"INFREC_LLMSIM_TTFT_MS": "30", "INFREC_LLMSIM_ITL_MS": "5"}})
    sm.create_endpoint_config(EndpointConfigName="sim", ProductionVariants=[
        {"VariantName": "v", "ModelName": "sim", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="sim", EndpointConfigName="sim")
    assert _wait(sm.describe_endpoint, "EndpointStatus", EndpointName="sim")["EndpointStatus"] == "InService"
    sm.create_ai_benchmark_job(AIBenchmarkJobName="bench", AIWorkloadConfigIdentifier="wl", RoleArn=ROLE,
                               BenchmarkTarget={"Endpoint": {"Identifier": "sim"}},
                               OutputConfig={"S3OutputLocation": "s3://genai/out"})
    d = _wait(sm.describe_ai_benchmark_job, "AIBenchmarkJobStatus", AIBenchmarkJobName="bench")
    assert d["AIBenchmarkJobStatus"] == "Completed", d.get("FailureReason")
    files = {o["Key"] for o in s3.list_objects_v2(Bucket="genai", Prefix="out/bench/")["Contents"]}
    assert files == {"out/bench/results.json", "out/bench/results.csv"}
    levels = json.loads(s3.get_object(Bucket="genai", Key="out/bench/results.json")["Body"].read())["Levels"]
    assert [lv["Level"] for lv in levels] == [1, 2]
    assert levels[0]["TimeToFirstTokenMs"]["mean"] == pytest.approx(30, rel=0.2)
    assert levels[0]["InterTokenLatencyMs"]["mean"] == pytest.approx(5, rel=0.1)
    assert sm.list_ai_benchmark_jobs(StatusEquals="Completed")["AIBenchmarkJobs"][0]["AIBenchmarkJobName"] == "bench"

    # The same endpoint with prompts from a dataset (AIPerf single_turn JSONL in S3): their lengths, not
    # synthetic ones, are what the server sees (llmsim counts words in and honours max_tokens out).
    s3.put_object(Bucket="genai", Key="data/prompts.jsonl", Body=(
        b'{"text": "one two three four", "output_length": 3}\n{"text": "five six", "output_length": 5}\n'))
    sm.create_ai_workload_config(
        AIWorkloadConfigName="wl-data",
        DatasetConfig={"InputDataConfig": [{"ChannelName": "prompts", "DataSource": {
            "S3DataSource": {"S3Uri": "s3://genai/data/prompts.jsonl"}}}]},
        AIWorkloadConfigs={"WorkloadSpec": {"Inline": "{concurrency: 1, request_count: 6, streaming: true}"}})
    sm.create_ai_benchmark_job(AIBenchmarkJobName="bench-data", AIWorkloadConfigIdentifier="wl-data", RoleArn=ROLE,
                               BenchmarkTarget={"Endpoint": {"Identifier": "sim"}},
                               OutputConfig={"S3OutputLocation": "s3://genai/out"})
    d = _wait(sm.describe_ai_benchmark_job, "AIBenchmarkJobStatus", AIBenchmarkJobName="bench-data")
    assert d["AIBenchmarkJobStatus"] == "Completed", d.get("FailureReason")
    doc = json.loads(s3.get_object(Bucket="genai", Key="out/bench-data/results.json")["Body"].read())
    (level,) = doc["Levels"]
    assert level["Successes"] == 6 and level["InputTokens"] == 3 * 4 + 3 * 2 and level["OutputTokens"] == 3 * 3 + 3 * 5
    assert doc["Workload"]["custom_dataset_type"] == "single_turn" and doc["Workload"]["dataset_prompts"] == 2
    sm.delete_endpoint(EndpointName="sim")

    # Recommendation: the same simulator as the model, one slot per copy, one or two copies on the
    # instance; TTFT ≤ 60 ms at P90.
    s3.put_object(Bucket="genai", Key="model/llmsim.json", Body=json.dumps(
        {"INFREC_LLMSIM_TTFT_MS": 30, "INFREC_LLMSIM_ITL_MS": 5}).encode())
    sm.create_ai_recommendation_job(
        AIRecommendationJobName="rec", AIWorkloadConfigIdentifier="wl", RoleArn=ROLE,
        ModelSource={"S3": {"S3Uri": "s3://genai/model/"}}, OutputConfig={"S3OutputLocation": "s3://genai/rec"},
        PerformanceTarget={"Constraints": [{"Metric": "cost"}]}, ComputeSpec={"InstanceTypes": ["ml.c5.large"]})
    d = _wait(sm.describe_ai_recommendation_job, "AIRecommendationJobStatus", timeout=120,
              AIRecommendationJobName="rec")
    assert d["AIRecommendationJobStatus"] == "Completed", d.get("FailureReason")
    recs = d["Recommendations"]
    by_copies = {r["DeploymentConfiguration"]["CopyCountPerInstance"]:
                 {p["Metric"]: p["Value"] for p in r["ExpectedPerformance"]} for r in recs}
    # One copy with one slot: a second user waits a whole answer (85 ms) for its first token; two
    # copies on the instance, requests to the one with fewer outstanding, hold two.
    assert by_copies[1]["max-concurrency"] == "1" and by_copies[2]["max-concurrency"] == "2"
    assert float(by_copies[2]["cost"]) < float(by_copies[1]["cost"])       # twice the tokens/s, one instance's price
    assert recs[0]["DeploymentConfiguration"]["ImageUri"] == "infrec/llmsim"
    two = next(r for r in recs if r["DeploymentConfiguration"]["CopyCountPerInstance"] == 2)
    assert two["ModelDetails"]["InstanceDetails"] == [{"InstanceType": "ml.c5.large", "InstanceCount": 1,
                                                       "CopyCountPerInstance": 2}]
    assert "2 copies of the model" in two["RecommendationDescription"]
    assert {o["Key"] for o in s3.list_objects_v2(Bucket="genai", Prefix="rec/")["Contents"]} == {
        "rec/rec/recommendations.json"}
    # What a recommendation reports is its level's confirmation hold pooled with the search's runs.
    configs = json.loads(s3.get_object(Bucket="genai", Key="rec/rec/recommendations.json")["Body"].read())[
        "Configurations"]
    for c in configs:
        held = [lv for lv in c["Levels"] if lv.get("Confirmation")]
        assert len(held) == 1 and held[0]["Level"] == c["MaxConcurrency"] and held[0]["Verdict"] == "pass"
        assert held[0]["OutputTokensPerSecond"] == pytest.approx(c["TokensPerSecond"], rel=1e-3)
        searched = [lv["DurationSeconds"] for lv in c["Levels"]
                    if lv["Level"] == c["MaxConcurrency"] and not lv.get("Confirmation")]
        assert held[0]["DurationSeconds"] > max(searched) + 1.0   # the search's runs + the hold


def test_bad_requests_are_validation_exceptions_naming_the_field(server: InfrecServer, aws_env: str) -> None:
    sm = server.client()
    with pytest.raises(ClientError) as err:
        sm.create_ai_workload_config(AIWorkloadConfigName="bad",
                                     AIWorkloadConfigs={"WorkloadSpec": {"Inline": "concurrency: [0]"}})
    assert _code(err) == "ValidationException" and "concurrency[0]" in str(err.value)
    with pytest.raises(ClientError) as err:
        sm.create_ai_workload_config(AIWorkloadConfigName="bad",
                                     AIWorkloadConfigs={"WorkloadSpec": {"Inline": "goodput: 'speed:3'"}})
    assert "goodput" in str(err.value)
    sm.create_ai_workload_config(AIWorkloadConfigName="ok", AIWorkloadConfigs={"WorkloadSpec": {"Inline": "{}"}})
    with pytest.raises(ClientError) as err:
        sm.create_ai_workload_config(AIWorkloadConfigName="ok", AIWorkloadConfigs={"WorkloadSpec": {"Inline": "{}"}})
    assert _code(err) == "ResourceInUse"
    with pytest.raises(ClientError) as err:
        sm.create_ai_benchmark_job(AIBenchmarkJobName="b", AIWorkloadConfigIdentifier="missing", RoleArn=ROLE,
                                   BenchmarkTarget={"Endpoint": {"Identifier": "sim"}},
                                   OutputConfig={"S3OutputLocation": "s3://genai/out"})
    assert _code(err) == "ValidationException" and "AIWorkloadConfigIdentifier" in str(err.value)
    with pytest.raises(ClientError) as err:
        sm.create_ai_benchmark_job(AIBenchmarkJobName="b", AIWorkloadConfigIdentifier="ok", RoleArn=ROLE,
                                   BenchmarkTarget={"Endpoint": {"Identifier": "nowhere"}},
                                   OutputConfig={"S3OutputLocation": "s3://genai/out"})
    assert "BenchmarkTarget.Endpoint.Identifier" in str(err.value)
    with pytest.raises(ClientError) as err:   # no SLA in the spec: nothing to recommend against
        sm.create_ai_recommendation_job(
            AIRecommendationJobName="r", AIWorkloadConfigIdentifier="ok", RoleArn=ROLE,
            ModelSource={"S3": {"S3Uri": "s3://genai/model/"}}, OutputConfig={"S3OutputLocation": "s3://genai/r"},
            PerformanceTarget={"Constraints": [{"Metric": "cost"}]}, ComputeSpec={"InstanceTypes": ["ml.c5.large"]})
    assert _code(err) == "ValidationException" and "goodput" in str(err.value)
    # Accelerated instance types are never measured on a CPU host: the job fails saying why.
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="gpu")
    s3.put_object(Bucket="gpu", Key="model/llmsim.json", Body=b"{}")
    sm.create_ai_workload_config(AIWorkloadConfigName="sla", AIWorkloadConfigs={"WorkloadSpec": {
        "Inline": '{"goodput": "time_to_first_token:100"}'}})
    sm.create_ai_recommendation_job(
        AIRecommendationJobName="gpu", AIWorkloadConfigIdentifier="sla", RoleArn=ROLE,
        ModelSource={"S3": {"S3Uri": "s3://gpu/model/"}}, OutputConfig={"S3OutputLocation": "s3://gpu/out"},
        PerformanceTarget={"Constraints": [{"Metric": "cost"}]}, ComputeSpec={"InstanceTypes": ["ml.g5.xlarge"]})
    d = _wait(sm.describe_ai_recommendation_job, "AIRecommendationJobStatus", AIRecommendationJobName="gpu")
    assert d["AIRecommendationJobStatus"] == "Failed" and "ml.g5.xlarge" in d["FailureReason"]
    assert "Recommendations" not in d
    # vLLM serves on NVIDIA GPUs only: on a host without one (or without vLLM) the job says which.
    sm.create_ai_recommendation_job(
        AIRecommendationJobName="vllm", AIWorkloadConfigIdentifier="sla", RoleArn=ROLE,
        ModelSource={"S3": {"S3Uri": "s3://gpu/model/"}}, OutputConfig={"S3OutputLocation": "s3://gpu/out"},
        InferenceSpecification={"Framework": "VLLM"},
        PerformanceTarget={"Constraints": [{"Metric": "cost"}]}, ComputeSpec={"InstanceTypes": ["ml.g5.xlarge"]})
    d = _wait(sm.describe_ai_recommendation_job, "AIRecommendationJobStatus", AIRecommendationJobName="vllm")
    assert d["AIRecommendationJobStatus"] == "Failed"
    assert "Framework VLLM runs on infrec/vllm, but" in d["FailureReason"], d["FailureReason"]
    # Datasets: read at creation, refused by channel and line.
    s3.put_object(Bucket="gpu", Key="data/bad.jsonl", Body=b'{"text": "fine"}\n{"text": 3}\n')
    channel = {"ChannelName": "p", "DataSource": {"S3DataSource": {"S3Uri": "s3://gpu/data/bad.jsonl"}}}
    with pytest.raises(ClientError) as err:
        sm.create_ai_workload_config(AIWorkloadConfigName="data", DatasetConfig={"InputDataConfig": [channel]})
    assert _code(err) == "ValidationException"
    assert "DatasetConfig.InputDataConfig[0].DataSource.S3DataSource.S3Uri" in str(err.value)
    assert "line 2" in str(err.value)
    channel["DataSource"]["S3DataSource"]["S3Uri"] = "s3://gpu/data/missing.jsonl"
    with pytest.raises(ClientError) as err:
        sm.create_ai_workload_config(AIWorkloadConfigName="data", DatasetConfig={"InputDataConfig": [channel]})
    assert _code(err) == "ValidationException" and "missing.jsonl" in str(err.value)
    with pytest.raises(ClientError) as err:
        sm.create_ai_workload_config(AIWorkloadConfigName="data", AIWorkloadConfigs={"WorkloadSpec": {
            "Inline": "custom_dataset_type: single_turn"}})
    assert _code(err) == "ValidationException" and "DatasetConfig" in str(err.value)
    with pytest.raises(ClientError) as err:
        sm.describe_ai_benchmark_job(AIBenchmarkJobName="nope")
    assert _code(err) == "ResourceNotFound"
    assert sm.delete_ai_workload_config(AIWorkloadConfigName="ok")["AIWorkloadConfigArn"].endswith(
        ":ai-workload-config/ok")


def test_an_ai_job_waits_for_a_benchmark_of_another_process(tmp_path: Path, aws_env: str) -> None:
    """One benchmark at a time per host: an AIBenchmarkJob waits while another infrec process holds
    the host, says whom for in Describe (HostLock, an infrec extension), and runs once it is free."""
    from tests.helpers import LockHolder

    lock = tmp_path / "host.lock"
    holder = LockHolder(lock, "other-job")
    home = tmp_path / "home"
    srv = InfrecServer({"INFREC_HOME": str(home), "INFREC_HOST_LOCK": str(lock)})
    try:
        sm = srv.client()
        sm.create_model(ModelName="sim", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "infrec/llmsim"})
        sm.create_endpoint_config(EndpointConfigName="sim", ProductionVariants=[
            {"VariantName": "v", "ModelName": "sim", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="sim", EndpointConfigName="sim")
        assert _wait(sm.describe_endpoint, "EndpointStatus", EndpointName="sim")["EndpointStatus"] == "InService"
        sm.create_ai_workload_config(AIWorkloadConfigName="wl", AIWorkloadConfigs={"WorkloadSpec": {
            "Inline": '{"concurrency": 1, "benchmark_duration": 1, "warmup_duration": 0, "output_tokens_mean": 4}'}})
        sm.create_ai_benchmark_job(AIBenchmarkJobName="b", AIWorkloadConfigIdentifier="wl", RoleArn=ROLE,
                                   BenchmarkTarget={"Endpoint": {"Identifier": "sim"}},
                                   OutputConfig={"S3OutputLocation": (tmp_path / "out").as_uri()})
        # boto3 keeps only the fields of botocore's shape: read the extension from the raw answer.
        raw: list[dict[str, Any]] = []
        sm.meta.events.register("after-call.sagemaker.DescribeAIBenchmarkJob",
                                lambda http_response, **_: raw.append(json.loads(http_response.content)))
        end = time.monotonic() + 30
        while time.monotonic() < end and "Waiting" not in ((raw[-1].get("HostLock") or {}) if raw else {}):
            sm.describe_ai_benchmark_job(AIBenchmarkJobName="b")
            time.sleep(0.2)
        waiting = raw[-1]["HostLock"]["Waiting"]
        assert f"pid {holder.pid}" in waiting and "other-job" in waiting, waiting
        assert raw[-1]["AIBenchmarkJobStatus"] == "InProgress" and "BenchmarkResults" not in raw[-1]
        holder.release()
        d = _wait(sm.describe_ai_benchmark_job, "AIBenchmarkJobStatus", AIBenchmarkJobName="b")
        assert d["AIBenchmarkJobStatus"] == "Completed", d.get("FailureReason")
        assert raw[-1]["HostLock"]["WaitedSeconds"] > 0
        sm.delete_endpoint(EndpointName="sim")
    finally:
        holder.kill()
        srv.stop()
    assert wait_no_endpoints(home) == []
