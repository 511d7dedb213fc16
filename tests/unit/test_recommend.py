"""SageMaker metrics from measured steps, and the ranking of recommendations."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest

from infrec.core.errors import ValidationError
from infrec.core.ranking import overlap
from infrec.core.recommend import (
    RecommendError,
    StepMetrics,
    cost_per_hour,
    cost_per_inference,
    cost_range,
    environment_parameters,
    extended_metrics,
    latency_objective,
    latency_range,
    rank_steps,
    recommendation_id,
    reported_tied,
    sagemaker_metrics,
    throughput_range,
    ties,
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
    """Every member except infrec's BestFor and TiedWith exists in botocore's InferenceRecommendation shape."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.shape_for("InferenceRecommendation")
    recs = rank_steps("job", [step(1, "ml.c5.large", 0.1, 600, 5, env={"W": "2"})])
    kinds: dict[str, Any] = {"structure": dict, "list": list, "string": str, "integer": int, "float": float,
             "timestamp": (int, float)}

    def check(value: Any, shape: Any, where: str) -> None:
        assert isinstance(value, kinds[shape.type_name]), where
        if shape.type_name == "structure":
            for k, v in value.items():
                if where == "rec" and k in ("BestFor", "TiedWith"):
                    continue
                assert k in shape.members, f"{where}.{k} is not in the model"
                check(v, shape.members[k], f"{where}.{k}")
            for k in shape.required_members:
                assert k in value, f"{where}.{k} is required"
        elif shape.type_name == "list":
            for i, v in enumerate(value):
                check(v, shape.member, f"{where}[{i}]")

    check(recs[0], shape, "rec")


# ------------------------------------------------------------------ uncertainty: ties and significance

def ci(st: dict[str, Any], low: float, high: float, *, failed: float | None = None,
       latency: tuple[float, float] | None = None, converged: bool = True) -> dict[str, Any]:
    """A step as the measurement layer stores it with its 95 % intervals (per minute, ms)."""
    point = st["Metrics"]["MaxInvocations"]
    details: dict[str, Any] = {
        "MaxInvocationsExact": float(point),
        "MaxInvocationsInterval": {"Low": low, "High": high, "ConfidenceLevel": 0.95, "Windows": 12,
                                   "HalfWidthPercent": 100 * (high - low) / (high + low), "Converged": converged},
        "FailedAtInvocations": failed,
    }
    if latency:
        details["ModelLatencyInterval"] = {"Low": latency[0], "High": latency[1], "ConfidenceLevel": 0.95,
                                           "HalfWidthPercent": 100 * (latency[1] - latency[0]) / sum(latency)}
    return {**st, "Details": details}


def by_type(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["EndpointConfiguration"]["InstanceType"]: r for r in recs}


def order(recs: list[dict[str, Any]]) -> list[str]:
    return [r["EndpointConfiguration"]["EndpointName"] for r in recs]


def test_same_hardware_types_are_ties_without_best_marks() -> None:
    """Three 2-vCPU types on one host measure alike within noise; none is 'best'."""
    steps = [
        ci(step(1, "ml.c5.large", 0.085, 26360, 14), 25900, 26800, failed=27000, latency=(13.1, 14.0)),
        ci(step(2, "ml.m5.large", 0.096, 26500, 13), 26000, 26900, failed=27200, latency=(12.8, 13.9)),
        ci(step(3, "ml.c6i.large", 0.085, 26410, 14), 25950, 26850, failed=27100, latency=(13.0, 14.2)),
    ]
    recs = rank_steps("job", steps)
    # c5/c6i: same price, then lower latency (equal), then more throughput; m5 costs more per hour.
    assert order(recs) == ["job-3", "job-1", "job-2"]
    assert all(r["BestFor"] == [] for r in recs)
    ids = [r["RecommendationId"] for r in recs]
    for r in recs:
        assert sorted(r["TiedWith"]) == sorted(i for i in ids if i != r["RecommendationId"])
    assert ties(recs) == [ids]
    assert reported_tied(recs, ["ml.c5.large", "ml.m5.large", "ml.c6i.large"])
    assert not reported_tied(recs, ["ml.c5.large", "ml.c5.xlarge"])   # a type without a recommendation
    # Whatever order the steps come in, the same order and marks.
    for perm in itertools.permutations(steps):
        again = rank_steps("job", list(perm))
        assert [(r["RecommendationId"], r["BestFor"], r["TiedWith"]) for r in again] == \
            [(r["RecommendationId"], r["BestFor"], r["TiedWith"]) for r in recs]


