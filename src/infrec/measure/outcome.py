"""What a measurement produces: a step's result, the figures of the load level it settled on, and
the one failure that is no verdict on the endpoint (a load generator that was the limit)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from infrec.core.recommend import StepMetrics

PERCENTILES = ("P50", "P90", "P95", "P99")


@dataclass
class StepMeasurement:
    """A step's result: its metrics, or why there are none; `details` holds the evidence either way
    (the trial log, intervals, notes) for Describe and the report."""

    metrics: StepMetrics | None
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class GeneratorBound(Exception):
    """The load generator, not the endpoint, was the limit and no more generator CPUs are free."""


@dataclass
class Outcome:
    """The load level a step reports, already read back to the full instance."""

    full_rps: float                  # successes per second, read back to the full instance
    latency_ms: float                # at the job's percentile
    percentiles: dict[str, float]
    error_rate: float
    cpu_percent: float
    rss_bytes: float
    mean_ms: float = math.nan        # mean latency of the successes (a serverless invocation's billed time)


def latency(stats: Any, percentile: str) -> float:
    """`stats`' latency at `percentile` ("P50" … "P99"), in milliseconds."""
    return float(getattr(stats, percentile.lower() + "_ms"))
