"""An Advanced step: the job's own TrafficPattern, replayed with its StoppingConditions, read as the
highest rate a level of the pattern sustained within the job's latency limit."""

from __future__ import annotations

import time
from typing import Any

from infrec.core import serverless as sl
from infrec.core import trial as tr
from infrec.core.confidence import series_interval
from infrec.core.stats import WindowStats
from infrec.core.traffic import StoppingConditions, from_sagemaker
from infrec.loadgen import histogram
from infrec.loadgen.generator import generator_bound_reason
from infrec.measure.context import RunContext
from infrec.measure.outcome import PERCENTILES, GeneratorBound, Outcome, latency

LEVEL_MIN_WINDOWS = 3


def replay(run: RunContext, input_config: dict[str, Any], stopping: dict[str, Any] | None,
           max_concurrency: int | None = None) -> Outcome | None:
    """Replay the job's TrafficPattern. `max_concurrency` (serverless): never more users than
    that in flight; windows whose pattern asks for more are throttled (core.serverless)."""
    emulation, details = run.emulation, run.details
    pattern = input_config.get("TrafficPattern") or {
        "TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 30}]}
    full_shape = from_sagemaker(pattern)
    shape = emulation.shape(full_shape)
    if max_concurrency is not None:
        shape = sl.capped(shape, emulation.users(max_concurrency))
    conditions = emulation.stopping(StoppingConditions.from_sagemaker(stopping) if stopping else None)
    remaining = max(run.deadline - time.time(), 1.0)
    t0 = time.monotonic()
    res = run.load(shape, min(shape.duration_s + 30, remaining),
                   lambda w: run.on_progress({"Users": getattr(w, "users", None), "Rate": w.throughput,
                                              "P95Ms": w.p95_ms, "Errors": w.errors}), stopping=conditions)
    details["StopReason"] = res.stop_reason
    details["GeneratorBusyMax"] = round(res.generator_busy, 3)
    if emulation.emulated:
        details["UsersRun"] = {"Full": full_shape.max_users(), "Emulated": shape.max_users()}
    if res.generator_bound:
        raise GeneratorBound(generator_bound_reason(res))
    windows = res.windows
    throttled = [max_concurrency is not None and
                 sl.throttled(full_shape.users_at(w.start_s + w.duration_s / 2), max_concurrency) > 0 for w in windows]
    if max_concurrency is not None:
        details["Throttling"] = {"MaxConcurrency": max_concurrency, "PeakUsers": full_shape.max_users(),
                                 "ThrottledWindows": sum(throttled), "Windows": len(windows)}
    # MaxInvocations is a *sustained* rate: for each user level the pattern holds for at least
    # LEVEL_MIN_WINDOWS windows, the mean over the level's windows (its first dropped: users were
    # still arriving), the best level winning. The maximum of short groups within one level would
    # report the luckiest few seconds of a steady load — above what the level sustains whenever the
    # host's speed wanders (on a 2-vCPU VM, ±15 % from second to second). A pattern that changes
    # users faster than that (a ramp) is read in sliding groups of LEVEL_MIN_WINDOWS windows.
    full_rates = []
    for w in windows:
        mid = w.start_s + w.duration_s / 2
        run_users = w.users or shape.users_at(mid)
        full_rates.append(emulation.closed_loop_to_full(w.successes / w.duration_s if w.duration_s else 0.0,
                                                        shape_users(full_shape, mid, max_concurrency), run_users))
    groups = replay_groups([w.users or shape.users_at(w.start_s + w.duration_s / 2) for w in windows])
    best = _best_level(run, windows, groups, throttled, full_rates, t0)
    if best is None:
        if max_concurrency is not None and windows and all(throttled):
            details["NoPassReason"] = (f"the TrafficPattern asks for more than MaxConcurrency={max_concurrency} "
                                       "requests at once in every window; SageMaker would throttle the excess "
                                       "(ThrottlingException)")
        return None
    rates = best[2]
    if len(rates) >= 2:
        interval = series_interval(rates, center=best[0]).scaled(60.0)
        details["MaxInvocationsInterval"] = {**interval.to_doc(), "Windows": len(rates),
                                             "Converged": interval.relative_half_width <= tr.HOLD_THROUGHPUT_RHW}
    return best[1]


def _best_level(run: RunContext, windows: list[WindowStats], groups: list[tuple[int, int]], throttled: list[bool],
                full_rates: list[float], t0: float) -> tuple[float, Outcome, list[float]] | None:
    """The group of windows with the highest full-instance rate that passed (errors < 1 %, latency
    within the limit, not throttled): (its rate, its outcome, its windows' rates), or None."""
    best: tuple[float, Outcome, list[float]] | None = None
    for lo, hi in groups:
        group = windows[lo:hi]
        if any(throttled[lo:hi]):
            continue  # SageMaker would have throttled the users over MaxConcurrency: ≥ 1 % errors
        reqs = sum(w.requests for w in group)
        if not reqs:
            continue
        errors = sum(w.errors for w in group)
        secs = sum(w.duration_s for w in group)
        err_rate = errors / reqs
        merged = histogram.merge_windows(group)
        lat = latency(merged, run.percentile)
        if err_rate >= 0.01 or (run.threshold is not None and lat > run.threshold):
            continue
        rates = full_rates[lo:hi]
        rps_full = sum(r * w.duration_s for r, w in zip(rates, group, strict=True)) / secs
        if best is None or rps_full > best[0]:
            cpu, rss = run.sampler.between(t0 + lo, t0 + hi)
            pcts = {p: latency(merged, p) for p in PERCENTILES}
            best = (rps_full, Outcome(rps_full, lat, pcts, err_rate, cpu, rss, mean_ms=merged.mean_ms), rates)
    return best


def replay_groups(users: list[int], min_windows: int = 0) -> list[tuple[int, int]]:
    """[lo, hi) window ranges a replayed pattern is read in (see `replay`): each run of windows at
    one user count that is at least `min_windows` long, less its first window; where the count
    changes faster, sliding groups of `min_windows` windows."""
    need = min_windows or LEVEL_MIN_WINDOWS
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(users):
        j = i
        while j < len(users) and users[j] == users[i]:
            j += 1
        if j - i >= need:
            out.append((i + 1, j))
        else:
            out.extend((max(0, k - need + 1), k + 1) for k in range(i, j))
        i = j
    return out


def shape_users(shape: Any, t: float, cap: int | None) -> int:
    """Users the full-size pattern runs at `t`, at most `cap` (serverless MaxConcurrency)."""
    users = int(shape.users_at(t))
    return users if cap is None else min(users, cap)

