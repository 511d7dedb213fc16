"""Traffic shapes as data: what load to offer at each instant of a run.

SageMaker Inference Recommender describes closed-loop load (concurrent users) as PHASES or STAIRS;
infrec adds an open loop (an arrival rate), which finds a maximum throughput without the closed
loop's feedback hiding queueing. The engine in `infrec.loadgen` only asks a shape two questions:
how many users (or how many requests/s) at time t, and how long the whole run is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Arrival = Literal["uniform", "poisson"]


def _number(raw: Any, name: str, *, minimum: float = 0.0, integer: bool = False) -> float:
    """One numeric field, with an error that names the field (the user wrote it, not us)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{name} must be a number, got {raw!r}")
    if math.isnan(raw) or math.isinf(raw):
        raise ValueError(f"{name} must be finite, got {raw!r}")
    if integer and raw != int(raw):
        raise ValueError(f"{name} must be a whole number, got {raw!r}")
    if raw < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return float(raw)


@dataclass(frozen=True)
class Phase:
    """One SageMaker phase: start with `initial_users`, add `spawn_rate` users per second.

    (SageMaker's SpawnRate is per minute; `from_sagemaker` converts it.)"""

    initial_users: int
    spawn_rate: float
    duration_s: float


@dataclass(frozen=True)
class Phases:
    """Closed loop, SageMaker PHASES: phases run one after another.

    Within a phase the number of users is InitialNumberOfUsers + floor(SpawnRate × seconds into
    the phase) (Locust's spawning, as SageMaker uses it).
    """

    phases: tuple[Phase, ...]
    think_time_s: float = 0.0
    closed_loop: bool = field(default=True, init=False)

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    def users_at(self, t: float) -> int:
        start = 0.0
        for p in self.phases:
            if t < start + p.duration_s:
                return p.initial_users + math.floor(p.spawn_rate * max(t - start, 0.0) + 1e-9)
            start += p.duration_s
        return 0

    def max_users(self) -> int:
        return max((p.initial_users + math.floor(p.spawn_rate * p.duration_s) for p in self.phases),
                   default=0)


@dataclass(frozen=True)
class Stairs:
    """Closed loop, SageMaker STAIRS: NumberOfSteps equal steps over DurationInSeconds.

    Step k (0-based) runs (k + 1) × UsersPerStep users.
    """

    duration_s: float
    steps: int
    users_per_step: int
    think_time_s: float = 0.0
    closed_loop: bool = field(default=True, init=False)

    @property
    def step_s(self) -> float:
        return self.duration_s / self.steps

    def users_at(self, t: float) -> int:
        if t < 0 or t >= self.duration_s:
            return 0
        k = min(int(t / self.step_s + 1e-9), self.steps - 1)
        return (k + 1) * self.users_per_step

    def max_users(self) -> int:
        return self.steps * self.users_per_step


@dataclass(frozen=True)
class OpenLoop:
    """Open loop: requests arrive at `rate` per second whatever the server does.

    `steps` ((duration_s, rate), …), when given, replaces the constant `rate`/`duration_s`.
    Arrivals are evenly spaced ("uniform") or a Poisson process seeded by `seed`.
    """

    rate: float = 0.0
    duration_s: float = 0.0
    steps: tuple[tuple[float, float], ...] = ()
    arrival: Arrival = "uniform"
    seed: int | None = None
    closed_loop: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        steps = tuple((_number(d, f"steps[{i}].duration_s"), _number(r, f"steps[{i}].rate"))
                      for i, (d, r) in enumerate(self.steps))
        object.__setattr__(self, "steps", steps)
        if steps:
            object.__setattr__(self, "duration_s", sum(d for d, _ in steps))
        else:
            object.__setattr__(self, "rate", _number(self.rate, "rate"))
            object.__setattr__(self, "duration_s", _number(self.duration_s, "duration_s"))
        if self.arrival not in ("uniform", "poisson"):
            raise ValueError(f"arrival must be 'uniform' or 'poisson', got {self.arrival!r}")

    def rate_at(self, t: float) -> float:
        if t < 0 or t >= self.duration_s:
            return 0.0
        if not self.steps:
            return self.rate
        start = 0.0
        for d, r in self.steps:
            if t < start + d:
                return r
            start += d
        return 0.0

    def max_rate(self) -> float:
        return max((r for _, r in self.steps), default=self.rate)


Shape = Phases | Stairs | OpenLoop