def test_ties_are_ranked_by_price_not_by_noise_in_cost_per_inference() -> None:
    cheap_hour = ci(step(1, "ml.c5.large", 0.100, 1000, 10), 950, 1100)    # 1.667e-6 $/inference
    dear_hour = ci(step(2, "ml.c6i.large", 0.102, 1050, 10), 980, 1100)    # 1.619e-6: lower, but noise
    assert overlap(cost_range(cheap_hour), cost_range(dear_hour))
    recs = rank_steps("job", [dear_hour, cheap_hour])
    assert order(recs) == ["job-1", "job-2"]
    assert [r["BestFor"] for r in recs] == [[], []]         # equal latencies: no mark either
    # Without intervals the same figures are points: the old order, by cost per inference.
    plain = rank_steps("job", [step(2, "ml.c6i.large", 0.102, 1050, 10), step(1, "ml.c5.large", 0.100, 1000, 10)])
    assert order(plain) == ["job-2", "job-1"] and plain[0]["BestFor"] == ["cost", "throughput"]


def test_disjoint_intervals_are_significant_and_get_best_marks() -> None:
    steps = [
        ci(step(1, "ml.c5.large", 0.10, 6000, 20), 5900, 6100, latency=(19.0, 20.5)),
        ci(step(2, "ml.c5.xlarge", 0.20, 15000, 12), 14800, 15200, latency=(11.5, 12.4)),
        ci(step(3, "ml.m5.large", 0.115, 3000, 8), 2950, 3050, latency=(7.6, 8.3)),
        ci(step(4, "ml.c5.2xlarge", 0.40, 24000, 10), 23700, 24300, latency=(9.5, 10.4)),
    ]
    recs = rank_steps("job", steps)
    assert order(recs) == ["job-2", "job-4", "job-1", "job-3"]
    assert {t: r["BestFor"] for t, r in by_type(recs).items()} == {
        "ml.c5.xlarge": ["cost"], "ml.c5.2xlarge": ["throughput"], "ml.c5.large": [], "ml.m5.large": ["latency"]}
    assert all(r["TiedWith"] == [] for r in recs) and ties(recs) == []


def test_marks_need_the_whole_range_beyond_every_other_one() -> None:
    # The busiest by point overlaps the runner-up: no throughput mark. Latencies 8 ms and 9 ms (8.5
    # rounded up) without intervals (± 10 %) overlap too: no latency mark. The cheapest is far ahead.
    steps = [
        ci(step(1, "ml.c5.large", 0.10, 6000, 9), 5800, 6200),
        ci(step(2, "ml.c5.xlarge", 0.30, 6300, 8), 6150, 6400),
        {**step(3, "ml.c6i.large", 0.05, 5000, 8.5)},
    ]
    recs = by_type(rank_steps("job", steps))
    assert recs["ml.c6i.large"]["BestFor"] == ["cost"]
    assert recs["ml.c5.large"]["BestFor"] == [] and recs["ml.c5.xlarge"]["BestFor"] == []
    assert latency_range(steps[2]) == pytest.approx((8.1, 9.9))
    assert latency_range(steps[1]) == pytest.approx((7.2, 8.8))
    assert latency_range(ci(step(4, "ml.c5.large", 0.1, 600, 8), 590, 610, latency=(7.1, 7.9))) == (7.1, 7.9)


def test_failed_rate_widens_the_throughput_range() -> None:
    low = ci(step(1, "ml.c5.large", 0.10, 6000, 10), 5900, 6100)
    high = ci(step(2, "ml.m5.large", 0.10, 6250, 10), 6200, 6300)
    assert throughput_range(low) == (5900, 6100)
    recs = rank_steps("job", [low, high])
    assert by_type(recs)["ml.m5.large"]["BestFor"] == ["cost", "throughput"] and recs[0]["TiedWith"] == []
    # The search saw 6,250/min fail on the first: its capacity lies below 6,250 but may reach it.
    widened = ci(step(1, "ml.c5.large", 0.10, 6000, 10), 5900, 6100, failed=6250)
    assert throughput_range(widened) == (5900, 6250)
    recs = rank_steps("job", [widened, high])
    assert all("throughput" not in r["BestFor"] and "cost" not in r["BestFor"] for r in recs)
    assert [len(r["TiedWith"]) for r in recs] == [1, 1]
    # Without an interval the failing rate still bounds a point from above.
    point = {**step(1, "ml.c5.large", 0.10, 6000, 10), "Details": {"FailedAtInvocations": 6400.0}}
    assert throughput_range(point) == (6000, 6400)
    # A failing rate below the found one (noise) never narrows the range.
    odd = ci(step(1, "ml.c5.large", 0.10, 6000, 10), 5900, 6100, failed=5000)
    assert throughput_range(odd) == (5900, 6100)


