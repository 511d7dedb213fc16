"""CPU quota and memory limit through cgroups, v1 or v2, whichever the host offers writable.

infrec's groups live under an `infrec/` parent: for v1 inside this process's own group of each
controller (so the host's accounting of the control process still covers its endpoints), for v2
under the root (v2 forbids controllers below a group that holds processes). Every group's path is
written to the process ledger before it is created, so a crash never leaves an unknown group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

CFS_PERIOD_US = 100_000
ROOT = Path("/sys/fs/cgroup")


class CgroupError(OSError):
    pass


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(path: Path, key: str) -> int | None:
    """A `key value` line from files such as memory.events or memory.oom_control."""
    try:
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
    except (OSError, ValueError):
        return None
    return None


def _own_paths() -> dict[str, str]:
    """controller → this process's group path, from /proc/self/cgroup ('' key for v2)."""
    out: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                out[c] = path
    except OSError:
        pass
    return out


def pids_in(groups: list[str]) -> set[int]:
    pids: set[int] = set()
    for g in groups:
        try:
            pids.update(int(p) for p in Path(g, "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            pass
    return pids


def remove_groups(groups: list[str], deadline_s: float = 5.0) -> list[str]:
    """Kill whatever still runs in the groups, then remove them. Returns the ones that remain."""
    end = time.monotonic() + deadline_s
    left = [g for g in groups if Path(g).exists()]
    while left:
        for pid in pids_in(left):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        still = []
        for g in left:
            try:
                os.rmdir(g)
            except FileNotFoundError:
                pass
            except OSError:
                still.append(g)
        left = still
        if not left or time.monotonic() > end:
            break
        time.sleep(0.05)
    return left


class Cgroups:
    """One cgroup flavour. `create` returns the group folders; a process joins by writing its pid
    to each folder's cgroup.procs."""

    name = ""

    def parents(self) -> list[Path]:
        raise NotImplementedError

    def create(self, group: str, cpus: float, memory_bytes: int) -> list[str]:
        raise NotImplementedError

    def planned(self, group: str) -> list[str]:
        return [str(p / group) for p in self.parents()]

    def cpu_usage_ns(self, groups: list[str]) -> int | None:
        raise NotImplementedError

    def oom_kills(self, groups: list[str]) -> int:
        raise NotImplementedError

    def leftovers(self) -> list[str]:
        """Every group under infrec's parents (for tests and the reaper)."""
        out: list[str] = []
        for p in self.parents():
            if p.is_dir():
                out.extend(str(c) for c in p.iterdir() if c.is_dir())
        return out


class CgroupsV1(Cgroups):
    name = "cgroup-v1"

    def __init__(self) -> None:
        own = _own_paths()
        self._parents: dict[str, Path] = {}
        for ctrl in ("cpu", "cpuacct", "memory"):
            mount = ROOT / ctrl
            self._parents[ctrl] = mount / own.get(ctrl, "/").lstrip("/") / "infrec"
        # cpu and cpuacct are often mounted together (cpu,cpuacct): one folder then serves both.
        if self._parents["cpu"].parent.resolve() == self._parents["cpuacct"].parent.resolve():
            del self._parents["cpuacct"]

    @staticmethod
    def available() -> bool:
        return (ROOT / "cpu" / "cpu.cfs_quota_us").exists() and (ROOT / "memory" / "memory.limit_in_bytes").exists()

    def parents(self) -> list[Path]:
        return list(self._parents.values())

    def create(self, group: str, cpus: float, memory_bytes: int) -> list[str]:
        made: list[str] = []
        try:
            for ctrl, parent in self._parents.items():
                parent.mkdir(exist_ok=True)
                d = parent / group
                d.mkdir()
                made.append(str(d))
                if ctrl == "cpu":
                    _write(d / "cpu.cfs_period_us", str(CFS_PERIOD_US))
                    _write(d / "cpu.cfs_quota_us", str(max(1000, int(cpus * CFS_PERIOD_US))))
                elif ctrl == "memory":
                    _write(d / "memory.limit_in_bytes", str(memory_bytes))
                    # No swap: a model past its limit is killed and reported, not left swapping.
                    with contextlib.suppress(OSError):
                        _write(d / "memory.memsw.limit_in_bytes", str(memory_bytes))
                    with contextlib.suppress(OSError):
                        _write(d / "memory.swappiness", "0")
        except OSError as exc:
            remove_groups(made, 1.0)
            raise CgroupError(f"cannot set up cgroup {group}: {exc}") from exc
        return made

    def _find(self, groups: list[str], ctrl: str) -> Path | None:
        parent = self._parents.get(ctrl) or self._parents["cpu"]
        for g in groups:
            if Path(g).parent == parent:
                return Path(g)
        return None

    def cpu_usage_ns(self, groups: list[str]) -> int | None:
        d = self._find(groups, "cpuacct")
        return _read_int(d / "cpuacct.usage") if d else None

    def oom_kills(self, groups: list[str]) -> int:
        d = self._find(groups, "memory")
        if d is None:
            return 0
        return _keyed(d / "memory.oom_control", "oom_kill") or 0


class CgroupsV2(Cgroups):
    name = "cgroup-v2"

    def __init__(self) -> None:
        self._parent = ROOT / "infrec"

    @staticmethod
    def available() -> bool:
        return (ROOT / "cgroup.controllers").exists()

    def parents(self) -> list[Path]:
        return [self._parent]

    def create(self, group: str, cpus: float, memory_bytes: int) -> list[str]:
        d = self._parent / group
        try:
            if not self._parent.exists():
                self._parent.mkdir()
            for ctl in (ROOT / "cgroup.subtree_control", self._parent / "cgroup.subtree_control"):
                enabled = ctl.read_text().split()
                if "cpu" not in enabled or "memory" not in enabled:
                    _write(ctl, "+cpu +memory")
            d.mkdir()
            _write(d / "cpu.max", f"{max(1000, int(cpus * CFS_PERIOD_US))} {CFS_PERIOD_US}")
            _write(d / "memory.max", str(memory_bytes))
            with contextlib.suppress(OSError):
                _write(d / "memory.swap.max", "0")
        except OSError as exc:
            remove_groups([str(d)], 1.0)
            raise CgroupError(f"cannot set up cgroup {group}: {exc}") from exc
        return [str(d)]

    def cpu_usage_ns(self, groups: list[str]) -> int | None:
        v = _keyed(Path(groups[0]) / "cpu.stat", "usage_usec") if groups else None
        return v * 1000 if v is not None else None

    def oom_kills(self, groups: list[str]) -> int:
        return (_keyed(Path(groups[0]) / "memory.events", "oom_kill") or 0) if groups else 0


def detect(preference: str = "auto") -> Cgroups | None:
    """The cgroup flavour to use, or None for affinity only. A probe group proves it is writable."""
    if preference == "affinity":
        return None
    candidates: list[type[Cgroups]] = []
    if preference in ("auto", "cgroup-v2") and CgroupsV2.available():
        candidates.append(CgroupsV2)
    if preference in ("auto", "cgroup-v1") and CgroupsV1.available():
        candidates.append(CgroupsV1)
    for cls in candidates:
        cg = cls()
        probe = f"probe-{os.getpid()}"
        try:
            made = cg.create(probe, 1.0, 64 * 1024 * 1024)
        except CgroupError:
            continue
        remove_groups(made, 1.0)
        return cg
    return None
