"""core.ranking's one rule at its edge: a range that only touches another's is not wholly below it,
so touching objectives beat nothing (as touching throughputs are tied)."""

from __future__ import annotations

from infrec.core.ranking import Entry, beaten, rank


def test_touching_objectives_do_not_beat() -> None:
    lead = Entry(throughput=(90.0, 110.0), objective=(1.0, 2.0), leader_key=(1.0, 0), pick_key=(1.0, 0))
    cheap = Entry(throughput=(95.0, 100.0), objective=(2.0, 3.0), leader_key=(2.0, 1), pick_key=(0.5, 1))
    assert not beaten([lead, cheap], 1, [0, 1])
    assert rank([lead, cheap]) == [1, 0]          # tied, not beaten: the cheaper per hour first
    beaten_one = Entry(throughput=(95.0, 100.0), objective=(2.5, 3.0), leader_key=(2.5, 1), pick_key=(0.5, 1))
    assert beaten([lead, beaten_one], 1, [0, 1]) and rank([lead, beaten_one]) == [0, 1]
