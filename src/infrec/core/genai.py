"""Generative-AI measurements as data: per-level figures, SLA judgements with intervals, the
concurrency search, copies per instance, the cost of a million output tokens and the order of
recommendations. Pure (no I/O): the load generator measures, and the rules about what a measurement
means live here. The workload spec these run is ``core.workload``'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infrec.core.confidence import Interval, series_interval
from infrec.core.ranking import Entry, Range, rank, tied_with
from infrec.core.workload import Slas


# ------------------------------------------------------------------------------------ results
@dataclass
class LevelStats:
    """One load level's figures (a concurrency or an offered rate), over its measured windows.

    Percentiles in ms from the merged histograms; `*_batches` are per-batch values (each batch a
    few consecutive windows) that intervals and SLA judgements are made from."""

    level: float
    open_loop: bool
    duration_s: float
    requests: int
    successes: int
    errors: int
    output_tokens: int
    input_tokens: int
    good: int
    ttft_ms: dict[str, float]
    itl_ms: dict[str, float]
    e2e_ms: dict[str, float]
    ttft_batches: dict[int, list[float]] = field(default_factory=dict)   # percentile -> per batch
    itl_batches: dict[int, list[float]] = field(default_factory=dict)
    e2e_batches: dict[int, list[float]] = field(default_factory=dict)
    tokens_per_s_batches: list[float] = field(default_factory=list)
    error_rate_batches: list[float] = field(default_factory=list)
    generator_bound: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def request_throughput(self) -> float:
        return self.successes / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def output_tokens_per_s(self) -> float:
        return self.output_tokens / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def goodput(self) -> float:
        return self.good / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def tokens_per_s_interval(self) -> Interval | None:
        xs = self.tokens_per_s_batches
        return series_interval(xs, self.output_tokens_per_s) if len(xs) >= 2 else None

    def to_doc(self) -> dict[str, Any]:
        iv = self.tokens_per_s_interval()
        return {"Level": self.level, "Mode": "request_rate" if self.open_loop else "concurrency",
                "DurationSeconds": round(self.duration_s, 3), "Requests": self.requests,
                "Successes": self.successes, "Errors": self.errors, "ErrorRate": round(self.error_rate, 5),
                "RequestThroughput": round(self.request_throughput, 4),
                "OutputTokensPerSecond": round(self.output_tokens_per_s, 3),
                "OutputTokensPerSecondInterval": ({"Low": round(iv.low, 3), "High": round(iv.high, 3)}
                                                  if iv else None),
                "InputTokens": self.input_tokens, "OutputTokens": self.output_tokens,
                "Goodput": round(self.goodput, 4), "GoodRequests": self.good,
                "TimeToFirstTokenMs": _rounded(self.ttft_ms), "InterTokenLatencyMs": _rounded(self.itl_ms),
                "RequestLatencyMs": _rounded(self.e2e_ms), "GeneratorBound": self.generator_bound,
                "Notes": list(self.notes)}


def _rounded(d: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in d.items()}


# ------------------------------------------------------------------------- SLA judgement
PASS, FAIL, UNSURE = "pass", "fail", "unsure"


@dataclass(frozen=True)
class Judgement:
    verdict: str                     # pass | fail | unsure
    reasons: tuple[str, ...] = ()    # why not pass, per SLA


def pool_levels(runs: Sequence[LevelStats]) -> LevelStats:
    """Several runs of one level as one: a level measured again because its intervals could not
    decide keeps the evidence it already had, so the verdict and the recommended figures rest on
    every request sent at that level rather than on the last run alone.

    Counts, durations and the per-batch values (what intervals and SLA verdicts use) are exact;
    the level-wide percentiles are the success-weighted means of the runs' own (their histograms
    are not kept), close to the pooled percentile when the runs agree, as runs of one level do."""
    if not runs:
        raise ValueError("nothing to pool")
    if len(runs) == 1:
        return runs[0]
    weights = [max(r.successes, 0) for r in runs]

    def mean_of(attr: str) -> dict[str, float]:
        keys = set.intersection(*(set(getattr(r, attr)) for r in runs))
        total = sum(w for r, w in zip(runs, weights, strict=True) if getattr(r, attr))
        if not total:
            return {}
        return {k: sum(getattr(r, attr)[k] * w for r, w in zip(runs, weights, strict=True)) / total for k in keys}

    def batches(attr: str) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for r in runs:
            for p, xs in getattr(r, attr).items():
                out.setdefault(p, []).extend(xs)
        return out

    first = runs[0]
    return LevelStats(
        level=first.level, open_loop=first.open_loop, duration_s=sum(r.duration_s for r in runs),
        requests=sum(r.requests for r in runs), successes=sum(r.successes for r in runs),
        errors=sum(r.errors for r in runs), output_tokens=sum(r.output_tokens for r in runs),
        input_tokens=sum(r.input_tokens for r in runs), good=sum(r.good for r in runs),
        ttft_ms=mean_of("ttft_ms"), itl_ms=mean_of("itl_ms"), e2e_ms=mean_of("e2e_ms"),
        ttft_batches=batches("ttft_batches"), itl_batches=batches("itl_batches"), e2e_batches=batches("e2e_batches"),
        tokens_per_s_batches=[x for r in runs for x in r.tokens_per_s_batches],
        error_rate_batches=[x for r in runs for x in r.error_rate_batches],
        generator_bound=any(r.generator_bound for r in runs),
        notes=[*dict.fromkeys(n for r in runs for n in r.notes), f"pooled from {len(runs)} runs of this level"])


def judge_level(stats: LevelStats, slas: Slas) -> Judgement:
    """Does this level meet every SLA, with 95 % confidence?

    Each SLA is judged on the batch values of its percentile: pass when the interval's upper bound
    meets it, fail when the lower bound breaks it (or the error rate's lower bound is above the
    limit, or the generator could not drive the level), unsure otherwise. Fewer than two batches
    is never a pass: one sample is no evidence."""
    if stats.generator_bound:
        return Judgement(FAIL, ("the load generator could not drive this level",))
    if stats.successes == 0:
        return Judgement(FAIL, ("no request succeeded",))
    reasons: list[str] = []
    unsure = False
    p = slas.percentile
    checks = [("TTFT", slas.ttft_ms, stats.ttft_batches.get(p, [])),
              ("ITL", slas.itl_ms, stats.itl_batches.get(p, [])),
              ("E2E", slas.e2e_ms, stats.e2e_batches.get(p, []))]
    for name, limit, xs in checks:
        if limit is None:
            continue
        if len(xs) < 2:
            unsure = True
            reasons.append(f"P{p} {name}: fewer than 2 batches")
            continue
        iv = series_interval(xs)
        if iv.low > limit:
            return Judgement(FAIL, (f"P{p} {name} {iv.value:.1f} ms [{iv.low:.1f}, {iv.high:.1f}] > {limit:g} ms",))
        if iv.high > limit:
            unsure = True
            reasons.append(f"P{p} {name} {iv.value:.1f} ms [{iv.low:.1f}, {iv.high:.1f}] straddles {limit:g} ms")
    errs = stats.error_rate_batches
    if len(errs) >= 2:
        iv = series_interval(errs)
        if iv.low > slas.max_error_rate:
            return Judgement(FAIL, (f"error rate {iv.value:.3f} > {slas.max_error_rate:g}",))
        if iv.high > slas.max_error_rate:
            unsure = True
            reasons.append(f"error rate {iv.value:.3f} [{iv.low:.3f}, {iv.high:.3f}] straddles {slas.max_error_rate:g}")
    elif stats.error_rate > slas.max_error_rate:
        return Judgement(FAIL, (f"error rate {stats.error_rate:.3f} > {slas.max_error_rate:g}",))
    return Judgement(UNSURE if unsure else PASS, tuple(reasons))


class ConcurrencySearch:
    """The largest concurrency in [1, ceiling] that meets every SLA: doubling until a level fails,
    then bisection between the last pass and the first fail. A level the intervals cannot decide is
    measured again, longer (`next` returns it with `longer=True`), at most `max_repeats` times;
    still undecided, it counts as a fail — a level is only recommended on evidence.

    Drive it with `next()` -> (concurrency, longer) or None when done, and `record(c, verdict)`."""

    def __init__(self, ceiling: int, start: int = 1, max_repeats: int = 1) -> None:
        self.ceiling = max(1, ceiling)
        self.best = 0                      # largest passing concurrency
        self.fail: int | None = None       # smallest failing concurrency
        self.pending: int | None = min(max(1, start), self.ceiling)
        self.repeats: dict[int, int] = {}
        self.max_repeats = max_repeats
        self.history: list[tuple[int, str]] = []
        self._longer = False

    def next(self) -> tuple[int, bool] | None:
        if self.pending is None:
            return None
        return self.pending, self._longer

    def record(self, c: int, verdict: str) -> None:
        self.history.append((c, verdict))
        self._longer = False
        if verdict == UNSURE and self.repeats.get(c, 0) < self.max_repeats:
            self.repeats[c] = self.repeats.get(c, 0) + 1
            self.pending, self._longer = c, True
            return
        if verdict == PASS:
            self.best = max(self.best, c)
        else:
            self.fail = c if self.fail is None else min(self.fail, c)
        if self.fail is None:
            nxt: int | None = min(c * 2, self.ceiling) if c < self.ceiling else None
        else:
            lo, hi = self.best, self.fail
            nxt = (lo + hi) // 2 if hi - lo > 1 else None
            if nxt is not None and nxt <= lo:
                nxt = None
        self.pending = nxt


def copies_refusal(instance_vcpus: float, copies: int, gpus: int = 0) -> str | None:
    """Why `copies` copies cannot share an instance of `instance_vcpus` vCPUs (and `gpus` GPUs)
    evenly, or None.

    A copy is held to its share of the instance like any endpoint instance: whole CPUs, plus a
    fraction of one more that it shares. n equal shares fill the instance's CPUs exactly only when
    that fraction is 0 or 1/k (k copies share each such CPU): 2 copies of 3 vCPUs (1 + 1/2 each) or
    3 of 1 (1/3 each) do; 3 copies of 2 vCPUs (2/3 each) would need a CPU split across copies, and
    under CPU affinity alone (no cgroup quota) they would spread over three CPUs and read 50 % fast."""
    if copies < 1 or instance_vcpus <= 0:
        return f"copies_per_instance: {copies} copies of an instance of {instance_vcpus:g} vCPUs is not a size"
    if copies == 1:        # the instance itself, as every other endpoint runs
        return None
    if gpus:               # each copy would be handed the whole instance's GPUs again
        return (f"{copies} copies of an instance with {gpus} GPU(s): infrec does not yet split an instance's GPUs "
                "between copies; use copies_per_instance 1 on GPU instance types")
    share = instance_vcpus / copies
    frac = share - math.floor(share + 1e-9)
    if frac < 1e-9 or abs(1.0 / frac - round(1.0 / frac)) < 1e-6:
        return None
    return (f"{copies} copies cannot share the instance's {instance_vcpus:g} vCPUs on this host evenly: each would "
            f"get {share:.3g} vCPUs, and a copy's part of a CPU must be 1/2, 1/3, ... of it; use a copy count that "
            f"divides {instance_vcpus:g} or is a multiple of it")


def cost_per_million_tokens(hourly_price: float, instances: int, tokens_per_s: float) -> float | None:
    """Dollars per 1M output tokens at `tokens_per_s` sustained on `instances` at `hourly_price` each."""
    if tokens_per_s <= 0 or hourly_price <= 0:
        return None
    return hourly_price * instances / (tokens_per_s * 3600.0) * 1e6


def rank_with_ties(cands: Sequence[Mapping[str, Any]], metric: str) -> list[tuple[int, list[int]]]:
    """The order of candidate configurations for a PerformanceTarget metric, ties by price; returns
    (index into `cands`, indexes of the candidates tied with it) in rank order.

    Each candidate has ``tokens_per_s`` and its 95 % interval ``tokens_interval`` (low, high; None
    counts as a point), ``price`` per hour, ``cost`` per 1M output tokens (None: not costed) and
    ``ttft_ms``. The rule is ``core.ranking``'s, the real-time one: configurations whose throughput
    intervals overlap are *tied*, their difference is noise, and they are ordered by price per
    hour. For ``cost`` the leader is the cheapest per token and the objective the cost-per-token
    range (CostPerHour over the throughput interval); for ``throughput`` the leader is the highest
    and the objective the throughput interval. So the best-measured of several same-hardware
    configurations does not win on luck, and none is ranked above one significantly better on the
    metric. ``ttft-ms`` ranks by P90 TTFT alone."""
    def tp(c: Mapping[str, Any]) -> Range:
        iv = c.get("tokens_interval")
        return (float(iv[0]), float(iv[1])) if iv else (float(c["tokens_per_s"]), float(c["tokens_per_s"]))

    def objective(c: Mapping[str, Any]) -> Range | None:
        lo, hi = tp(c)
        if metric == "throughput":
            return -hi, -lo
        if metric != "cost":
            return None
        price = float(c.get("price") or 0.0)
        cheap, dear = cost_per_million_tokens(price, 1, hi), cost_per_million_tokens(price, 1, lo)
        return (math.inf, math.inf) if cheap is None or dear is None else (cheap, dear)

    def point(c: Mapping[str, Any]) -> float:
        if metric == "throughput":
            return -float(c["tokens_per_s"])
        if metric == "ttft-ms":
            return float(c.get("ttft_ms") or 0.0)
        return float(c["cost"]) if c.get("cost") is not None else math.inf

    entries = [Entry(throughput=tp(c), objective=objective(c), leader_key=(point(c), i),
                     pick_key=(float(c.get("price") or math.inf), point(c), i)) for i, c in enumerate(cands)]
    order = rank(entries, pool_ties=metric != "ttft-ms")
    tied = tied_with(entries, order)
    return [(i, tied[i]) for i in order]


def batch_size(answers_per_window: float, target: int = 10) -> int:
    """Windows per batch so a batch holds about `target` answers (a percentile needs a few)."""
    if answers_per_window <= 0:
        return 1
    return max(1, min(10, math.ceil(target / answers_per_window)))

