"""What an executor will do with each instance type — run it natively, emulate it at a fraction of its
vCPUs, or refuse it — decided by the jobs' own policies: core.emulation.plan against the executor's
capacity for the type, and executors.devices.accelerator_refusal for accelerated types. Nothing is
started: the executor is only asked its capacity and devices. (`infrec catalog list` shows it.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infrec.core.catalog import InstanceType
from infrec.core.emulation import GIB, EmulationError, plan
from infrec.executors.base import Executor
from infrec.executors.devices import accelerator_refusal


@dataclass(frozen=True)
class Fit:
    verdict: str            # native | emulated | refused
    scale: float            # the fraction of the type's vCPUs an instance gets here (0 when refused)
    reason: str             # why refused, or what is bent (memory capped); '' when nothing is

    def label(self) -> str:
        if self.verdict == "native":
            return "native" + (" (memory capped)" if self.reason else "")
        if self.verdict == "emulated":
            return f"emulated at {self.scale:g}×" + (" (memory capped)" if self.reason else "")
        return "refused"


def host_fits(types: Iterable[InstanceType], executor: Executor, allow_emulation: bool) -> dict[str, Fit]:
    """Each type's Fit for one instance on `executor`."""
    out: dict[str, Fit] = {}
    devices = executor.devices()
    for t in types:
        refusal = accelerator_refusal(t, devices)
        if refusal:
            out[t.name] = Fit("refused", 0.0, refusal)
            continue
        cpus, mem_gib = executor.capacity_for(t)
        try:
            emu = plan(t, 1, cpus, int(mem_gib * GIB), allow_emulation=allow_emulation)
        except EmulationError as exc:
            out[t.name] = Fit("refused", 0.0, str(exc))
            continue
        capped = next((n for n in emu.notes if n.startswith("memory capped")), "")
        out[t.name] = Fit("emulated" if emu.emulated else "native", emu.scale, capped)
    return out
