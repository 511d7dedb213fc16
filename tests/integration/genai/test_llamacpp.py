"""infrec/llamacpp through boto3 against a real `infrec serve`.

Without the engine, a recommendation job on a GGUF model fails at once with the fix in its reason.
With the engine (`make llamacpp`; it compiles llama-cpp-python, so `make test` does not do it), a
small Llama model built on the spot is hosted as an endpoint, answers InvokeEndpoint (OpenAI
bodies through /invocations) and an AIBenchmarkJob measures it. The whole recommendation path on
this engine, with its figures re-measured, is `make bench-llamacpp`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infrec.serving.llamacpp import default_engine_python, engine_refusal
from tests.helpers import REPO, InfrecServer, wait_status
from tests.integration.jobs.conftest import wait_no_endpoints

ROLE = "arn:aws:iam::000000000000:role/infrec"
SLA_SPEC = {"endpoint_type": "chat", "streaming": True, "synthetic_input_tokens_mean": 8, "output_tokens_mean": 8,
            "benchmark_duration": 2, "warmup_duration": 0.5, "goodput": "time_to_first_token:2000",
            "concurrency": [1]}


def _wait(fn: Any, key: str, timeout: float = 120.0, **kw: str) -> dict[str, Any]:
    return dict(wait_status(fn, key, timeout, **kw))


def test_a_gguf_model_without_the_engine_fails_naming_the_fix(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "m.gguf").write_bytes(b"GGUF")
    home = tmp_path / "home"
    srv = InfrecServer({"INFREC_HOME": str(home), "INFREC_LLAMACPP_PYTHON": str(tmp_path / "no-engine" / "python")})
    try:
        sm = srv.client()
        sm.create_ai_workload_config(AIWorkloadConfigName="wl", AIWorkloadConfigs={"WorkloadSpec": {
            "Inline": json.dumps(SLA_SPEC)}})
        sm.create_ai_recommendation_job(
            AIRecommendationJobName="rec", AIWorkloadConfigIdentifier="wl", RoleArn=ROLE,
            ModelSource={"S3": {"S3Uri": (tmp_path / "model").as_uri()}},
            OutputConfig={"S3OutputLocation": (tmp_path / "out").as_uri()},
            PerformanceTarget={"Constraints": [{"Metric": "cost"}]}, ComputeSpec={"InstanceTypes": ["ml.c5.large"]})
        d = _wait(sm.describe_ai_recommendation_job, "AIRecommendationJobStatus", AIRecommendationJobName="rec")
        assert d["AIRecommendationJobStatus"] == "Failed"
        assert "infrec/llamacpp" in d["FailureReason"] and "make llamacpp" in d["FailureReason"]
    finally:
        srv.stop()
    assert wait_no_endpoints(home) == []


@pytest.fixture(scope="module")
def engine() -> str:
    python = default_engine_python()
    if engine_refusal() is not None:
        pytest.skip(f"the infrec/llamacpp engine is not installed here ({python}): `make llamacpp` builds it")
    return str(python)


def test_hosted_llamacpp_answers_invocations_and_is_benchmarked(engine: str, tmp_path: Path) -> None:
    model = tmp_path / "model" / "tiny.gguf"
    subprocess.run([engine, str(REPO / "src" / "infrec" / "examples" / "gguf_model.py"), str(model),
                    "--embd", "256", "--layers", "2", "--ff", "512", "--heads", "4"], check=True, timeout=120,
                   capture_output=True)
    home = tmp_path / "home"
    srv = InfrecServer({"INFREC_HOME": str(home), "INFREC_LLAMACPP_PYTHON": engine})
    try:
        sm = srv.client()
        sm.create_model(ModelName="llm", ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": "infrec/llamacpp", "ModelDataUrl": model.as_uri(), "Environment": {"LLAMA_N_THREADS": "1"}})
        sm.create_endpoint_config(EndpointConfigName="llm", ProductionVariants=[
            {"VariantName": "v", "ModelName": "llm", "InstanceType": "ml.c5.large", "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="llm", EndpointConfigName="llm")
        d = _wait(sm.describe_endpoint, "EndpointStatus", EndpointName="llm")
        assert d["EndpointStatus"] == "InService", d.get("FailureReason")
        import boto3

        runtime = boto3.client("sagemaker-runtime", endpoint_url=srv.url, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")
        body = json.dumps({"messages": [{"role": "user", "content": "hello"}], "max_tokens": 5})
        answer = json.loads(runtime.invoke_endpoint(EndpointName="llm", Body=body,
                                                    ContentType="application/json")["Body"].read())
        assert answer["object"] == "chat.completion" and answer["usage"]["completion_tokens"] == 5
        assert answer["choices"][0]["message"]["content"].split()[0].startswith("w")   # the model's words

        sm.create_ai_workload_config(AIWorkloadConfigName="wl", AIWorkloadConfigs={"WorkloadSpec": {
            "Inline": json.dumps(SLA_SPEC)}})
        sm.create_ai_benchmark_job(AIBenchmarkJobName="b", AIWorkloadConfigIdentifier="wl", RoleArn=ROLE,
                                   BenchmarkTarget={"Endpoint": {"Identifier": "llm"}},
                                   OutputConfig={"S3OutputLocation": (tmp_path / "out").as_uri()})
        d = _wait(sm.describe_ai_benchmark_job, "AIBenchmarkJobStatus", AIBenchmarkJobName="b")
        assert d["AIBenchmarkJobStatus"] == "Completed", d.get("FailureReason")
        level = json.loads((tmp_path / "out" / "b" / "results.json").read_text())["Levels"][0]
        assert level["Errors"] == 0 and level["Successes"] > 0
        assert level["OutputTokens"] == 8 * level["Successes"]          # answers run to max_tokens
        assert 0 < level["TimeToFirstTokenMs"]["p50"] < level["RequestLatencyMs"]["p50"]
        sm.delete_endpoint(EndpointName="llm")
    finally:
        srv.stop()
    assert wait_no_endpoints(home) == []
