"""LocalExecutor: endpoints as process groups on this host, inside the resources of their type.

Each instance is one process group (the built-in server's master and workers, a user's command, or
the Docker CLI of a container). This module owns its lifecycle: the budget, cgroups, the ledger,
starting, health, usage, stopping and reaping. What runs, with which command line and environment,
is the launch policy's (``executors.launch``): it joins the instance's cgroups before the server's
first instruction. CPU affinity packs instances onto disjoint CPUs.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from infrec.executors import cgroups as cg
from infrec.executors.base import (
    CapacityError,
    EndpointHandle,
    EndpointSpec,
    EndpointStartError,
    Executor,
    InstanceProcess,
    InstanceUsage,
)
from infrec.executors.budget import DeviceBudget, HostBudget
from infrec.executors.devices import HostDevices, host_devices
from infrec.executors.launch import LAUNCHER, LaunchPolicy, docker_argv
from infrec.executors.ledger import Ledger, owner_alive, owner_identity, process_start

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0


def free_port() -> int:
    """A TCP port free on loopback now (the server binds it a moment later)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _members(field: int, value: int) -> list[int]:
    """Live (not zombie) processes whose /proc stat field `field` (after the command name: 2 = process
    group, 3 = session) equals `value`."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > field and fields[0] not in (b"Z", b"X") and int(fields[field]) == value:
            out.append(int(entry.name))
    return out


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in a process group, from /proc."""
    return _members(2, pgid)


