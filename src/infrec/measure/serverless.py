"""A serverless configuration's Default step and its price: the load never has more requests in
flight than MaxConcurrency, and the cost is per GB-second of billed time (core.serverless)."""

from __future__ import annotations

import math
import time
from typing import Any

from infrec.core import serverless as sl
from infrec.core import trial as tr
from infrec.core.catalog import ServerlessPrice
from infrec.core.stats import WindowStats
from infrec.core.traffic import Phase, Phases
from infrec.loadgen import histogram
from infrec.loadgen.generator import generator_bound_reason
from infrec.measure.context import RunContext
from infrec.measure.outcome import PERCENTILES, GeneratorBound, Outcome, latency


def serverless_load(run: RunContext, config: sl.ServerlessConfig, hold_seconds: float) -> Outcome | None:
    """A serverless Default step: a closed loop of MaxConcurrency users (all the requests the
    endpoint may serve at once; never more in flight) held for the hold time; its throughput is
    MaxInvocations. With a latency threshold the concurrency halves until the latency meets it:
    fewer requests at once is what a client keeps under the limit with."""
    emulation, details, cancel = run.emulation, run.details, run.cancel
    percentile, threshold = run.percentile, run.threshold
    users = config.max_concurrency
    trials: list[dict[str, Any]] = []
    details["Trials"] = trials
    warm = math.ceil(run.options.warmup_s)
    measured_s = max(hold_seconds, 3.0)
    while not cancel.is_set():
        whole = warm + math.ceil(measured_s) + 1
        if time.time() + whole + 3.0 > run.deadline:
            details["NoPassReason"] = "no time left before JobDurationInSeconds"
            return None
        run_users = emulation.users(users)
        shape = Phases(phases=(Phase(initial_users=run_users, spawn_rate=0.0, duration_s=float(whole)),))
        start = time.monotonic()

        def window(w: WindowStats, users: int = users) -> None:
            run.on_progress({"Phase": "serverless", "Users": users, "Rate": w.throughput, "P95Ms": w.p95_ms,
                             "Errors": w.errors})

        res = run.load(shape, whole + 15.0, window)
        end = time.monotonic()
        if res.generator_bound:
            raise GeneratorBound(generator_bound_reason(res))
        windows = res.windows
        measured = windows[warm:-1] if len(windows) > warm + 1 else windows
        if cancel.is_set() or not measured:
            return None
        merged = histogram.merge_windows(measured)
        secs = sum(w.duration_s for w in measured) or 1.0
        err = merged.errors / merged.requests if merged.requests else 1.0
        lat = latency(merged, percentile) if merged.successes else math.nan
        ok = merged.successes > 0 and err < tr.MAX_ERROR_RATE and (threshold is None or lat <= threshold)
        trials.append({"Users": users, "UsersRun": run_users, "AchievedRps": round(merged.successes / secs, 2),
                       "ErrorRate": round(err, 4), f"{percentile}Ms": None if math.isnan(lat) else round(lat, 3),
                       "Seconds": round(secs, 2), "Verdict": "pass" if ok else ("errors" if err >= tr.MAX_ERROR_RATE
                                                                                  else "latency")})
        if ok:
            rps = emulation.closed_loop_to_full(merged.successes / secs, users, run_users)
            cpu, rss = run.sampler.between(start, end)
            details["Concurrency"] = {"MaxConcurrency": config.max_concurrency, "Users": users}
            return Outcome(full_rps=rps, latency_ms=lat, percentiles={p: latency(merged, p) for p in PERCENTILES},
                           error_rate=err, cpu_percent=cpu, rss_bytes=rss, mean_ms=merged.mean_ms)
        if users == 1:
            break
        users = max(1, users // 2)
    if not cancel.is_set():
        details["NoPassReason"] = "no concurrency up to MaxConcurrency met " + (
            f"{percentile} ≤ {threshold:g} ms with errors < 1 %" if threshold is not None else "errors < 1 %")
    return None


def serverless_price(config: sl.ServerlessConfig, outcome: Outcome, details: dict[str, Any],
                     price: ServerlessPrice | None) -> float:
    """The hour figure that makes CostPerInference = GB × billed seconds × price per GB-second
    (core.serverless), with the inputs written to Details for whoever checks the bill."""
    seconds = (outcome.mean_ms if not math.isnan(outcome.mean_ms) else outcome.percentiles["P50"]) / 1000.0
    per_gb_s = price.usd_per_gb_second if price else sl.PRICE_PER_GB_SECOND
    per_inference = sl.cost_per_inference(config.memory_size_mb, seconds, per_gb_s)
    details["ServerlessCost"] = {"MemoryGB": config.memory_gb, "BilledSecondsPerInference": sl.billed_seconds(seconds),
                                 "PricePerGBSecond": per_gb_s, "CostPerInference": per_inference,
                                 "Region": price.region if price else None,
                                 "PriceSource": price.source if price else sl.PRICE_SOURCE,
                                 "PriceDate": price.date if price else sl.PRICE_DATE,
                                 "VCpus": round(config.vcpus, 3), "VCpuSource": sl.CPU_RATIO_SOURCE}
    return sl.cost_per_hour(per_inference, outcome.full_rps * 60.0)
