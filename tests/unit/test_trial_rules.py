"""core.trial's thresholds at their edges: each rule decides on one side of its bound and not on
the other, and a verdict carries the exact figures it was made from."""

from __future__ import annotations

import math

import pytest

from infrec.core.trial import (
    HoldState,
    Verdict,
    Window,
    batch_windows,
    clear_failure,
    hold_state,
    judge,
    queue_growing,
    saturated,
    trial_seconds,
)


def test_a_rate_that_is_not_positive_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="rate must be positive, not 0"):
        trial_seconds(0, 5.0)


def test_queue_growth_at_its_two_bounds() -> None:
    assert not queue_growing(10.0, 15.0, 1.0)      # exactly 1.5x is not growth (rise 5 > 4 would be)
    assert not queue_growing(10.0, 14.0, 0.5)      # 1.4x: rise 4 > 2 alone is not enough
    assert not queue_growing(2.0, 3.5, 0.0)        # 1.75x but a rise of 1.5 ms, under 4 x 0.5 ms
    assert not queue_growing(4.0, 8.0, 1.0)        # a rise of exactly 4 unloaded latencies is not over it
    assert not queue_growing(10.0, 16.0, 2.0)      # 1.6x, a rise of 6 ms under 4 x 2 ms
    assert queue_growing(2.0, 5.0, 0.0)            # 2.5x and 3 ms over 4 x 0.5 ms (the floor)
    assert queue_growing(10.0, 20.0, 2.0)


def one(seconds: float = 1.0, sent: int = 100, completed: int = 100, errors: int = 0,
        latency_ms: float = 10.0) -> list[Window]:
    return [Window(seconds, sent, completed, errors, latency_ms)]


def test_a_verdict_carries_what_it_was_judged_on() -> None:
    v = judge(one(2.0, 200, 200, 1), 12.0, 10.0, 11.0, 5.0, 20.0)
    assert v == Verdict(True, "", 99.5, 1.0, 0.005, 12.0, 1.1)
    errs = judge(one(2.0, 100, 100, 2), 12.0, 10.0, 11.0, 5.0, None)
    assert errs == Verdict(False, "errors", 49.0, 1.0, 0.02, 12.0, 1.1)


def test_latency_and_throughput_met_exactly_pass() -> None:
    assert judge(one(latency_ms=20.0), 20.0, 10.0, 10.0, 5.0, 20.0).why == ""
    assert judge(one(latency_ms=20.0), 20.5, 10.0, 10.0, 5.0, 20.0).why == "latency"
    assert judge(one(sent=100, completed=97), 10.0, 10.0, 10.0, 5.0, None).why == ""      # 97 % achieved
    assert judge(one(sent=100, completed=96), 10.0, 10.0, 10.0, 5.0, None).why == "throughput"


def test_growth_is_one_where_the_first_half_is_unknown() -> None:
    assert judge(one(), 10.0, 0.0, 5.0, 5.0, None).growth == 1.0
    assert judge(one(), 10.0, 0.5, 1.0, 5.0, None).growth == 2.0
    assert judge(one(), 10.0, 10.0, math.nan, 5.0, None).growth == 1.0


def test_a_trial_without_seconds_sends_or_answers_is_empty() -> None:
    for windows in (one(seconds=0.0), one(sent=0), one(completed=0), []):
        v = judge(windows, 10.0, 10.0, 12.0, 5.0, None)
        assert (v.passed, v.why, v.achieved_rps, v.achieved_ratio, v.error_rate, v.growth) == (
            False, "empty", 0.0, 0.0, 1.0, 1.2)
        assert math.isnan(v.latency_ms)


def test_clear_failure_bounds_on_throughput_and_errors() -> None:
    two = [Window(1.0, 10, 8, 0, 10.0), Window(1.0, 10, 7, 0, 10.0)]
    assert clear_failure(two, None, 5.0) == "throughput"          # 15 of 20 sent: under 80 %
    assert clear_failure([Window(1.0, 10, 8, 0, 10.0)] * 2, None, 5.0) is None     # exactly 80 %
    assert clear_failure([Window(1.0, 9, 7, 0, 10.0)] * 2, None, 5.0) is None      # too few sent to tell
    assert clear_failure([Window(1.0, 10, 10, 2, 10.0), Window(1.0, 10, 10, 1, 10.0)], None, 5.0) == "errors"
    assert clear_failure([Window(1.0, 10, 10, 1, 10.0)] * 2, None, 5.0) is None    # exactly 10 %
    assert clear_failure([Window(1.0, 9, 9, 3, 10.0)] * 2, None, 5.0) is None      # too few answered


def lat(*ms: float) -> list[Window]:
    return [Window(1.0, 10, 10, 0, x) for x in ms]


