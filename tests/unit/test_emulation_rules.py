"""core.emulation to the exact figure and word: the read-back of rates and users at the edges, what
is passed through untouched at full size, and the notes and refusals the operator reads."""

from __future__ import annotations

import math

import pytest

from infrec.core.catalog import InstanceType
from infrec.core.emulation import Emulation, EmulationError, plan
from infrec.core.traffic import Phase, Phases, Stairs, StoppingConditions

GIB = 1024**3
C5X = InstanceType(name="ml.c5.xlarge", vcpus=4, memory_gib=8, price_per_hour=0.17)
QUARTER = plan(C5X, 1, host_cpus=1, host_memory_bytes=64 * GIB)
FULL = plan(C5X, 1, host_cpus=4, host_memory_bytes=64 * GIB)


def test_rates_and_users_read_back_at_the_edges() -> None:
    assert QUARTER.scale == 0.25 and QUARTER.emulated and not FULL.emulated
    assert QUARTER.to_full(10.0) == 40.0
    assert QUARTER.users(0) == 0 and QUARTER.users(-3) == 0 and QUARTER.users(1) == 1 and QUARTER.users(6) == 2
    assert QUARTER.closed_loop_to_full(50.0, full_users=3, users_run=2) == 75.0     # × 3/2, under × 4
    assert QUARTER.closed_loop_to_full(50.0, full_users=5, users_run=0) == 0.0
    assert QUARTER.closed_loop_to_full(50.0, full_users=0, users_run=5) == 0.0


def test_full_size_passes_shapes_and_stopping_conditions_through() -> None:
    phases = Phases((Phase(8, 4.0, 10.0),))
    assert FULL.shape(phases) is phases
    cond = StoppingConditions(max_invocations=6000)
    assert FULL.stopping(cond) is cond
    assert QUARTER.stopping(None) is None
    unbounded = StoppingConditions(max_invocations=None)
    assert QUARTER.stopping(unbounded) is unbounded


def test_emulated_shapes_keep_their_durations_and_thresholds_keep_one_invocation() -> None:
    shape = QUARTER.shape(Phases((Phase(8, 4.0, 10.0), Phase(4, 2.0, 5.0))))
    assert shape == Phases((Phase(2, 1.0, 10.0), Phase(1, 0.5, 5.0)))
    assert QUARTER.shape(Stairs(duration_s=30, steps=3, users_per_step=8)) == Stairs(
        duration_s=30, steps=3, users_per_step=2)
    assert QUARTER.stopping(StoppingConditions(max_invocations=3)) == StoppingConditions(max_invocations=1)
    assert QUARTER.stopping(StoppingConditions(max_invocations=10)) == StoppingConditions(max_invocations=2)


def test_memory_utilization_of_a_type_without_memory() -> None:
    none = Emulation(InstanceType(name="ml.x.none", vcpus=1, memory_gib=0, price_per_hour=0.1), 1, 1.0, 0)
    assert none.memory_utilization(1.0) == 100.0
    assert QUARTER.memory_utilization(2 * GIB) == 25.0


def test_refusals_say_what_was_needed_and_why() -> None:
    with pytest.raises(EmulationError, match=r"^InitialInstanceCount must be at least 1, got 0$"):
        plan(C5X, 0, 4, 64 * GIB)
    tail = ". Use a smaller instance type, allow emulation at a fraction (the default), or a multi-machine executor"
    with pytest.raises(EmulationError) as too_big:
        plan(C5X, 1, 0.2, 64 * GIB)
    assert str(too_big.value) == (
        "1 × ml.c5.xlarge needs 4 vCPUs; this host can give 0.2 (even at 1/16 of its size)" + tail)
    with pytest.raises(EmulationError) as off:
        plan(C5X, 1, 1, 64 * GIB, allow_emulation=False)
    assert str(off.value) == (
        "1 × ml.c5.xlarge needs 4 vCPUs; this host can give 1 (emulation is turned off (INFREC_NO_EMULATION))" + tail)
    assert plan(C5X, 1, 4, 64 * GIB, allow_emulation=False) == Emulation(C5X, 1, 1.0, 8 * GIB)


def test_the_smallest_scale_and_the_host_share_of_memory() -> None:
    tiny = plan(C5X, 1, 0.25, 64 * GIB)
    assert tiny.scale == 0.0625 and tiny.memory_bytes == 8 * GIB
    assert tiny.notes == ("emulated at 0.0625× (0.25 of 4 vCPUs per instance); throughput is read back × 1/scale, "
                          "closed-loop users scaled with it",)
    three = plan(C5X, 3, 12.0, 10 * GIB)
    assert three.scale == 1.0 and three.memory_bytes == 10 * GIB // 3
    assert three.notes == ("memory capped at 3.33 GiB per instance (the host's share) instead of the instance's "
                           "8 GiB; a model that needs more fails as out of memory",)
    assert plan(C5X, 2, 8.0, 16 * GIB).notes == ()                        # exactly the host's memory


def test_notes_name_every_worker_setting_over_the_emulated_cpus() -> None:
    emu = plan(C5X, 1, 1, 4 * GIB, {"SAGEMAKER_MODEL_SERVER_WORKERS": " 4 ", "OMP_NUM_THREADS": "x",
                                    "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1"})
    assert emu.notes == (
        "emulated at 0.25× (1 of 4 vCPUs per instance); throughput is read back × 1/scale, closed-loop users "
        "scaled with it",
        "memory capped at 4 GiB per instance (the host's share) instead of the instance's 8 GiB; a model that "
        "needs more fails as out of memory",
        "SAGEMAKER_MODEL_SERVER_WORKERS=4 is the full ml.c5.xlarge's setting (4 vCPUs); here its 4 share 1 vCPU, "
        "so per-request latency and contention differ from the full instance",
        "MKL_NUM_THREADS=2 is the full ml.c5.xlarge's setting (4 vCPUs); here its 2 share 1 vCPU, so per-request "
        "latency and contention differ from the full instance")
    half = plan(C5X, 1, 2, 64 * GIB, {"MKL_NUM_THREADS": "3", "OMP_NUM_THREADS": "2", "NUMEXPR_NUM_THREADS": "8"})
    assert half.notes[1:] == (
        "MKL_NUM_THREADS=3 is the full ml.c5.xlarge's setting (4 vCPUs); here its 3 share 2 vCPUs, so per-request "
        "latency and contention differ from the full instance",
        "NUMEXPR_NUM_THREADS=8 is the full ml.c5.xlarge's setting (4 vCPUs); here its 8 share 2 vCPUs, so "
        "per-request latency and contention differ from the full instance")
    tiny = plan(C5X, 1, 0.25, 64 * GIB, {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "1"})
    assert len(tiny.notes) == 2 and tiny.notes[1].startswith("OMP_NUM_THREADS=2 ")      # a CPU's quarter is one
    assert math.isclose(tiny.vcpus, 0.25)


def test_the_refusal_counts_every_instance_and_a_host_share_is_never_zero_bytes() -> None:
    with pytest.raises(EmulationError, match=r"^2 × ml.c5.xlarge needs 8 vCPUs; this host can give 0.2 "):
        plan(C5X, 2, 0.2, 64 * GIB)
    assert plan(C5X, 2, 8, host_memory_bytes=1).memory_bytes == 1
