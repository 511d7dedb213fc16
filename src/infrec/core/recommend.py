"""Measured steps → SageMaker's metrics → ranked recommendations.

Definitions (SageMaker's, with its units):

* ``MaxInvocations``: the highest invocations **per minute** the endpoint (all its instances)
  sustained with < 1 % errors and, when a ModelLatencyThreshold is given, within it. Reported as an
  integer, rounded down (we never claim more than was measured).
* ``ModelLatency``: milliseconds at that load, at the job's percentile (P95 when none is given),
  rounded *up* to an integer so that "≤ threshold" on the reported number means the same as on the
  measurement.
* ``CpuUtilization`` / ``MemoryUtilization``: percent of the instance's capacity at that load.
* ``ModelSetupTime``: seconds from starting the endpoint until it answered ``/ping``, rounded up.
* ``CostPerHour`` = catalog price per hour × instance count.
* ``CostPerInference`` = CostPerHour / (MaxInvocations × 60), from the unrounded throughput.

Ranking: among steps that have metrics, meet the latency threshold and stayed under the error
budget, the cheapest per inference first (ties: lower latency, then higher throughput), at most
10. Each recommendation carries ``BestFor``: a list naming what it is best at among the ranked
ones — ``"cost"`` (lowest CostPerInference), ``"latency"`` (lowest ModelLatency), ``"throughput"``
(highest MaxInvocations). ``BestFor`` is infrec's addition; SDK parsers ignore unknown members, so
SageMaker clients are unaffected.

Emulated steps: the caller puts values for the *full* instance in StepMetrics (throughput already
scaled back up by 1/scale); ``emulation_scale`` is kept so reports can say "approximate".
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infrec.core.errors import ValidationError

MAX_RECOMMENDATIONS = 10
DEFAULT_PERCENTILE = "P95"
PERCENTILES = ("P50", "P90", "P95", "P99")


class RecommendError(ValidationError, ValueError):
    """Unusable metrics or constraints: a ValueError, and a ValidationError (HTTP 400) for the API."""



@dataclass(frozen=True)
class StepMetrics:
    """What one benchmark measured at its maximum sustained load (full-instance values)."""

    instance_type: str
    instance_count: int
    max_invocations: float          # per minute, whole endpoint
    model_latency_ms: float         # at the job's percentile
    price_per_hour: float           # one instance, from the catalog
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan
    cpu_utilization: float = math.nan     # percent of the instance's capacity
    memory_utilization: float = math.nan  # percent of the instance's memory
    model_setup_time_s: float = math.nan
    error_rate: float = 0.0               # 0..1
    environment: dict[str, str] = field(default_factory=dict)
    emulation_scale: float = 1.0


def cost_per_hour(price_per_hour: float, instance_count: int) -> float:
    """CostPerHour: the catalog price of one instance × the number of instances."""
    if not (price_per_hour >= 0) or math.isinf(price_per_hour):
        raise RecommendError(f"price per hour must be a non-negative number, not {price_per_hour!r}")
    if instance_count < 1:
        raise RecommendError(f"instance count must be at least 1, not {instance_count!r}")
    return price_per_hour * instance_count


def cost_per_inference(cost_hour: float, max_invocations_per_minute: float) -> float:
    """CostPerInference = CostPerHour / (MaxInvocations × 60)."""
    if not (max_invocations_per_minute > 0) or math.isinf(max_invocations_per_minute):
        raise RecommendError("cost per inference needs a positive MaxInvocations, not "
                         f"{max_invocations_per_minute!r}")
    return cost_hour / (max_invocations_per_minute * 60.0)


def sagemaker_metrics(m: StepMetrics) -> dict[str, Any]:
    """SageMaker's RecommendationMetrics for one step. Unknown values (NaN) are left out."""
    hour = cost_per_hour(m.price_per_hour, m.instance_count)
    out: dict[str, Any] = {
        "CostPerHour": round(hour, 6),
        "CostPerInference": cost_per_inference(hour, m.max_invocations),
        "MaxInvocations": math.floor(m.max_invocations),
    }
    if not math.isnan(m.model_latency_ms):
        out["ModelLatency"] = math.ceil(max(m.model_latency_ms, 0.0))
    if not math.isnan(m.cpu_utilization):
        out["CpuUtilization"] = round(max(m.cpu_utilization, 0.0), 2)
    if not math.isnan(m.memory_utilization):
        out["MemoryUtilization"] = round(max(m.memory_utilization, 0.0), 2)
    if not math.isnan(m.model_setup_time_s):
        out["ModelSetupTime"] = math.ceil(max(m.model_setup_time_s, 0.0))
    return out


def extended_metrics(m: StepMetrics) -> dict[str, Any]:
    """What SageMaker's shape has no room for: all percentiles, error rate, emulation scale."""
    return {
        "ModelLatencyPercentilesMs": {p: round(v, 3) for p, v in
                                      (("P50", m.p50_ms), ("P90", m.p90_ms), ("P95", m.p95_ms), ("P99", m.p99_ms))
                                      if not math.isnan(v)},
        "ErrorRate": m.error_rate,
        "EmulationScale": m.emulation_scale,
        "MaxInvocationsExact": m.max_invocations,
    }


