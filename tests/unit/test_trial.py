"""The trial rules: what a trial proves, how long it runs, when a hold is sure enough."""

from __future__ import annotations

import math
import random

import pytest

from infrec.core import trial as tr
from infrec.core.confidence import Interval, mean_interval, t95
from infrec.core.ratesearch import RateSearch, TrialOutcome


def windows(n: int, sent: int, completed: int | None = None, errors: int = 0, lat: float = 10.0) -> list[tr.Window]:
    return [tr.Window(1.0, sent, sent if completed is None else completed, errors, lat) for _ in range(n)]


def test_achieved_is_judged_against_what_was_sent_not_the_nominal_rate() -> None:
    # 5 % fewer sent than nominal (Poisson chance) but every one answered: a pass.
    v = tr.judge(windows(5, 95), 10.0, 10.0, 10.0, unloaded_ms=5.0, latency_limit_ms=None)
    assert v.passed and v.achieved_ratio == 1.0 and v.achieved_rps == 95.0
    # 4 % of what was sent left unanswered: the server did not keep up.
    v = tr.judge(windows(5, 100, completed=96), 10.0, 10.0, 10.0, 5.0, None)
    assert not v.passed and v.why == "throughput"


def test_errors_latency_and_growing_queue_fail() -> None:
    assert tr.judge(windows(5, 100, errors=1), 10, 10, 10, 5, None).why == "errors"
    assert tr.judge(windows(5, 100), 30.0, 30, 30, 5, latency_limit_ms=20.0).why == "latency"
    v = tr.judge(windows(5, 100), 40.0, first_half_ms=20.0, second_half_ms=60.0, unloaded_ms=5.0,
                 latency_limit_ms=None)
    assert not v.passed and v.why == "queue" and v.growth == pytest.approx(3.0)


def test_queue_growth_needs_a_ratio_and_an_absolute_rise() -> None:
    assert tr.queue_growing(20.0, 60.0, 5.0)
    assert not tr.queue_growing(20.0, 25.0, 5.0)          # fluctuation
    assert not tr.queue_growing(0.3, 0.9, 0.2)             # sub-millisecond jitter, 3× but ~0.6 ms
    assert not tr.queue_growing(math.nan, 60.0, 5.0)


def test_nothing_answered_is_no_pass() -> None:
    v = tr.judge(windows(3, 10, completed=0), math.nan, math.nan, math.nan, 5.0, None)
    assert not v.passed and v.why == "empty"


def test_trial_length_follows_the_rate_within_bounds() -> None:
    assert tr.trial_seconds(1000.0, 3.0) == 3.0                    # 400 requests in 0.4 s: the floor
    assert tr.trial_seconds(50.0, 3.0) == pytest.approx(8.0)       # 400 / 50
    assert tr.trial_seconds(1.0, 3.0) == tr.MAX_TRIAL_S            # the ceiling
    with pytest.raises(ValueError):
        tr.trial_seconds(0.0, 3.0)


def test_clear_failures_cut_a_trial_short_only_when_beyond_doubt() -> None:
    assert tr.clear_failure(windows(1, 100, completed=10), None, 5.0) is None     # one window proves nothing
    assert tr.clear_failure(windows(2, 100, completed=50), None, 5.0) == "throughput"
    assert tr.clear_failure(windows(2, 100, completed=95), None, 5.0) is None
    assert tr.clear_failure(windows(2, 100, lat=100.0), 20.0, 5.0) == "latency"
    assert tr.clear_failure(windows(2, 100, errors=20), None, 5.0) == "errors"


def test_hold_converges_only_with_enough_tight_batches() -> None:
    rng = random.Random(7)
    tight = [tr.Window(2.0, 1000, 1000 + rng.randint(-5, 5), 0, 20.0 + rng.uniform(-0.5, 0.5)) for _ in range(6)]
    state = tr.hold_state(tight, 20.0)
    assert state.converged and state.throughput is not None and state.latency is not None
    assert state.throughput.relative_half_width < 0.03
    assert not tr.hold_state(tight[:4], 20.0).converged          # fewer than HOLD_MIN_BATCHES
    noisy = [tr.Window(1.0, 50, rng.randint(20, 80), 0, rng.uniform(5, 50)) for _ in range(8)]
    assert not tr.hold_state(noisy, 20.0).converged


