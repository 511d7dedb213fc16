"""How steady is this host's CPU speed, and how long must a measurement run to be repeatable here?

Every capacity figure infrec reports for a CPU-bound model is the host's speed times the model's work.
On a quiet dedicated machine that speed is constant; on a shared VM it is not: hyperthread siblings
and other tenants take it away and give it back for seconds at a time, which no CPU quota, pinning or
steal counter shows (this VM's steal time stays under ~2 % while its speed moves ±17 %). This bench
measures that drift directly, so a figure's spread can be read against what the host allows.

What it does: a scikit-learn model (a RandomForest on a fixed synthetic table, one row per predict —
the kind of work an `infrec/sklearn` endpoint does), in process, one thread, pinned to the CPU that
endpoints get here, predicting back to back for HOST_NOISE_SECONDS (300); the rate of every second is
kept. From that series:

- second_sd: the standard deviation of one-second rates, in % of the mean;
- tau_s: the integrated autocorrelation time (infrec.core.confidence.autocorrelation_time — Geyer's
  initial positive sequence): for how many seconds the host stays fast or slow; 1 s on a quiet host;
- block_sd at 10/30/60/120 s: the spread of the means of consecutive blocks of that length, in % —
  what a measurement of that length is at best, run after run;
- seconds_for_3pct: how long a measurement must run for a ±3 % 95 % interval
  (τ × (1.96 × second_sd / 3)²);
- seconds_for_worst_spread_10pct: how long each configuration must be measured for
  `make bench-repeatability`'s worst_spread (the worst of 6 configurations' (max − min) / median over
  3 runs) to stay within 10 % in 9 bench runs of 10: the per-run sd σ must satisfy
  P(range of 3 normal draws ≤ 10 % / σ)⁶ ≥ 0.9 (the range's quantile from a seeded simulation), and a
  T-second mean has σ = second_sd × √(τ / T). The truth a real_error is judged against needs as long.

A benchmark, not a test: its last line is
`host_noise: second_sd=<%> tau_s=<s> block60_sd=<%> seconds_for_3pct=<s> seconds_for_worst_spread_10pct=<s>`.
Run alone (anything else on the machine is measured as host noise) with `make bench-host`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path


def _env_float(key: str, default: float, minimum: float) -> float:
    return max(minimum, float(os.environ.get(key, "") or default))


def _model() -> tuple[object, list[object]]:
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 16))
    y = x[:, 0] * 2.0 + np.sin(3.0 * x[:, 1]) + rng.normal(scale=0.1, size=len(x))
    model = RandomForestRegressor(n_estimators=60, max_depth=10, random_state=0, n_jobs=1).fit(x, y)
    return model, [x[i:i + 1] for i in range(8)]


def measure(seconds: float) -> list[float]:
    """One-second predict rates of the model, pinned to the endpoints' CPU."""
    cpu = max(os.sched_getaffinity(0))   # the local executor keeps the first CPU for the load generator
    os.sched_setaffinity(0, {cpu})
    model, rows = _model()
    predict = model.predict  # type: ignore[attr-defined]
    for r in rows:
        predict(r)
    series: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < 1.0:
            predict(rows[n % len(rows)])
            n += 1
        series.append(n / (time.perf_counter() - t0))
    return series


def block_sd(series: list[float], block: int) -> float | None:
    """The spread (sd, % of the mean) of consecutive block means; None with fewer than 3 blocks."""
    means = [statistics.fmean(series[i:i + block]) for i in range(0, len(series) - block + 1, block)]
    if len(means) < 3:
        return None
    return 100.0 * statistics.stdev(means) / statistics.fmean(means)


def range_quantile(n: int, p: float, draws: int = 200_000) -> float:
    """The p-quantile of the range of n standard normal draws (seeded simulation)."""
    import random

    rng = random.Random(0)
    ranges = []
    for _ in range(draws):
        xs = [rng.gauss(0.0, 1.0) for _ in range(n)]
        ranges.append(max(xs) - min(xs))
    ranges.sort()
    return ranges[min(draws - 1, int(p * draws))]


def main() -> int:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from infrec.core.confidence import autocorrelation_time

    seconds = _env_float("HOST_NOISE_SECONDS", 300.0, 30.0)
    started = time.strftime("%H:%M:%S")
    series = measure(seconds)
    mean = statistics.fmean(series)
    sd = 100.0 * statistics.stdev(series) / mean
    tau = autocorrelation_time(series)
    print(f"{len(series)} one-second rates from {started}: mean {mean:.1f} predicts/s, "
          f"min {min(series):.1f}, max {max(series):.1f}, sd {sd:.1f} %, autocorrelation time {tau:.1f} s")
    blocks = {}
    for b in (10, 30, 60, 120):
        blocks[b] = block_sd(series, b)
        expected = sd * (tau / b) ** 0.5
        got = "-" if blocks[b] is None else f"{blocks[b]:.1f} %"
        print(f"  {b:>3}-s blocks: sd {got} (from second_sd and τ: {expected:.1f} %)")
    for3 = tau * (1.96 * sd / 3.0) ** 2
    q = range_quantile(3, 0.9 ** (1 / 6))
    sigma = 10.0 / q
    for10 = tau * (sd / sigma) ** 2
    print(f"a ±3 % (95 %) figure needs ~{for3:.0f} s of measurement here; the repeatability bench's worst_spread "
          f"≤ 10 % (6 configurations × 3 runs, 9 bench runs in 10) needs a per-run sd ≤ {sigma:.1f} %, i.e. "
          f"~{for10:.0f} s of measurement per configuration and run (and as long for its truth)")
    b60 = blocks[60]
    print(f"host_noise: second_sd={sd:.1f} tau_s={tau:.1f} block60_sd={'na' if b60 is None else f'{b60:.1f}'} "
          f"seconds_for_3pct={for3:.0f} seconds_for_worst_spread_10pct={for10:.0f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    raise SystemExit(main())
