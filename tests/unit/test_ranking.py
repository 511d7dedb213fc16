"""core.ranking on bare entries: ties by price, the one rule for beaten, BestFor marks."""

from __future__ import annotations

from infrec.core.ranking import Entry, beaten, best_for, overlap, rank, tied_with


def entry(n: int, tp: tuple[float, float], cost: tuple[float, float] | None, price: float) -> Entry:
    return Entry(throughput=tp, objective=cost, leader_key=(cost[0] if cost else 0.0, n), pick_key=(price, n))


def test_ties_are_ranked_by_price_and_a_significantly_better_one_is_never_passed() -> None:
    lead = entry(0, (90, 110), (1.0, 1.2), 1.00)
    cheap_but_beaten = entry(1, (60, 91), (1.5, 2.0), 0.50)   # tied with the leader, cheapest per hour
    better = entry(2, (95, 97), (1.1, 1.3), 0.90)             # its cost range lies wholly below 1's
    entries = [lead, cheap_but_beaten, better]
    assert beaten(entries, 1, [0, 1, 2]) and not beaten(entries, 2, [0, 1, 2])
    assert rank(entries) == [2, 0, 1]
    assert rank(entries, limit=2) == [2, 0]
    assert tied_with(entries, [2, 0, 1]) == {2: [0], 0: [2, 1], 1: [0]}


def test_without_an_objective_or_pooling() -> None:
    entries = [entry(0, (10, 20), None, 2.0), entry(1, (15, 25), None, 1.0)]
    assert rank(entries) == [1, 0]                       # tied: the cheaper per hour first
    assert rank(entries, pool_ties=False) == [0, 1]      # the leader's order alone
    assert overlap((1, 2), (2, 3)) and not overlap((1, 2), (2.5, 3))


def test_best_for_needs_the_whole_range_beyond_every_other() -> None:
    marks = best_for(cost=[(1, 2), (3, 4)], latency=[(5, 6), None], throughput=[(10, 20), (15, 30)])
    assert marks == [["cost", "latency"], []]
