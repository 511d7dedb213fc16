"""Intervals over time-ordered batches: a host that drifts for seconds must not look converged."""

from __future__ import annotations

import random

import pytest

from infrec.core.confidence import autocorrelation_time, mean_interval, series_interval


def _ar1(rng: random.Random, n: int, rho: float, mean: float = 100.0, sd: float = 10.0) -> list[float]:
    """A stationary AR(1) series: the shape of a host's speed, one value per one-second batch."""
    e, out = rng.gauss(0.0, 1.0), []
    for _ in range(n):
        e = rho * e + rng.gauss(0.0, 1.0) * (1.0 - rho * rho) ** 0.5
        out.append(mean + sd * e)
    return out


def _coverage(rho: float, n: int, interval: object, reps: int = 400) -> float:
    rng = random.Random(7)
    hits = 0
    for _ in range(reps):
        iv = interval(_ar1(rng, n, rho))  # type: ignore[operator]
        hits += iv.low <= 100.0 <= iv.high
    return hits / reps


def test_correlated_batches_get_an_interval_that_holds_the_mean() -> None:
    # Thirty one-second batches of a host whose speed stays correlated for seconds (lag-1 0.8): the
    # independent-batch interval claims 95 % and holds the mean about half the time.
    naive = _coverage(0.8, 30, mean_interval)
    honest = _coverage(0.8, 30, series_interval)
    assert naive < 0.6
    assert honest > 0.78
    assert _coverage(0.5, 30, series_interval) > 0.85


def test_independent_batches_keep_the_textbook_interval() -> None:
    assert _coverage(0.0, 30, series_interval) >= 0.93
    rng = random.Random(3)
    widths = []
    for _ in range(200):
        xs = _ar1(rng, 30, 0.0)
        widths.append(series_interval(xs).half_width / mean_interval(xs).half_width)
    assert all(w >= 1.0 for w in widths)                   # never narrower than the textbook
    assert sorted(widths)[len(widths) // 2] < 1.2          # and, for independent batches, about it


def test_autocorrelation_time() -> None:
    assert autocorrelation_time([1.0, 2.0, 3.0]) == 1.0                 # too short to tell
    assert autocorrelation_time([5.0] * 10) == 1.0                      # no variance
    assert autocorrelation_time([1.0, -1.0] * 10) == 1.0                # anti-correlated: not narrowed
    trend = [float(i) for i in range(20)]                               # a drift: one long correlation
    assert autocorrelation_time(trend) > 5.0
    rng = random.Random(11)
    assert autocorrelation_time(_ar1(rng, 2000, 0.8)) == pytest.approx((1 + 0.8) / (1 - 0.8), rel=0.25)


def test_interval_reports_its_effective_batches() -> None:
    iv = series_interval([float(i) for i in range(20)], center=9.5)
    doc = iv.to_doc()
    assert doc["Batches"] == 20
    assert doc["EffectiveBatches"] < 5
    assert iv.scaled(60.0).effective_n == iv.effective_n
    assert "EffectiveBatches" not in mean_interval([1.0, 2.0, 3.0]).to_doc()
    with pytest.raises(ValueError):
        series_interval([1.0])



def test_a_one_batch_interval_is_stored_without_bounds() -> None:
    from infrec.core.confidence import Interval

    doc = Interval(240.0, 240.0, 240.0, 1).to_doc()
    assert doc == {"ConfidenceLevel": 0.95, "Batches": 1}          # no "95 % CI 240–240"
    assert {"Low", "High", "HalfWidthPercent"} <= set(Interval(240.0, 230.0, 250.0, 2).to_doc())
