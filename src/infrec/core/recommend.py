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

Uncertainty (infrec's): a completed step may carry, in ``Details``, ``MaxInvocationsInterval``
(95 % confidence interval of the throughput per minute, ``Low``/``High``: of the measured capacity
when ``Source`` is ``capacity``, else from a confirmation hold at the rate a latency threshold allows), ``ModelLatencyInterval`` (the same for ModelLatency, in ms) and
``FailedAtInvocations`` (per minute: the lowest offered rate the search saw fail, None when none
did). Steps from older jobs lack them and count as points: Low = High = the measured value.

* Throughput range = [min(Low, MaxInvocations), max(High, MaxInvocations, FailedAtInvocations)].
  A hold only bounds the throughput *at the found rate*; the search bracket adds that the limit
  lies somewhere below the failing rate, so it may be anywhere up to it. A measured capacity has
  no failing rate (None): its interval is the range.
* Cost-per-inference range = CostPerHour / (throughput range × 60), reversed.
* Latency range = ModelLatencyInterval, or ModelLatency ± 10 % when the step has none.
* Two ranges overlap when neither lies wholly above the other (touching counts). Configurations
  whose throughput ranges overlap are *tied* on throughput; the difference between them is noise.
  Same-hardware instance types on one host (ml.c5.large, ml.m5.large, ml.c6i.large: 2 vCPU each)
  come out as ties.

Ranking (``core.ranking`` holds the rule and its reasons), among steps that have metrics, meet the
latency threshold and stayed under the error budget, at most 10: the leader is the cheapest per
inference (point value; then lower latency, then higher throughput, then the stable key: instance
type, count, environment, RecommendationId); ties are throughput ranges that overlap; the objective
is the cost-per-inference range, so a configuration significantly more expensive per inference
than any other remaining one is beaten; among the leader's ties the pick is the cheapest per hour
(then lower latency, higher throughput, stable key). For steps without intervals (points) it is the
plain order: cheapest per inference first, then lower latency, then higher throughput.

Each recommendation carries two members of infrec's (SDK parsers ignore unknown members, so
SageMaker clients are unaffected): ``TiedWith``, the RecommendationIds of the other ranked
recommendations whose throughput ranges overlap its own (direct overlap, empty when none; ``ties``
groups them transitively), and ``BestFor``, naming what it is *significantly* best at among the
ranked ones (``ranking.best_for``): ``"cost"`` when its cost range lies wholly below every other
one's, ``"throughput"`` when its throughput range lies wholly above every other one's,
``"latency"`` when its latency range lies wholly below every other one's (those without
ModelLatency are not compared). No mark is given where the best is within the noise of another,
so at most one recommendation has each.

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
from infrec.core.ranking import Entry, Range, best_for, rank, tied_with

MAX_RECOMMENDATIONS = 10
LATENCY_FALLBACK_SPREAD = 0.10   # ModelLatency ± this, for steps without a ModelLatencyInterval
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
    """Rank finished steps into SageMaker InferenceRecommendation dicts, cheapest per inference first,
    throughput ties by price (the module docstring gives the exact rule), with ``BestFor`` and
    ``TiedWith``.

    Each step is a mapping with ``Metrics`` (RecommendationMetrics, as ``sagemaker_metrics`` makes
    them), ``EndpointConfiguration``, ``ModelConfiguration`` and optionally ``Details`` (the
    intervals and ``FailedAtInvocations``, ``MaxInvocationsExact``), ``InvocationStartTime`` /
    ``InvocationEndTime`` (copied through untouched; dates are the caller's) and an error rate
    under ``ErrorRate`` or ``Details.ErrorRate``. Steps without usable metrics, over the latency
    threshold (ModelLatency at the job's percentile > ValueInMilliseconds) or with an error rate at
    or over ``max_error_rate`` are left out.
    """
    _, threshold = latency_objective(stopping_conditions)
    eligible: list[_Candidate] = []
    for step in steps:
        m = step.get("Metrics") or {}
        if not m.get("MaxInvocations") or m.get("CostPerInference") is None:
            continue
        if threshold is not None and not (m.get("ModelLatency", math.inf) <= threshold):
            continue
        err = step.get("ErrorRate", (step.get("Details") or {}).get("ErrorRate", 0.0))
        if err is not None and err >= max_error_rate:
            continue
        eligible.append(_candidate(_recommendation(job_name, step), step))
    entries = [Entry(throughput=c.throughput, objective=c.cost,
                     leader_key=(c.cost_inference, c.latency, -c.max_invocations, c.key),
                     pick_key=(c.cost_hour, c.latency, -c.max_invocations, c.key)) for c in eligible]
    order = rank(entries, limit)
    tied = tied_with(entries, order)
    ranked = [eligible[i] for i in order]
    marks = best_for([c.cost for c in ranked], [c.latency_range for c in ranked], [c.throughput for c in ranked])
    for i, c, mark in zip(order, ranked, marks, strict=True):
        c.rec["TiedWith"] = [eligible[j].rec["RecommendationId"] for j in tied[i]]
        c.rec["BestFor"] = mark
    return [c.rec for c in ranked]


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
    rec["TiedWith"] = []
    return rec


@dataclass
class _Candidate:
    """One eligible step with the figures ranking compares (quantised, see ``_q``)."""

    rec: dict[str, Any]
    cost_inference: float                 # point, Metrics.CostPerInference
    cost_hour: float
    latency: float                        # ModelLatency, inf when unknown
    max_invocations: float                # point, per minute
    throughput: Range
    cost: Range
    latency_range: Range | None
    key: tuple[str, ...]


