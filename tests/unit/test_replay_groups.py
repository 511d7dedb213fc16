"""How a replayed TrafficPattern's windows are grouped for MaxInvocations (infrec.measure.replay):
a steady level is read as one sustained mean, never as its luckiest few seconds."""

from __future__ import annotations

from infrec.measure.replay import replay_groups


def test_a_steady_level_is_one_group_less_its_first_window() -> None:
    assert replay_groups([1] * 60) == [(1, 60)]
    assert replay_groups([2, 2, 2, 2, 4, 4, 4, 4, 4]) == [(1, 4), (5, 9)]


def test_levels_shorter_than_the_minimum_are_read_in_sliding_groups() -> None:
    # A ramp (users change every window): groups of three consecutive windows, as before.
    assert replay_groups([1, 2, 3, 4]) == [(0, 1), (0, 2), (0, 3), (1, 4)]
    # A short level between two long ones.
    assert replay_groups([1, 1, 1, 2, 3, 3, 3]) == [(1, 3), (1, 4), (5, 7)]
    assert replay_groups([]) == []
