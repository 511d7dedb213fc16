"""Result shapes: derived figures, merging windows exactly, live stopping rules."""

from __future__ import annotations

from infrec.core.stats import STOP_FLAT, STOP_LATENCY, STOP_MAX_INVOCATIONS, WindowStats
from infrec.core.traffic import LatencyThreshold, StoppingConditions
from infrec.loadgen import histogram, stopping


def _window(values_ms: list[int], k: int = 0, users: int = 0, errors: int = 0) -> WindowStats:
    hist = histogram.new_histogram()
    histogram.record_all(hist, [v * 1000 for v in values_ms])
    w = WindowStats(start_s=k, requests=len(values_ms) + errors, successes=len(values_ms), users=users)
    w.errors_by_kind["http_5xx"] = errors
    histogram.fill_latency(w, hist)
    return w


def test_window_derived_figures() -> None:
    w = _window([10] * 90 + [100] * 10, errors=5)
    assert w.throughput == 105 and w.errors == 5 and abs(w.error_rate - 5 / 105) < 1e-9
    assert abs(w.p50_ms - 10) < 0.1 and abs(w.p95_ms - 100) < 0.1
    assert w.percentile_ms("P95") == w.p95_ms
    assert "histogram" not in w.to_dict() and w.to_dict()["errors"] == 5


def test_merge_is_exact_not_an_average_of_percentiles() -> None:
    a, b = _window([10] * 100, 0), _window([200] * 10, 1)
    total = histogram.merge_windows([a, b])
    assert total.requests == 110 and total.duration_s == 2
    assert abs(total.p50_ms - 10) < 0.1 and abs(total.p99_ms - 200) < 0.5 and abs(total.max_ms - 200) < 0.5


def test_stopping_rules() -> None:
    fast = [_window([10] * 50, k, users=k + 1) for k in range(3)]
    assert stopping.check(StoppingConditions(max_invocations=3000), fast) == STOP_MAX_INVOCATIONS
    assert stopping.check(StoppingConditions(max_invocations=3001), fast) is None
    lat = StoppingConditions(latency_thresholds=(LatencyThreshold("P95", 9.0),))
    assert stopping.check(lat, fast) == STOP_LATENCY
    assert stopping.check(StoppingConditions(latency_thresholds=(LatencyThreshold("P95", 11.0),)), fast) is None


def test_flat_invocations_needs_load_growth_without_throughput_growth() -> None:
    flat = [_window([10] * 100, k, users=k + 1) for k in range(7)]
    growing = [_window([10] * (100 * (k + 1)), k, users=k + 1) for k in range(7)]
    steady = [_window([10] * 100, k, users=5) for k in range(7)]
    cond = StoppingConditions(flat_invocations="Stop")
    assert stopping.check(cond, flat) == STOP_FLAT
    assert stopping.check(cond, growing) is None
    assert stopping.check(cond, steady) is None
    assert stopping.check(StoppingConditions(), flat) is None
