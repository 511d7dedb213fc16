"""The one emulation policy: how an instance type larger than this host is run, and read back.

An instance type whose vCPUs do not fit the host runs at a fraction ``scale`` of them (1/2, 1/4,
…). Everything that depends on size is scaled by the same rule, here and nowhere else, for
Default and Advanced jobs alike:

* **Rates.** An open loop offers ``rate × scale`` to the emulated endpoint; what it sustains,
  divided by ``scale``, is the full instance's figure.
* **Users.** A closed loop of N users runs ``max(1, round(N × scale))`` users, so every emulated
  vCPU sees the load a real one would. Read back, the throughput is multiplied by
  ``N / users run`` — never by more than ``1 / scale`` — which is exactly Little's law: N users,
  each waiting for its answer, cannot send more than N / latency, however large the instance.
  One user on a quarter-size emulation therefore reports one user's rate, not four users'.
* **Stopping thresholds.** StoppingConditions.MaxInvocations is a full-instance figure: it is
  compared with the read-back throughput, i.e. applied as ``MaxInvocations × scale`` to the
  emulated run's raw windows. Latency thresholds are not scaled: latency is per request.
* **Workers and threads.** Left unset, SAGEMAKER_MODEL_SERVER_WORKERS and the thread variables
  default to the emulated vCPUs (the executor's default). A value the user set means what it
  means on the full instance and is passed unchanged; where the emulation bends it (more workers
  or threads than emulated vCPUs) the step says so in ``notes``.
* **Memory is not scaled.** Each instance may use the full instance's memory (a model does not
  need less memory on a smaller share of CPU), capped only by what the host can give, which the
  notes then say; MemoryUtilization is always against the real instance's memory.

A result read back by these rules is always physically possible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from infrec.core.catalog import InstanceType
from infrec.core.traffic import Phase, Phases, Stairs, StoppingConditions

SCALES = (1.0, 0.5, 0.25, 0.125, 0.0625)
WORKER_VARS = ("SAGEMAKER_MODEL_SERVER_WORKERS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
GIB = 1024**3


class EmulationError(ValueError):
    """The type cannot run here at any allowed scale; the message names needs, host and remedies."""


@dataclass(frozen=True)
class Emulation:
    """How one endpoint configuration runs on this host, and how to read its figures back."""

    instance_type: InstanceType
    count: int
    scale: float
    memory_bytes: int                       # limit per instance
    notes: tuple[str, ...] = field(default=())

    @property
    def emulated(self) -> bool:
        return self.scale < 1.0

    @property
    def vcpus(self) -> float:
        """vCPUs each instance gets here."""
        return self.instance_type.vcpus * self.scale

    # ---------------------------------------------------------------- rates (open loop)
    def to_full(self, rps: float) -> float:
        """An emulated open-loop rate as the full instance's rate."""
        return rps / self.scale

    # ---------------------------------------------------------------- users (closed loop)
    def users(self, full_users: int) -> int:
        """Users to run for `full_users` on the full instance (0 stays 0)."""
        if full_users <= 0:
            return 0
        return max(1, round(full_users * self.scale))

    def shape(self, shape: Phases | Stairs) -> Phases | Stairs:
        """The closed-loop shape to run: every user count scaled by `users`."""
        if self.scale >= 1.0:
            return shape
        if isinstance(shape, Phases):
            phases = tuple(Phase(initial_users=self.users(p.initial_users),
                                 spawn_rate=p.spawn_rate * self.scale, duration_s=p.duration_s)
                           for p in shape.phases)
            return replace(shape, phases=phases)
        return replace(shape, users_per_step=self.users(shape.users_per_step))

    def closed_loop_to_full(self, rps: float, full_users: int, users_run: int) -> float:
        """A closed loop's throughput as the full instance's: × N / users run, at most × 1 / scale."""
        if users_run <= 0 or full_users <= 0:
            return 0.0
        return rps * min(full_users / users_run, 1.0 / self.scale)

    def stopping(self, conditions: StoppingConditions | None) -> StoppingConditions | None:
        """Stopping conditions for the emulated run's raw windows."""
        if conditions is None or conditions.max_invocations is None or self.scale >= 1.0:
            return conditions
        return replace(conditions, max_invocations=max(1, math.floor(conditions.max_invocations * self.scale)))

    # ---------------------------------------------------------------- memory
    def memory_utilization(self, rss_bytes: float) -> float:
        """Percent of the REAL instance's memory."""
        return 100.0 * rss_bytes / max(self.instance_type.memory_bytes, 1)


def plan(itype: InstanceType, count: int, host_cpus: float, host_memory_bytes: int,
         environment: Mapping[str, str] | None = None, allow_emulation: bool = True) -> Emulation:
    """The largest scale at which `count` instances of `itype` fit the host's CPUs, with memory
    and environment notes. Raises EmulationError when none does (or emulation is not allowed)."""
    if count < 1:
        raise EmulationError(f"InitialInstanceCount must be at least 1, got {count}")
    chosen = None
    for scale in SCALES:
        if itype.vcpus * scale * count <= host_cpus + 1e-9:
            chosen = scale
            break
    if chosen is None or (chosen < 1.0 and not allow_emulation):
        how = ("emulation is turned off (INFREC_NO_EMULATION)" if chosen is not None
               else f"even at 1/{int(1 / SCALES[-1])} of its size")
        raise EmulationError(
            f"{count} × {itype.name} needs {itype.vcpus * count:g} vCPUs; this host can give {host_cpus:g} "
            f"({how}). Use a smaller instance type, allow emulation at a fraction (the default), or a "
            "multi-machine executor")
    notes: list[str] = []
    full_mem = itype.memory_bytes
    memory = full_mem
    if full_mem * count > host_memory_bytes:
        memory = max(int(host_memory_bytes // count), 1)
        notes.append(f"memory capped at {memory / GIB:.3g} GiB per instance (the host's share) instead of the "
                     f"instance's {itype.memory_gib:g} GiB; a model that needs more fails as out of memory")
    emu = Emulation(itype, count, chosen, memory)
    if chosen < 1.0:
        notes.insert(0, f"emulated at {chosen:g}× ({itype.vcpus * chosen:g} of {itype.vcpus:g} vCPUs per instance); "
                        "throughput is read back × 1/scale, closed-loop users scaled with it")
        notes.extend(_bent_settings(emu, environment or {}))
    return replace(emu, notes=tuple(notes))


def _bent_settings(emu: Emulation, environment: Mapping[str, str]) -> list[str]:
    out = []
    here = max(1, math.ceil(emu.vcpus - 1e-9))
    for var in WORKER_VARS:
        raw = environment.get(var)
        if raw is None:
            continue
        try:
            value = int(str(raw).strip())
        except ValueError:
            continue
        if value > here:
            out.append(f"{var}={value} is the full {emu.instance_type.name}'s setting "
                       f"({emu.instance_type.vcpus:g} vCPUs); here its {value} share {emu.vcpus:g} vCPU"
                       f"{'s' if emu.vcpus != 1 else ''}, so per-request latency and contention differ "
                       "from the full instance")
    return out