def environment_parameters(environment: Mapping[str, str]) -> list[dict[str, str]]:
    """ModelConfiguration.EnvironmentParameters for an environment, sorted by key."""
    return [{"Key": k, "ValueType": "String", "Value": str(v)} for k, v in sorted(environment.items())]


def latency_objective(stopping_conditions: Mapping[str, Any] | None) -> tuple[str, float | None]:
    """(percentile, threshold ms or None) from StoppingConditions.ModelLatencyThresholds.

    The percentile is normalised to 'P50'/'P90'/'P95'/'P99' ('p99' and '99' are accepted); P95
    when none is given, as SageMaker does.
    """
    thresholds = (stopping_conditions or {}).get("ModelLatencyThresholds") or []
    if not thresholds:
        return DEFAULT_PERCENTILE, None
    first = thresholds[0]
    raw = str(first.get("Percentile") or DEFAULT_PERCENTILE).strip().upper()
    pct = raw if raw.startswith("P") else f"P{raw}"
    if pct not in PERCENTILES:
        raise RecommendError(f"ModelLatencyThresholds.Percentile must be one of {', '.join(PERCENTILES)}, "
                         f"not {first.get('Percentile')!r}")
    value = first.get("ValueInMilliseconds")
    if value is None:
        return pct, None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise RecommendError(f"ModelLatencyThresholds.ValueInMilliseconds must be a positive number, not {value!r}")
    return pct, float(value)


def recommendation_id(job_name: str, endpoint_configuration: Mapping[str, Any],
                      model_configuration: Mapping[str, Any]) -> str:
    """A stable id: the same step of the same job always gets the same id (resume-safe)."""
    basis = repr((job_name, sorted(endpoint_configuration.items()),
                  sorted((k, repr(v)) for k, v in model_configuration.items())))
    return f"{job_name}/{hashlib.sha256(basis.encode()).hexdigest()[:8]}"


def rank_steps(job_name: str, steps: Sequence[Mapping[str, Any]],
               stopping_conditions: Mapping[str, Any] | None = None, *,
               max_error_rate: float = 0.01, limit: int = MAX_RECOMMENDATIONS) -> list[dict[str, Any]]:
    """Rank finished steps into SageMaker InferenceRecommendation dicts, cheapest per inference first.

    Each step is a mapping with ``Metrics`` (RecommendationMetrics, as ``sagemaker_metrics`` makes
    them), ``EndpointConfiguration``, ``ModelConfiguration`` and optionally ``InvocationStartTime``
    / ``InvocationEndTime`` (copied through untouched; dates are the caller's) and an error rate
    under ``ErrorRate`` or ``Details.ErrorRate``. Steps without usable metrics, over the latency
    threshold (ModelLatency at the job's percentile > ValueInMilliseconds) or with an error rate at
    or over ``max_error_rate`` are left out.
    """
    _, threshold = latency_objective(stopping_conditions)
    eligible = []
    for step in steps:
        m = step.get("Metrics") or {}
        if not m.get("MaxInvocations") or m.get("CostPerInference") is None:
            continue
        if threshold is not None and not (m.get("ModelLatency", math.inf) <= threshold):
            continue
        err = step.get("ErrorRate", (step.get("Details") or {}).get("ErrorRate", 0.0))
        if err is not None and err >= max_error_rate:
            continue
        eligible.append(step)
    # Costs equal to 9 significant digits are a tie (float noise must not decide the order).
    eligible.sort(key=lambda s: (float(f"{s['Metrics']['CostPerInference']:.9g}"),
                                 s["Metrics"].get("ModelLatency", math.inf), -s["Metrics"]["MaxInvocations"]))
    ranked = eligible[:limit]
    recs = [_recommendation(job_name, s) for s in ranked]
    _mark_best(recs)
    return recs


def _recommendation(job_name: str, step: Mapping[str, Any]) -> dict[str, Any]:
    ec = dict(step.get("EndpointConfiguration") or {})
    mc = dict(step.get("ModelConfiguration") or {})
    if not mc.get("EnvironmentParameters"):
        mc.pop("EnvironmentParameters", None)   # SageMaker's list has min length 1
    rec: dict[str, Any] = {
        "RecommendationId": recommendation_id(job_name, ec, mc),
        "Metrics": dict(step["Metrics"]),
        "EndpointConfiguration": ec,
        "ModelConfiguration": mc,
    }
    for key in ("InvocationStartTime", "InvocationEndTime"):
        if step.get(key) is not None:
            rec[key] = step[key]
    rec["BestFor"] = []
    return rec


def _mark_best(recs: list[dict[str, Any]]) -> None:
    if not recs:
        return
    # Recommendations are sorted by cost, so min() picks the first on ties: one mark per category.
    recs[0]["BestFor"].append("cost")
    fastest = min(recs, key=lambda r: r["Metrics"].get("ModelLatency", math.inf))
    if "ModelLatency" in fastest["Metrics"]:
        fastest["BestFor"].append("latency")
    busiest = max(recs, key=lambda r: r["Metrics"]["MaxInvocations"])
    busiest["BestFor"].append("throughput")
