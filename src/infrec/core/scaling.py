"""Autoscaling advice (GetScalingConfigurationRecommendation) from a finished recommendation.

The policy is SageMaker's usual one: **target tracking on SageMakerVariantInvocationsPerInstance**
(invocations per instance per minute), the metric Application Auto Scaling predefines for SageMaker
variants. Target tracking adds instances when the metric stays above the target and removes them
when it stays well below, so the whole question is which target, which bounds and which cooldowns.

TargetValue
    The benchmark measured the endpoint's capacity: ``MaxInvocations`` per minute for all its
    ``InitialInstanceCount`` instances, so one instance sustains
    ``M = MaxInvocations / InitialInstanceCount``. ``TargetCpuUtilizationPerCore`` (T, default 50 %,
    as SageMaker documents) is how busy an instance may get before scaling out. At MaxInvocations a
    CPU-bound instance is saturated, and CPU time per request is about constant, so its cores reach
    T % at T % of its capacity:  ``TargetValue = floor(M × T / 100)`` (at least 1).
    We deliberately do *not* extrapolate from the CPU utilisation measured at MaxInvocations
    (``M × T / CpuUtilization``): when that utilisation is well under 100 % the endpoint saturated
    on something else (workers, memory bandwidth, I/O, an accelerator), and a CPU-derived target
    would sit right at that hidden limit. T % of measured capacity is exact for CPU-bound models and
    conservative for the others; the remaining (100 − T) % is the headroom that absorbs a burst while
    new instances start.

MinCapacity / MaxCapacity
    From ScalingPolicyObjective, the traffic the user expects:
    ``MinCapacity = max(1, ceil(MinInvocationsPerMinute / TargetValue))`` and
    ``MaxCapacity = max(MinCapacity, ceil(MaxInvocationsPerMinute / TargetValue))`` — enough
    instances to carry the lowest and the highest expected load at the target utilisation. Without
    an objective, MinCapacity is 1 and MaxCapacity carries the benchmarked load
    (``ceil(MaxInvocations / TargetValue)``, never below InitialInstanceCount).

Cooldowns
    ScaleOutCooldown must cover the time a new instance takes to serve, or the policy keeps adding
    instances while the first is still starting: ``clamp(ceil(2 × ModelSetupTime), 60, 600)``
    seconds (60 s is the shortest useful CloudWatch period; 2× leaves room for instance launch,
    which a local benchmark cannot see). ScaleInCooldown is longer, ``max(300, 2 × ScaleOutCooldown)``
    (300 s is Application Auto Scaling's default): removing capacity too eagerly makes the endpoint
    flap under bursty traffic, while a few surplus minutes cost little.

Metric
    The benchmarked values the advice rests on: ``InvocationsPerInstance = floor(M)`` and
    ``ModelLatency`` (ms at MaxInvocations, the job's percentile).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from infrec.core.errors import ValidationError

DEFAULT_TARGET_CPU_UTILIZATION_PER_CORE = 50
PREDEFINED_METRIC = "SageMakerVariantInvocationsPerInstance"
MIN_SCALE_OUT_COOLDOWN_S = 60
MAX_SCALE_OUT_COOLDOWN_S = 600
MIN_SCALE_IN_COOLDOWN_S = 300


class ScalingError(ValidationError, ValueError):
    """Unusable scaling input: a ValueError, and a ValidationError (HTTP 400) for the API."""



def target_value(invocations_per_instance: float, target_cpu_utilization_per_core: int) -> int:
    """Invocations per instance per minute at which to scale out (see the module docstring)."""
    if not (invocations_per_instance > 0) or math.isinf(invocations_per_instance):
        raise ScalingError(f"invocations per instance must be positive, not {invocations_per_instance!r}")
    return max(1, math.floor(invocations_per_instance * target_cpu_utilization_per_core / 100.0))


def capacity_bounds(target: int, objective: Mapping[str, Any] | None, benchmarked_invocations: float,
                    initial_instance_count: int) -> tuple[int, int]:
    """(MinCapacity, MaxCapacity) for the expected traffic; see the module docstring."""
    objective = objective or {}
    lo = objective.get("MinInvocationsPerMinute")
    hi = objective.get("MaxInvocationsPerMinute")
    for name, v in (("MinInvocationsPerMinute", lo), ("MaxInvocationsPerMinute", hi)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise ScalingError(f"ScalingPolicyObjective.{name} must be a non-negative number, not {v!r}")
    if lo is not None and hi is not None and lo > hi:
        raise ScalingError(f"ScalingPolicyObjective.MinInvocationsPerMinute ({lo}) is greater than "
                         f"MaxInvocationsPerMinute ({hi})")
    min_cap = max(1, math.ceil(lo / target)) if lo is not None else 1
    if hi is not None:
        max_cap = math.ceil(hi / target)
    else:
        max_cap = max(initial_instance_count, math.ceil(benchmarked_invocations / target))
    return min_cap, max(min_cap, max_cap)


def cooldowns(model_setup_time_s: float | None) -> tuple[int, int]:
    """(ScaleInCooldown, ScaleOutCooldown) in seconds; see the module docstring."""
    setup = model_setup_time_s if model_setup_time_s is not None and model_setup_time_s >= 0 else 0.0
    out = min(max(math.ceil(2 * setup), MIN_SCALE_OUT_COOLDOWN_S), MAX_SCALE_OUT_COOLDOWN_S)
    return max(MIN_SCALE_IN_COOLDOWN_S, 2 * out), out


def recommend_scaling(job_name: str, recommendation: Mapping[str, Any],
                      target_cpu_utilization_per_core: int | None = None,
                      objective: Mapping[str, Any] | None = None,
                      endpoint_name: str | None = None) -> dict[str, Any]:
    """GetScalingConfigurationRecommendation's response for one InferenceRecommendation.

    ``recommendation`` is one entry of the job's InferenceRecommendations (its Metrics and
    EndpointConfiguration are read). ``endpoint_name`` is echoed when the request named the
    endpoint rather than the RecommendationId. Raises ValueError on unusable input.
    """
    t = DEFAULT_TARGET_CPU_UTILIZATION_PER_CORE if target_cpu_utilization_per_core is None \
        else target_cpu_utilization_per_core
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 100:
        raise ScalingError(f"TargetCpuUtilizationPerCore must be an integer from 1 to 100, not {t!r}")
    metrics = recommendation.get("Metrics") or {}
    ec = recommendation.get("EndpointConfiguration") or {}
    total = metrics.get("MaxInvocations")
    if not total or total <= 0:
        raise ScalingError("the recommendation has no measured MaxInvocations to base scaling on")
    count = int(ec.get("InitialInstanceCount") or 1)
    per_instance = total / count
    target = target_value(per_instance, t)
    min_cap, max_cap = capacity_bounds(target, objective, total, count)
    scale_in, scale_out = cooldowns(metrics.get("ModelSetupTime"))
    metric: dict[str, Any] = {"InvocationsPerInstance": math.floor(per_instance)}
    if metrics.get("ModelLatency") is not None:
        metric["ModelLatency"] = int(metrics["ModelLatency"])
    out: dict[str, Any] = {
        "InferenceRecommendationsJobName": job_name,
        "RecommendationId": recommendation.get("RecommendationId"),
        "EndpointName": endpoint_name or ec.get("EndpointName"),
        "TargetCpuUtilizationPerCore": t,
        "Metric": metric,
        "DynamicScalingConfiguration": {
            "MinCapacity": min_cap,
            "MaxCapacity": max_cap,
            "ScaleInCooldown": scale_in,
            "ScaleOutCooldown": scale_out,
            "ScalingPolicies": [{"TargetTracking": {
                "MetricSpecification": {"Predefined": {"PredefinedMetricType": PREDEFINED_METRIC}},
                "TargetValue": float(target),
            }}],
        },
    }
    if objective:
        out["ScalingPolicyObjective"] = dict(objective)
    return {k: v for k, v in out.items() if v is not None}
