"""The rate search against a simulated endpoint whose true limits are known exactly."""

from __future__ import annotations

import math

import pytest

from infrec.core.ratesearch import RateSearch, SearchRules, TrialOutcome, initial_rate_guess


def simulate(capacity: float, base_ms: float = 10.0, error_above: float = math.inf):
    """An endpoint serving at most `capacity` req/s; latency grows like an M/M/1 queue; errors
    appear past `error_above` req/s offered."""

    def trial(rate: float) -> TrialOutcome:
        util = min(rate / capacity, 0.999)
        achieved = min(rate, capacity)
        errors = 0.05 if rate > error_above else 0.0
        return TrialOutcome(target_rps=rate, achieved_rps=achieved * (1 - errors), error_rate=errors,
                            latency_ms=base_ms / (1 - util))

    return trial


def run(search: RateSearch, trial) -> RateSearch:
    for _ in range(100):
        rate = search.next_rate()
        if rate is None:
            return search
        assert search.min_rps <= rate <= search.max_rps
        search.record(trial(rate))
    raise AssertionError("the search did not end")


@pytest.mark.parametrize("capacity", [0.7, 3.0, 55.0, 400.0, 2500.0, 9000.0])
@pytest.mark.parametrize("initial", [1.0, 20.0, 800.0])
@pytest.mark.parametrize("use_achieved", [True, False])
def test_finds_throughput_limit_within_precision(capacity: float, initial: float, use_achieved: bool) -> None:
    s = run(RateSearch(initial_rps=initial, max_rps=100_000, rules=SearchRules(max_trials=30, use_achieved=use_achieved)),
            simulate(capacity))
    true_max = capacity / 0.97          # the highest offered rate still served at ≥ 97 %
    assert s.best is not None
    assert s.best.target_rps <= true_max + 1e-9
    assert s.best.target_rps >= true_max * (1 - s.rules.precision) - 1e-9
    assert s.reason == "converged"


@pytest.mark.parametrize("capacity,limit", [(100.0, 20.0), (100.0, 50.0), (1000.0, 12.0)])
def test_latency_threshold_bounds_the_rate(capacity: float, limit: float) -> None:
    base = 10.0
    s = run(RateSearch(initial_rps=5, max_rps=1e5, latency_limit_ms=limit, rules=SearchRules(max_trials=30)), simulate(capacity, base))
    true_max = capacity * (1 - base / limit)   # where base / (1 - r/C) == limit
    assert s.best is not None
    assert s.best.latency_ms <= limit
    assert true_max * (1 - s.rules.precision) - 1e-9 <= s.best.target_rps <= true_max + 1e-9


def test_errors_bound_the_rate() -> None:
    s = run(RateSearch(initial_rps=10, max_rps=1e5, rules=SearchRules(max_trials=30)), simulate(1000.0, error_above=300.0))
    assert s.best is not None and s.best.error_rate == 0
    assert 300 * (1 - s.rules.precision) <= s.best.target_rps <= 300


def test_good_initial_guess_needs_few_trials() -> None:
    capacity = 4 * 1000 / 20                    # 4 vCPUs, 20 ms per request
    guess = initial_rate_guess(20.0, 4)
    assert guess == pytest.approx(capacity / 2)
    s = run(RateSearch(initial_rps=guess, max_rps=1e5), simulate(capacity, 20.0))
    assert s.best is not None
    assert len(s.trials) <= 6


def test_achieved_rate_tightens_the_bracket() -> None:
    # A doubling that overshoots 4× shows the capacity in its achieved rate: fewer trials.
    with_hint = run(RateSearch(initial_rps=60, max_rps=1e5), simulate(100.0))
    without = run(RateSearch(initial_rps=60, max_rps=1e5, rules=SearchRules(use_achieved=False)), simulate(100.0))
    assert len(with_hint.trials) < len(without.trials)


def test_stops_at_max_rps_when_endpoint_is_faster() -> None:
    s = run(RateSearch(initial_rps=10, max_rps=100), simulate(1e6))
    assert s.reason == "max_rps"
    assert s.best is not None and s.best.target_rps == 100
    assert [t.outcome.target_rps for t in s.trials] == [10, 20, 40, 80, 100]


def test_max_trials_bounds_the_search() -> None:
    s = run(RateSearch(initial_rps=1, max_rps=1e6, rules=SearchRules(max_trials=4)), simulate(1e5))
    assert len(s.trials) == 4
    assert s.reason == "max_trials"
    assert s.next_rate() is None
    assert s.done


def test_nothing_passes() -> None:
    always_failing = simulate(1.0, error_above=0.0)
    s = run(RateSearch(initial_rps=50, max_rps=1e4, rules=SearchRules(min_rps=0.5)), always_failing)
    assert s.best is None
    assert s.reason == "min_rps"
    rates = [t.outcome.target_rps for t in s.trials]
    assert rates == sorted(rates, reverse=True)      # it only ever goes down
    assert all(not t.passed for t in s.trials)