def session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`, from /proc."""
    return _members(3, sid)


def kill_group(pgid: int, grace_s: float) -> None:
    """TERM the group, wait up to grace_s for it to go, then KILL what is left."""
    if pgid <= 1 or pgid == os.getpgrp():
        raise ValueError(f"refusing to kill process group {pgid}")
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    end = time.monotonic() + grace_s
    while time.monotonic() < end and group_members(pgid):
        time.sleep(0.05)
    if group_members(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        end = time.monotonic() + 2.0
        while time.monotonic() < end and group_members(pgid):
            time.sleep(0.02)


def _tail(path: Path | None, n: int = 1500) -> str:
    if path is None:
        return ""
    try:
        data = path.read_bytes()[-n:].decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"; output: {data}" if data else ""


def _ping(url: str, timeout: float = 2.0) -> int | None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def _default_memory_bytes() -> int:
    """What endpoints may use: 80 % of what is available now, within this process's memory cgroup."""
    avail = psutil.virtual_memory().available
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if "memory" in ctrls.split(","):
                limit = Path("/sys/fs/cgroup/memory", path.lstrip("/"), "memory.limit_in_bytes").read_text()
                avail = min(avail, int(limit))
    except (OSError, ValueError):
        pass
    return int(avail * 0.8)


@dataclass
class _Running:
    handle: EndpointHandle
    spec: EndpointSpec
    procs: list[subprocess.Popen[bytes]]
    allocs: list[list[tuple[int, float]]]
    last_cpu: dict[int, tuple[float, float]]
    watchdog_oom: set[int]
    gpus: list[list[int]]


class LocalExecutor(Executor):
    """Runs endpoints as local processes. Thread-safe: a job may start several endpoints at once."""

    def __init__(self, state_dir: Path, *, cpus: int | None = None, reserve_cpus: int = 1,
                 oversubscribe: bool = False, enforcement: str = "auto", allow_commands: bool = False,
                 devices: HostDevices | None = None, loadgen_cpus: Sequence[int] | None = None) -> None:
        """`allow_commands`: may a spec run something other than the built-in server (INFREC_COMMAND,
        `spec.command`, a Docker image)? Off unless asked: the composition root passes the operator's
        choice (`infrec serve --allow-commands`, the embedded CLI's default). `devices`: the host's
        accelerators as the operator declared them (Settings.host_devices), else detected.
        `loadgen_cpus`: the operator's CPUs for the load generator (Settings.loadgen_cpus), else those
        no endpoint gets."""
        self.state_dir = Path(state_dir)
        self.launch = LaunchPolicy(allow_commands=allow_commands, python=sys.executable,
                                   empty_model_dir=self.state_dir / "empty-model")
        self._loadgen_choice = tuple(loadgen_cpus) if loadgen_cpus else None
        self.ledger = Ledger(self.state_dir)
        self.logs = self.state_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        own = sorted(os.sched_getaffinity(0))
        if cpus is not None:
            ids = own[-max(1, min(cpus, len(own))):]
        else:
            # All but `reserve_cpus` (kept for the load generator), never fewer than one.
            ids = own[min(reserve_cpus, len(own) - 1):]
        self.budget = HostBudget(ids, _default_memory_bytes(), oversubscribe)
        self.gpu_budget = DeviceBudget(host_devices(devices))
        self.cgroups = cg.detect(enforcement)
        self.enforcement = self.cgroups.name if self.cgroups else "affinity"
        self.taskset = shutil.which("taskset")
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._identity = owner_identity()
        self._loadgen_overlap_logged = False

    # ------------------------------------------------------------------ protocol
    def capacity(self) -> tuple[float, float]:
        return self.budget.capacity()

    def devices(self) -> HostDevices:
        """The accelerators found (or declared) when this executor was made: the ones it hands out."""
        return self.gpu_budget.devices

    def loadgen_cpus(self) -> list[int]:
        """The CPUs for the load generator: those of this process's affinity that no endpoint
        gets (the `reserve_cpus` left out of the budget, or all but `cpus`), so the generator and
        the endpoints never share a CPU.

        INFREC_LOADGEN_CPUS (a CPU list such as "0", "0-1" or "0,2-3", within this process's
        affinity) chooses them instead; keeping the endpoints off them is then the operator's
        part (`cpus`/`reserve_cpus`). Where the budget leaves no CPU over (a 1-CPU host) the
        answer is the whole affinity: the generator then shares its CPUs with the endpoints,
        which is logged once per executor and which a caller sees as
        `set(ex.loadgen_cpus()) & set(ex.budget.cpu_ids)`.
        """
        own = sorted(os.sched_getaffinity(0))
        endpoint = set(self.budget.cpu_ids)
        if self._loadgen_choice:
            chosen = set(self._loadgen_choice)
            if outside := sorted(chosen - set(own)):
                raise ValueError(f"INFREC_LOADGEN_CPUS names CPUs {outside} that this process may not use "
                                 f"(its CPUs: {own})")
            cpus = sorted(chosen)
        else:
            cpus = [c for c in own if c not in endpoint] or own
        shared = sorted(set(cpus) & endpoint)
        if shared and not self._loadgen_overlap_logged:
            self._loadgen_overlap_logged = True
            log.warning("the load generator shares CPUs %s with endpoints: no CPU is left over for it "
                        "(a larger host, or fewer endpoint CPUs via cpus/reserve_cpus, keeps them apart)", shared)
        return cpus

    def start(self, spec: EndpointSpec, cancel: threading.Event | None = None) -> EndpointHandle:
        """Start the endpoint and wait until every instance is healthy. `cancel` (a job being
        stopped) ends the wait within ~50 ms: what started is stopped and EndpointStartError raised."""
        if spec.instance_count < 1:
            raise EndpointStartError(f"InitialInstanceCount must be at least 1, got {spec.instance_count}")
        if not 0 < spec.scale <= 1:
            raise EndpointStartError(f"scale must be in (0, 1], got {spec.scale}")
        argv, docker = self.launch.argv(spec)
        vcpus, mem = spec.vcpus, spec.memory_bytes
        allocs = self.budget.allocate(spec.instance_type.name, vcpus, mem, spec.instance_count)
        try:
            gpus = self.gpu_budget.allocate(spec.instance_type, spec.instance_count)
        except CapacityError:
            self.budget.release(allocs, mem * len(allocs))
            raise
        ledger_id = f"{re.sub(r'[^A-Za-z0-9_.-]', '-', spec.name)[:60]}-{uuid.uuid4().hex[:8]}"
        enforcement = "docker" if docker else self.enforcement
        handle = EndpointHandle(name=spec.name, urls=[], setup_time_s=0.0, enforcement=enforcement,
                                cpus=vcpus, memory_bytes=mem, scale=spec.scale, instances=[], ledger_id=ledger_id)
        run = _Running(handle, spec, [], allocs, {}, set(), gpus)
        with self._lock:
            self._running[ledger_id] = run
        started = time.monotonic()
        try:
            for i, picks in enumerate(allocs):
                self._start_instance(run, i, [c for c, _ in picks], argv, docker)
            self._wait_healthy(run, started + spec.setup_deadline_s, cancel)
        except BaseException as exc:
            reason = str(exc)
            self.stop(handle)
            if isinstance(exc, EndpointStartError):
                raise EndpointStartError(reason) from None
            raise
        handle.setup_time_s = time.monotonic() - started
        return handle

    def stop(self, handle: EndpointHandle) -> None:
        """End every instance (TERM, then KILL the process group), remove its cgroups, free its budget.
        Stopping twice is harmless."""
        with self._lock:
            run = self._running.pop(handle.ledger_id, None)
        if run is None and not (self.ledger.dir / f"{handle.ledger_id}.json").exists():
            return
        for inst in handle.instances:
            if inst.container:
                self._docker_rm(inst.container)
            if inst.pgid > 1:  # 0 = never started; killpg(0) would hit our own group
                kill_group(inst.pgid, STOP_GRACE_S)
        if run is not None:
            for p in run.procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=2.0)
        if self.cgroups is not None:
            groups = [g for inst in handle.instances for g in inst.cgroups]
            left = cg.remove_groups(groups)
            if left:
                log.warning("cgroups still present after stop: %s", left)
        for inst in handle.instances:
            if inst.log_path is not None:
                with contextlib.suppress(OSError):
                    inst.log_path.unlink()
        if run is not None:
            self.budget.release(run.allocs, handle.memory_bytes * len(run.allocs))
            self.gpu_budget.release(run.gpus)
        self.ledger.remove(handle.ledger_id)

    def usage(self, handle: EndpointHandle) -> list[InstanceUsage]:
        run = self._running.get(handle.ledger_id)
        out = []
        now = time.monotonic()
        for inst in handle.instances:
            group_ns = self.cgroups.cpu_usage_ns(inst.cgroups) if self.cgroups and inst.cgroups else None
            rss, tree_ns = self._tree(inst.pid)
            cpu_ns = float(group_ns) if group_ns is not None else tree_ns
            cpu_pct = 0.0
            if run is not None:
                prev = run.last_cpu.get(inst.index)
                run.last_cpu[inst.index] = (now, cpu_ns)
                if prev is not None and now > prev[0]:
                    cpu_pct = max(0.0, (cpu_ns - prev[1]) / ((now - prev[0]) * 1e9) / handle.cpus * 100.0)
            out.append(InstanceUsage(index=inst.index, cpu_percent=cpu_pct,
                                     memory_percent=rss / handle.memory_bytes * 100.0, rss_bytes=rss))
        return out

    def health(self, handle: EndpointHandle) -> str | None:
        run = self._running.get(handle.ledger_id)
        limit_mib = handle.memory_bytes / 1024**2
        many = len(handle.instances) > 1
        for inst in handle.instances:
            where = f"instance {inst.index + 1}: " if many else ""
            oom = self.cgroups is not None and bool(inst.cgroups) and self.cgroups.oom_kills(inst.cgroups) > 0
            # Affinity only: no kernel limit, so infrec is the one that enforces memory.
            if (run is not None and self.cgroups is None and inst.index not in run.watchdog_oom
                    and self._tree(inst.pid)[0] > handle.memory_bytes):
                run.watchdog_oom.add(inst.index)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(inst.pgid, signal.SIGKILL)
            if run is not None and inst.index in run.watchdog_oom:
                oom = True
            if oom:
                return f"{where}out of memory (limit {limit_mib:.0f} MiB)"
            if run is not None:
                code = run.procs[inst.index].poll()
                if code is not None:
                    return f"{where}{_exit_text(code)}"
        return None

    def reap_orphans(self) -> int:
        """Kill and clean up every ledgered instance whose control process is gone."""
        with self._lock:
            mine = set(self._running)
        reaped = 0
        for ledger_id, doc in self.ledger.entries():
            if ledger_id in mine:
                continue
            if owner_alive(doc) and doc.get("owner_pid") != os.getpid():
                continue
            for inst in doc.get("instances", []):
                pgid = inst.get("pgid")
                if isinstance(pgid, int) and pgid > 1 and pgid != os.getpgrp():
                    start = process_start(pgid)
                    # The leader may be gone while workers live on in its group; a reused pid
                    # with another start time is not ours.
                    if start is None or abs(start - float(inst.get("start") or 0)) < 1.0:
                        kill_group(pgid, 0.5)
                if inst.get("container"):
                    self._docker_rm(inst["container"])
                cg.remove_groups(list(inst.get("cgroups") or []))
                reaped += 1
            log_dir = self.logs
            for p in log_dir.glob(f"{ledger_id}-*.log"):
                with contextlib.suppress(OSError):
                    p.unlink()
            self.ledger.remove(ledger_id)
        return reaped

    # ------------------------------------------------------------------ helpers
    def infrec_cgroups(self) -> list[str]:
        """Every cgroup under infrec's parents (empty without cgroups): what tests check for leaks."""
        return self.cgroups.leftovers() if self.cgroups else []

    def _start_instance(self, run: _Running, index: int, cpu_ids: list[int], argv: list[str], docker: bool) -> None:
        spec, handle = run.spec, run.handle
        port = free_port()
        group = f"{handle.ledger_id}-{index}"
        planned = self.cgroups.planned(group) if self.cgroups and not docker else []
        log_path = self.logs / f"{group}.log"
        inst = InstanceProcess(index=index, port=port, url=f"http://127.0.0.1:{port}", pid=0, pgid=0,
                               cpu_ids=cpu_ids, cgroups=planned, log_path=log_path)
        handle.instances.append(inst)
        handle.urls.append(inst.url)
        self._record(handle)  # before anything exists, so a crash from here on is reaped
        if self.cgroups and not docker:
            try:
                inst.cgroups = self.cgroups.create(group, spec.vcpus, spec.memory_bytes)
            except cg.CgroupError as exc:
                raise EndpointStartError(str(exc)) from None
        env = self.launch.environment(spec, port, handle.ledger_id, inst.cgroups)
        # The instance's own GPUs and no others (none for a CPU type): CUDA numbers them as nvidia-smi does.
        inst.gpus = list(run.gpus[index]) if index < len(run.gpus) else []
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, inst.gpus))
        if docker:
            inst.container = f"infrec-{group}"
            argv = docker_argv(spec, inst)
            env["INFREC_CGROUP_PROCS"] = ""
        prefix = [self.taskset, "-c", ",".join(map(str, cpu_ids))] if self.taskset and not docker else []
        if spec.model_dir is None:
            Path(env["SM_MODEL_DIR"]).mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as out:
            try:
                proc = subprocess.Popen(["/bin/sh", "-c", LAUNCHER, "infrec-endpoint", *prefix, *argv], env=env,
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True, cwd=str(spec.model_dir or self.state_dir))
            except OSError as exc:
                raise EndpointStartError(f"cannot start {argv[0]!r}: {exc.strerror}") from None
        if not self.taskset and not docker:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(proc.pid, cpu_ids)
        run.procs.append(proc)
        inst.pid = inst.pgid = proc.pid
        self._record(handle, {index: process_start(proc.pid)})

    def _record(self, handle: EndpointHandle, starts: dict[int, float | None] | None = None) -> None:
        doc: dict[str, Any] = {**self._identity, "name": handle.name, "instances": []}
        run = self._running.get(handle.ledger_id)
        for inst in handle.instances:
            start = (starts or {}).get(inst.index)
            if start is None and inst.pid and run is not None:
                start = process_start(inst.pid)
            doc["instances"].append({"index": inst.index, "pid": inst.pid, "pgid": inst.pgid, "start": start,
                                     "port": inst.port, "cgroups": inst.cgroups, "container": inst.container})
        self.ledger.write(handle.ledger_id, doc)

    def _wait_healthy(self, run: _Running, deadline: float, cancel: threading.Event | None = None) -> None:
        handle = run.handle
        pending = set(range(len(handle.instances)))
        while pending:
            if cancel is not None and cancel.is_set():
                raise EndpointStartError(f"endpoint {handle.name}: start cancelled (the job is stopping)")
            for i in sorted(pending):
                inst = handle.instances[i]
                code = run.procs[i].poll()
                if code is not None:
                    oom = (self.cgroups is not None and inst.cgroups and self.cgroups.oom_kills(inst.cgroups) > 0)
                    what = (f"out of memory (limit {handle.memory_bytes / 1024**2:.0f} MiB)" if oom
                            else _exit_text(code))
                    raise EndpointStartError(f"endpoint {handle.name} instance {i + 1} {what} during setup"
                                             f"{_tail(inst.log_path)}")
                if _ping(inst.url, timeout=min(2.0, max(0.1, deadline - time.monotonic()))) == 200:
                    pending.discard(i)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise EndpointStartError(
                    f"endpoint {handle.name} did not answer GET /ping with 200 within "
                    f"{run.spec.setup_deadline_s:g}s (ModelSetupTime deadline){_tail(handle.instances[min(pending)].log_path)}")
            time.sleep(0.05)

    def _tree(self, pid: int) -> tuple[int, float]:
        """(RSS bytes, CPU nanoseconds) of a process and all its descendants."""
        rss, cpu = 0, 0.0
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0, 0.0
        for p in procs:
            try:
                with p.oneshot():
                    rss += p.memory_info().rss
                    t = p.cpu_times()
                    cpu += (t.user + t.system) * 1e9
            except psutil.Error:
                continue
        return rss, cpu

    # ------------------------------------------------------------------ docker
    @staticmethod
    def _docker_rm(name: str) -> None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=30)


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"was killed by {name}"
    return f"exited with code {code}"

