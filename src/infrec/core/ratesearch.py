"""The Default job's built-in traffic: a bounded search for the highest sustained request rate.

Why open loop: a closed-loop generator (N users, each waiting for its answer) slows down when the
server slows down, so it can never show that a server *cannot* keep up; it only ever measures
"N users' worth". An open-loop generator offers requests at a fixed rate whatever the server does,
so overload shows plainly as a shortfall in achieved throughput, rising latency and errors. The
highest offered rate that the endpoint still serves cleanly is its maximum sustained throughput,
SageMaker's MaxInvocations (× 60 for per minute).

The search is a small state machine the caller drives; it does no I/O and keeps no clock::

    search = RateSearch(initial_rps=initial_rate_guess(p50_ms, vcpus), max_rps=10_000)   # SearchRules() by default
    while (rate := search.next_rate()) is not None:
        ... offer `rate` req/s for a while, measure ...
        search.record(TrialOutcome(rate, achieved_rps, error_rate, latency_ms))
    best = search.best          # the highest passing trial, or None

A trial **passes** when all of these hold:

* achieved ≥ 97 % of the offered rate (``min_achieved_ratio``): the server kept up; a few percent
  slack absorbs the generator's own jitter and the ramp at the start of a trial;
* error rate < 1 % (``max_error_rate``), SageMaker's definition of MaxInvocations;
* latency at the job's percentile ≤ ``latency_limit_ms`` when a ModelLatencyThreshold is given
  (a NaN latency — nothing answered — fails).

Phases:

1. **Ramp**: start at ``initial_rps`` and double after every pass, until the first failure or
   ``max_rps`` (passing at ``max_rps`` ends the search: the endpoint is faster than we are asked to
   look).
2. **Bisection** between the highest pass ``lo`` and the lowest failure ``hi`` until
   ``(hi - lo) / hi ≤ precision`` (5 % by default). When the very first trial fails, ``lo`` is 0 and
   the search halves the rate until something passes (or the rate drops below ``min_rps``).

When a trial fails *only because the server could not keep up* (achieved < 97 % of the target,
but errors and latency fine), the achieved rate is itself a measurement of capacity: an
overloaded server completes requests at its capacity. So the bracket's upper end is tightened to
``achieved / 0.97`` (never below ``lo``) and the next probe goes just under that bound
(``bound × (1 − precision / 2)``) instead of halfway; when it passes, the search has converged.
This usually saves two or three trials after an overshooting doubling. ``use_achieved=False`` turns that
off for pure bisection.

``SearchRules`` holds these thresholds (the same for every job); a search itself has only its rates,
latency limit and percentile.

Every search ends: at most ``max_trials`` trials, the bracket shrinks geometrically, and the
rate never leaves ``[min_rps, max_rps]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PERCENTILES = ("P50", "P90", "P95", "P99")


@dataclass(frozen=True)
class TrialOutcome:
    """What one trial at a fixed offered rate measured.

    ``target_rps``: the offered rate; ``achieved_rps``: successful responses per second over the
    steady part of the trial; ``error_rate``: failed / sent (0..1); ``latency_ms``: latency at the
    job's percentile (NaN when nothing was answered). ``verdict``, when given, is the caller's own
    judgement ('' = passed, else why it failed, as ``infrec.core.trial.judge`` gives it) and
    replaces the search's simple rules: the caller may know more (what was really sent, whether
    the queue grew).
    """

    target_rps: float
    achieved_rps: float
    error_rate: float
    latency_ms: float
    verdict: str | None = None


@dataclass(frozen=True)
class TrialRecord:
    """A recorded trial and the search's verdict on it (``why`` is empty when it passed)."""

    outcome: TrialOutcome
    passed: bool
    why: str


def initial_rate_guess(single_latency_ms: float, vcpus: float, fraction: float = 0.5,
                       min_rps: float = 0.5, max_rps: float = 100_000.0) -> float:
    """A first rate from one unloaded request's latency and the endpoint's (effective) vCPUs.

    A CPU-bound model serves about one request per vCPU at a time, so its capacity is roughly
    ``vcpus × 1000 / latency_ms`` requests per second. Starting at ``fraction`` (half) of that
    means the first trial almost surely passes and the first doubling lands at or just above
    capacity: the search brackets the answer in two trials instead of ramping up from 1 req/s.
    The result is clamped to ``[min_rps, max_rps]``.
    """
    if not (single_latency_ms > 0) or math.isinf(single_latency_ms):
        raise ValueError(f"single-request latency must be a positive number of ms, not {single_latency_ms!r}")
    if not (vcpus > 0) or math.isinf(vcpus):
        raise ValueError(f"vCPUs must be a positive number, not {vcpus!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], not {fraction!r}")
    estimate = vcpus * 1000.0 / single_latency_ms * fraction
    return min(max(estimate, min_rps), max_rps)


@dataclass(frozen=True)
class SearchRules:
    """How any rate search judges a trial and moves its bracket (module doc): the same for every
    job, unlike the rates and latency limit of one search. Checked when made, each bad value named."""

    max_error_rate: float = 0.01
    min_achieved_ratio: float = 0.97
    max_trials: int = 15
    precision: float = 0.05
    min_rps: float = 0.1
    use_achieved: bool = True

    def __post_init__(self) -> None:
        if not (self.min_rps > 0):
            raise ValueError(f"min_rps must be positive, not {self.min_rps!r}")
        if not 0 < self.max_error_rate <= 1:
            raise ValueError(f"max_error_rate must be in (0, 1], not {self.max_error_rate!r}")
        if self.max_trials < 1:
            raise ValueError(f"max_trials must be at least 1, not {self.max_trials!r}")
        if not 0 < self.precision < 1:
            raise ValueError(f"precision must be in (0, 1), not {self.precision!r}")
        if not 0 < self.min_achieved_ratio <= 1:
            raise ValueError(f"min_achieved_ratio must be in (0, 1], not {self.min_achieved_ratio!r}")


