"""HDR histograms for latency: record cheaply, encode per window, merge exactly.

Latencies are recorded in microseconds (1 µs … 1 h, 3 significant digits). Recording one value
through `hdrh` costs a few µs of Python, too much at tens of thousands of requests per second, so
the engine appends integers to a list and folds them into the histogram once per window,
one `record_value(value, count)` per distinct value.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from hdrh.histogram import HdrHistogram

from infrec.core.stats import ERROR_KINDS, WindowStats

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def record_all(hist: HdrHistogram, values_us: list[int]) -> None:
    for value, count in Counter(values_us).items():
        hist.record_value(min(max(value, LOWEST_US), HIGHEST_US), count)


def encode(hist: HdrHistogram) -> str:
    raw = hist.encode()
    return raw.decode("ascii") if isinstance(raw, bytes) else str(raw)


def decode(encoded: str) -> HdrHistogram:
    hist = new_histogram()
    if encoded:
        hist.decode_and_add(encoded.encode("ascii") if isinstance(encoded, str) else encoded)
    return hist


def mean_us(hist: HdrHistogram) -> float:
    """The histogram's mean from its non-empty buckets only.

    hdrh's own get_mean_value walks all ~23,000 buckets in Python (≈35 ms per call); a window
    holds a few hundred distinct values, so visiting only those is ~100× cheaper. That CPU is
    the control process's, which must stay light while it measures an endpoint.
    """
    counts = np.ctypeslib.as_array(hist.counts)
    total = 0
    weighted = 0.0
    for i in np.flatnonzero(counts).tolist():
        n = int(counts[i])
        v = hist.get_value_from_index(i)
        weighted += n * (hist.get_lowest_equivalent_value(v) + hist.get_highest_equivalent_value(v)) / 2.0
        total += n
    return weighted / total if total else 0.0


def fill_latency(stats: WindowStats, hist: HdrHistogram) -> None:
    """Copy percentiles (ms) out of `hist` into `stats` and keep its encoded form for merging."""
    if hist.get_total_count() == 0:
        stats.histogram = ""
        return
    ms = 1000.0
    pct = hist.get_percentile_to_value_dict([50, 90, 95, 99, 99.9])  # one pass, not five
    stats.p50_ms = pct[50] / ms
    stats.p90_ms = pct[90] / ms
    stats.p95_ms = pct[95] / ms
    stats.p99_ms = pct[99] / ms
    stats.p999_ms = pct[99.9] / ms
    stats.mean_ms = mean_us(hist) / ms
    stats.max_ms = hist.get_max_value() / ms
    stats.min_ms = hist.get_min_value() / ms
    stats.histogram = encode(hist)


def merge_windows(windows: list[WindowStats], start_s: float | None = None) -> WindowStats:
    """One WindowStats covering `windows` (consecutive): counts summed, histograms merged exactly."""
    out = WindowStats(start_s=windows[0].start_s if windows and start_s is None else (start_s or 0.0),
                      duration_s=sum(w.duration_s for w in windows) or 0.0)
    hist = new_histogram()
    kinds = dict.fromkeys(ERROR_KINDS, 0)
    for w in windows:
        out.requests += w.requests
        out.sent += w.sent
        out.successes += w.successes
        out.bytes_received += w.bytes_received
        for k, v in w.errors_by_kind.items():
            kinds[k] = kinds.get(k, 0) + v
        if w.histogram:
            hist.decode_and_add(w.histogram)
        out.users = max(out.users, w.users)
        out.target_rate = max(out.target_rate, w.target_rate)
    out.errors_by_kind = kinds
    if out.duration_s > 0:
        out.generator_cpu_percent = sum(w.generator_cpu_percent * w.duration_s for w in windows) / out.duration_s
    fill_latency(out, hist)
    return out
