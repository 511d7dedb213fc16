"""Live evaluation of SageMaker stopping conditions over the windows seen so far."""

from __future__ import annotations

from infrec.core.stats import STOP_FLAT, STOP_LATENCY, STOP_MAX_INVOCATIONS, WindowStats
from infrec.core.traffic import StoppingConditions

# FlatInvocations compares two pairs of windows FLAT_GAP windows apart (the first window, which
# warms connections, is never used). "Flat" = the offered load (users or rate) grew by at least
# FLAT_MIN_LOAD_GROWTH while throughput gained less than FLAT_SHARE of that relative growth.
FLAT_GAP = 3
FLAT_MIN_LOAD_GROWTH = 0.10
FLAT_SHARE = 0.2


def _load(w: WindowStats) -> float:
    return float(w.users) if w.users else w.target_rate


def check(conditions: StoppingConditions | None, windows: list[WindowStats]) -> str | None:
    """The stop reason the latest window triggers, or None to keep going."""
    if conditions is None or not windows:
        return None
    last = windows[-1]
    if conditions.max_invocations is not None and last.throughput * 60.0 >= conditions.max_invocations:
        return STOP_MAX_INVOCATIONS
    if last.successes:
        for t in conditions.latency_thresholds:
            if last.percentile_ms(t.percentile) > t.value_ms:
                return STOP_LATENCY
    if conditions.flat_invocations == "Stop" and is_flat(windows):
        return STOP_FLAT
    return None


def is_flat(windows: list[WindowStats]) -> bool:
    usable = windows[1:]
    if len(usable) < FLAT_GAP + 2:
        return False
    now = usable[-2:]
    then = usable[-2 - FLAT_GAP:-FLAT_GAP]
    load_then = sum(_load(w) for w in then) / 2
    load_now = sum(_load(w) for w in now) / 2
    thr_then = sum(w.throughput for w in then) / 2
    thr_now = sum(w.throughput for w in now) / 2
    if load_then <= 0 or thr_then <= 0:
        return False
    load_growth = load_now / load_then - 1.0
    if load_growth < FLAT_MIN_LOAD_GROWTH:
        return False
    return thr_now / thr_then - 1.0 < FLAT_SHARE * load_growth
