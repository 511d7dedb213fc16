"""Ray on one host, bound to loopback: the launcher behind `make bench-ray` and the Ray tests, and
a way to try the Ray executor without machines.

**Loopback.** Ray replaces a loopback node address (`--node-ip-address 127.0.0.1`, `ray.init(address=
"127.0.0.1:…")`) by the host's routable address (`ray._private.services.resolve_ip_for_localhost`), so
a "local" cluster would advertise and dial e.g. 192.0.2.2. `keep_loopback()` makes loopback addresses
stay what they are, in this process; `python -m infrec.executors.raylocal start …` is `ray start …`
with it applied, so every node of a test cluster registers as 127.0.0.1 and all traffic between
driver, nodes and endpoints stays on loopback. (Ray's gRPC servers still *listen* on all interfaces:
Ray 2.58 has no setting for that; nothing dials anything but 127.0.0.1.)

**LocalRayCluster** starts a head and worker nodes as `ray start --block` processes it owns (each in
a session of its own, with its own `--temp-dir` under the cluster's folder), kills one node the way
a machine dies (every process of its session, SIGKILL), and stops all of them, waiting until none
is left. It never runs `ray stop`, which would end every Ray process of this user.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from infrec.executors.local import free_port, session_members

STATE_ENV = "INFREC_RAY_STATE_DIR"
# Fast failure detection for a cluster on one host: a killed node is declared dead in ~3 s instead of
# Ray's default ~30 s (health checked every second, dead after 3 misses).
FAST_FAILURE = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3,
                "health_check_timeout_ms": 1000}
OBJECT_STORE_BYTES = 80 * 1024 * 1024


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def keep_loopback() -> None:
    """Make Ray keep loopback addresses in this process (see the module doc). Idempotent."""
    from ray._private import services

    current = services.resolve_ip_for_localhost
    if getattr(current, "_infrec_keeps_loopback", False):
        return

    def resolve(host: str) -> str:
        return host if is_loopback(host) and host != "localhost" else str(current(host))

    resolve._infrec_keeps_loopback = True  # type: ignore[attr-defined]
    services.resolve_ip_for_localhost = resolve




def processes_with_env(name: str, value: str) -> list[int]:
    """Live processes of this user whose environment holds `name=value`: every process a node of a
    LocalRayCluster started, down to the endpoints' model servers, carries the cluster's STATE_ENV."""
    needle = f"{name}={value}".encode() + b"\0"
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                env = f.read() + b"\0"
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        state = stat[stat.rfind(b")") + 2:].split()[:1]
        if needle in env and state and state[0] not in (b"Z", b"X"):
            out.append(int(entry.name))
    return out


@dataclass
class RayNode:
    """One `ray start --block` process and its session."""

    name: str
    proc: subprocess.Popen[bytes]
    temp_dir: Path
    log: Path
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def sid(self) -> int:
        return self.proc.pid


class LocalRayCluster:
    """A Ray cluster of nodes on this host (module doc). `root` holds every node's temp folder, logs
    and the infrec state folder the nodes' endpoints use (STATE_ENV)."""

    def __init__(self, root: Path, *, python: str | None = None, env: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.root / "node-state"
        self.python = python or sys.executable
        self.env = {**os.environ, **(env or {}), "RAY_USAGE_STATS_ENABLED": "0", STATE_ENV: str(self.state_dir),
                    "PYTHONUNBUFFERED": "1"}
        self.env.pop("RAY_ADDRESS", None)
        self.nodes: list[RayNode] = []
        self.address = ""

    def _start(self, name: str, args: list[str], resources: dict[str, float], deadline_s: float) -> RayNode:
        temp = self.root / name
        temp.mkdir(parents=True, exist_ok=True)
        log = self.root / f"{name}.log"
        cmd = [self.python, "-m", "infrec.executors.raylocal", "start", "--block", "--node-ip-address", "127.0.0.1",
               "--disable-usage-stats", "--temp-dir", str(temp), "--object-store-memory", str(OBJECT_STORE_BYTES),
               "--num-gpus", "0", "--resources", json.dumps(resources), *args]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        node = RayNode(name, proc, temp, log, resources)
        self.nodes.append(node)
        end = time.monotonic() + deadline_s
        while b"will now block forever" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > end:
                tail = log.read_bytes()[-2000:].decode("utf-8", "replace")
                raise RuntimeError(f"ray node {name} did not start (exit {proc.poll()}): {tail}")
            time.sleep(0.1)
        return node

    def start_head(self, *, num_cpus: float = 1, resources: dict[str, float] | None = None,
                   deadline_s: float = 60.0) -> str:
        """Start the head (no dashboard, usage stats off, fast failure detection); its address."""
        port = free_port()
        self._start("head", ["--head", "--port", str(port), "--include-dashboard=false", "--num-cpus", f"{num_cpus:g}",
                             "--system-config", json.dumps(FAST_FAILURE)], resources or {}, deadline_s)
        self.address = f"127.0.0.1:{port}"
        return self.address

    def add_node(self, name: str, *, num_cpus: float, resources: dict[str, float],
                 deadline_s: float = 60.0) -> RayNode:
        """Start a worker node joined to the head."""
        if not self.address:
            raise RuntimeError("start_head first")
        return self._start(name, ["--address", self.address, "--num-cpus", f"{num_cpus:g}"], resources, deadline_s)

    def kill_node(self, node: RayNode) -> None:
        """The node's machine dies: SIGKILL every process of its session at once."""
        for pid in session_members(node.sid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.proc.wait(timeout=5)

    def stop(self, deadline_s: float = 20.0) -> None:
        """Stop every node, workers first, as `kill_node` does (a test cluster holds nothing worth a
        graceful shutdown, and Ray's takes ~10 s a node), and wait until nothing of any node is left:
        the actors' sentinels end the endpoints within a second of their actors."""
        for node in reversed(self.nodes):
            self.kill_node(node)
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and self.leftovers():
            time.sleep(0.1)

    def leftovers(self) -> list[int]:
        """Processes of this cluster still alive: members of the nodes' sessions, and anything that
        carries the cluster's state folder in its environment (actors, sentinels, endpoints)."""
        pids = {p for node in self.nodes for p in session_members(node.sid)}
        pids.update(processes_with_env(STATE_ENV, str(self.state_dir)))
        return sorted(pids)


def main(argv: list[str]) -> int:
    """`python -m infrec.executors.raylocal start …`: Ray's CLI with loopback kept."""
    keep_loopback()
    from ray.scripts.scripts import main as ray_main

    sys.argv = ["ray", *argv]
    ray_main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
