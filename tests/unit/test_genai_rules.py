"""core.genai's rules to the exact value: SLA judgements and their reasons, the concurrency search's
every step, the cost of a million tokens at its bounds, and the ranking on three candidates whose
order each rule decides."""

from __future__ import annotations

import pytest

from infrec.core.genai import (
    FAIL,
    PASS,
    UNSURE,
    ConcurrencySearch,
    Judgement,
    LevelStats,
    cost_per_million_tokens,
    judge_level,
    rank_with_ties,
)
from infrec.core.workload import Slas


def level(ttft: list[float] | None = None, itl: list[float] | None = None, e2e: list[float] | None = None,
          errs: list[float] | None = None, p: int = 90, successes: int = 100, errors: int = 0,
          generator_bound: bool = False) -> LevelStats:
    """A level of 100 requests over 10 s, with per-batch values at percentile `p`."""
    return LevelStats(level=4, open_loop=False, duration_s=10, requests=100, successes=successes, errors=errors,
                      output_tokens=1000, input_tokens=1000, good=successes, ttft_ms={}, itl_ms={}, e2e_ms={},
                      ttft_batches={p: ttft} if ttft else {}, itl_batches={p: itl} if itl else {},
                      e2e_batches={p: e2e} if e2e else {}, error_rate_batches=errs or [],
                      generator_bound=generator_bound)


# ------------------------------------------------------------------------------ judge_level
def test_a_level_the_generator_could_not_drive_or_without_a_success_fails() -> None:
    good = [80.0, 80.0, 80.0]
    assert judge_level(level(good, generator_bound=True), Slas(ttft_ms=100)) == Judgement(
        FAIL, ("the load generator could not drive this level",))
    assert judge_level(level(good, successes=0), Slas(ttft_ms=100)) == Judgement(FAIL, ("no request succeeded",))
    assert judge_level(level(good, successes=1), Slas(ttft_ms=100)) == Judgement(PASS, ())


def test_every_sla_is_judged_at_its_percentile_with_its_reason() -> None:
    slas = Slas(ttft_ms=100, itl_ms=20, e2e_ms=1000, percentile=99)
    straddling = level([60, 140, 95, 105], [10, 30, 20, 21], [900, 1100, 1000, 1010], p=99)
    assert judge_level(straddling, slas) == Judgement(UNSURE, (
        "P99 TTFT 100.0 ms [47.6, 152.4] straddles 100 ms",
        "P99 ITL 20.2 ms [7.2, 33.3] straddles 20 ms",
        "P99 E2E 1002.5 ms [872.4, 1132.6] straddles 1000 ms"))
    # Batches at another percentile are no evidence for this one.
    assert judge_level(level([80], [10], [900]), Slas(ttft_ms=100, itl_ms=20, e2e_ms=1000)) == Judgement(UNSURE, (
        "P90 TTFT: fewer than 2 batches", "P90 ITL: fewer than 2 batches", "P90 E2E: fewer than 2 batches"))
    assert judge_level(level([80, 80]), Slas(ttft_ms=100)) == Judgement(PASS, ())     # two batches suffice


@pytest.mark.parametrize(("field", "name"), [("ttft", "TTFT"), ("itl", "ITL"), ("e2e", "E2E")])
def test_an_interval_wholly_above_a_limit_fails_naming_it(field: str, name: str) -> None:
    stats = level(**{field: [120.0, 125.0, 122.0]})
    slas = Slas(**{f"{field}_ms": 100.0})
    assert judge_level(stats, slas) == Judgement(FAIL, (f"P90 {name} 122.3 ms [116.1, 128.6] > 100 ms",))


def test_an_sla_not_set_is_skipped_and_the_next_one_still_judged() -> None:
    assert judge_level(level(itl=[30.0, 31.0, 30.5]), Slas(itl_ms=20)).verdict == FAIL
    assert judge_level(level(e2e=[30.0, 31.0, 30.5]), Slas(ttft_ms=None, e2e_ms=20)).verdict == FAIL


def test_a_limit_met_exactly_passes() -> None:
    # A zero-width interval at the limit: "meets" includes equal, for latencies and the error rate.
    assert judge_level(level([100.0, 100.0, 100.0]), Slas(ttft_ms=100)) == Judgement(PASS, ())
    assert judge_level(level([80.0, 80.0], errs=[0.01, 0.01]), Slas(ttft_ms=100)) == Judgement(PASS, ())
    assert judge_level(level([80.0, 80.0], errors=1), Slas(ttft_ms=100)) == Judgement(PASS, ())   # 1 % of 100


