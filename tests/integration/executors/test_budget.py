"""The host budget: disjoint packing of whole and fractional CPUs, memory, and clear refusals."""

from __future__ import annotations

import pytest

from infrec.executors.base import CapacityError
from infrec.executors.budget import GIB, HostBudget


def test_whole_and_fractional_instances_pack_disjointly() -> None:
    b = HostBudget([0, 1, 2], 8 * GIB)
    first = b.allocate("t.a", 1.5, GIB, 1)[0]
    second = b.allocate("t.a", 1.5, GIB, 1)[0]
    whole = {c for c, s in first + second if s == 1.0}
    assert len(whole) == 2  # each got a CPU of its own ...
    shared = [c for c, s in first + second if s == 0.5]
    assert len(shared) == 2 and shared[0] == shared[1]  # ... and they split the third
    with pytest.raises(CapacityError, match="only 0 of 3 vCPUs are free now"):
        b.allocate("t.small", 0.25, GIB, 1)
    b.release([first], GIB)
    assert b.allocate("t.b", 1.0, GIB, 1)


def test_refusal_names_type_needs_host_and_remedies() -> None:
    b = HostBudget([1], 4 * GIB)
    with pytest.raises(CapacityError) as exc:
        b.allocate("ml.m5.xlarge", 4, 16 * GIB, 2)
    msg = str(exc.value)
    assert "2 × ml.m5.xlarge need 8 vCPUs and 32 GiB" in msg and "1 vCPUs and 4 GiB" in msg
    assert "smaller instance type" in msg and "--oversubscribe" in msg and "multi-machine" in msg
    # All or nothing: a failed request holds nothing.
    assert b.allocate("t", 1.0, GIB, 1)


def test_oversubscribe_shares_cpus() -> None:
    b = HostBudget([0], 2 * GIB, oversubscribe=True)
    allocs = b.allocate("ml.c5.xlarge", 4, GIB, 2)
    assert [[c for c, _ in a] for a in allocs] == [[0], [0]]
