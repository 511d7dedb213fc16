"""The node side of the Ray executor: one small actor per endpoint, running the local executor there.

`EndpointHost` is placed by the driver (executors.ray) on a node that offers the instance type
(`infrec:<type>`), holding one unit of that resource and the endpoint's vCPUs in Ray's accounting for
as long as it lives, so Ray never puts more endpoints on a node than its resources say. Inside, it
is the local executor, unchanged: the same model server, process groups, cgroups, CPU affinity,
ledger and health/usage readings; only the answers travel back through Ray.

On the node:

* **State** lives in one folder per host (INFREC_RAY_STATE_DIR, else `<tmp>/infrec-ray-<uid>`): the
  local executor's ledger, logs and the models fetched for endpoints. Every actor on the host shares
  it, so any of them (or `reap`) can end what a dead one left.
* **CPUs.** A node offers the last `node_cpus` CPUs of its affinity (all of them on a machine of its
  own). Concurrent endpoints on the host claim disjoint CPUs in `cpus.json` under a file lock; a claim
  of a dead actor is void.
* **Model data** comes by URI (`spec.model_data_url`): s3:// is read on the node with boto3 (the
  node's credentials), file:// only where the path exists on the node. Without a URI the driver's
  `model_dir` is used when that path exists here (one host), else the start fails saying so.
* **A sentinel** process (executors.sentinel) per actor ends the endpoint when the actor dies in a
  way that runs none of our code.
* **Addresses.** The model server binds the node's address (127.0.0.1 stays loopback; any other
  address binds all interfaces, as a cluster's private network needs) and the URL handed back names
  the node's address, which the driver's load generator can reach.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infrec.artifacts.uri import FileAccess
from infrec.executors.base import EndpointHandle, EndpointSpec, EndpointStartError, InstanceUsage
from infrec.executors.ledger import process_start

STATE_ENV = "INFREC_RAY_STATE_DIR"


def node_state_dir(given: str | None = None) -> Path:
    """This host's folder for Ray endpoints (module doc)."""
    raw = given or os.environ.get(STATE_ENV, "").strip()
    path = Path(raw) if raw else Path(tempfile.gettempdir()) / f"infrec-ray-{os.getuid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(state: Path) -> Iterator[Path]:
    with open(state / "cpus.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield state / "cpus.json"
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _live_claims(path: Path) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        doc = {}
    out = {}
    for pid, claim in doc.items() if isinstance(doc, dict) else ():
        start = process_start(int(pid)) if str(pid).isdigit() else None
        if start is not None and abs(start - float(claim.get("start") or 0)) < 1.0:
            out[pid] = claim
    return out


def claim_cpus(state: Path, pool: list[int], count: int) -> list[int]:
    """`count` CPUs of `pool` that no live endpoint host on this host holds, taken for this process.
    Where too few are free (several nodes on one host, a test cluster) the last ones of the pool
    are shared rather than refused: Ray's CPU accounting already keeps one node within its CPUs."""
    count = max(1, min(count, len(pool)))
    with _locked(state) as path:
        claims = _live_claims(path)
        taken = {c for claim in claims.values() for c in claim.get("cpus", [])}
        free = [c for c in pool if c not in taken]
        chosen = free[-count:] if len(free) >= count else pool[-count:]
        claims[str(os.getpid())] = {"cpus": chosen, "start": process_start(os.getpid())}
        path.write_text(json.dumps(claims))
    return chosen


def release_cpus(state: Path, pid: int) -> None:
    with _locked(state) as path:
        claims = _live_claims(path)
        claims.pop(str(pid), None)
        path.write_text(json.dumps(claims))


def node_address() -> str:
    """The address this node is known by in the cluster (127.0.0.1 on a loopback test cluster)."""
    import ray

    return str(ray.util.get_node_ip_address())


def reap(state_dir: str | None = None) -> int:
    """End, on this host, every endpoint whose endpoint host is gone (a Ray task the driver runs on
    each node when it starts: what a killed `infrec serve` or a lost actor left)."""
    from infrec.executors.local import LocalExecutor

    return LocalExecutor(node_state_dir(state_dir), cpus=1, reserve_cpus=0).reap_orphans()


class EndpointHost:
    """One endpoint on this node (module doc). Methods are called by executors.ray."""

    def __init__(self, state_dir: str | None, node_cpus: float, allow_commands: bool, files: FileAccess) -> None:
        """`files`: the driver's FileAccess (its archive limits and S3 addressing style) for the model."""
        self.state = node_state_dir(state_dir)
        self.files = files
        self.node_cpus = node_cpus
        self.allow_commands = allow_commands
        self.executor: Any = None
        self.handle: EndpointHandle | None = None
        self.model_dir: Path | None = None
        start = process_start(os.getpid())
        # The sentinel first: from here on, however this actor dies, what it starts is ended. Started
        # through a shell that exits at once, so it is nobody's child here: Ray kills a dying worker's
        # children (kill_child_processes_on_worker_exit), which would take the sentinel with it.
        subprocess.run(["/bin/sh", "-c", '"$@" </dev/null >/dev/null 2>&1 &', "infrec-sentinel", sys.executable, "-m",
                        "infrec.executors.sentinel", str(self.state), str(os.getpid()), repr(start)],
                       start_new_session=True, check=True, timeout=30)

    def where(self) -> dict[str, Any]:
        """The node this actor runs on: its Ray node id and address."""
        import ray

        return {"NodeId": ray.get_runtime_context().get_node_id(), "Address": node_address(),
                "Pid": os.getpid()}

    def start(self, spec: EndpointSpec) -> EndpointHandle:
        """Fetch the model, claim CPUs, start the endpoint with the local executor; its handle with
        URLs the driver can reach."""
        from infrec.executors.local import LocalExecutor

        address = node_address()
        spec = self._with_model(spec)
        env = dict(spec.environment)
        env.setdefault("INFREC_BIND_HOST", address if _loopback(address) else "0.0.0.0")
        spec = dataclasses.replace(spec, environment=env)
        own = sorted(os.sched_getaffinity(0))
        pool = own[-max(1, min(len(own), math.floor(self.node_cpus + 1e-9) or 1)):]
        cpus = claim_cpus(self.state, pool, math.ceil(spec.vcpus * spec.instance_count - 1e-9))
        os.sched_setaffinity(0, cpus)  # the local executor takes its CPUs from this process's affinity
        try:
            self.executor = LocalExecutor(self.state, cpus=len(cpus), reserve_cpus=0,
                                          allow_commands=self.allow_commands)
        finally:
            os.sched_setaffinity(0, own)
        self.executor.reap_orphans()  # what dead hosts on this machine left, before anything new starts
        self.handle = self.executor.start(spec)
        urls = [u.replace("127.0.0.1", address, 1) for u in self.handle.urls]
        return dataclasses.replace(self.handle, urls=urls)

    def usage(self) -> list[InstanceUsage]:
        return list(self.executor.usage(self.handle)) if self.executor and self.handle else []

    def health(self) -> str | None:
        if self.executor is None or self.handle is None:
            return "the endpoint is not running"
        return self.executor.health(self.handle)

    def stop(self) -> None:
        """Stop the endpoint, drop the fetched model and the CPU claim. Stopping twice is harmless."""
        if self.executor is not None and self.handle is not None:
            self.executor.stop(self.handle)
            self.handle = None
        if self.model_dir is not None:
            shutil.rmtree(self.model_dir, ignore_errors=True)
            self.model_dir = None
        release_cpus(self.state, os.getpid())

    def _with_model(self, spec: EndpointSpec) -> EndpointSpec:
        if spec.model_data_url:
            from infrec.artifacts.errors import ArtifactError

            dest = self.state / "models" / f"{spec.name[:60]}-{uuid.uuid4().hex[:8]}"
            dest.mkdir(parents=True)
            self.model_dir = dest
            try:
                self.files.fetch_and_extract(spec.model_data_url, dest)
            except ArtifactError as exc:
                raise EndpointStartError(f"the model data {spec.model_data_url} cannot be read on node "
                                         f"{node_address()}: {exc}") from None
            return dataclasses.replace(spec, model_dir=dest)
        if spec.model_dir is not None and not Path(spec.model_dir).is_dir():
            raise EndpointStartError(f"the model folder {spec.model_dir} is not on node {node_address()}; give the "
                                     "model data as an s3:// URI (ModelDataUrl) so every node can read it")
        return spec


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "localhost")
