"""Measuring one endpoint configuration: start it, drive traffic, sample utilisation, stop it.

Default jobs search for the highest open-loop rate the endpoint sustains (errors < 1 %, achieved
rate close to the offered one, latency within the threshold when one is given): an open loop does
not slow down when the server does, so queueing shows up as latency instead of being hidden.
Advanced jobs replay the job's own TrafficPattern with its StoppingConditions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrec.core.catalog import InstanceType
from infrec.core.ratesearch import RateSearch, TrialOutcome, initial_rate_guess
from infrec.core.recommend import StepMetrics
from infrec.core.stats import WindowStats
from infrec.core.traffic import OpenLoop, Phase, Phases, StoppingConditions, from_sagemaker
from infrec.executors.base import EndpointSpec, EndpointStartError
from infrec.jobs.model_source import ModelSource
from infrec.loadgen import load_payloads, run_load

PERCENTILES = ("P50", "P90", "P95", "P99")
MIN_TRIAL_REQUESTS = 40
MAX_TRIAL_SECONDS = 30.0


@dataclass
class StepMeasurement:
    metrics: StepMetrics | None
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class _UsageSampler:
    """Samples the endpoint's CPU and memory every half second while load runs."""

    def __init__(self, executor: Any, handle: Any) -> None:
        self.executor, self.handle = executor, handle
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                usage = self.executor.usage(self.handle)
            except Exception:
                continue
            if usage:
                cpu = sum(u.cpu_percent for u in usage) / len(usage)
                mem = sum(u.memory_percent for u in usage) / len(usage)
                self.samples.append((time.monotonic(), cpu, mem))

    def __enter__(self) -> _UsageSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def between(self, start: float, end: float) -> tuple[float, float]:
        chosen = [s for s in self.samples if start <= s[0] <= end] or self.samples[-3:]
        if not chosen:
            return 0.0, 0.0
        return (sum(s[1] for s in chosen) / len(chosen), sum(s[2] for s in chosen) / len(chosen))


def _percentile_key(stopping: dict[str, Any] | None) -> tuple[str, float | None]:
    for t in (stopping or {}).get("ModelLatencyThresholds") or []:
        return str(t.get("Percentile") or "P95"), float(t["ValueInMilliseconds"])
    return "P95", None


def _latency(stats: Any, percentile: str) -> float:
    return float(getattr(stats, percentile.lower() + "_ms"))


def measure_step(*, executor: Any, job_name: str, index: int, source: ModelSource, environment: dict[str, str],
                 instance_type: InstanceType, count: int, scale: float, model_dir: Path | None,
                 payload_dir: Path, job_type: str, input_config: dict[str, Any], stopping: dict[str, Any] | None,
                 cancel: threading.Event, deadline: float, trial_seconds: float, setup_deadline_s: float,
                 on_progress: Callable[[dict[str, Any]], None]) -> StepMeasurement:
    spec = EndpointSpec(name=f"{job_name}-{index + 1}", image=source.image, model_dir=model_dir,
                        environment=environment, instance_type=instance_type, instance_count=count, scale=scale,
                        setup_deadline_s=max(5.0, min(setup_deadline_s, deadline - time.time())))
    try:
        handle = executor.start(spec, cancel=cancel)
    except EndpointStartError as exc:
        return StepMeasurement(None, f"endpoint failed to start: {exc}")
    details: dict[str, Any] = {"EmulationScale": scale, "Enforcement": getattr(handle, "enforcement", None),
                               "SetupTimeSeconds": round(handle.setup_time_s, 3)}
    try:
        payloads = load_payloads(payload_dir, source.content_types[0], source.content_types)
        if not payloads:
            return StepMeasurement(None, "the sample payload archive holds no request bodies", details)
        percentile, threshold = _percentile_key(stopping)
        with _UsageSampler(executor, handle) as sampler:
            if job_type == "Default":
                outcome = _rate_search(handle.urls, payloads, source.content_types[0], instance_type, scale, count,
                                       percentile, threshold, cancel, deadline, trial_seconds, on_progress, sampler,
                                       details)
            else:
                outcome = _replay(handle.urls, payloads, source.content_types[0], input_config, stopping,
                                  percentile, threshold, cancel, deadline, on_progress, sampler, details)
        health = executor.health(handle)
        if health:
            return StepMeasurement(None, f"endpoint {health}", details)
        if outcome is None:
            if cancel.is_set():
                return StepMeasurement(None, "stopped", details)
            return StepMeasurement(None, "no load level met the constraints (errors < 1 % and the latency "
                                         "threshold)", details)
        rps, lat, pcts, err, cpu, mem = outcome
        details["ErrorRate"] = round(err, 5)
        metrics = StepMetrics(
            instance_type=instance_type.name, instance_count=count, environment=environment,
            max_invocations=rps * 60.0 / scale, model_latency_ms=lat,
            p50_ms=pcts["P50"], p90_ms=pcts["P90"], p95_ms=pcts["P95"], p99_ms=pcts["P99"],
            cpu_utilization=cpu, memory_utilization=mem, model_setup_time_s=handle.setup_time_s,
            error_rate=err, price_per_hour=instance_type.price_per_hour, emulation_scale=scale,
        )
        return StepMeasurement(metrics, None, details)
    finally:
        executor.stop(handle)


Outcome = tuple[float, float, dict[str, float], float, float, float]


def knee_limit_ms(unloaded_p50_ms: float) -> float:
    """Without a latency goal, "sustained" still means the queue stays bounded: an open loop just
    above capacity serves ~97 % of the offered rate for a few seconds while its queue, and so its
    latency, grows without end. Latency above 4× the unloaded latency (and above it by more than
    60 ms, one CPU-quota throttling period and then some) marks that overload."""
    return max(4.0 * unloaded_p50_ms, unloaded_p50_ms + 60.0)