def test_steps_without_intervals_are_points() -> None:
    old = step(1, "ml.c5.large", 0.10, 6000, 20)
    assert throughput_range(old) == (6000, 6000)
    assert cost_range(old) == (old["Metrics"]["CostPerInference"], old["Metrics"]["CostPerInference"])
    # Broken or partial intervals are ignored, not trusted.
    # One batch has no spread: its Low = High is no interval (never shown as "CI 6,000–6,000").
    for bad in ({"Low": 7000, "High": 5000}, {"Low": None, "High": 6100}, {"Low": "5900", "High": 6100}, [1, 2],
                {"Low": 6000, "High": 6000, "Batches": 1}):
        assert throughput_range({**old, "Details": {"MaxInvocationsInterval": bad}}) == (6000, 6000)
    from infrec.core.recommend import interval

    assert interval({"MaxInvocationsInterval": {"Low": 6000, "High": 6000, "Batches": 1}}, "MaxInvocationsInterval") is None
    assert interval({"MaxInvocationsInterval": {"Low": 5000, "High": 7000, "Batches": 2}},
                    "MaxInvocationsInterval") == (5000, 7000)
    # The reported figure always lies in its range, even when the hold measured a little lower.
    assert throughput_range(ci(step(1, "ml.c5.large", 0.1, 6000, 20), 5800, 5950)) == (5800, 6000)
    # Points tie only when equal: equal throughput and price are a tie, nobody is best at it.
    a, b = step(1, "ml.c5.large", 0.10, 6000, 12), step(2, "ml.c6i.large", 0.10, 6000, 20)
    recs = rank_steps("job", [b, a])
    assert order(recs) == ["job-1", "job-2"] and [r["BestFor"] for r in recs] == [["latency"], []]
    assert ties(recs) == [[r["RecommendationId"] for r in recs]]
    # An old step next to a new one: the point against the interval.
    new = ci(step(3, "ml.m5.large", 0.10, 6050, 12), 5990, 6110)
    assert by_type(rank_steps("job", [a, new]))["ml.m5.large"]["TiedWith"] != []


def test_ties_are_transitive_in_groups_but_not_in_tied_with() -> None:
    a = ci(step(1, "ml.c5.large", 0.100, 105, 10), 100, 110)
    b = ci(step(2, "ml.m5.large", 0.110, 114, 10), 108, 120)
    c = ci(step(3, "ml.c6i.large", 0.120, 124, 10), 118, 130)
    d = ci(step(4, "ml.c5.4xlarge", 0.800, 900, 10), 880, 920)
    recs = rank_steps("job", [d, c, b, a])
    r = by_type(recs)
    rid = {t: x["RecommendationId"] for t, x in r.items()}
    assert r["ml.c5.large"]["TiedWith"] == [rid["ml.m5.large"]]
    assert r["ml.c6i.large"]["TiedWith"] == [rid["ml.m5.large"]]
    assert sorted(r["ml.m5.large"]["TiedWith"]) == sorted([rid["ml.c5.large"], rid["ml.c6i.large"]])
    assert r["ml.c5.4xlarge"]["TiedWith"] == []
    groups = ties(recs)
    assert len(groups) == 1 and sorted(groups[0]) == sorted(rid[t] for t in ("ml.c5.large", "ml.m5.large",
                                                                             "ml.c6i.large"))
    assert reported_tied(recs, ["ml.c5.large", "ml.m5.large"])
    assert not reported_tied(recs, ["ml.c5.large", "ml.c6i.large"])    # only through m5: not reported
    assert r["ml.c5.4xlarge"]["BestFor"] == ["throughput"]


def test_no_configuration_is_ranked_above_a_significantly_cheaper_one() -> None:
    # X is tied with the leader L on throughput and cheaper per hour, but Z (also tied with L) is
    # significantly cheaper per inference than X: X must not jump ahead of Z.
    lead = ci(step(1, "ml.c5.large", 1.00, 100, 10), 90, 110)
    x = ci(step(2, "ml.m5.large", 0.99, 80, 10), 60, 91)
    z = ci(step(3, "ml.c6i.large", 1.00, 96, 10), 95, 97)
    assert cost_range(z)[1] < cost_range(x)[0]
    assert order(rank_steps("job", [x, z, lead])) == ["job-1", "job-3", "job-2"]


