"""What one trial at a fixed offered rate proves, and how long it must run to prove it.

A trial is: drain the endpoint → settle → warm-up (discarded) → measured windows. This module is
the pure part: the verdict on the measured windows, the trial's length, and the confirmation
hold's stopping rule. The I/O (driving load, draining) is in ``infrec.measure``.

Why these rules:

* **Achieved against what was actually sent**, not the nominal rate: with Poisson arrivals a
  400-request trial offers ±5 % around its nominal rate by chance alone, which would decide a
  97 % test by luck. Completed / sent over the measured windows is exact.
* **No growing queue.** An open loop a few percent over capacity still completes ~97 % of what it
  sends for a while, but its queue, and with it every request's wait, grows without end. The
  latency at the job's percentile in the last third of the measured windows against the middle
  third shows it (the first third is the queue settling from the drained start, which near
  saturation takes seconds): a stable queue (any utilisation below 1) fluctuates around a level, an
  overloaded one climbs. "Growing" needs both a ratio (×1.5) and an absolute rise of
  QUEUE_RISE_REQUESTS unloaded latencies — the queue grew by that many requests' worth of work —
  so the percentile's own noise over a few hundred requests (a few unloaded latencies near
  saturation) never reads as a queue, while an overload of 2 % over a 4-second trial (a queue
  grown by ~8 requests at 100 req/s) still does.
* **Length from the rate.** A trial needs enough requests for its verdict: ``TRIAL_REQUESTS``
  measured requests (so one late answer moves the ratio by 0.25 %), within a floor (the caller's
  minimum) and a ceiling (``MAX_TRIAL_S``); a trial that fails plainly is cut short by
  ``clear_failure``.
* **Hold until sure.** The reported figure comes from a hold at the found rate, in batches of at
  least ``BATCH_REQUESTS`` requests, until the 95 % interval of throughput is within ±3 % and of
  the latency percentile within ±10 %, or a time cap, which is reported. The intervals allow for
  batches that are correlated in time (``core.confidence.series_interval``): a host whose speed
  drifts for seconds at a time makes consecutive batches alike, and treating them as independent
  would call a hold converged long before it had seen the host's drift.
* **Capacity is measured, not approached.** Without a latency limit, the highest rate with a
  bounded queue is, in the limit, the endpoint's capacity; an open loop can only approach it from
  below, by an amount set by the arrival noise and the host's own speed changes (measured on a
  2-vCPU VM: −7 … −33 %, different every run). So capacity is measured directly: a closed loop
  that keeps every server slot busy (``saturating_users``; a queue of requests always waiting,
  ``saturated`` checks it by Little's law) completes requests at exactly the rate the endpoint can
  serve. The open-loop hold then runs at ``LATENCY_LOAD`` of it, for the latency a user sees there,
  and proves the queue is bounded at that load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infrec.core.confidence import Interval, series_interval

MIN_ACHIEVED = 0.97
MAX_ERROR_RATE = 0.01
QUEUE_GROWTH_RATIO = 1.5
QUEUE_RISE_REQUESTS = 4.0
TRIAL_REQUESTS = 400
MAX_TRIAL_S = 15.0
WARMUP_S = 1.0
SETTLE_S = 0.3
BATCH_REQUESTS = 50
HOLD_MIN_BATCHES = 5
HOLD_THROUGHPUT_RHW = 0.03
HOLD_LATENCY_RHW = 0.10
SATURATION_USERS_PER_SLOT = 4
SATURATION_LATENCY_RATIO = 2.0
MAX_SATURATION_USERS = 1024
LATENCY_LOAD = 0.85


@dataclass(frozen=True)
class Window:
    """One measured window (or batch of windows) in plain numbers."""

    seconds: float
    sent: int
    completed: int       # successes + errors
    errors: int
    latency_ms: float    # at the job's percentile; NaN when nothing succeeded

    @property
    def successes(self) -> int:
        return self.completed - self.errors


@dataclass(frozen=True)
class Verdict:
    passed: bool
    why: str                 # '' | 'errors' | 'latency' | 'throughput' | 'queue' | 'empty'
    achieved_rps: float      # successes per second over the measured windows
    achieved_ratio: float    # completed / sent
    error_rate: float
    latency_ms: float        # over the whole measured part
    growth: float            # second-half latency / first-half latency (1.0 when unknown)


def trial_seconds(rate_rps: float, min_measured_s: float, max_measured_s: float = MAX_TRIAL_S) -> float:
    """Measured seconds for a trial at `rate_rps`: TRIAL_REQUESTS requests, within the bounds."""
    if not rate_rps > 0:
        raise ValueError(f"rate must be positive, not {rate_rps!r}")
    need = TRIAL_REQUESTS / rate_rps
    return min(max(need, min_measured_s), max(max_measured_s, min_measured_s))


def queue_growing(first_half_ms: float, second_half_ms: float, unloaded_ms: float) -> bool:
    """Whether latency climbed across the trial as an overloaded queue's does (see module doc)."""
    if math.isnan(first_half_ms) or math.isnan(second_half_ms):
        return False
    return (second_half_ms > QUEUE_GROWTH_RATIO * first_half_ms
            and second_half_ms - first_half_ms > QUEUE_RISE_REQUESTS * max(unloaded_ms, 0.5))


