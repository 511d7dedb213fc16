"""RayExecutor: endpoints on the nodes of a Ray cluster, each instance type on its own hardware.

The same Executor protocol as the local executor; the jobs layer cannot tell them apart except by
`capacity_for` (a type is sized against the nodes that offer it) and `handle.node` (where it ran).

* **Offering a type.** A node offers an instance type with the custom resource `infrec:<type>`
  (`ray start … --resources '{"infrec:ml.c5.large": 1}'`); the amount is how many endpoints of that
  type it hosts at once. The node's own CPUs and memory (Ray's `CPU`, `memory`) decide the emulation
  scale, by the same policy (core.emulation) as on one host: a node as large as the type runs it
  natively (scale 1.0).
* **Placement.** Each endpoint is one actor (executors.raynode.EndpointHost) pinned to a chosen node
  (NodeAffinity, hard), holding `infrec:<type>: 1` and the endpoint's vCPUs, non-detached (it shares
  the fate of this driver) and named `infrec-<driver>-<endpoint>` in the `infrec` namespace. A node
  is eligible when it offers the type, does not offer `infrec:loadgen` and is not the driver's own
  node: the load generator runs in this process (see below), so the endpoint never shares its node
  with it. Of the eligible nodes the one with the most free units of the type is chosen; when all
  are busy the actor waits in Ray's queue (up to `placement_timeout_s`, or until the job stops).
* **A type no node offers** fails its step at once (EmulationError from `capacity_for`, naming the
  resource to add). With an autoscaler (`autoscaler_wait_s` > 0; Settings.ray_autoscaler_wait_s) the
  step is sized as the full type and its start waits that long for a node offering it to join.
* **Load generator.** It runs in the driver, on the driver's CPUs (`loadgen_cpus`: all of this
  process's CPUs, minus those a node on the same host gives its endpoints). The driver's host is
  where `infrec serve` runs: the head, which offers `infrec:loadgen` in the example cluster. Load
  generators on other `infrec:loadgen` nodes are not implemented; a cluster where such nodes exist
  but the driver's is not one of them gets a warning.
* **Faults.** `health` asks the actor; an actor that is gone, or a node that stops answering while
  its endpoint's URL refuses connections, is reported as the node lost, with its id. A job stop
  kills the actors (the actor's sentinel ends the model server within a second). A new executor
  (`reap_orphans`, run when `infrec serve` starts) runs a reaper on every node that ends whatever
  an earlier driver's dead actors left.
* **Loopback.** Connecting to a loopback address keeps every address loopback (executors.raylocal).
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infrec.artifacts.uri import FileAccess
from infrec.core.catalog import InstanceType
from infrec.core.emulation import EmulationError
from infrec.executors.base import EndpointHandle, EndpointSpec, EndpointStartError, Executor, InstanceUsage

log = logging.getLogger(__name__)

NAMESPACE = "infrec"
PREFIX = "infrec:"
LOADGEN_RESOURCE = "infrec:loadgen"
CALL_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 15.0
GIB = 1024**3


def type_resource(instance_type: str) -> str:
    """The custom resource a node offers `instance_type` with."""
    return PREFIX + instance_type


def _add_hint(resource: str) -> str:
    return (f"add a node that offers it: ray start --address <head> --resources '{{\"{resource}\": 1}}' "
            f"(or a worker type with that resource in the cluster file)")


@dataclass
class _Remote:
    actor: Any
    handle: EndpointHandle
    node_id: str
    address: str


class RayExecutor(Executor):
    """Runs endpoints on Ray nodes (module doc). Thread-safe: a job starts several at once."""

    health_poll_s = 1.0  # infrec.measure watches health this often, so a lost node ends its step early

    def __init__(self, address: str, *, state_dir: Path | None = None, node_state_dir: str | None = None,
                 allow_commands: bool = False, placement_timeout_s: float = 3600.0,
                 autoscaler_wait_s: float = 0.0, files: FileAccess | None = None) -> None:
        """`address`: the cluster's (host:port, `auto`, `ray://…`). `node_state_dir`: the folder on each
        node for its endpoints' state (default INFREC_RAY_STATE_DIR there, else <tmp>/infrec-ray-<uid>).
        `autoscaler_wait_s`: Settings.ray_autoscaler_wait_s. `files`: how nodes fetch model data (the
        operator's archive limits and S3 addressing style; any local path of the node itself)."""
        self.address = address
        self.state_dir = state_dir
        self.node_state_dir = node_state_dir
        self.allow_commands = allow_commands
        self.placement_timeout_s = placement_timeout_s
        self.autoscaler_wait_s = float(autoscaler_wait_s)
        self.files = files if files is not None else FileAccess()
        self.session = uuid.uuid4().hex[:8]
        self._running: dict[str, _Remote] = {}
        self._lock = threading.Lock()
        self._nodes_at = 0.0
        self._nodes: list[dict[str, Any]] = []
        self._connect()
        self._warned_loadgen = False

    # ------------------------------------------------------------------ cluster
    def _connect(self) -> None:
        import ray

        if ray.is_initialized():
            self.driver_node = ray.get_runtime_context().get_node_id()
            return
        kwargs: dict[str, Any] = {}
        host = self._address_host()
        if host is not None:
            from infrec.executors.raylocal import is_loopback, keep_loopback

            if is_loopback(host):
                keep_loopback()
                kwargs["_node_ip_address"] = "127.0.0.1"
        try:
            ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING,
                     **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RuntimeError(f"cannot connect to the Ray cluster at {self.address!r}: {exc}") from exc
        self.driver_node = ray.get_runtime_context().get_node_id()

    def _address_host(self) -> str | None:
        addr = self.address
        if addr in ("", "auto"):
            addr = os.environ.get("RAY_ADDRESS", "")
        if not addr or addr in ("auto", "local") or addr.startswith("ray://"):
            return None
        return addr.rsplit(":", 1)[0].strip("[]")

    def nodes(self, max_age_s: float = 1.0) -> list[dict[str, Any]]:
        """The alive nodes, as ray.nodes() gives them (cached for `max_age_s`)."""
        import ray

        now = time.monotonic()
        if now - self._nodes_at > max_age_s:
            self._nodes = [n for n in ray.nodes() if n.get("Alive")]
            self._nodes_at = now
        return self._nodes

    def _endpoint_nodes(self, resource: str | None = None) -> list[dict[str, Any]]:
        """Nodes that may host endpoints (of `resource`, or of any type): not a load generator's."""
        out = []
        for n in self.nodes():
            res = n.get("Resources") or {}
            if res.get(LOADGEN_RESOURCE) or n["NodeID"] == self.driver_node:
                continue
            if resource is not None and res.get(resource, 0) <= 0:
                continue
            if resource is None and not any(k.startswith(PREFIX) for k in res):
                continue
            out.append(n)
        return out

    def _node_alive(self, node_id: str) -> bool:
        return any(n["NodeID"] == node_id for n in self.nodes(max_age_s=0.0))

    # ------------------------------------------------------------------ sizing
    def capacity(self) -> tuple[float, float]:
        """(vCPUs, GiB) of all nodes that host endpoints together: how many steps may run at once."""
        nodes = self._endpoint_nodes()
        return (float(sum((n.get("Resources") or {}).get("CPU", 0.0) for n in nodes)),
                sum((n.get("Resources") or {}).get("memory", 0.0) for n in nodes) / GIB)

    def capacity_for(self, itype: InstanceType) -> tuple[float, float]:
        """(vCPUs, GiB) of the largest node offering `itype`: what its emulation scale is decided
        against. EmulationError (a ValueError: the step fails at once) when no node offers it and no
        autoscaler may add one."""
        resource = type_resource(itype.name)
        nodes = self._endpoint_nodes(resource)
        if not nodes:
            if self.autoscaler_wait_s > 0:
                return itype.vcpus, itype.memory_gib  # a node of the type is expected to join
            raise EmulationError(f"no Ray node offers {itype.name} (custom resource {resource!r}); "
                                 f"{_add_hint(resource)}")
        best = max(nodes, key=lambda n: (n["Resources"].get("CPU", 0.0), n["Resources"].get("memory", 0.0)))
        return float(best["Resources"].get("CPU", 0.0)), best["Resources"].get("memory", 0.0) / GIB

    def loadgen_cpus(self) -> list[int]:
        """This process's CPUs, less those a node on the same host gives its endpoints (the last
        `num_cpus` of the host, executors.raynode): the generator never shares a CPU with one."""
        own = sorted(os.sched_getaffinity(0))
        nodes = self.nodes()
        here = next((n.get("NodeManagerAddress") for n in nodes if n["NodeID"] == self.driver_node), None)
        if not self._warned_loadgen and any((n.get("Resources") or {}).get(LOADGEN_RESOURCE) for n in nodes) and \
                not any(n["NodeID"] == self.driver_node and (n.get("Resources") or {}).get(LOADGEN_RESOURCE)
                        for n in nodes):
            self._warned_loadgen = True
            log.warning("nodes offer %s but this driver's node does not: the load generator runs here anyway "
                        "(remote load generators are not implemented)", LOADGEN_RESOURCE)
        shared = [math.floor((n.get("Resources") or {}).get("CPU", 0.0) + 1e-9)
                  for n in self._endpoint_nodes() if n.get("NodeManagerAddress") == here]
        k = max(shared, default=0)
        return own[:-k] if 0 < k < len(own) else own

    # ------------------------------------------------------------------ protocol
    def start(self, spec: EndpointSpec, cancel: threading.Event | None = None) -> EndpointHandle:
        """Place the endpoint's actor on a node offering its type, start the endpoint there and wait
        until it is healthy. `cancel` ends every wait within ~0.1 s (the actor is killed)."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from infrec.executors.raynode import EndpointHost

        resource = type_resource(spec.instance_type.name)
        node = self._choose_node(resource, cancel)
        ledger_id = f"{re.sub(r'[^A-Za-z0-9_.-]', '-', spec.name)[:60]}-{uuid.uuid4().hex[:8]}"
        host_cls: Any = ray.remote(EndpointHost)
        actor: Any = host_cls.options(
            name=f"infrec-{self.session}-{ledger_id}", namespace=NAMESPACE, max_restarts=0, max_concurrency=4,
            num_cpus=spec.vcpus * spec.instance_count, resources={resource: 1},
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
        ).remote(self.node_state_dir, float(node["Resources"].get("CPU", 1.0)), self.allow_commands,
                  self.files)
        node_id = str(node["NodeID"])
        try:
            where = self._wait(actor.where.remote(), self.placement_timeout_s, cancel, node_id,
                               f"waiting for a free {resource} on node {node_id}")
            started = time.monotonic()
            remote = self._wait(actor.start.remote(spec), spec.setup_deadline_s + 30.0, cancel, node_id,
                                f"starting the endpoint on node {node_id}")
        except BaseException:
            ray.kill(actor, no_restart=True)
            raise
        handle = replace(remote, ledger_id=ledger_id, node={"Id": node_id, "Address": str(where["Address"])})
        handle.setup_time_s = min(remote.setup_time_s, time.monotonic() - started)
        with self._lock:
            self._running[ledger_id] = _Remote(actor, handle, node_id, str(where["Address"]))
        return handle

    def stop(self, handle: EndpointHandle) -> None:
        """Stop the endpoint and end its actor. Stopping twice is harmless."""
        import ray

        with self._lock:
            remote = self._running.pop(handle.ledger_id, None)
        if remote is None:
            return
        try:
            ray.get(remote.actor.stop.remote(), timeout=STOP_TIMEOUT_S)
        except Exception as exc:  # a lost node or actor: the sentinel (or the node's loss) ended it
            log.info("endpoint %s on node %s: stop: %s", handle.name, remote.node_id, type(exc).__name__)
        finally:
            ray.kill(remote.actor, no_restart=True)

    def usage(self, handle: EndpointHandle) -> list[InstanceUsage]:
        import ray

        remote = self._running.get(handle.ledger_id)
        if remote is None:
            return []
        return list(ray.get(remote.actor.usage.remote(), timeout=CALL_TIMEOUT_S))

    def health(self, handle: EndpointHandle) -> str | None:
        """None while the endpoint is fine; else what went wrong, naming the node when it was lost."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        remote = self._running.get(handle.ledger_id)
        if remote is None:
            return None
        try:
            return ray.get(remote.actor.health.remote(), timeout=CALL_TIMEOUT_S)
        except RayActorError as exc:
            return self._lost(remote, f"its Ray actor died ({type(exc).__name__})")
        except GetTimeoutError:
            if not self._node_alive(remote.node_id):
                return self._lost(remote, "Ray declared the node dead")
            from infrec.executors.local import _ping

            if all(_ping(u, timeout=1.0) is None for u in handle.urls):
                return self._lost(remote, "neither the node's actor nor the endpoint answers")
            return None

    def _lost(self, remote: _Remote, why: str) -> str:
        state = "dead" if not self._node_alive(remote.node_id) else "unreachable"
        return f"node {remote.node_id} ({remote.address}) was lost ({state}: {why})"

    def reap_orphans(self) -> int:
        """Run a reaper on every alive node: ends what dead endpoint hosts (a killed driver's actors)
        left on its host. The number of instances reaped."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from infrec.executors.raynode import reap

        task: Any = ray.remote(reap)
        refs = [task.options(num_cpus=0,
                             scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
                             ).remote(self.node_state_dir) for n in self.nodes(max_age_s=0.0)]
        ready, pending = ray.wait(refs, num_returns=len(refs), timeout=60.0)
        for ref in pending:
            ray.cancel(ref, force=True)
        total = 0
        for ref in ready:
            try:
                total += int(ray.get(ref))
            except Exception as exc:
                log.warning("reaping a Ray node failed: %s", exc)
        return total

    def running_actors(self) -> list[str]:
        """Names of this executor's live endpoint actors in the cluster (for tests and `close`)."""
        import ray

        prefix = f"infrec-{self.session}-"
        return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                if a.get("namespace") == NAMESPACE and str(a.get("name", "")).startswith(prefix)]

    def close(self) -> None:
        """Stop every endpoint this executor still runs."""
        with self._lock:
            handles = [r.handle for r in self._running.values()]
        for h in handles:
            self.stop(h)

    # ------------------------------------------------------------------ helpers
    def _choose_node(self, resource: str, cancel: threading.Event | None) -> dict[str, Any]:
        """The eligible node with the most free units of `resource`; waits `autoscaler_wait_s` for
        one to join when none offers it, else fails at once naming the resource."""
        import ray

        end = time.monotonic() + self.autoscaler_wait_s
        while True:
            nodes = self._endpoint_nodes(resource)
            if nodes:
                free = ray.available_resources()  # cluster-wide; per node below when Ray gives it
                per_node = _available_per_node()
                return max(nodes, key=lambda n: (per_node.get(n["NodeID"], {}).get(resource, 0.0),
                                                 n["Resources"].get(resource, 0.0), free.get(resource, 0.0)))
            if time.monotonic() >= end:
                waited = f" (waited {self.autoscaler_wait_s:g} s for the autoscaler)" if self.autoscaler_wait_s else ""
                raise EndpointStartError(f"no Ray node offers {resource}{waited}; {_add_hint(resource)}")
            if cancel is not None and cancel.wait(1.0):
                raise EndpointStartError("start cancelled (the job is stopping)")
            if cancel is None:
                time.sleep(1.0)

    def _wait(self, ref: Any, timeout_s: float, cancel: threading.Event | None, node_id: str, what: str) -> Any:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        end = time.monotonic() + timeout_s
        while True:
            ready, _ = ray.wait([ref], timeout=0.1)
            if ready:
                try:
                    return ray.get(ref)
                except RayTaskError as exc:
                    cause = exc.cause if exc.cause is not None else exc
                    raise EndpointStartError(f"node {node_id}: {cause}") from None
                except RayActorError as exc:
                    lost = "" if self._node_alive(node_id) else " (the node was lost)"
                    raise EndpointStartError(f"node {node_id}{lost}: the endpoint's host actor died while "
                                             f"{what}: {type(exc).__name__}") from None
            if cancel is not None and cancel.is_set():
                raise EndpointStartError(f"start cancelled (the job is stopping) while {what}")
            if time.monotonic() > end:
                raise EndpointStartError(f"timed out after {timeout_s:g} s {what}")


def _available_per_node() -> dict[str, dict[str, float]]:
    """Free resources per node id, where this Ray exposes them (else empty: choose by totals)."""
    try:
        from ray._private.state import state

        raw = state.available_resources_per_node()
    except Exception:
        return {}
    return {str(k): dict(v) for k, v in raw.items()}
