"""core.recommend to the exact figure: SageMaker's metrics at their floors and roundings, the
refusals' words, which steps are eligible, the cost range's fallbacks, and the stable order of steps
that measured exactly alike."""

from __future__ import annotations

import math
from typing import Any

import pytest

from infrec.core.recommend import (
    RecommendError,
    StepMetrics,
    cost_per_hour,
    cost_per_inference,
    cost_range,
    environment_parameters,
    extended_metrics,
    interval,
    latency_objective,
    rank_steps,
    recommendation_id,
    reported_tied,
    sagemaker_metrics,
    throughput_range,
)


def metrics(**kw: Any) -> StepMetrics:
    base: dict[str, Any] = dict(instance_type="ml.c5.large", instance_count=1, max_invocations=6000.0,
                                model_latency_ms=12.3, price_per_hour=0.102)
    return StepMetrics(**(base | kw))


def test_metrics_at_their_floors_and_roundings() -> None:
    out = sagemaker_metrics(metrics(price_per_hour=0.1234567, model_latency_ms=0.0, cpu_utilization=0.5,
                                    memory_utilization=12.3456, model_setup_time_s=0.0))
    assert out["CostPerHour"] == 0.123457
    assert (out["ModelLatency"], out["CpuUtilization"], out["MemoryUtilization"], out["ModelSetupTime"]) == (
        0, 0.5, 12.35, 0)
    assert sagemaker_metrics(metrics(model_latency_ms=-1.0, cpu_utilization=-2.0, memory_utilization=-3.0,
                                     model_setup_time_s=-4.0)) | {} == sagemaker_metrics(
        metrics(model_latency_ms=0.0, cpu_utilization=0.0, memory_utilization=0.0, model_setup_time_s=0.0))
    assert sagemaker_metrics(metrics(memory_utilization=0.5))["MemoryUtilization"] == 0.5
    assert extended_metrics(metrics(p50_ms=1.23456))["ModelLatencyPercentilesMs"] == {"P50": 1.235}


def test_a_free_instance_costs_nothing_and_bad_prices_are_refused_by_name() -> None:
    assert cost_per_hour(0.0, 2) == 0.0
    with pytest.raises(RecommendError, match=r"^cost per inference needs a positive MaxInvocations, not 0$"):
        cost_per_inference(1.0, 0)


def test_latency_objective_refusals_and_bounds() -> None:
    with pytest.raises(RecommendError) as bad:
        latency_objective({"ModelLatencyThresholds": [{"Percentile": "p42"}]})
    assert str(bad.value) == "ModelLatencyThresholds.Percentile must be one of P50, P90, P95, P99, not 'p42'"
    assert latency_objective({"ModelLatencyThresholds": [{"Percentile": "P90", "ValueInMilliseconds": 0.5}]}) == (
        "P90", 0.5)
    for value in ("10", True, 0, -1):
        with pytest.raises(RecommendError, match="ValueInMilliseconds must be a positive number"):
            latency_objective({"ModelLatencyThresholds": [{"ValueInMilliseconds": value}]})


def test_recommendation_ids_are_short_stable_and_see_the_model_configuration() -> None:
    ec = {"InstanceType": "ml.c5.large", "InitialInstanceCount": 1}
    one = recommendation_id("job", ec, {"EnvironmentParameters": environment_parameters({"A": "1"})})
    assert one == "job/0d9937b7"
    assert one != recommendation_id("job", ec, {"EnvironmentParameters": environment_parameters({"A": "2"})})


def step(instance: str = "ml.c5.large", price: float = 0.1, ipm: float = 600.0, latency: float = 10.0,
         count: int = 1, env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    m = StepMetrics(instance_type=instance, instance_count=count, max_invocations=ipm, model_latency_ms=latency,
                    price_per_hour=price)
    return {"EndpointConfiguration": {"InstanceType": instance, "InitialInstanceCount": count},
            "ModelConfiguration": {"EnvironmentParameters": environment_parameters(env or {})},
            "Metrics": sagemaker_metrics(m), **extra}


def types(recs: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["EndpointConfiguration"]["InstanceType"], r["EndpointConfiguration"]["InitialInstanceCount"])
            for r in recs]


def envs(recs: list[dict[str, Any]]) -> list[str]:
    return [" ".join(f"{p['Key']}={p['Value']}" for p in r["ModelConfiguration"].get("EnvironmentParameters", []))
            for r in recs]


def test_ineligible_steps_are_skipped_not_the_rest() -> None:
    no_invocations = step() | {"Metrics": {**step()["Metrics"], "MaxInvocations": 0}}
    no_latency = step("ml.m5.large")
    del no_latency["Metrics"]["ModelLatency"]
    erring = step("ml.r5.large", ErrorRate=0.5)
    ok = step("ml.c6i.large")
    slas = {"ModelLatencyThresholds": [{"ValueInMilliseconds": 50}]}
    assert types(rank_steps("job", [no_invocations, no_latency, erring, ok], slas)) == [("ml.c6i.large", 1)]
    assert types(rank_steps("job", [no_latency, ok])) == [("ml.c6i.large", 1), ("ml.m5.large", 1)]


