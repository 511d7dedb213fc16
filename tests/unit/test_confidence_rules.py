"""core.confidence to the digit: the t table's edges, an interval's doc and units, the degrees of
freedom of a correlated series, and Geyer's τ on series small enough to check by hand."""

from __future__ import annotations

import math

import pytest

from infrec.core.confidence import Interval, autocorrelation_time, mean_interval, series_interval, t95


def test_the_t_table_rounds_down_and_ends_in_the_normal_quantile() -> None:
    assert (t95(1), t95(25), t95(120), t95(121)) == (12.706, 2.064, 1.980, 1.960)
    with pytest.raises(ValueError, match="degrees of freedom must be at least 1, not 0"):
        t95(0)


def test_an_interval_in_other_units_keeps_its_batches_level_and_evidence() -> None:
    iv = Interval(10.0, 8.0, 12.0, 5, 0.9, 3.0)
    assert iv.scaled(-2.0) == Interval(-20.0, -24.0, -16.0, 5, 0.9, 3.0)


def test_touching_intervals_overlap() -> None:
    a, b = Interval(1.0, 0.0, 2.0, 3), Interval(3.0, 2.0, 4.0, 3)
    assert a.overlaps(b) and b.overlaps(a)
    assert not a.overlaps(Interval(3.0, 2.5, 4.0, 3))


def test_the_doc_of_an_interval() -> None:
    assert Interval(3.0, 2.0, 4.0123456, 3, effective_n=3.4567).to_doc() == {
        "Low": 2.0, "High": 4.0123456, "ConfidenceLevel": 0.95, "HalfWidthPercent": 33.539, "Batches": 3,
        "EffectiveBatches": 3.46}
    assert Interval(0.0, -1.0, 1.0, 3).to_doc()["HalfWidthPercent"] == math.inf


def test_the_mean_interval_by_hand() -> None:
    # [0, 10]: mean 5, variance 50, t(1) = 12.706: ±63.53, and rates are not negative.
    iv = mean_interval([0.0, 10.0])
    assert (iv.value, iv.low, iv.n, iv.effective_n) == (5.0, 0.0, 2, None)
    assert iv.high == pytest.approx(5.0 + 12.706 * 5.0)
    assert mean_interval([0.5, 10.0]).low == 0.0
    assert mean_interval([-0.5, 10.0]).low == pytest.approx(4.75 - 12.706 * math.sqrt(55.125 / 2))
    centred = mean_interval([1.0, 2.0, 3.0], center=10.0)
    assert centred.value == 10.0 and centred.high == pytest.approx(10.0 + 4.303 * math.sqrt(1.0 / 3))
    assert mean_interval([1.0, math.nan, 3.0]).n == 2
    with pytest.raises(ValueError, match="an interval needs at least 2 batches, got 1"):
        mean_interval([1.0, math.nan])


def test_geyer_tau_by_hand() -> None:
    # [1, 2, 3, 4]: γ0 = 1.25, γ1 = 0.3125, γ2 + γ3 < 0: τ = (2 × 1.5625 − 1.25) / 1.25.
    assert autocorrelation_time([1.0, 2.0, 3.0, 4.0]) == 1.5
    # The same shape at a hundredth of the scale has the same τ (it is a ratio of covariances).
    assert autocorrelation_time([0.01 * i for i in range(20)]) == pytest.approx(
        autocorrelation_time([float(i) for i in range(20)]))
    assert autocorrelation_time([float(i) for i in range(20)]) == pytest.approx(6.978947368421053, rel=1e-12)
    assert autocorrelation_time([1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 5.0, 6.0, 5.0, 6.0]) == pytest.approx(
        3.8285714285714287, rel=1e-12)


PI = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0, 9.0, 7.0, 9.0, 3.0]


def test_a_correlated_series_has_the_degrees_of_freedom_of_its_effective_batches() -> None:
    # τ = 113/58 over 16 batches: 8.2 effective, t(7) = 2.365 on the variance 116/15 widened by τ.
    tau = autocorrelation_time(PI)
    assert tau == pytest.approx(113 / 58, rel=1e-12)
    iv = series_interval(PI)
    half = 2.365 * math.sqrt(116 / 15 * tau / 16)
    assert (iv.value, iv.n) == (5.0, 16)
    assert iv.low == pytest.approx(5.0 - half) and iv.high == pytest.approx(5.0 + half)
    assert iv.effective_n == pytest.approx(16 / tau)
    # Four batches with τ = 1.5: 2.7 effective, one degree of freedom.
    short = series_interval([1.0, 2.0, 3.0, 4.0], center=3.0)
    assert short.value == 3.0 and short.effective_n == pytest.approx(4 / 1.5)
    assert short.high == pytest.approx(3.0 + 12.706 * math.sqrt(5 / 3 * 1.5 / 4))


def test_independent_batches_report_every_batch_as_evidence() -> None:
    iv = series_interval([1.0, -1.0, 1.0, -1.0], center=0.5)
    assert (iv.value, iv.effective_n) == (0.5, 4.0)
    assert iv.low == pytest.approx(0.5 - 3.182 * math.sqrt(4 / 3 / 4))