class RateSearch:
    """Ramp ×2, then bisect, for the highest rate that passes. See the module docstring."""

    def __init__(self, initial_rps: float, max_rps: float, latency_limit_ms: float | None = None,
                 percentile: str = "P95", rules: SearchRules | None = None) -> None:
        rules = rules or SearchRules()
        min_rps = rules.min_rps
        if not (max_rps >= min_rps) or math.isinf(max_rps):
            raise ValueError(f"max_rps must be a finite number ≥ {min_rps}, not {max_rps!r}")
        if not (initial_rps > 0) or math.isinf(initial_rps):
            raise ValueError(f"initial_rps must be a positive number, not {initial_rps!r}")
        if latency_limit_ms is not None and not (latency_limit_ms > 0):
            raise ValueError(f"latency_limit_ms must be positive or None, not {latency_limit_ms!r}")
        if percentile.upper() not in PERCENTILES:
            raise ValueError(f"percentile must be one of {', '.join(PERCENTILES)}, not {percentile!r}")
        self.rules = rules
        self.max_rps = float(max_rps)
        self.min_rps = float(min_rps)
        self.latency_limit_ms = latency_limit_ms
        self.percentile = percentile.upper()
        self.trials: list[TrialRecord] = []
        self.lo = 0.0                      # highest passing target so far
        self.hi: float | None = None       # lowest failing bound so far (None while ramping)
        self.reason = ""                   # why the search ended: converged | max_rps | max_trials | min_rps
        self._next: float | None = min(max(float(initial_rps), self.min_rps), self.max_rps)

    # ------------------------------------------------------------------------------ driving
    def next_rate(self) -> float | None:
        """The rate to offer next, in requests per second, or None when the search is over."""
        if self._next is not None and len(self.trials) >= self.rules.max_trials:
            self._finish("max_trials")
        return self._next

    def record(self, outcome: TrialOutcome) -> bool:
        """Record the outcome of the trial at ``next_rate()``; returns whether it passed."""
        if self._next is None:
            raise ValueError("the rate search is over; nothing to record")
        ok, why = self.judge(outcome)
        self.trials.append(TrialRecord(outcome, ok, why))
        target = self._next
        hinted = False
        if ok:
            self.lo = max(self.lo, target)
        else:
            bound = target
            hint = outcome.achieved_rps / self.rules.min_achieved_ratio
            # A capacity hint at or below a rate that already passed contradicts that pass (a slow
            # moment of the host, not the endpoint's capacity): it must not collapse the bracket.
            if self.rules.use_achieved and why == "throughput" and outcome.achieved_rps > 0 and hint > self.lo:
                hinted = hint < bound
                bound = min(bound, hint)
            bound = max(bound, self.lo)
            self.hi = bound if self.hi is None else min(self.hi, bound)
        self._advance(ok, target, hinted)
        return ok

    def judge(self, outcome: TrialOutcome) -> tuple[bool, str]:
        """(passed, why-not): why is 'errors', 'latency', 'throughput' or '' when it passed."""
        if outcome.verdict is not None:
            return outcome.verdict == "", outcome.verdict
        if not (outcome.error_rate < self.rules.max_error_rate):
            return False, "errors"
        if self.latency_limit_ms is not None and not (outcome.latency_ms <= self.latency_limit_ms):
            return False, "latency"
        if not (outcome.achieved_rps > 0 and outcome.achieved_rps >= self.rules.min_achieved_ratio * outcome.target_rps):
            return False, "throughput"
        return True, ""

    # ------------------------------------------------------------------------------ results
    @property
    def done(self) -> bool:
        return self.next_rate() is None

    @property
    def best(self) -> TrialOutcome | None:
        """The passing trial with the highest achieved rate (its metrics), or None."""
        passing = [t.outcome for t in self.trials if t.passed]
        return max(passing, key=lambda o: o.achieved_rps) if passing else None

    def passed(self, target_rps: float) -> bool:
        """Whether the most recent trial offered at ``target_rps`` passed (to 0.01 req/s or 0.1 %)."""
        for t in reversed(self.trials):
            if abs(t.outcome.target_rps - target_rps) <= max(0.01, 0.001 * abs(target_rps)):
                return t.passed
        return False

    # ------------------------------------------------------------------------------ internals
    def _advance(self, ok: bool, target: float, hinted: bool) -> None:
        if self.hi is None:                              # still ramping
            if target >= self.max_rps:
                self._finish("max_rps")
            else:
                self._next = min(target * 2.0, self.max_rps)
            return
        if self.lo > 0 and (self.hi - self.lo) <= self.rules.precision * self.hi:
            self._finish("converged")
            return
        nxt = (self.lo + self.hi) / 2.0
        if hinted:
            # The bound is a measured capacity: probe just under it rather than halfway.
            nxt = max(nxt, self.hi * (1.0 - self.rules.precision / 2.0))
        if nxt < self.min_rps:
            self._finish("min_rps")
            return
        if self.lo > 0 and not (self.lo < nxt < self.hi):  # float exhaustion; cannot narrow further
            self._finish("converged")
            return
        self._next = nxt

    def _finish(self, reason: str) -> None:
        self._next = None
        if not self.reason:
            self.reason = reason