def test_clear_failure_looks_at_the_last_window_latency() -> None:
    assert clear_failure(lat(10.0, 400.0, 10.0), 100.0, 5.0) is None
    assert clear_failure(lat(10.0, 10.0, 310.0), 100.0, 5.0) == "latency"
    assert clear_failure(lat(10.0, 10.0, 300.0), 100.0, 5.0) is None          # exactly 3x the limit
    assert clear_failure(lat(10.0, 200.0), 100.0, 5.0) is None
    assert clear_failure(lat(10.0, 350.0), 100.0, 5.0) == "latency"
    assert clear_failure(lat(10.0, math.nan), 100.0, 5.0) is None


def test_clear_failure_sees_a_runaway_queue() -> None:
    assert clear_failure(lat(10.0, 2000.0), None, 1.0) == "queue"
    assert clear_failure(lat(10.0, 1500.0), None, 100.0) is None             # under 50x a slow model
    assert clear_failure(lat(10.0, 1500.0), None, 30.0) is None              # exactly 50x
    assert clear_failure(lat(10.0, 1200.0), None, 30.0) is None
    assert clear_failure(lat(10.0, 1520.0), None, 30.0) == "queue"
    assert clear_failure(lat(10.0, 1000.0), None, 1.0) is None               # exactly the 1 s floor
    assert clear_failure(lat(10.0, 1000.5), None, 1.0) == "queue"
    assert clear_failure(lat(10.0, math.nan), None, 1.0) is None


def test_a_slow_rate_batches_many_windows() -> None:
    assert batch_windows(0.5) == 100
    assert batch_windows(0.0) == 50_000_000_000


BATCHES = [Window(1.0, 100, 100, 0, 10.0), Window(1.0, 100, 98, 0, 11.0), Window(2.0, 200, 204, 2, math.nan),
           Window(1.0, 100, 101, 1, 12.0), Window(0.0, 0, 0, 0, 9.0)]


def test_hold_intervals_are_the_batches_around_the_overall_figures() -> None:
    # Rates of batches with seconds (100, 98, 101, 100 /s) around 500 successes / 5 s; latencies of
    # batches with one (10, 11, 12, 9 ms) around the overall 10.5 ms; t(3) = 3.182.
    hs = hold_state(BATCHES, 10.5)
    assert hs.throughput is not None and hs.latency is not None
    assert (hs.throughput.value, hs.throughput.n) == (100.0, 4)
    assert hs.throughput.low == pytest.approx(100.0 - 3.182 * math.sqrt(4.75 / 3 / 4))
    assert hs.throughput.high == pytest.approx(100.0 + 3.182 * math.sqrt(4.75 / 3 / 4))
    assert (hs.latency.value, hs.latency.n) == (10.5, 4)
    assert hs.latency.high == pytest.approx(10.5 + 3.182 * math.sqrt(5.0 / 3 / 4))
    assert not hs.converged                                  # ±2 % and ±20 %: the latency is too loose


def test_hold_converges_at_exactly_the_required_width_and_batches() -> None:
    hs = hold_state(BATCHES, 10.5)
    assert hs.throughput is not None and hs.latency is not None
    tight = {"throughput_rhw": hs.throughput.relative_half_width, "latency_rhw": hs.latency.relative_half_width}
    assert hold_state(BATCHES, 10.5, min_batches=5, **tight).converged
    assert not hold_state(BATCHES, 10.5, min_batches=6, **tight).converged


def test_a_hold_needs_two_batches_of_each() -> None:
    assert hold_state(BATCHES[:1], 10.0) == HoldState(None, None, False)
    two = hold_state(BATCHES[:2], 10.5, min_batches=2, throughput_rhw=1.0, latency_rhw=1.0)
    assert two.throughput is not None and two.latency is not None and two.converged
    no_latency = hold_state([Window(1.0, 10, 10, 10, math.nan)] * 3, 10.0, min_batches=1)
    assert no_latency.latency is None and no_latency.throughput is not None and not no_latency.converged
    no_seconds = hold_state([Window(0.0, 10, 10, 0, 5.0)] * 3, 5.0, min_batches=1)
    assert no_seconds.throughput is None and not no_seconds.converged


def test_saturation_at_its_bounds() -> None:
    assert saturated(0.5, 0.1)                  # under a millisecond still counts
    assert saturated(0.2, 0.1)                  # exactly twice the unloaded latency
    assert not saturated(0.19, 0.1)
    assert saturated(0.1, 0.0)                  # the unloaded latency's floor is 0.05 ms
    assert not saturated(0.0, 0.0) and not saturated(math.nan, 1.0)


def test_the_hold_latency_is_centred_on_the_overall_figure() -> None:
    hs = hold_state(BATCHES, 10.0)
    assert hs.latency is not None and hs.latency.value == 10.0