def judge(windows: Sequence[Window], latency_ms: float, first_half_ms: float, second_half_ms: float,
          unloaded_ms: float, latency_limit_ms: float | None) -> Verdict:
    """The verdict on a trial's measured windows (warm-up already dropped).

    `latency_ms` is the job's percentile over all of them (from the merged histogram);
    `first_half_ms`/`second_half_ms` the same percentile over each half, for the queue test.
    """
    secs = sum(w.seconds for w in windows)
    sent = sum(w.sent for w in windows)
    completed = sum(w.completed for w in windows)
    errors = sum(w.errors for w in windows)
    growth = second_half_ms / first_half_ms if first_half_ms > 0 and not math.isnan(second_half_ms) else 1.0
    if not secs or not sent or not completed:
        return Verdict(False, "empty", 0.0, 0.0, 1.0, math.nan, growth)
    achieved = (completed - errors) / secs
    ratio = completed / sent
    err = errors / completed

    def verdict(why: str) -> Verdict:
        return Verdict(not why, why, achieved, ratio, err, latency_ms, growth)

    if not err < MAX_ERROR_RATE:
        return verdict("errors")
    if latency_limit_ms is not None and not latency_ms <= latency_limit_ms:
        return verdict("latency")
    if ratio < MIN_ACHIEVED:
        return verdict("throughput")
    if queue_growing(first_half_ms, second_half_ms, unloaded_ms):
        return verdict("queue")
    return verdict("")


def clear_failure(windows: Sequence[Window], latency_limit_ms: float | None, unloaded_ms: float) -> str | None:
    """Why a running trial has already failed beyond doubt (after ≥ 2 measured windows), or None.

    Far from the boundary a trial need not run its full length: completing under 80 % of what was
    sent, latency over three times the limit, or errors over 10 % cannot turn into a pass.
    """
    if len(windows) < 2:
        return None
    sent = sum(w.sent for w in windows)
    completed = sum(w.completed for w in windows)
    errors = sum(w.errors for w in windows)
    if sent >= 20 and completed < 0.8 * sent:
        return "throughput"
    if completed >= 20 and errors > 0.1 * completed:
        return "errors"
    last = windows[-1].latency_ms
    if latency_limit_ms is not None and not math.isnan(last) and last > 3 * latency_limit_ms:
        return "latency"
    if not math.isnan(last) and last > 50 * max(unloaded_ms, 1.0) and last > 1000.0:
        return "queue"
    return None


def batch_windows(rate_rps: float) -> int:
    """How many one-second windows make one hold batch: at least BATCH_REQUESTS requests each."""
    return max(1, math.ceil(BATCH_REQUESTS / max(rate_rps, 1e-9)))


@dataclass(frozen=True)
class HoldState:
    throughput: Interval | None     # successes per second
    latency: Interval | None        # ms at the job's percentile
    converged: bool


def hold_state(batches: Sequence[Window], overall_latency_ms: float, *,
               min_batches: int = HOLD_MIN_BATCHES, throughput_rhw: float = HOLD_THROUGHPUT_RHW,
               latency_rhw: float = HOLD_LATENCY_RHW) -> HoldState:
    """The hold's intervals so far, and whether both are as tight as required."""
    if len(batches) < 2:
        return HoldState(None, None, False)
    rates = [b.successes / b.seconds for b in batches if b.seconds > 0]
    secs = sum(b.seconds for b in batches)
    total = sum(b.successes for b in batches) / secs if secs else 0.0
    tput = series_interval(rates, center=total) if len(rates) >= 2 else None
    lats = [b.latency_ms for b in batches if not math.isnan(b.latency_ms)]
    lat = series_interval(lats, center=overall_latency_ms) if len(lats) >= 2 else None
    converged = (len(batches) >= min_batches and tput is not None and lat is not None
                 and tput.relative_half_width <= throughput_rhw and lat.relative_half_width <= latency_rhw)
    return HoldState(tput, lat, converged)


def saturating_users(slots: int, instances: int) -> int:
    """Closed-loop users that keep `slots` concurrent requests per instance busy with a queue behind
    each: SATURATION_USERS_PER_SLOT per slot, so a request is always waiting when one finishes
    (the generator's turnaround never idles the server)."""
    if slots < 1 or instances < 1:
        raise ValueError(f"slots and instances must be at least 1, got {slots} and {instances}")
    return min(MAX_SATURATION_USERS, SATURATION_USERS_PER_SLOT * slots * instances)


def saturated(median_latency_ms: float, unloaded_ms: float) -> bool:
    """Whether a closed loop kept a queue at the server. By Little's law, users = throughput ×
    latency: when the median latency is at least SATURATION_LATENCY_RATIO × the unloaded one,
    requests waited for a slot, so the server was never idle for want of work and the throughput
    is its capacity. Otherwise the server had spare slots (more workers, or an I/O-bound model)
    and the users must be raised."""
    if math.isnan(median_latency_ms) or not median_latency_ms > 0:
        return False
    return median_latency_ms >= SATURATION_LATENCY_RATIO * max(unloaded_ms, 0.05)