def test_first_trial_fails_then_halves_until_pass() -> None:
    s = run(RateSearch(initial_rps=1000, max_rps=1e4, rules=SearchRules(use_achieved=False)), simulate(100.0))
    rates = [t.outcome.target_rps for t in s.trials]
    assert rates[:4] == [1000, 500, 250, 125]
    assert s.best is not None and s.best.target_rps <= 100 / 0.97


def test_judge_rules() -> None:
    s = RateSearch(initial_rps=10, max_rps=100, latency_limit_ms=50)
    assert s.judge(TrialOutcome(100, 97, 0.0, 50)) == (True, "")
    assert s.judge(TrialOutcome(100, 96.9, 0.0, 10)) == (False, "throughput")
    assert s.judge(TrialOutcome(100, 100, 0.01, 10)) == (False, "errors")     # 1 % is not < 1 %
    assert s.judge(TrialOutcome(100, 100, 0.0099, 10)) == (True, "")
    assert s.judge(TrialOutcome(100, 100, 0.0, 50.01)) == (False, "latency")
    assert s.judge(TrialOutcome(100, 100, 0.0, math.nan)) == (False, "latency")
    assert s.judge(TrialOutcome(100, 0, 0.0, 1)) == (False, "throughput")
    no_limit = RateSearch(initial_rps=10, max_rps=100)
    assert no_limit.judge(TrialOutcome(100, 100, 0.0, 1e6)) == (True, "")


def test_best_is_highest_passing_and_passed_lookup() -> None:
    s = RateSearch(initial_rps=10, max_rps=1000, rules=SearchRules(use_achieved=False))
    assert s.next_rate() == 10
    assert s.record(TrialOutcome(10, 10, 0, 5)) is True
    assert s.next_rate() == 20
    assert s.record(TrialOutcome(20, 19.9, 0, 6)) is True
    assert s.next_rate() == 40
    assert s.record(TrialOutcome(40, 25, 0, 60)) is False
    assert s.next_rate() == 30
    assert s.best == TrialOutcome(20, 19.9, 0, 6)
    assert s.passed(20.0) and s.passed(19.999) and not s.passed(40) and not s.passed(55)
    with pytest.raises(ValueError, match="over"):
        done = RateSearch(initial_rps=10, max_rps=10)
        done.record(TrialOutcome(10, 10, 0, 1))
        done.record(TrialOutcome(10, 10, 0, 1))


def test_converges_even_when_throughput_is_noisy() -> None:
    # Passing and failing alternate near the limit; the bracket still shrinks and ends.
    flip = [False]

    def noisy(rate: float) -> TrialOutcome:
        flip[0] = not flip[0]
        ok = rate < 200 or (rate < 260 and flip[0])
        return TrialOutcome(rate, rate if ok else rate * 0.8, 0.0, 5.0)

    s = run(RateSearch(initial_rps=30, max_rps=1e5), noisy)
    assert s.best is not None and 200 * 0.9 <= s.best.target_rps < 260
    assert len(s.trials) <= s.rules.max_trials


@pytest.mark.parametrize("kwargs,match", [
    ({"initial_rps": 0}, "initial_rps"),
    ({"initial_rps": math.nan}, "initial_rps"),
    ({"max_rps": 0.01}, "max_rps"),
    ({"max_rps": math.inf}, "max_rps"),
    ({"latency_limit_ms": 0}, "latency_limit_ms"),
    ({"percentile": "P42"}, "percentile"),
    ({"max_error_rate": 0}, "max_error_rate"),
    ({"max_trials": 0}, "max_trials"),
    ({"precision": 1.0}, "precision"),
    ({"min_achieved_ratio": 1.5}, "min_achieved_ratio"),
])
def test_bad_parameters_are_named(kwargs: dict, match: str) -> None:
    search_args = {"initial_rps": 1.0, "max_rps": 100.0}
    own = {k: v for k, v in kwargs.items() if k in ("initial_rps", "max_rps", "latency_limit_ms", "percentile")}
    with pytest.raises(ValueError, match=match):
        RateSearch(**(search_args | own), rules=SearchRules(**{k: v for k, v in kwargs.items() if k not in own}))


def test_initial_rate_guess() -> None:
    assert initial_rate_guess(10.0, 2) == pytest.approx(100.0)
    assert initial_rate_guess(10.0, 0.5, fraction=1.0) == pytest.approx(50.0)
    assert initial_rate_guess(1e6, 1) == 0.5                  # clamped up to min_rps
    assert initial_rate_guess(0.001, 96) == 100_000.0         # clamped down to max_rps
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="latency"):
            initial_rate_guess(bad, 2)
    with pytest.raises(ValueError, match="vCPUs"):
        initial_rate_guess(10, 0)
    with pytest.raises(ValueError, match="fraction"):
        initial_rate_guess(10, 1, fraction=0)