def test_a_step_without_a_model_configuration_is_recommended_without_one() -> None:
    bare = step()
    del bare["ModelConfiguration"]
    (rec,) = rank_steps("job", [bare])
    assert rec["ModelConfiguration"] == {} and rec["BestFor"] == ["cost", "latency", "throughput"]


def test_alike_steps_rank_by_throughput_then_type_count_and_environment() -> None:
    # Same cost per inference and latency: the higher throughput first.
    slower = step("ml.a.large", price=0.1, ipm=600.0)
    faster = step("ml.b.large", price=0.2, ipm=1200.0)
    assert types(rank_steps("job", [slower, faster])) == [("ml.b.large", 1), ("ml.a.large", 1)]
    # Exactly alike: by type name, then instance count as a number, then environment; the job names are
    # ones whose ids would order these the other way.
    assert types(rank_steps("job", [step("ml.m.large"), step("ml.c.large")])) == [("ml.c.large", 1), ("ml.m.large", 1)]
    two, ten = step("ml.c.large", price=0.5, count=2), step("ml.c.large", price=0.1, count=10)
    assert types(rank_steps("job", [ten, two])) == [("ml.c.large", 2), ("ml.c.large", 10)]
    assert envs(rank_steps("j0", [step(env={"A": "2"}), step(env={"A": "1"})])) == ["A=1", "A=2"]
    assert envs(rank_steps("j0", [step(env={"B": "1"}), step(env={"A": "9"})])) == ["A=9", "B=1"]


def test_cost_range_without_a_cost_per_hour_or_a_throughput() -> None:
    # CostPerHour missing: CostPerInference × invocations per hour (0.001 × 100 × 60 = 6 $/h), over
    # the throughput interval 80–125 per minute.
    s = {"Metrics": {"CostPerInference": 0.001, "MaxInvocations": 100},
         "Details": {"MaxInvocationsInterval": {"Low": 80.0, "High": 125.0, "Batches": 5}}}
    cheap, dear = cost_range(s)
    assert cheap == pytest.approx(6.0 / (125 * 60.0)) and dear == pytest.approx(6.0 / (80 * 60.0))
    assert cost_range({"Metrics": {"CostPerInference": 0.5, "CostPerHour": 3.0}}) == (0.0, math.inf)
    assert cost_range({"Metrics": {"CostPerInference": 0.5, "CostPerHour": 3.0, "MaxInvocations": 0.1}}) == (
        0.5, 0.5)
    # A stored CostPerHour is the hour's cost, even where CostPerInference was rounded apart from it.
    assert cost_range({"Metrics": {"CostPerInference": 0.5, "CostPerHour": 6.0, "MaxInvocations": 0.1}}) == (
        0.5, 1.0)


def test_a_usable_interval_has_both_bounds_in_order() -> None:
    assert interval({"X": {"Low": 1.0}}, "X") is None
    assert interval({"X": {"Low": 2.0, "High": 1.0}}, "X") is None
    assert interval({"X": {"Low": 2.0, "High": 2.0, "Batches": 3}}, "X") == (2.0, 2.0)


def test_a_tie_reported_by_one_side_is_a_tie() -> None:
    recs = [{"RecommendationId": "a", "EndpointConfiguration": {"InstanceType": "ml.a"}, "TiedWith": ["b"]},
            {"RecommendationId": "b", "EndpointConfiguration": {"InstanceType": "ml.b"}, "TiedWith": []}]
    assert reported_tied(recs, ["ml.a", "ml.b"]) and reported_tied(recs, ["ml.b", "ml.a"])


def test_equal_costs_rank_by_latency() -> None:
    slow_a, fast_b = step("ml.a", latency=10.0), step("ml.b", latency=5.0)
    assert types(rank_steps("job", [slow_a, fast_b])) == [("ml.b", 1), ("ml.a", 1)]


def test_the_exact_invocations_are_the_point_when_stored() -> None:
    s = {"Metrics": {"MaxInvocations": 101}, "Details": {"MaxInvocationsExact": 101.5}}
    assert throughput_range(s) == (101.5, 101.5)
    assert throughput_range({"Metrics": {"MaxInvocations": 101}, "Details": {"MaxInvocationsExact": True}}) == (
        101.0, 101.0)
    assert throughput_range({"Metrics": {}}) == (0.0, 0.0)
    assert throughput_range({}) == (0.0, 0.0)


def test_a_missing_type_or_count_orders_as_empty_and_one() -> None:
    typeless = step("A.x")
    del typeless["EndpointConfiguration"]["InstanceType"]
    assert [r["EndpointConfiguration"].get("InstanceType") for r in rank_steps("job", [step("A.x"), typeless])] == [
        None, "A.x"]
    countless = step("ml.c.large")
    del countless["EndpointConfiguration"]["InitialInstanceCount"]
    two = step("ml.c.large", price=0.05, count=2)
    for job in ("job", "j0"):                     # ids that would order these either way
        assert [r["EndpointConfiguration"].get("InitialInstanceCount")
                for r in rank_steps(job, [two, countless])] == [None, 2]
