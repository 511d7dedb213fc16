"""Load-testing an endpoint that runs already (``InputConfig.Endpoints``): the step's trials
(``infrec.measure.measure_on``) without starting or stopping anything.

What infrec knows of such an endpoint is what the ``EndpointLookup`` says (jobs.endpoints): its
URL, and perhaps its instance type and server process. Utilisation is sampled from the process
tree when the pid is known and omitted otherwise; the endpoint is judged healthy while it
answers ``GET /ping``. The instance type, when known and in the catalog, sizes the load (how many
requests the server may take at once) and reads MemoryUtilization against its memory; when not,
the host's CPUs and memory stand in, which only sets where the search starts.
"""

from __future__ import annotations

import http.client
import math
import os
import threading
import time
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import psutil

from infrec.core.catalog import Catalog, InstanceType
from infrec.core.emulation import Emulation
from infrec.executors.base import EndpointHandle, EndpointSpec, EndpointStartError, Executor, InstanceUsage
from infrec.executors.pinning import control_plane_on
from infrec.jobs.endpoints import ExistingEndpoint
from infrec.measure import StepConfig, StepContext, StepMeasurement, measure_on


@dataclass
class ExistingHandle(EndpointHandle):
    """An endpoint infrec did not start: no ModelSetupTime (NaN), nothing enforced on it, and the
    server's process (when its pid is known) for the CPU and memory it uses."""

    pid: int | None = None
    last_cpu: dict[str, tuple[float, float]] = field(default_factory=dict)


class ProcessMonitor(Executor):
    """The executor of an endpoint infrec did not start: it starts and stops nothing; usage is the CPU
    and RSS of the server's process tree (when the pid is known), health is GET /ping."""

    def capacity(self) -> tuple[float, float]:
        return 0.0, 0.0

    def start(self, spec: EndpointSpec, cancel: threading.Event | None = None) -> EndpointHandle:
        raise EndpointStartError(f"{spec.name}: an existing endpoint is measured where it runs, never started by infrec")

    def stop(self, handle: EndpointHandle) -> None:
        """Nothing to stop: the endpoint belongs to whoever started it."""

    def usage(self, handle: EndpointHandle) -> list[InstanceUsage]:
        if not isinstance(handle, ExistingHandle):
            return []
        if handle.pid is None:
            return []
        try:
            root = psutil.Process(handle.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        rss, cpu_s = 0, 0.0
        for p in procs:
            try:
                with p.oneshot():
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    cpu_s += t.user + t.system
            except psutil.Error:
                continue
        now = time.monotonic()
        prev = handle.last_cpu.get("cpu")
        handle.last_cpu["cpu"] = (now, cpu_s)
        if prev is None or now <= prev[0]:
            return []  # the first sample only sets the baseline
        pct = max(0.0, (cpu_s - prev[1]) / (now - prev[0]) / max(handle.cpus, 1e-9) * 100.0)
        return [InstanceUsage(index=0, cpu_percent=pct, memory_percent=100.0 * rss / max(handle.memory_bytes, 1),
                              rss_bytes=rss)]

    def health(self, handle: EndpointHandle) -> str | None:
        parts = urlsplit(handle.urls[0])
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=5.0)
        try:
            conn.request("GET", parts.path.rstrip("/") + "/ping")
            status = conn.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            return f"{handle.name} stopped answering GET /ping ({type(exc).__name__})"
        finally:
            conn.close()
        return None if status == 200 else f"{handle.name} answered GET /ping with HTTP {status}"


def sizing(endpoint: ExistingEndpoint, catalog: Catalog) -> tuple[InstanceType, bool]:
    """(the instance type to size and read the endpoint by, whether it is the real one). Without a
    known type: the CPUs the server process may use (else this host's) and this host's memory,
    unpriced."""
    if endpoint.instance_type and catalog.has(endpoint.instance_type):
        return catalog.get(endpoint.instance_type), True
    cpus: float = float(os.cpu_count() or 1)
    if endpoint.pid is not None:
        try:
            cpus = float(len(psutil.Process(endpoint.pid).cpu_affinity() or []) or cpus)
        except (psutil.Error, AttributeError):
            pass
    return InstanceType(name=endpoint.instance_type or "existing-endpoint", vcpus=cpus,
                        memory_gib=psutil.virtual_memory().total / 1024**3, price_per_hour=0.0), False


def measure_existing(ctx: StepContext, name: str, endpoint: ExistingEndpoint,
                     catalog: Catalog) -> tuple[StepMeasurement, bool]:
    """Measure the running endpoint `name` as a step would (Default: capacity and latency hold;
    Advanced: the TrafficPattern). Returns the measurement and whether its instance type (and so
    its price) is known. The load generator takes `ctx.executor`'s generator CPUs, as in a step;
    the endpoint itself is watched by a ProcessMonitor."""
    itype, known = sizing(endpoint, catalog)
    emu = Emulation(itype, endpoint.instance_count, 1.0, itype.memory_bytes)
    handle = ExistingHandle(name=name, urls=[endpoint.url], setup_time_s=math.nan, enforcement=None,
                            cpus=itype.vcpus, memory_bytes=itype.memory_bytes, scale=1.0, instances=[],
                            pid=endpoint.pid)
    loadgen_cpus = ctx.executor.loadgen_cpus() or None
    with control_plane_on(loadgen_cpus):
        result = measure_on(replace(ctx, executor=ProcessMonitor()), StepConfig(emu, {}), handle, loadgen_cpus)
    result.details["ExistingEndpoint"] = {"EndpointName": name, "Url": endpoint.url,
                                          "InstanceType": endpoint.instance_type, "Pid": endpoint.pid,
                                          "UtilisationSampled": endpoint.pid is not None}
    return result, known