def test_random_ranges_keep_the_invariants() -> None:
    rng = random.Random(9)
    types = ["ml.c5.large", "ml.m5.large", "ml.c6i.large", "ml.c5.xlarge", "ml.m5.xlarge"]
    for trial in range(60):
        steps = []
        for n in range(rng.randint(2, 14)):
            ipm = rng.uniform(500, 2000)
            half = ipm * rng.uniform(0.0, 0.2)
            failed = ipm * rng.uniform(1.0, 1.15) if rng.random() < 0.5 else None
            st = step(n, rng.choice(types), rng.choice([0.085, 0.096, 0.1, 0.17, 0.192]), ipm,
                      rng.uniform(5, 15), env={"W": str(n)})
            steps.append(ci(st, ipm - half, ipm + half, failed=failed) if rng.random() < 0.8 else st)
        by_name = {s["EndpointConfiguration"]["EndpointName"]: s for s in steps}
        recs = rank_steps("job", steps, limit=100)
        ranked = [by_name[n] for n in order(recs)]
        assert len(ranked) == len(steps)
        for i, earlier in enumerate(ranked):
            for later in ranked[i + 1:]:
                assert not cost_range(later)[1] < cost_range(earlier)[0], f"trial {trial}: significance"
        top = rank_steps("job", steps, limit=4)
        assert order(top) == order(recs)[:4]
        assert order(rank_steps("job", list(reversed(steps)), limit=100)) == order(recs), f"trial {trial}: order"
        for r in recs:
            assert r["RecommendationId"] not in r["TiedWith"]
            for other in r["TiedWith"]:
                assert r["RecommendationId"] in next(o for o in recs if o["RecommendationId"] == other)["TiedWith"]
        for mark in ("cost", "latency", "throughput"):
            assert sum(mark in r["BestFor"] for r in recs) <= 1


def test_displays_show_intervals_ties_and_unconverged_holds() -> None:
    from rich.console import Console

    from infrec.cli.results import step_intervals_table, uncertainty_table
    from infrec.report.html import job_report, latency_text, throughput_text

    steps = [
        ci(step(1, "ml.c5.large", 0.085, 26360, 14), 25900, 26800, failed=27000, latency=(13.1, 14.0)),
        ci(step(2, "ml.m5.large", 0.096, 26500, 13), 26000, 26900, latency=(12.8, 13.9), converged=False),
        step(3, "ml.c5.xlarge", 0.17, 60000, 9),
    ]
    docs = [dict(s, StepIndex=i, Status="COMPLETED", EmulationScale=1.0) for i, s in enumerate(steps)]
    recs = rank_steps("job", steps)
    assert throughput_text(steps[0]["Metrics"], steps[0]["Details"]) == "26,360/min (95 % CI 25,900–26,800)"
    assert latency_text(steps[0]["Metrics"], steps[0]["Details"]) == "14 ms (95 % CI 13.1–14.0 ms)"
    assert throughput_text(steps[2]["Metrics"], None) == "60,000/min"
    page = job_report({"Job": {"JobName": "job", "JobType": "Default", "Status": "COMPLETED",
                               "InferenceRecommendations": recs}, "Steps": docs})
    assert "26,360/min (95 % CI 25,900–26,800)" in page and "CI not converged (cap)" in page
    assert "tie: #3" in page and "tie: #2" in page and "search failed at 27,000/min" in page

    console = Console(width=250, record=True)
    console.print(uncertainty_table(recs, docs))
    console.print(step_intervals_table(docs))
    text = console.export_text()
    assert "26,500/min (95 % CI 26,000–26,900)" in text and "CI not converged (cap)" in text
    assert "tie: #2" in text and "tie: #3" in text
    # A job from before intervals: nothing extra to show, and the report still renders.
    old = [step(1, "ml.c5.large", 0.1, 6000, 20), step(2, "ml.c5.xlarge", 0.2, 15000, 12)]
    old_docs = [dict(s, StepIndex=i, Status="COMPLETED") for i, s in enumerate(old)]
    old_recs = [{k: v for k, v in r.items() if k != "TiedWith"} for r in rank_steps("job", old)]
    assert uncertainty_table(old_recs, old_docs) is None and step_intervals_table(old_docs) is None
    old_page = job_report({"Job": {"JobName": "job", "JobType": "Default", "Status": "COMPLETED",
                                   "InferenceRecommendations": old_recs}, "Steps": old_docs})
    assert "6,000/min" in old_page and "95 % CI 5" not in old_page
