"""core.steal: the CPU steal a step was measured under, from two /proc/stat readings."""

from __future__ import annotations


def test_steal_from_two_proc_stat_readings() -> None:
    from infrec.core.steal import cpu_times, steal_percent

    before = cpu_times("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 1 2 3\n")
    after = cpu_times("cpu  150 0 60 900 10 0 5 75 7 0\n")
    assert before == (100, 0, 50, 800, 10, 0, 5, 35, 0, 0)
    assert steal_percent(before, after) == 100.0 * 40 / 200       # guest time is inside user already
    assert steal_percent(after, after) is None and steal_percent(None, after) is None
    assert cpu_times("intr 1 2 3\n") is None
