"""The one emulation policy: scale choice, read-back, users, stopping thresholds, memory, notes."""

from __future__ import annotations

import pytest

from infrec.core.catalog import InstanceType
from infrec.core.emulation import EmulationError, plan
from infrec.core.traffic import Phase, Phases, Stairs, StoppingConditions

GIB = 1024**3
C5X = InstanceType(name="ml.c5.xlarge", vcpus=4, memory_gib=8, price_per_hour=0.17)


def test_largest_scale_that_fits_the_cpus() -> None:
    assert plan(C5X, 1, host_cpus=4, host_memory_bytes=64 * GIB).scale == 1.0
    assert plan(C5X, 1, host_cpus=1, host_memory_bytes=64 * GIB).scale == 0.25
    assert plan(C5X, 2, host_cpus=1, host_memory_bytes=64 * GIB).scale == 0.125
    with pytest.raises(EmulationError, match="INFREC_NO_EMULATION"):
        plan(C5X, 1, host_cpus=1, host_memory_bytes=64 * GIB, allow_emulation=False)


def test_memory_is_the_full_instances_unless_the_host_lacks_it() -> None:
    emu = plan(C5X, 1, host_cpus=1, host_memory_bytes=64 * GIB)
    assert emu.memory_bytes == 8 * GIB                       # not 2 GiB at 0.25×
    assert emu.memory_utilization(2 * GIB) == pytest.approx(25.0)
    small = plan(C5X, 1, host_cpus=1, host_memory_bytes=4 * GIB)
    assert small.memory_bytes == 4 * GIB and any("memory capped" in n for n in small.notes)


def test_one_user_reads_back_as_one_users_rate_never_four() -> None:
    emu = plan(C5X, 1, host_cpus=1, host_memory_bytes=64 * GIB)       # 0.25×
    assert emu.users(1) == 1
    # One user at 20 ms sends 50 req/s; the full instance with one user cannot do more.
    assert emu.closed_loop_to_full(50.0, full_users=1, users_run=1) == pytest.approx(50.0)
    # 100 users run as 25: saturated, the full instance does four times the emulated rate.
    assert emu.users(100) == 25
    assert emu.closed_loop_to_full(50.0, full_users=100, users_run=25) == pytest.approx(200.0)
    # Never more than 1 / scale.
    assert emu.closed_loop_to_full(50.0, full_users=10, users_run=1) == pytest.approx(200.0)


def test_shapes_and_stopping_thresholds_scale_together() -> None:
    emu = plan(C5X, 1, host_cpus=1, host_memory_bytes=64 * GIB)
    shape = emu.shape(Phases((Phase(8, 4.0, 10.0), Phase(1, 0.0, 5.0))))
    assert isinstance(shape, Phases)
    assert [p.initial_users for p in shape.phases] == [2, 1]
    assert shape.phases[0].spawn_rate == pytest.approx(1.0)
    stairs = emu.shape(Stairs(duration_s=30, steps=3, users_per_step=4))
    assert isinstance(stairs, Stairs) and stairs.users_per_step == 1
    cond = emu.stopping(StoppingConditions(max_invocations=6000))
    assert cond is not None and cond.max_invocations == 1500
    native = plan(C5X, 1, host_cpus=4, host_memory_bytes=64 * GIB)
    assert native.stopping(StoppingConditions(max_invocations=6000)) == StoppingConditions(max_invocations=6000)


def test_settings_the_emulation_bends_are_flagged() -> None:
    emu = plan(C5X, 1, host_cpus=1, host_memory_bytes=64 * GIB, environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "4",
                                                                             "OMP_NUM_THREADS": "1"})
    bent = [n for n in emu.notes if "SAGEMAKER_MODEL_SERVER_WORKERS=4" in n]
    assert bent and "full ml.c5.xlarge" in bent[0]
    assert not any("OMP_NUM_THREADS" in n for n in emu.notes)
    assert not plan(C5X, 1, 4, 64 * GIB, {"SAGEMAKER_MODEL_SERVER_WORKERS": "4"}).notes
