"""AI jobs share the real-time jobs' lifecycle, through boto3 against real `infrec serve` processes:
a server SIGKILLed while an AIRecommendationJob runs is restarted on the same state folder and the
job resumes after its completed configuration, which keeps its figures (never measured again); a
Stop of a job whose server died ends it Stopped; Stop and Delete of running AI jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers import InfrecServer, wait_status
from tests.integration.jobs.conftest import wait_no_endpoints

ROLE = "arn:aws:iam::000000000000:role/infrec"
# Two configurations (one and two copies of a one-slot llmsim on ml.c5.large), each a short search.
SPEC_YAML = """
endpoint_type: chat
streaming: true
synthetic_input_tokens_mean: 20
output_tokens_mean: 12
benchmark_duration: 2
warmup_duration: 0.5
goodput: "time_to_first_token:60"
max_concurrency: 2
confirmation_duration: 2
engine_settings:
  INFREC_LLMSIM_MAX_CONCURRENCY: [1]
copies_per_instance: [1, 2]
"""


def _env(home: Path) -> dict[str, str]:
    # A lock of its own, so a benchmark someone runs on this host meanwhile does not queue the test.
    return {"INFREC_HOME": str(home), "INFREC_HOST_LOCK": str(home / "host.lock")}


def _raw(sm: Any, operation: str) -> list[dict[str, Any]]:
    """The raw answers of `operation`: boto3 keeps only its shape's fields, and the results
    (RecommendationResults, BenchmarkResults, StartTime) are infrec extensions."""
    answers: list[dict[str, Any]] = []
    sm.meta.events.register(f"after-call.sagemaker.{operation}",
                            lambda http_response, **_: answers.append(json.loads(http_response.content)))
    return answers


def _poll(describe: Callable[[], Any], answers: list[dict[str, Any]], done: Callable[[dict[str, Any]], bool],
          timeout: float, what: str) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        describe()
        if done(answers[-1]):
            return answers[-1]
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f} s; last answer: {answers[-1] if answers else None}")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _recommendation_job(sm: Any, name: str, workload: str = "wl") -> None:
    sm.create_ai_recommendation_job(
        AIRecommendationJobName=name, AIWorkloadConfigIdentifier=workload, RoleArn=ROLE,
        ModelSource={"S3": {"S3Uri": "s3://lifecycle/model/"}},
        OutputConfig={"S3OutputLocation": "s3://lifecycle/rec"},
        PerformanceTarget={"Constraints": [{"Metric": "cost"}]}, ComputeSpec={"InstanceTypes": ["ml.c5.large"]})


def test_sigkill_resumes_an_ai_recommendation_job(tmp_path: Path, aws_env: str) -> None:
    from infrec.config import Settings
    from infrec.services import Services

    home = tmp_path / "home"
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="lifecycle")
    s3.put_object(Bucket="lifecycle", Key="model/llmsim.json", Body=json.dumps(
        {"INFREC_LLMSIM_TTFT_MS": 30, "INFREC_LLMSIM_ITL_MS": 5}).encode())
    srv = InfrecServer(_env(home))
    try:
        sm = srv.client()
        sm.create_ai_workload_config(AIWorkloadConfigName="wl",
                                     AIWorkloadConfigs={"WorkloadSpec": {"Inline": SPEC_YAML}})
        _recommendation_job(sm, "rec")
        _recommendation_job(sm, "queued")       # behind "rec": owned by this server, not started
        answers = _raw(sm, "DescribeAIRecommendationJob")
        before = _poll(lambda: sm.describe_ai_recommendation_job(AIRecommendationJobName="rec"), answers,
                       lambda d: d["AIRecommendationJobStatus"] != "InProgress" or bool(
                           (d.get("RecommendationResults") or {}).get("Configurations")),
                       90, "no configuration completed")
        assert before["AIRecommendationJobStatus"] == "InProgress", before.get("FailureReason")
    finally:
        srv.kill()
    (first,) = before["RecommendationResults"]["Configurations"]
    assert first["CopyCountPerInstance"] == 1 and first["Levels"]

    # Its server is dead: a Stop ends the queued job Stopped at once (nothing else would run it).
    services = Services(Settings.from_env({**__import__("os").environ, **_env(home)}))
    try:
        services.genai.stop_ai_recommendation_job({"AIRecommendationJobName": "queued"})
        assert services.genai.get("AIRecommendationJob", "queued")["AIRecommendationJobStatus"] == "Stopped"
    finally:
        services.close()

    srv = InfrecServer(_env(home))
    try:
        sm = srv.client()
        answers = _raw(sm, "DescribeAIRecommendationJob")
        after = _poll(lambda: sm.describe_ai_recommendation_job(AIRecommendationJobName="rec"), answers,
                      lambda d: d["AIRecommendationJobStatus"] != "InProgress", 90, "the resumed job did not end")
        assert after["AIRecommendationJobStatus"] == "Completed", after.get("FailureReason")
        configs = after["RecommendationResults"]["Configurations"]
        assert [c["CopyCountPerInstance"] for c in configs] == [1, 2]
        assert configs[0] == first                  # kept as measured before the kill, not measured again
        assert after["StartTime"] == before["StartTime"]
        recs = sm.describe_ai_recommendation_job(AIRecommendationJobName="rec")["Recommendations"]
        assert sorted(r["DeploymentConfiguration"]["CopyCountPerInstance"] for r in recs) == [1, 2]
        saved = json.loads(s3.get_object(Bucket="lifecycle", Key="rec/rec/recommendations.json")["Body"].read())
        assert len(saved["Recommendations"]) == 2 and saved["Configurations"][0]["Levels"] == first["Levels"]
        assert sm.describe_ai_recommendation_job(AIRecommendationJobName="queued")[
            "AIRecommendationJobStatus"] == "Stopped"
    finally:
        srv.stop()
    assert wait_no_endpoints(home) == []


def test_stop_and_delete_running_ai_jobs(tmp_path: Path, aws_env: str) -> None:
    home = tmp_path / "home"
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="lifecycle")
    s3.put_object(Bucket="lifecycle", Key="model/llmsim.json", Body=b"{}")
    srv = InfrecServer(_env(home))
    try:
        sm = srv.client()
        sm.create_model(ModelName="sim", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "infrec/llmsim"})
        sm.create_endpoint_config(EndpointConfigName="sim", ProductionVariants=[
            {"VariantName": "v", "ModelName": "sim", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="sim", EndpointConfigName="sim")
        assert wait_status(sm.describe_endpoint, "EndpointStatus", 60, EndpointName="sim")[
            "EndpointStatus"] == "InService"
        # Levels long enough that each job is still running when it is stopped.
        sm.create_ai_workload_config(AIWorkloadConfigName="long", AIWorkloadConfigs={"WorkloadSpec": {"Inline": (
            '{"concurrency": 1, "benchmark_duration": 120, "warmup_duration": 0, "output_tokens_mean": 4, '
            '"goodput": "time_to_first_token:1000"}')}})
        sm.create_ai_benchmark_job(AIBenchmarkJobName="bench", AIWorkloadConfigIdentifier="long", RoleArn=ROLE,
                                   BenchmarkTarget={"Endpoint": {"Identifier": "sim"}},
                                   OutputConfig={"S3OutputLocation": "s3://lifecycle/out"})
        _recommendation_job(sm, "rec", "long")
        for kind, name in (("benchmark", "bench"), ("recommendation", "rec")):
            describe = getattr(sm, f"describe_ai_{kind}_job")
            key = "AIBenchmarkJob" if kind == "benchmark" else "AIRecommendationJob"
            answers = _raw(sm, f"Describe{key}")
            _poll(lambda describe=describe, key=key, name=name: describe(**{f"{key}Name": name}), answers,
                  lambda d: "StartTime" in d, 60, f"{name} never started")
            with pytest.raises(ClientError) as err:
                getattr(sm, f"delete_ai_{kind}_job")(**{f"{key}Name": name})
            assert _code(err) == "ResourceInUse"
            t0 = time.monotonic()
            getattr(sm, f"stop_ai_{kind}_job")(**{f"{key}Name": name})
            d = wait_status(describe, f"{key}Status", 30, **{f"{key}Name": name})
            assert d[f"{key}Status"] == "Stopped", d.get("FailureReason")
            assert time.monotonic() - t0 < 15
            with pytest.raises(ClientError) as err:
                getattr(sm, f"stop_ai_{kind}_job")(**{f"{key}Name": name})
            assert _code(err) == "ValidationException" and "Stopped" in str(err.value)
            getattr(sm, f"delete_ai_{kind}_job")(**{f"{key}Name": name})
            with pytest.raises(ClientError) as err:
                describe(**{f"{key}Name": name})
            assert _code(err) == "ResourceNotFound"
        sm.delete_endpoint(EndpointName="sim")
    finally:
        srv.stop()
    assert wait_no_endpoints(home) == []


def test_a_resumed_benchmark_keeps_its_completed_levels(tmp_path: Path, llmsim: Callable[..., Any]) -> None:
    """A benchmark job a dead server left after its first level goes on at the second: the first
    level's figures stay as they were recorded (in Describe and in results.csv), never measured again."""
    from infrec.artifacts.uri import FileAccess
    from infrec.core.arn import ArnBuilder
    from infrec.core.catalog import Catalog
    from infrec.executors.local import LocalExecutor
    from infrec.genai.ai_resources import BENCHMARK, GenAIService
    from infrec.genai.ai_runner import AIJobRunner
    from infrec.jobs.endpoints import FileEndpoints
    from infrec.jobs.lifecycle import RunStop
    from infrec.store import Store

    sim = llmsim(ttft_ms=20.0, itl_ms=5.0)
    (tmp_path / "endpoints.json").write_text(json.dumps({"sim": {"Url": sim.url}}))
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        genai = GenAIService(store, ArnBuilder("us-east-1", "000000000000"), FileEndpoints(tmp_path / "endpoints.json"),
                             submit=lambda name, kind: True, owner=lambda: "elsewhere:1:0.000",
                                 files=FileAccess(None))
        genai.create_ai_workload_config({"AIWorkloadConfigName": "wl", "AIWorkloadConfigs": {"WorkloadSpec": {
            "Inline": '{"concurrency": [1, 2], "benchmark_duration": 1, "warmup_duration": 0, "output_tokens_mean": 4}'}}})
        out = tmp_path / "out"
        genai.create_ai_benchmark_job({"AIBenchmarkJobName": "b", "AIWorkloadConfigIdentifier": "wl", "RoleArn": ROLE,
                                       "BenchmarkTarget": {"Endpoint": {"Identifier": "sim"}},
                                       "OutputConfig": {"S3OutputLocation": out.as_uri()}})
        # What the dead server had recorded: its start and its first level (figures no run gives).
        pct = {"p50": 1.5, "p90": 2.5, "p99": 3.5}
        first = {"Level": 1.0, "Mode": "concurrency", "Requests": 7, "Errors": 0, "RequestThroughput": 1.2345,
                 "OutputTokensPerSecond": 9.876, "Goodput": 1.0, "TimeToFirstTokenMs": pct,
                 "InterTokenLatencyMs": pct, "RequestLatencyMs": pct}
        genai.update(BENCHMARK, "b", StartTime=1000.0, BenchmarkResults={"Levels": [first]})
        runner = AIJobRunner(genai, genai.repos[BENCHMARK], Catalog.default(),
                             LocalExecutor(tmp_path / "run"), tmp_path)
        runner.run("b", RunStop())
        d = genai.describe_ai_benchmark_job({"AIBenchmarkJobName": "b"})
        assert d["AIBenchmarkJobStatus"] == "Completed", d.get("FailureReason")
        assert d["StartTime"] == 1000.0 and d["EndTime"] > 1000.0
        levels = d["BenchmarkResults"]["Levels"]
        assert levels[0] == first and levels[1]["Level"] == 2 and levels[1]["Successes"] > 0
        rows = (out / "b" / "results.csv").read_text().splitlines()
        assert len(rows) == 3 and rows[1].startswith("1.0,concurrency,7,0,1.2345,9.876,1.0,1.5,2.5,3.5")
    finally:
        store.close()