def test_the_error_rate_is_judged_on_its_batches_or_on_the_whole_level() -> None:
    slas = Slas(ttft_ms=100)
    assert judge_level(level([80, 80], errs=[0.2, 0.22]), slas) == Judgement(FAIL, ("error rate 0.210 > 0.01",))
    assert judge_level(level([80, 80], errs=[0.0, 0.03]), slas) == Judgement(
        UNSURE, ("error rate 0.015 [0.000, 0.206] straddles 0.01",))
    # Two batches decide it even where the level-wide rate would not (and the other way round).
    assert judge_level(level([80, 80], errs=[0.2, 0.22], errors=0), slas).verdict == FAIL
    assert judge_level(level([80, 80], errs=[0.3], errors=2), slas) == Judgement(FAIL, ("error rate 0.020 > 0.01",))
    assert judge_level(level([80, 80], errs=[0.3], errors=0), slas) == Judgement(PASS, ())


# ------------------------------------------------------------------------- ConcurrencySearch
def test_the_search_starts_at_one_not_longer_and_knows_no_pass_yet() -> None:
    search = ConcurrencySearch(ceiling=8)
    assert search.next() == (1, False) and search.best == 0 and search.fail is None
    search.record(1, FAIL)
    assert search.best == 0 and search.fail == 1 and search.next() is None
    assert ConcurrencySearch(ceiling=0).ceiling == 1
    assert ConcurrencySearch(ceiling=8, start=0).next() == (1, False)
    assert ConcurrencySearch(ceiling=8, start=20).next() == (8, False)


def test_the_search_stops_at_the_ceiling_when_every_level_passes() -> None:
    search = ConcurrencySearch(ceiling=6)
    while (step := search.next()) is not None:
        search.record(step[0], PASS)
    assert search.history == [(1, PASS), (2, PASS), (4, PASS), (6, PASS)]
    assert search.best == 6 and search.fail is None
    one = ConcurrencySearch(ceiling=1)
    one.record(1, PASS)
    assert one.next() is None and one.best == 1


def test_the_search_bisects_on_whole_levels() -> None:
    search = ConcurrencySearch(ceiling=64)
    while (step := search.next()) is not None:
        search.record(step[0], PASS if step[0] <= 9 else FAIL)
    assert search.history == [(1, PASS), (2, PASS), (4, PASS), (8, PASS), (16, FAIL), (12, FAIL), (10, FAIL),
                              (9, PASS)]
    assert all(type(c) is int for c, _ in search.history)
    assert search.best == 9 and search.fail == 10


def test_the_smallest_fail_is_kept() -> None:
    search = ConcurrencySearch(ceiling=64)
    search.record(8, FAIL)
    search.record(16, FAIL)
    assert search.fail == 8 and search.next() == (4, False)


def test_an_unsure_level_is_measured_again_longer_then_counts_as_a_fail() -> None:
    search = ConcurrencySearch(ceiling=64)                 # one repeat by default
    search.record(1, UNSURE)
    assert search.next() == (1, True) and search.repeats == {1: 1}
    search.record(1, UNSURE)
    assert search.fail == 1 and search.next() is None and search.repeats == {1: 1}

    twice = ConcurrencySearch(ceiling=64, max_repeats=2)
    twice.record(1, UNSURE)
    twice.record(1, UNSURE)
    assert twice.next() == (1, True) and twice.repeats == {1: 2}
    twice.record(1, UNSURE)
    assert twice.fail == 1 and twice.next() is None

    decided = ConcurrencySearch(ceiling=64)
    decided.record(1, UNSURE)
    decided.record(1, PASS)
    assert decided.next() == (2, False) and decided.best == 1


# -------------------------------------------------------------------- cost_per_million_tokens
def test_cost_per_million_tokens_at_its_bounds() -> None:
    assert cost_per_million_tokens(0.5, 1, 0.5) == pytest.approx(0.5 / 1800.0 * 1e6)
    assert cost_per_million_tokens(1.0, 3, 50.0) == pytest.approx(1.0 * 3 / (50.0 * 3600.0) * 1e6)
    assert cost_per_million_tokens(0.0, 1, 10.0) is None
    assert cost_per_million_tokens(1.0, 1, -1.0) is None