def _int_field(d: dict[str, Any], key: str, where: str, minimum: int) -> int:
    if key not in d:
        raise ValueError(f"{where}.{key} is required")
    return int(_number(d[key], f"{where}.{key}", minimum=minimum, integer=True))


def from_sagemaker(traffic_pattern: dict[str, Any]) -> Phases | Stairs:
    """Parse SageMaker's TrafficPattern ({TrafficType, Phases | Stairs}) into a shape."""
    if not isinstance(traffic_pattern, dict):
        raise ValueError("TrafficPattern must be an object")
    kind = traffic_pattern.get("TrafficType", "PHASES")
    if kind == "PHASES":
        raw = traffic_pattern.get("Phases")
        if not isinstance(raw, list) or not raw:
            raise ValueError("TrafficPattern.Phases must be a non-empty list when TrafficType is PHASES")
        phases = []
        for i, p in enumerate(raw):
            where = f"TrafficPattern.Phases[{i}]"
            if not isinstance(p, dict):
                raise ValueError(f"{where} must be an object")
            users = _int_field(p, "InitialNumberOfUsers", where, 0)
            spawn = _int_field(p, "SpawnRate", where, 0)
            dur = _int_field(p, "DurationInSeconds", where, 1)
            # SageMaker's SpawnRate is "how many new users to spawn in a minute"; Phase counts per second.
            phases.append(Phase(users, spawn / 60.0, float(dur)))
        return Phases(tuple(phases))
    if kind == "STAIRS":
        s = traffic_pattern.get("Stairs")
        if not isinstance(s, dict):
            raise ValueError("TrafficPattern.Stairs must be an object when TrafficType is STAIRS")
        where = "TrafficPattern.Stairs"
        return Stairs(duration_s=float(_int_field(s, "DurationInSeconds", where, 1)),
                      steps=_int_field(s, "NumberOfSteps", where, 1),
                      users_per_step=_int_field(s, "UsersPerStep", where, 1))
    raise ValueError(f"TrafficPattern.TrafficType must be PHASES or STAIRS, got {kind!r}")


PERCENTILES = ("P50", "P90", "P95", "P99")


@dataclass(frozen=True)
class LatencyThreshold:
    percentile: str  # "P50" | "P90" | "P95" | "P99"
    value_ms: float


@dataclass(frozen=True)
class StoppingConditions:
    """SageMaker's RecommendationJobStoppingConditions, evaluated live by the engine per window.

    max_invocations is requests per minute (SageMaker's unit): the run stops once a window's
    throughput × 60 reaches it. flat_invocations "Stop" ends a run whose throughput stopped
    growing while the offered load (users or rate) grew.
    """

    max_invocations: int | None = None
    latency_thresholds: tuple[LatencyThreshold, ...] = ()
    flat_invocations: Literal["Stop", "Continue"] = "Continue"

    @classmethod
    def from_sagemaker(cls, conditions: dict[str, Any]) -> StoppingConditions:
        if not isinstance(conditions, dict):
            raise ValueError("StoppingConditions must be an object")
        max_inv = None
        if conditions.get("MaxInvocations") is not None:
            max_inv = int(_number(conditions["MaxInvocations"], "StoppingConditions.MaxInvocations",
                                  minimum=1, integer=True))
        thresholds = []
        raw = conditions.get("ModelLatencyThresholds") or []
        if not isinstance(raw, list):
            raise ValueError("StoppingConditions.ModelLatencyThresholds must be a list")
        for i, t in enumerate(raw):
            where = f"StoppingConditions.ModelLatencyThresholds[{i}]"
            if not isinstance(t, dict):
                raise ValueError(f"{where} must be an object")
            pct = t.get("Percentile", "P95")
            if pct not in PERCENTILES:
                raise ValueError(f"{where}.Percentile must be one of {', '.join(PERCENTILES)}, got {pct!r}")
            if "ValueInMilliseconds" not in t:
                raise ValueError(f"{where}.ValueInMilliseconds is required")
            thresholds.append(LatencyThreshold(pct, _number(t["ValueInMilliseconds"],
                                                            f"{where}.ValueInMilliseconds")))
        flat = conditions.get("FlatInvocations", "Continue")
        if flat not in ("Stop", "Continue"):
            raise ValueError(f"StoppingConditions.FlatInvocations must be 'Stop' or 'Continue', got {flat!r}")
        return cls(max_inv, tuple(thresholds), flat)
