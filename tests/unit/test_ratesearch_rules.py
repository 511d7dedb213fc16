"""core.ratesearch at its edges: which rules and limits are accepted (each refusal by its words),
where a measured capacity makes the search probe next, when a bracket counts as converged, and
which earlier trial answers "did this rate pass"."""

from __future__ import annotations

from typing import Any

import pytest

from infrec.core.ratesearch import RateSearch, SearchRules, TrialOutcome, initial_rate_guess


@pytest.mark.parametrize(("rules", "message"), [
    ({"min_rps": 0}, "min_rps must be positive, not 0"),
    ({"max_error_rate": 0}, r"max_error_rate must be in \(0, 1\], not 0"),
    ({"max_error_rate": 1.5}, r"max_error_rate must be in \(0, 1\], not 1.5"),
    ({"max_trials": 0}, "max_trials must be at least 1, not 0"),
    ({"precision": 0}, r"precision must be in \(0, 1\), not 0"),
    ({"precision": 1}, r"precision must be in \(0, 1\), not 1"),
    ({"min_achieved_ratio": 0}, r"min_achieved_ratio must be in \(0, 1\], not 0"),
    ({"min_achieved_ratio": 1.01}, r"min_achieved_ratio must be in \(0, 1\], not 1.01"),
])
def test_bad_rules_are_refused_by_name(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        SearchRules(**rules)


def test_rules_at_their_inclusive_bounds_are_accepted() -> None:
    rules = SearchRules(max_error_rate=1, max_trials=1, min_achieved_ratio=1, min_rps=0.001)
    assert (rules.max_error_rate, rules.max_trials, rules.min_achieved_ratio) == (1, 1, 1)
    assert initial_rate_guess(10.0, 2.0, fraction=1) == 200.0
    with pytest.raises(ValueError, match=r"^fraction must be in \(0, 1\], not 1.5$"):
        initial_rate_guess(10.0, 2.0, fraction=1.5)


def test_a_search_pinned_to_its_floor_and_small_latency_limits_are_allowed() -> None:
    search = RateSearch(5.0, 0.1, latency_limit_ms=0.5, percentile="p95")
    assert (search.next_rate(), search.max_rps, search.percentile, search.reason) == (0.1, 0.1, "P95", "")
    search.record(TrialOutcome(0.1, 0.1, 0.0, 0.4))
    assert search.next_rate() is None and search.reason == "max_rps"
    with pytest.raises(ValueError, match=r"^the rate search is over; nothing to record$"):
        search.record(TrialOutcome(0.1, 0.1, 0.0, 0.4))


def test_a_measured_capacity_is_probed_just_under() -> None:
    # Offered 2/s, half a request per second came back: the capacity bound is 0.5 / 0.97, and the
    # next probe is just under it (precision 5 %: × 0.975), not halfway to 0.
    search = RateSearch(2.0, 100.0)
    assert not search.record(TrialOutcome(2.0, 0.5, 0.0, 10.0))
    assert search.hi == pytest.approx(0.5 / 0.97)
    assert search.next_rate() == pytest.approx(0.5 / 0.97 * 0.975)


def test_a_bracket_exactly_precision_wide_is_converged() -> None:
    search = RateSearch(50.0, 1000.0, rules=SearchRules(precision=0.5))
    assert search.record(TrialOutcome(50.0, 50.0, 0.0, 10.0))
    assert search.next_rate() == 100.0
    assert not search.record(TrialOutcome(100.0, 100.0, 0.0, 10.0, verdict="latency"))
    assert search.next_rate() is None and search.reason == "converged"


def test_passed_matches_a_rate_within_a_thousandth_or_a_hundredth() -> None:
    search = RateSearch(1001.0, 5000.0)
    search.record(TrialOutcome(1001.0, 1001.0, 0.0, 10.0))
    assert search.passed(1000.0)                 # 1 req/s off at 1000 req/s: the same rate
    assert not search.passed(998.0)
    small = RateSearch(10.5, 5000.0)
    small.record(TrialOutcome(10.5, 10.5, 0.0, 10.0))
    assert small.passed(10.5) and not small.passed(10.0)


def test_a_bad_percentile_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"^percentile must be one of P50, P90, P95, P99, not 'P42'$"):
        RateSearch(1.0, 10.0, percentile="P42")


def test_a_probe_exactly_at_the_floor_is_still_tried() -> None:
    search = RateSearch(0.2, 10.0)
    assert not search.record(TrialOutcome(0.2, 0.2, 0.0, 10.0, verdict="latency"))
    assert search.next_rate() == 0.1 and search.reason == ""


def test_a_capacity_hint_equal_to_the_offered_rate_is_no_hint() -> None:
    # Half of 100/s came back with a ratio of 0.5 required: the hint is 100/s, the offered rate
    # itself, so the search bisects instead of probing just under it.
    search = RateSearch(100.0, 1000.0, rules=SearchRules(min_achieved_ratio=0.5))
    assert not search.record(TrialOutcome(100.0, 50.0, 0.0, 10.0, verdict="throughput"))
    assert search.next_rate() == 50.0