def _rate_search(urls: list[str], payloads: list[Any], content_type: str, itype: InstanceType, scale: float,
                 count: int, percentile: str, threshold: float | None, cancel: threading.Event, deadline: float,
                 trial_seconds: float, on_progress: Callable[[dict[str, Any]], None], sampler: _UsageSampler,
                 details: dict[str, Any]) -> Outcome | None:
    # One user, one request at a time: the unloaded latency, from which the first rate is guessed.
    probe = run_load(urls, payloads, Phases(phases=(Phase(initial_users=1, spawn_rate=0.0, duration_s=1.5),)),
                     None, deadline_s=15.0, content_type=content_type, cancel=cancel)
    single_ms = max(probe.total.p50_ms, 0.05) if probe.total.successes else 10.0
    cpus = max(itype.vcpus * scale * count, 0.05)
    limit = threshold if threshold is not None else knee_limit_ms(single_ms)
    details["UnloadedP50Ms"] = round(single_ms, 3)
    details["LatencyLimitMs"] = round(limit, 3)
    search = RateSearch(initial_rps=initial_rate_guess(single_ms, cpus), max_rps=200_000.0,
                        latency_limit_ms=limit, percentile=percentile)
    trials: list[dict[str, Any]] = []
    best: Outcome | None = None
    while (rate := search.next_rate()) is not None:
        # A trial must hold enough requests to judge a rate: at 2 req/s, four seconds are eight
        # requests and one late answer reads as a 12 % shortfall.
        seconds = min(max(trial_seconds, MIN_TRIAL_REQUESTS / rate), MAX_TRIAL_SECONDS)
        if cancel.is_set() or time.time() + seconds > deadline:
            break
        start = time.monotonic()
        def report(w: WindowStats, r: float = rate) -> None:
            on_progress({"TargetRate": r, "Rate": w.throughput, "P95Ms": w.p95_ms, "Errors": w.errors})

        res = run_load(urls, payloads, OpenLoop(rate=rate, duration_s=seconds), None,
                       deadline_s=seconds + 10, content_type=content_type, cancel=cancel, on_window=report)
        end = time.monotonic()
        # The first second warms connections and caches; judge the steady part.
        steady = res.windows[1:] if len(res.windows) > 2 else res.windows
        reqs = sum(w.requests for w in steady)
        secs = sum(w.duration_s for w in steady) or seconds
        errors = sum(w.errors for w in steady)
        achieved = (reqs - errors) / secs if secs else 0.0
        err_rate = errors / reqs if reqs else 1.0
        lat = _latency(res.total, percentile)
        search.record(TrialOutcome(target_rps=rate, achieved_rps=achieved, error_rate=err_rate, latency_ms=lat))
        trials.append({"TargetRps": round(rate, 2), "AchievedRps": round(achieved, 2),
                       "ErrorRate": round(err_rate, 4), f"{percentile}Ms": round(lat, 3)})
        if cancel.is_set():
            break
        if search.passed(rate) and (best is None or achieved > best[0]):
            cpu, mem = sampler.between(start, end)
            pcts = {p: _latency(res.total, p) for p in PERCENTILES}
            best = (achieved, lat, pcts, err_rate, cpu, mem)
    details["Trials"] = trials
    # "converged" / "max_rps" / "max_trials" / "min_rps" from the search, or why it was cut short.
    details["SearchEndedBy"] = "stopped" if cancel.is_set() else (
        search.reason or ("JobDurationInSeconds" if time.time() + trial_seconds > deadline else "unknown"))
    return best


def _replay(urls: list[str], payloads: list[Any], content_type: str, input_config: dict[str, Any],
            stopping: dict[str, Any] | None, percentile: str, threshold: float | None, cancel: threading.Event,
            deadline: float, on_progress: Callable[[dict[str, Any]], None], sampler: _UsageSampler,
            details: dict[str, Any]) -> Outcome | None:
    pattern = input_config.get("TrafficPattern") or {
        "TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 30}]}
    shape = from_sagemaker(pattern)
    conditions = StoppingConditions.from_sagemaker(stopping) if stopping else None
    remaining = max(deadline - time.time(), 1.0)
    t0 = time.monotonic()
    res = run_load(urls, payloads, shape, conditions, deadline_s=min(shape.duration_s + 30, remaining),
                   content_type=content_type, cancel=cancel,
                   on_window=lambda w: on_progress({"Users": getattr(w, "users", None), "Rate": w.throughput,
                                                    "P95Ms": w.p95_ms, "Errors": w.errors}))
    details["StopReason"] = res.stop_reason
    windows = res.windows
    best: Outcome | None = None
    # Smooth over 3 windows so one lucky second does not become MaxInvocations.
    for i in range(len(windows)):
        group = windows[max(0, i - 2): i + 1]
        reqs = sum(w.requests for w in group)
        if not reqs:
            continue
        errors = sum(w.errors for w in group)
        secs = sum(w.duration_s for w in group)
        err_rate = errors / reqs
        lat = max(_latency(w, percentile) for w in group)
        if err_rate >= 0.01 or (threshold is not None and lat > threshold):
            continue
        rps = (reqs - errors) / secs
        if best is None or rps > best[0]:
            cpu, mem = sampler.between(t0 + i - 2, t0 + i + 1)
            pcts = {p: max(_latency(w, p) for w in group) for p in PERCENTILES}
            best = (rps, lat, pcts, err_rate, cpu, mem)
    return best
