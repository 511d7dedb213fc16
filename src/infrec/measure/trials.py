"""The records a Default step keeps of its trials: one trial's windows and verdict (`TrialRun`),
the running batches of a hold (`HoldTracker`), the saturated closed loop's throughput
(`Capacity`), and the figures the report plots per trial (`trial_figures`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from infrec.core import trial as tr
from infrec.core.confidence import Interval
from infrec.core.emulation import Emulation
from infrec.core.stats import LoadResult, WindowStats
from infrec.loadgen import histogram
from infrec.measure.outcome import latency
from infrec.measure.sampling import Usage


@dataclass
class TrialRun:
    """One trial: its verdict, the windows it was judged on (and those merged), the generator's
    result, when it ran (monotonic) and how long the drain before it took."""

    verdict: tr.Verdict
    measured: list[WindowStats]
    merged: WindowStats
    result: LoadResult
    start: float
    end: float
    drain_s: float


def judged_window(w: WindowStats, percentile: str) -> tr.Window:
    """A window as core.trial judges it: its seconds, counts and latency at `percentile`."""
    lat = latency(w, percentile) if w.successes else math.nan
    return tr.Window(seconds=w.duration_s, sent=w.sent, completed=w.requests, errors=w.errors, latency_ms=lat)


class HoldTracker:
    """The hold's batches and running latency histogram, fed each window once: the control
    process must stay light while it measures (re-merging every window every second is not)."""

    def __init__(self, percentile: str, per_batch: int) -> None:
        self.percentile, self.per_batch = percentile, per_batch
        self.hist = histogram.new_histogram()
        self.batches: list[tr.Window] = []
        self.pending: list[WindowStats] = []
        self.seen = 0

    def extend(self, measured: list[WindowStats]) -> None:
        for w in measured[self.seen:]:
            if w.histogram:
                self.hist.decode_and_add(w.histogram)
            self.pending.append(w)
            if len(self.pending) == self.per_batch:
                batch = w if self.per_batch == 1 else histogram.merge_windows(self.pending)
                self.batches.append(judged_window(batch, self.percentile))
                self.pending = []
        self.seen = max(self.seen, len(measured))

    def state(self, latency_rhw: float = tr.HOLD_LATENCY_RHW) -> tr.HoldState:
        if len(self.batches) < tr.HOLD_MIN_BATCHES:
            return tr.HoldState(None, None, False)
        pct = {"P50": 50.0, "P90": 90.0, "P95": 95.0, "P99": 99.0}[self.percentile.upper()]
        overall = self.hist.get_value_at_percentile(pct) / 1000.0
        return tr.hold_state(self.batches, overall, latency_rhw=latency_rhw)


@dataclass
class Capacity:
    """The saturated closed loop's throughput (emulated successes per second) and its interval,
    from one or more parts (runs) of it."""

    users: int
    batches: list[tr.Window]
    successes: int
    seconds: float
    spans: list[tuple[float, float]]   # monotonic (start, end) of each part, for utilisation

    @property
    def rps(self) -> float:
        return self.successes / self.seconds if self.seconds else 0.0

    @property
    def state(self) -> tr.HoldState:
        lats = [b.latency_ms for b in self.batches if not math.isnan(b.latency_ms)]
        return tr.hold_state(self.batches, sum(lats) / len(lats) if lats else 1.0, latency_rhw=math.inf)

    @property
    def interval(self) -> Interval:
        """The interval over however many batches there are (a short capacity run gives a wide one,
        never a zero-width one); a single batch has no spread to show: a point with n = 1, whose doc
        carries no bounds (Interval.to_doc)."""
        iv = self.state.throughput
        if iv is None:
            return Interval(self.rps, self.rps, self.rps, 1)
        return Interval(self.rps, min(iv.low, self.rps), max(iv.high, self.rps), iv.n, iv.level, iv.effective_n)

    def joined(self, other: Capacity) -> Capacity:
        return Capacity(self.users, self.batches + other.batches, self.successes + other.successes,
                         self.seconds + other.seconds, self.spans + other.spans)


def trial_figures(run: TrialRun, emulation: Emulation, sampler: Usage) -> dict[str, Any]:
    """What the report plots per trial: the rate read back to the full instance (per minute, as
    MaxInvocations), P50/P95/P99 of the measured windows, and the endpoint's CPU and memory
    utilisation over the trial — so latency and utilisation can be drawn against load — and when it
    ran (wall clock), for the report's timeline of the steps."""
    cpu, rss = sampler.between(run.start, run.end)
    lat = {p: latency(run.merged, p) for p in ("P50", "P95", "P99")} if run.merged.successes else {}
    started = time.time() - (time.monotonic() - run.start)
    return {"StartedAt": round(started, 3), "WallSeconds": round(run.end - run.start, 3),
            "InvocationsPerMinute": round(emulation.to_full(run.verdict.achieved_rps) * 60.0, 1),
            "LatencyMs": {p: round(x, 3) for p, x in lat.items() if not math.isnan(x)},
            "CpuUtilization": round(cpu, 1), "MemoryUtilization": round(emulation.memory_utilization(rss), 2)}

