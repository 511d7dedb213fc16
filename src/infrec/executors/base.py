"""The Executor protocol: what the jobs layer needs from anything that runs endpoints.

An executor receives a fully resolved `EndpointSpec` and returns an `EndpointHandle` with one URL per
instance; it knows nothing of jobs or the database. `executors.local.LocalExecutor` implements it with
processes on this host, `executors.ray.RayExecutor` across the machines of a Ray cluster, and
`jobs.existing.ProcessMonitor` watches an endpoint infrec did not start.

Implementations subclass `Executor`, so the members an executor has nothing to say about keep their
defaults here and callers use every member directly, never probing for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from infrec.core.catalog import InstanceType
from infrec.executors.devices import HostDevices, host_devices

ENFORCEMENTS = ("cgroup-v1", "cgroup-v2", "affinity", "docker")


class EndpointStartError(Exception):
    """The endpoint did not become healthy (or could not be started); the message says why."""


class CapacityError(EndpointStartError):
    """The host cannot give what the instance type needs; the message names both and the remedies."""


@dataclass(frozen=True)
class EndpointSpec:
    """One endpoint to run.

    `scale` < 1 emulates the instance type at that fraction of its vCPUs and memory (a host smaller
    than the type). `command` is a plain command line for a server that is not built in; it gets
    SAGEMAKER_BIND_TO_PORT and SM_MODEL_DIR in its environment. `model_data_url` is where the model
    came from (s3://, file://): an executor that runs the endpoint on another machine fetches it
    there (the Ray executor); the local one uses `model_dir`, already extracted here.
    """

    name: str
    image: str
    model_dir: Path | None
    environment: dict[str, str]
    instance_type: InstanceType
    instance_count: int = 1
    scale: float = 1.0
    command: list[str] | None = None
    setup_deadline_s: float = 120.0
    memory_limit_bytes: int | None = None
    model_data_url: str | None = None

    @property
    def vcpus(self) -> float:
        """vCPUs each instance gets."""
        return self.instance_type.vcpus * self.scale

    @property
    def memory_bytes(self) -> int:
        """Memory each instance may use: `memory_limit_bytes` when the emulation policy set it
        (it does not scale memory with CPU), else the type's memory at `scale`."""
        if self.memory_limit_bytes is not None:
            return self.memory_limit_bytes
        return int(self.instance_type.memory_gib * self.scale * 1024**3)


@dataclass
class InstanceProcess:
    """One running instance: its process group and the resources it holds."""

    index: int
    port: int
    url: str
    pid: int
    pgid: int
    cpu_ids: list[int]
    cgroups: list[str] = field(default_factory=list)
    container: str | None = None
    log_path: Path | None = None
    gpus: list[int] = field(default_factory=list)   # NVIDIA GPU indices it may use (CUDA_VISIBLE_DEVICES)


@dataclass
class EndpointHandle:
    """A started endpoint. `enforcement` says how the resources are held: cgroup-v1, cgroup-v2,
    affinity (CPU affinity and thread limits only), docker, or None where infrec enforces nothing (an
    endpoint it did not start)."""

    name: str
    urls: list[str]
    setup_time_s: float
    enforcement: str | None
    cpus: float
    memory_bytes: int
    scale: float
    instances: list[InstanceProcess]
    ledger_id: str = ""
    # Where it runs when that is not this host (the Ray executor): {"Id": node id, "Address": ...}.
    node: dict[str, str] | None = None


@dataclass(frozen=True)
class InstanceUsage:
    """One instance's resource use since the previous sample: CPU as a percentage of the instance's
    vCPUs (100 = all of them busy), memory as a percentage of its limit."""

    index: int
    cpu_percent: float
    memory_percent: float
    rss_bytes: int


@runtime_checkable
class Executor(Protocol):
    """What the jobs layer needs from anything that runs endpoints (module doc)."""

    # How often the measurement asks `health` while it drives load, in seconds: for an executor whose
    # endpoints can vanish with a machine (Ray), so a lost node ends its step within seconds. None: the
    # endpoints live and die with this host, and a failed request already says so.
    health_poll_s: float | None = None

    def capacity(self) -> tuple[float, float]:
        """(vCPUs, GiB) this executor may hand out in total."""
        ...

    def capacity_for(self, itype: InstanceType) -> tuple[float, float]:
        """(vCPUs, GiB) an instance of `itype` is sized against. One host: its whole capacity; an
        executor whose machines differ (Ray) answers with the largest one offering the type."""
        return self.capacity()

    def loadgen_cpus(self) -> list[int]:
        """The CPUs the load generator may use, none of them an endpoint's; empty: it has none of its
        own and shares (the measurement then says how busy it was)."""
        return []

    def devices(self) -> HostDevices:
        """The accelerators the endpoints of this executor can be given (detected on this host)."""
        return host_devices()

    def start(self, spec: EndpointSpec, cancel: threading.Event | None = None) -> EndpointHandle: ...

    def stop(self, handle: EndpointHandle) -> None: ...

    def usage(self, handle: EndpointHandle) -> list[InstanceUsage]: ...

    def health(self, handle: EndpointHandle) -> str | None:
        """None while every instance is fine, else what went wrong ("exited with code 1", ...)."""
        ...

    def reap_orphans(self) -> int:
        """End what a crashed control process left running; the number of instances reaped."""
        return 0
