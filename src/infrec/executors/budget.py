"""The host as a budget: which CPUs, how much memory and which GPUs endpoints may use, handed out
disjointly.

Each instance gets whole CPUs for the whole part of its vCPUs and a share of one more CPU for the
fraction (two 0.5-vCPU instances share one CPU; their cgroup quotas keep them apart). A request the
host can never satisfy is refused with a message naming the type, its needs, the host and remedies.
"""

from __future__ import annotations

import threading

from infrec.core.catalog import InstanceType
from infrec.executors.base import CapacityError
from infrec.executors.devices import NVIDIA, HostDevices, matches, vendor_of

GIB = 1024**3
EPS = 1e-9


def _fmt_gib(b: float) -> str:
    return f"{b / GIB:.3g}"


class HostBudget:
    def __init__(self, cpu_ids: list[int], memory_bytes: int, oversubscribe: bool = False) -> None:
        if not cpu_ids:
            raise ValueError("the host budget needs at least one CPU")
        self.cpu_ids = sorted(cpu_ids)
        self.memory_bytes = memory_bytes
        self.oversubscribe = oversubscribe
        self._used = {c: 0.0 for c in self.cpu_ids}
        self._mem_used = 0
        self._lock = threading.Lock()

    def capacity(self) -> tuple[float, float]:
        return float(len(self.cpu_ids)), self.memory_bytes / GIB

    def _pick(self, vcpus: float) -> list[tuple[int, float]] | None:
        whole = int(vcpus + EPS)
        frac = vcpus - whole
        free = [c for c in self.cpu_ids if self._used[c] < EPS]
        if len(free) < whole:
            return None
        picks = [(c, 1.0) for c in free[:whole]]
        if frac > EPS:
            taken = {c for c, _ in picks}
            fits = [c for c in self.cpu_ids if c not in taken and self._used[c] + frac <= 1.0 + EPS]
            if not fits:
                return None
            best = max(fits, key=lambda c: self._used[c])  # best fit keeps whole CPUs free
            picks.append((best, frac))
        return picks

    def _pick_shared(self, vcpus: float) -> list[tuple[int, float]]:
        n = min(len(self.cpu_ids), max(1, int(vcpus + 1 - EPS)))
        least = sorted(self.cpu_ids, key=lambda c: self._used[c])[:n]
        return [(c, vcpus / n) for c in least]

    def allocate(self, type_name: str, vcpus: float, memory_bytes: int, count: int) -> list[list[tuple[int, float]]]:
        """CPU shares for each of `count` instances, or CapacityError. All or nothing."""
        host_cpus, _ = self.capacity()
        need = (f"{count} × {type_name} need{'s' if count == 1 else ''} {vcpus * count:g} vCPUs and "
                f"{_fmt_gib(memory_bytes * count)} GiB")
        host = f"this host gives endpoints {host_cpus:g} vCPUs and {_fmt_gib(self.memory_bytes)} GiB"
        remedy = ("Use a smaller instance type, --oversubscribe to emulate it at a fraction of its size "
                  "(scale < 1), or a multi-machine executor")
        if not self.oversubscribe and (vcpus * count > host_cpus + EPS or memory_bytes * count > self.memory_bytes):
            raise CapacityError(f"{need}; {host}. {remedy}.")
        with self._lock:
            if not self.oversubscribe and self._mem_used + memory_bytes * count > self.memory_bytes:
                raise CapacityError(f"{need}; only {_fmt_gib(self.memory_bytes - self._mem_used)} GiB of "
                                    f"{_fmt_gib(self.memory_bytes)} are free now (other endpoints run)")
            out: list[list[tuple[int, float]]] = []
            for _ in range(count):
                picks = self._pick(vcpus)
                if picks is None:
                    if not self.oversubscribe:
                        self._release_locked(out, 0)
                        free = sum(1.0 - u for u in self._used.values())
                        raise CapacityError(f"{need}; only {free:g} of {host_cpus:g} vCPUs are free now "
                                            "(other endpoints run)")
                    picks = self._pick_shared(vcpus)
                for c, share in picks:
                    self._used[c] += share
                out.append(picks)
            self._mem_used += memory_bytes * count
            return out

    def _release_locked(self, allocs: list[list[tuple[int, float]]], memory_bytes: int) -> None:
        for picks in allocs:
            for c, share in picks:
                self._used[c] = max(0.0, self._used[c] - share)
        self._mem_used = max(0, self._mem_used - memory_bytes)

    def release(self, allocs: list[list[tuple[int, float]]], memory_bytes_total: int) -> None:
        with self._lock:
            self._release_locked(allocs, memory_bytes_total)


class DeviceBudget:
    """The host's NVIDIA GPUs as a budget: an endpoint of an accelerated type gets its instances'
    devices (those matching the type's kind and memory, `devices.matches`) for itself, by index in
    the host's list — the order CUDA uses with CUDA_DEVICE_ORDER=PCI_BUS_ID, which is nvidia-smi's.
    The executor puts an instance's indices in its CUDA_VISIBLE_DEVICES; a CPU type gets none, so a
    model server on a GPU host never finds a GPU its instance type does not have.

    Neuron devices are matched by the jobs (`accelerator_refusal`) but not handed out here: their
    runtime selects NeuronCores, whose count per device varies by generation."""

    def __init__(self, devices: HostDevices) -> None:
        self.devices = devices
        self.gpus = devices.of(NVIDIA)
        self.source = devices.source
        self._used: set[int] = set()
        self._lock = threading.Lock()

    def allocate(self, itype: InstanceType, count: int) -> list[list[int]]:
        """Device indices for each of `count` instances (empty lists for a type without NVIDIA
        GPUs), or CapacityError naming the type, what it needs and what is free."""
        acc = itype.accelerators
        if acc is None or vendor_of(acc.kind) != NVIDIA:
            return [[] for _ in range(count)]
        need = acc.count * count
        with self._lock:
            fit = [i for i, d in enumerate(self.gpus) if matches(acc.kind, acc.memory_gib, d)]
            free = [i for i in fit if i not in self._used]
            if len(free) < need:
                held = len(fit) - len(free)
                raise CapacityError(
                    f"{count} × {itype.name} need{'s' if count == 1 else ''} {need} × {acc.kind}; this host has "
                    f"{len(fit)} ({held} held by other endpoints, devices {self.source}). Stop an endpoint that "
                    f"holds one, or use fewer instances")
            picks = free[:need]
            self._used.update(picks)
        return [picks[k * acc.count:(k + 1) * acc.count] for k in range(count)]

    def release(self, allocs: list[list[int]]) -> None:
        with self._lock:
            for picks in allocs:
                self._used.difference_update(picks)