def _q(x: float) -> float:
    """Equal to 9 significant digits is equal: float noise must not decide an order or a mark."""
    return float(f"{x:.9g}")


def _candidate(rec: dict[str, Any], step: Mapping[str, Any]) -> _Candidate:
    m = rec["Metrics"]
    ec, mc = rec["EndpointConfiguration"], rec["ModelConfiguration"]
    env = " ".join(f"{p.get('Key')}={p.get('Value')}" for p in mc.get("EnvironmentParameters") or [])
    lat = latency_range(step)
    return _Candidate(
        rec=rec, cost_inference=_q(float(m["CostPerInference"])), cost_hour=_q(_cost_hour(step)),
        latency=float(m.get("ModelLatency", math.inf)), max_invocations=_point_invocations(step),
        throughput=_quantised(throughput_range(step)), cost=_quantised(cost_range(step)),
        latency_range=_quantised(lat) if lat else None,
        key=(str(ec.get("InstanceType", "")), f"{int(ec.get('InitialInstanceCount', 1)):09d}", env,
             rec["RecommendationId"]))


def _quantised(r: Range) -> Range:
    return _q(r[0]), _q(r[1])


# ------------------------------------------------------------------ ranges (pure helpers)

def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def interval(details: Mapping[str, Any] | None, name: str) -> Range | None:
    """(Low, High) of ``Details[name]`` (e.g. "MaxInvocationsInterval") when it is a usable interval:
    one from a single batch has no spread and is none (older jobs stored it with Low = High)."""
    iv = (details or {}).get(name)
    if not isinstance(iv, Mapping):
        return None
    batches = _number(iv.get("Batches"))
    if batches is not None and batches < 2:
        return None
    low, high = _number(iv.get("Low")), _number(iv.get("High"))
    if low is None or high is None or low > high:
        return None
    return low, high


def _point_invocations(step: Mapping[str, Any]) -> float:
    exact = _number((step.get("Details") or {}).get("MaxInvocationsExact"))
    if exact is not None:
        return exact
    return _number((step.get("Metrics") or {}).get("MaxInvocations")) or 0.0


def _cost_hour(step: Mapping[str, Any]) -> float:
    m = step.get("Metrics") or {}
    hour = _number(m.get("CostPerHour"))
    if hour is not None:
        return hour
    return float(m["CostPerInference"]) * _point_invocations(step) * 60.0


def throughput_range(step: Mapping[str, Any]) -> Range:
    """Invocations per minute the endpoint's capacity may be, for tie purposes (see the module doc):
    [min(Low, point), max(High, point, FailedAtInvocations)]; the point alone for older steps."""
    d = step.get("Details") or {}
    point = _point_invocations(step)
    lo = hi = point
    iv = interval(d, "MaxInvocationsInterval")
    if iv:
        lo, hi = min(lo, iv[0]), max(hi, iv[1])
    failed = _number(d.get("FailedAtInvocations"))
    if failed is not None:
        hi = max(hi, failed)
    return lo, hi


def cost_range(step: Mapping[str, Any]) -> Range:
    """Cost per inference the step may have: CostPerHour over the throughput range (× 60), with the
    reported CostPerInference always inside."""
    point = float((step.get("Metrics") or {})["CostPerInference"])
    hour = _cost_hour(step)
    lo, hi = throughput_range(step)
    cheap = hour / (hi * 60.0) if hi > 0 else 0.0
    dear = hour / (lo * 60.0) if lo > 0 else math.inf
    return min(cheap, point), max(dear, point)


def latency_range(step: Mapping[str, Any]) -> Range | None:
    """ModelLatency's range in ms: its interval, else ModelLatency ± 10 %; None without ModelLatency."""
    point = _number((step.get("Metrics") or {}).get("ModelLatency"))
    if point is None:
        return None
    iv = interval(step.get("Details"), "ModelLatencyInterval")
    if iv:
        return iv
    return point * (1 - LATENCY_FALLBACK_SPREAD), point * (1 + LATENCY_FALLBACK_SPREAD)


def ties(recs: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Groups of RecommendationIds tied on throughput, joined transitively through ``TiedWith``
    (a ~ b and b ~ c put a, b, c in one group). Groups of one are left out; ids keep the order of
    ``recs`` and groups the order of their first member."""
    ids = [str(r["RecommendationId"]) for r in recs]
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in recs:
        for other in r.get("TiedWith") or []:
            if other in parent:
                a, b = root(str(r["RecommendationId"])), root(other)
                if a != b:
                    parent[max(a, b, key=ids.index)] = min(a, b, key=ids.index)
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def reported_tied(recs: Sequence[Mapping[str, Any]], instance_types: Sequence[str]) -> bool:
    """Whether these instance types were reported tied with each other: every type has a
    recommendation, and for every pair of the types one's recommendation lists the other's in
    ``TiedWith`` (directly, not through a third)."""
    by_type: dict[str, set[str]] = {}
    tied: dict[str, set[str]] = {}
    for r in recs:
        rid = str(r["RecommendationId"])
        by_type.setdefault(str((r.get("EndpointConfiguration") or {}).get("InstanceType")), set()).add(rid)
        tied[rid] = set(r.get("TiedWith") or [])
    types = list(dict.fromkeys(instance_types))
    if any(t not in by_type for t in types):
        return False
    return all(any(b_id in tied[a_id] or a_id in tied[b_id] for a_id in by_type[a] for b_id in by_type[b])
               for i, a in enumerate(types) for b in types[i + 1:])