def test_batches_hold_enough_requests() -> None:
    assert tr.batch_windows(1000.0) == 1
    assert tr.batch_windows(10.0) == 5


def test_t_interval_matches_the_textbook() -> None:
    iv = mean_interval([10.0, 12.0, 11.0, 13.0, 9.0])
    # mean 11, s = 1.5811, t(4) = 2.776 → half-width 1.963
    assert iv.value == pytest.approx(11.0)
    assert iv.half_width == pytest.approx(2.776 * 1.5811388 / math.sqrt(5), rel=1e-4)
    assert t95(1000) == pytest.approx(1.96)
    assert t95(35) == t95(30)                                     # rounded down: wider, never flattering
    with pytest.raises(ValueError):
        mean_interval([1.0])


def test_interval_scaling_and_overlap() -> None:
    a = Interval(100.0, 97.0, 103.0, 5).scaled(60.0 / 0.5)
    assert (a.low, a.high) == pytest.approx((11640.0, 12360.0))
    assert a.relative_half_width == pytest.approx(0.03)
    assert a.overlaps(Interval(12300.0, 12300.0, 12500.0, 5))
    assert not a.overlaps(Interval(13000.0, 12400.0, 13600.0, 5))


def test_search_follows_the_callers_verdict() -> None:
    s = RateSearch(initial_rps=100.0, max_rps=10_000.0)
    # A trial whose numbers look fine but whose queue grew is a failure when the caller says so.
    assert not s.record(TrialOutcome(100.0, 100.0, 0.0, 5.0, verdict="queue"))
    assert s.trials[-1].why == "queue"
    assert s.record(TrialOutcome(s.next_rate() or 0.0, 50.0, 0.0, 5.0, verdict=""))


def test_a_capacity_hint_below_a_pass_does_not_collapse_the_bracket() -> None:
    s = RateSearch(initial_rps=100.0, max_rps=10_000.0)
    assert s.record(TrialOutcome(100.0, 100.0, 0.0, 5.0, verdict=""))
    # 200 offered, 97 completed: below the 100 that passed — noise, not a capacity of 100.
    assert not s.record(TrialOutcome(200.0, 97.0, 0.0, 5.0, verdict="throughput"))
    assert s.hi == 200.0 and s.next_rate() == 150.0


def test_saturating_users_keep_a_queue_behind_every_slot() -> None:
    assert tr.saturating_users(1, 1) == tr.SATURATION_USERS_PER_SLOT
    assert tr.saturating_users(2, 3) == tr.SATURATION_USERS_PER_SLOT * 6
    assert tr.saturating_users(10_000, 1) == tr.MAX_SATURATION_USERS
    with pytest.raises(ValueError, match="at least 1"):
        tr.saturating_users(0, 1)


def test_saturation_is_littles_law_queueing() -> None:
    # 4 users on one 10 ms slot wait ~40 ms: queued, so the throughput is the capacity.
    assert tr.saturated(40.0, 10.0)
    # Spare slots (an I/O-bound server): latency stays near the unloaded one, so more users are needed.
    assert not tr.saturated(12.0, 10.0)
    assert not tr.saturated(math.nan, 10.0)
    assert not tr.saturated(0.0, 10.0)


def test_interval_of_non_negative_batches_never_goes_below_zero() -> None:
    iv = mean_interval([10.0, 12.0, 11.0, 2000.0], center=40.0)
    assert iv.low == 0.0 and iv.high > 1000
    assert mean_interval([-1.0, 1.0]).low < 0      # signed data keep their interval


def test_warmup_seconds_from_the_settings() -> None:
    from infrec.config import Settings
    from infrec.core.trial import WARMUP_S
    from infrec.measure.context import MeasureOptions

    def warmup(raw: str | None) -> float:
        return MeasureOptions.from_settings(Settings.from_env({} if raw is None else
                                                              {"INFREC_WARMUP_SECONDS": raw})).warmup_s

    assert warmup(None) == WARMUP_S
    assert warmup("0") == 0.0
    assert warmup("0.5") == 1.0    # whole windows: what is dropped is what is budgeted
    for bad in ("-1", "31", "soon", "nan"):
        with pytest.raises(ValueError, match="INFREC_WARMUP_SECONDS"):
            warmup(bad)
