"""The one ranking of configurations, for real-time recommendations (``core.recommend``) and for
generative-AI ones (``core.genai.rank_with_ties``): ties on throughput, the order by price among ties, the
rule for when a configuration is significantly beaten, and the ``BestFor`` marks.

Why a rule at all: two configurations whose throughput ranges overlap measured alike within noise,
so ranking the luckier measurement first would rank noise. Each configuration comes as an
``Entry`` of ranges (95 % confidence intervals, or points where there are none):

* ``throughput``: the range its capacity may be in (higher is better);
* ``objective``: the range of the figure the ranking is for (cost per inference, cost per 1M
  tokens, ...), oriented so that *lower is better* (a higher-is-better figure is given negated);
  None where the ranking is by point value alone;
* ``leader_key``: its order by point values, best first, ending in a stable key;
* ``pick_key``: its order among ties: cheapest per hour first, ending in a stable key.

Two closed ranges *overlap* when neither lies wholly above the other (touching counts).
Configurations whose throughput ranges overlap are *tied*.

The ranking picks one configuration at a time from the remaining ones:

1. the *leader* is the first remaining one by ``leader_key``;
2. the *pool* is the leader and every remaining configuration tied with it, less every *beaten*
   one;
3. the pick is the pool's first by ``pick_key`` (the leader where the pool is empty).

**Beaten** (the one rule): a configuration is beaten when some *other remaining* configuration's
objective range lies wholly below (better than) its own: ``other.objective.high <
this.objective.low``. Every remaining configuration is compared, not only the ones tied with the
leader, because the pick must never be ranked above any configuration that is significantly better
on the objective, wherever that one stands in the order. Without an objective nothing is beaten.

So tied configurations are ordered by price; none is ranked above one significantly better on the
objective; the order does not depend on the order of the input; and for points (no intervals) it is
the plain order of ``leader_key``.

``BestFor`` marks (``best_for``): a configuration is best for a figure when its range lies wholly
beyond every other ranked one's (below for cost and latency, above for throughput). No mark where
the best is within the noise of another, so at most one configuration has each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Range = tuple[float, float]      # closed interval (low, high)


def overlap(a: Range, b: Range) -> bool:
    """Whether two closed ranges share a point: neither lies wholly above the other."""
    return a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class Entry:
    """One configuration as the ranking sees it (module doc)."""

    throughput: Range
    objective: Range | None
    leader_key: tuple[Any, ...]
    pick_key: tuple[Any, ...]


def rank(entries: Sequence[Entry], limit: int | None = None, *, pool_ties: bool = True) -> list[int]:
    """Indexes into ``entries`` in rank order, at most ``limit`` (module doc). ``pool_ties=False``
    ranks by ``leader_key`` alone (a ranking by a latency, where price among ties does not apply)."""
    remaining = sorted(range(len(entries)), key=lambda i: entries[i].leader_key)
    order: list[int] = []
    while remaining and (limit is None or len(order) < limit):
        leader = remaining[0]
        pick = leader
        if pool_ties:
            lead = entries[leader]
            pool = [i for i in remaining
                    if (i == leader or overlap(entries[i].throughput, lead.throughput))
                    and not beaten(entries, i, remaining)]
            pick = min(pool or [leader], key=lambda i: entries[i].pick_key)
        remaining.remove(pick)
        order.append(pick)
    return order


def beaten(entries: Sequence[Entry], i: int, remaining: Sequence[int]) -> bool:
    """Whether another remaining configuration's objective range lies wholly below entry ``i``'s."""
    own = entries[i].objective
    if own is None:
        return False
    return any(j != i and (other := entries[j].objective) is not None and other[1] < own[0] for j in remaining)


def tied_with(entries: Sequence[Entry], order: Sequence[int]) -> dict[int, list[int]]:
    """For each ranked index, the other ranked ones whose throughput ranges overlap its own (direct
    overlap, in rank order; empty when none)."""
    return {i: [j for j in order if j != i and overlap(entries[i].throughput, entries[j].throughput)]
            for i in order}


def sole_best(ranges: Sequence[tuple[int, Range]], *, higher: bool) -> int | None:
    """The index whose range lies wholly beyond every other one's (above if ``higher``), if any."""
    for i, r in ranges:
        others = [o for j, o in ranges if j != i]
        if higher and all(r[0] > o[1] for o in others):
            return i
        if not higher and all(r[1] < o[0] for o in others):
            return i
    return None


def best_for(cost: Sequence[Range], latency: Sequence[Range | None], throughput: Sequence[Range]) -> list[list[str]]:
    """The ``BestFor`` marks of each ranked configuration (parallel sequences, rank order):
    ``"cost"``, ``"latency"`` (those without a latency range are not compared), ``"throughput"``."""
    marks: list[list[str]] = [[] for _ in cost]
    cheapest = sole_best(list(enumerate(cost)), higher=False)
    fastest = sole_best([(i, r) for i, r in enumerate(latency) if r], higher=False)
    busiest = sole_best(list(enumerate(throughput)), higher=True)
    for mark, i in (("cost", cheapest), ("latency", fastest), ("throughput", busiest)):
        if i is not None:
            marks[i].append(mark)
    return marks