# ------------------------------------------------------------------------------ rank_with_ties
def cand(tps: float, lo: float, hi: float, price: float, ttft: float) -> dict[str, object]:
    return {"tokens_per_s": tps, "tokens_interval": (lo, hi), "price": price,
            "cost": cost_per_million_tokens(price, 1, tps), "ttft_ms": ttft}


# L leads on cost per token and throughput; B is tied with L and cheapest per hour, but X's range
# (tied with L too) lies wholly better than B's on either metric, so B is beaten and ranked last.
L, B, X = cand(100.0, 50.0, 150.0, 1.0, 30.0), cand(65.0, 60.0, 70.0, 0.9, 20.0), cand(95.0, 90.0, 100.0, 1.0, 25.0)


def test_a_candidate_beaten_on_cost_per_token_is_not_picked_for_its_price() -> None:
    assert rank_with_ties([L, B, X], "cost") == [(0, [2, 1]), (2, [0]), (1, [0])]


def test_a_candidate_beaten_on_throughput_is_not_picked_for_its_price() -> None:
    assert rank_with_ties([L, B, X], "throughput") == [(0, [2, 1]), (2, [0]), (1, [0])]


def test_ttft_ranks_by_the_point_alone() -> None:
    assert rank_with_ties([L, B, X], "ttft-ms") == [(1, [0]), (2, [0]), (0, [1, 2])]   # ties in rank order


def test_points_without_intervals_prices_or_costs() -> None:
    points = [{"tokens_per_s": 10.0, "cost": None, "ttft_ms": 5.0},
              {"tokens_per_s": 12.0, "price": 2.0, "cost": 5.0, "ttft_ms": 7.0},
              {"tokens_per_s": 12.0, "price": 1.0, "ttft_ms": 6.0}]
    # Not costed (no cost, no price): ranked last on cost; equal points are tied; the cheaper per
    # hour of two tied points leads, and the dearer one's cost per token lies wholly above it.
    assert rank_with_ties(points, "cost") == [(2, [1]), (1, [2]), (0, [])]
    assert rank_with_ties(points, "throughput") == [(2, [1]), (1, [2]), (0, [])]
    assert rank_with_ties(points, "ttft-ms") == [(0, []), (2, [1]), (1, [2])]
    uncosted_first = [{"tokens_per_s": 12.0, "cost": None}, {"tokens_per_s": 12.0, "price": 1.0, "cost": 9.0}]
    assert rank_with_ties(uncosted_first, "cost") == [(1, [0]), (0, [1])]


def test_an_sla_without_batches_at_its_percentile_is_unsure_not_an_error() -> None:
    assert judge_level(level(ttft=[80.0, 80.0]), Slas(ttft_ms=100, itl_ms=20, e2e_ms=1000)) == Judgement(
        UNSURE, ("P90 ITL: fewer than 2 batches", "P90 E2E: fewer than 2 batches"))
    assert judge_level(level(itl=[10.0, 10.0]), Slas(ttft_ms=100)) == Judgement(
        UNSURE, ("P90 TTFT: fewer than 2 batches",))


def test_a_candidate_without_a_price_beats_nothing_on_cost() -> None:
    # T is tied with the leader L and cheaper per hour, so it is picked first; C (no price, not
    # costed) measured far faster, but an unknown cost per token is no evidence that T is dearer.
    lead, tied = cand(20.0, 10.0, 30.0, 2.0, 10.0), cand(8.0, 7.0, 11.0, 1.0, 10.0)
    uncosted = {"tokens_per_s": 100.0, "tokens_interval": (95.0, 105.0), "cost": None, "ttft_ms": 10.0}
    assert [i for i, _ in rank_with_ties([lead, tied, uncosted], "cost")] == [1, 0, 2]


def test_a_throughput_interval_down_to_zero_has_no_cost_bound() -> None:
    # X's interval reaches 0 tokens/s: its cost per token may be unbounded, so the tied Y, whose
    # whole range is finite, lies wholly below it and X is beaten despite its lower point cost.
    x, y = cand(5.0, 0.0, 10.0, 1.0, 10.0), cand(6.0, 5.0, 7.0, 2.0, 10.0)
    assert [i for i, _ in rank_with_ties([x, y], "cost")] == [1, 0]
