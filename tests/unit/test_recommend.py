"""SageMaker metrics from measured steps, and the ranking of recommendations."""

from __future__ import annotations

import math
from typing import Any

import pytest

from infrec.core.errors import ValidationError
from infrec.core.recommend import (
    RecommendError,
    StepMetrics,
    cost_per_hour,
    cost_per_inference,
    environment_parameters,
    extended_metrics,
    latency_objective,
    rank_steps,
    recommendation_id,
    sagemaker_metrics,
)


def metrics(**kw: Any) -> StepMetrics:
    base: dict[str, Any] = dict(instance_type="ml.c5.large", instance_count=1, max_invocations=6000.0,
                                model_latency_ms=12.3, price_per_hour=0.102, p50_ms=8.0, p90_ms=11.0,
                                p95_ms=12.3, p99_ms=20.0, cpu_utilization=91.234, memory_utilization=12.5,
                                model_setup_time_s=3.2, error_rate=0.002, environment={"W": "2"},
                                emulation_scale=0.25)
    return StepMetrics(**(base | kw))


def step(n: int, instance: str, price: float, ipm: float, latency: float, count: int = 1,
         env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    m = StepMetrics(instance_type=instance, instance_count=count, max_invocations=ipm, model_latency_ms=latency,
                    price_per_hour=price, environment=env or {})
    return {
        "EndpointConfiguration": {"EndpointName": f"job-{n}", "VariantName": "AllTraffic",
                                  "InstanceType": instance, "InitialInstanceCount": count},
        "ModelConfiguration": {"EnvironmentParameters": environment_parameters(env or {})},
        "Metrics": sagemaker_metrics(m),
        "InvocationStartTime": 1000.0 + n, "InvocationEndTime": 2000.0 + n,
        **extra,
    }


def test_sagemaker_metrics_definitions() -> None:
    out = sagemaker_metrics(metrics(instance_count=3))
    assert out["CostPerHour"] == pytest.approx(0.306)
    assert out["CostPerInference"] == pytest.approx(0.306 / (6000 * 60))
    assert out["MaxInvocations"] == 6000
    assert out["ModelLatency"] == 13          # rounded up: never better than measured
    assert out["CpuUtilization"] == 91.23
    assert out["MemoryUtilization"] == 12.5
    assert out["ModelSetupTime"] == 4
    assert isinstance(out["MaxInvocations"], int) and isinstance(out["ModelLatency"], int)


def test_max_invocations_rounds_down_and_cost_uses_exact_rate() -> None:
    out = sagemaker_metrics(metrics(max_invocations=1234.9, price_per_hour=1.0))
    assert out["MaxInvocations"] == 1234
    assert out["CostPerInference"] == pytest.approx(1.0 / (1234.9 * 60))


def test_unknown_values_are_left_out() -> None:
    out = sagemaker_metrics(metrics(cpu_utilization=math.nan, memory_utilization=math.nan,
                                    model_setup_time_s=math.nan, model_latency_ms=math.nan))
    assert set(out) == {"CostPerHour", "CostPerInference", "MaxInvocations"}


def test_zero_throughput_has_no_cost_per_inference() -> None:
    with pytest.raises(RecommendError, match="positive MaxInvocations"):
        sagemaker_metrics(metrics(max_invocations=0.0))
    with pytest.raises(ValueError, match="price"):
        cost_per_hour(-1.0, 1)
    with pytest.raises(ValueError, match="instance count"):
        cost_per_hour(1.0, 0)
    assert cost_per_inference(3.6, 1.0) == pytest.approx(0.06)


def test_extended_metrics_keep_what_sagemaker_cannot() -> None:
    ext = extended_metrics(metrics())
    assert ext["ModelLatencyPercentilesMs"] == {"P50": 8.0, "P90": 11.0, "P95": 12.3, "P99": 20.0}
    assert ext["ErrorRate"] == 0.002 and ext["EmulationScale"] == 0.25 and ext["MaxInvocationsExact"] == 6000.0


def test_latency_objective() -> None:
    assert latency_objective(None) == ("P95", None)
    assert latency_objective({}) == ("P95", None)
    assert latency_objective({"ModelLatencyThresholds": [{"Percentile": "P99", "ValueInMilliseconds": 50}]}) == \
        ("P99", 50.0)
    assert latency_objective({"ModelLatencyThresholds": [{"Percentile": "p90", "ValueInMilliseconds": 5}]}) == \
        ("P90", 5.0)
    assert latency_objective({"ModelLatencyThresholds": [{"Percentile": "50"}]}) == ("P50", None)
    with pytest.raises(RecommendError, match="Percentile"):
        latency_objective({"ModelLatencyThresholds": [{"Percentile": "P42", "ValueInMilliseconds": 5}]})
    with pytest.raises(ValidationError, match="ValueInMilliseconds"):
        latency_objective({"ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 0}]})


def test_ranked_by_cost_per_inference_with_best_marks() -> None:
    steps = [
        step(1, "ml.c5.large", 0.10, 6000, 20),     # 0.10 / 360k  = 2.78e-7
        step(2, "ml.c5.xlarge", 0.20, 15000, 12),   # 0.20 / 900k  = 2.22e-7  cheapest
        step(3, "ml.m5.large", 0.115, 3000, 8),     # 0.115 / 180k = 6.39e-7  fastest
        step(4, "ml.c5.2xlarge", 0.40, 24000, 10),  # 0.40 / 1.44M = 2.78e-7  busiest
    ]
    recs = rank_steps("job", steps)
    assert [r["EndpointConfiguration"]["InstanceType"] for r in recs] == \
        ["ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5.large", "ml.m5.large"]   # tie broken by lower latency
    best = {r["EndpointConfiguration"]["InstanceType"]: r["BestFor"] for r in recs}
    assert best == {"ml.c5.xlarge": ["cost"], "ml.c5.2xlarge": ["throughput"], "ml.c5.large": [],
                    "ml.m5.large": ["latency"]}
    first = recs[0]
    assert first["InvocationStartTime"] == 1002.0 and first["InvocationEndTime"] == 2002.0
    assert first["Metrics"]["CostPerHour"] == 0.2
    assert "EnvironmentParameters" not in first["ModelConfiguration"]   # SageMaker's list has min 1


def test_one_recommendation_is_best_for_everything() -> None:
    recs = rank_steps("job", [step(1, "ml.c5.large", 0.1, 600, 5, env={"W": "2", "A": "x"})])
    assert recs[0]["BestFor"] == ["cost", "latency", "throughput"]
    assert recs[0]["ModelConfiguration"]["EnvironmentParameters"] == [
        {"Key": "A", "ValueType": "String", "Value": "x"}, {"Key": "W", "ValueType": "String", "Value": "2"}]


def test_constraints_filter_steps() -> None:
    steps = [
        step(1, "ml.c5.large", 0.10, 6000, 51),                            # over the threshold
        step(2, "ml.c5.xlarge", 0.20, 15000, 50),                          # exactly at it: in
        step(3, "ml.m5.large", 0.115, 3000, 8, Details={"ErrorRate": 0.01}),  # too many errors
        step(4, "ml.m5.xlarge", 0.23, 3000, 8, ErrorRate=0.02),            # too many errors
        {"EndpointConfiguration": {"EndpointName": "job-5", "InstanceType": "ml.c5.large"},
         "ModelConfiguration": {}, "FailureReason": "crashed"},            # failed step, no metrics
    ]
    recs = rank_steps("job", steps, {"ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 50}]})
    assert [r["EndpointConfiguration"]["EndpointName"] for r in recs] == ["job-2"]
    assert rank_steps("job", []) == []


def test_at_most_ten_and_ids_are_stable_and_unique() -> None:
    steps = [step(n, "ml.c5.large", 0.1, 1000 + n, 10, env={"W": str(n)}) for n in range(14)]
    recs = rank_steps("job", steps)
    assert len(recs) == 10
    assert recs[0]["EndpointConfiguration"]["EndpointName"] == "job-13"       # most throughput = cheapest
    ids = [r["RecommendationId"] for r in recs]
    assert len(set(ids)) == 10 and all(i.startswith("job/") for i in ids)
    assert ids == [r["RecommendationId"] for r in rank_steps("job", list(reversed(steps)))]
    assert recommendation_id("job", {"EndpointName": "a"}, {}) != recommendation_id("job2", {"EndpointName": "a"}, {})
    assert len(rank_steps("job", steps, limit=3)) == 3


def test_recommendations_match_the_service_model() -> None:
    """Every member except infrec's BestFor exists in botocore's InferenceRecommendation shape."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.shape_for("InferenceRecommendation")
    recs = rank_steps("job", [step(1, "ml.c5.large", 0.1, 600, 5, env={"W": "2"})])
    kinds = {"structure": dict, "list": list, "string": str, "integer": int, "float": float,
             "timestamp": (int, float)}

    def check(value: Any, shape: Any, where: str) -> None:
        assert isinstance(value, kinds[shape.type_name]), where
        if shape.type_name == "structure":
            for k, v in value.items():
                if where == "rec" and k == "BestFor":
                    continue
                assert k in shape.members, f"{where}.{k} is not in the model"
                check(v, shape.members[k], f"{where}.{k}")
            for k in shape.required_members:
                assert k in value, f"{where}.{k} is required"
        elif shape.type_name == "list":
            for i, v in enumerate(value):
                check(v, shape.member, f"{where}[{i}]")

    check(recs[0], shape, "rec")
