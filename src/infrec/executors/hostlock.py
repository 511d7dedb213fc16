"""One benchmark at a time per host: a host-wide lock that infrec processes take before they start
endpoints and load generators, so two of them (an `infrec serve` and an embedded `infrec recommend`,
each with its own state folder) never share cores silently.

The lock is `flock(2)` on one file per host: the kernel drops it when its holder dies, however it
dies, so a crash never leaves the host locked. The *process* holds the host: several steps of one
job, or several jobs of one server, may run in threads of one process and share it (a reference
count); a second process waits, and tells whoever watches who it waits for, read from the file:
"waiting for the host: pid 1234 (infrec serve, job X) is benchmarking since 10:02:03".

Where the lock lives: the operator's `INFREC_HOST_LOCK` (Settings.host_lock) when set (a path; `off`
turns the lock off, for an operator who splits one host between infrec processes by other means), else `/run/lock/infrec-benchmark.lock`,
else `/tmp/infrec-benchmark.lock` when /run/lock is not writable. Processes that should exclude each
other must see the same file: a service with a private /tmp (systemd PrivateTmp) needs /run/lock or
INFREC_HOST_LOCK.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from infrec.core.errors import JobStopped

LOCK_NAME = "infrec-benchmark.lock"
SYSTEM_DIR = Path("/run/lock")
FALLBACK_DIR = Path("/tmp")
POLL_S = 0.2
REPORT_EVERY_S = 5.0


class HostLockError(Exception):
    """The host could not be had; the message names who holds it (`who`: the holder alone)."""

    def __init__(self, message: str, who: str = "") -> None:
        super().__init__(message)
        self.who = who


class HostLockTimeout(HostLockError):
    """The deadline passed while another process held the host."""


@dataclass(frozen=True)
class Holder:
    """Who holds the host, as its holder wrote it into the lock file."""

    pid: int
    owners: tuple[str, ...]
    since: float
    command: str = ""

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        what = [self.command] if self.command else []
        if self.owners:
            what.append(("job " if len(self.owners) == 1 else "jobs ") + ", ".join(self.owners))
        who = f"pid {self.pid}" + (f" ({'; '.join(what)})" if what else "")
        return f"{who} is benchmarking since {_clock(self.since)}"


def _clock(t: float) -> str:
    when = datetime.fromtimestamp(t)
    fmt = "%H:%M:%S" if when.date() == datetime.now().date() else "%Y-%m-%d %H:%M:%S"
    return when.strftime(fmt)


def default_path(setting: str | Path | None = None) -> Path | None:
    """The lock file for this host: the operator's `setting` (Settings.host_lock: a path, or "off"
    for none), else the default place."""
    if isinstance(setting, str) and setting.strip().lower() == "off":
        return None
    if setting is not None and str(setting).strip():
        return Path(setting).expanduser()
    if SYSTEM_DIR.is_dir() and os.access(SYSTEM_DIR, os.W_OK | os.X_OK):
        return SYSTEM_DIR / LOCK_NAME
    return FALLBACK_DIR / LOCK_NAME


class _ProcessHold:
    """This process's hold on one lock file, shared by every HostLock on that path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mutex = threading.Lock()
        self.fd: int | None = None
        self.writable = False
        self.owners: list[str] = []
        self.since = 0.0

    def _open(self) -> int:
        if self.fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:  # without O_CREAT first: fs.protected_regular refuses O_CREAT on another user's file
                fd = os.open(self.path, os.O_RDWR)
            except FileNotFoundError:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
                with contextlib.suppress(OSError):  # other users must be able to open it too
                    os.fchmod(fd, 0o666)
            except PermissionError:  # another user's file: we can lock it, not describe ourselves
                fd = os.open(self.path, os.O_RDONLY)
                self.writable = False
                self.fd = fd
                return fd
            self.writable = True
            self.fd = fd
        return self.fd

    def try_take(self, owner: str) -> bool:
        """Under `mutex`: join this process's hold, or take the file lock if nobody holds it."""
        if self.owners:
            self.owners.append(owner)
            self._write()
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.owners.append(owner)
        self.since = time.time()
        self._write()
        return True

    def drop(self, owner: str) -> None:
        """Under `mutex`: leave the hold; the last one out unlocks the file."""
        if owner in self.owners:
            self.owners.remove(owner)
        elif self.owners:
            self.owners.pop()
        else:
            return
        if self.owners:
            self._write()
            return
        if self.fd is not None:
            if self.writable:
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, 0)
            with contextlib.suppress(OSError):
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def _write(self) -> None:
        if self.fd is None or not self.writable:
            return
        doc = {"pid": os.getpid(), "owners": list(dict.fromkeys(self.owners)), "since": self.since,
               "command": _command()}
        data = (json.dumps(doc) + "\n").encode()
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, data, 0)


def _command() -> str:
    """A short name for this process: `infrec serve`, `infrec recommend`, `pytest`…"""
    argv = [a for a in sys.argv if a]
    if not argv or argv[0] in ("-c", "-m"):
        return Path(sys.executable).name
    words = [Path(argv[0]).name]
    if len(argv) > 1 and not argv[1].startswith("-"):
        words.append(Path(argv[1]).name)
    return " ".join(words)[:60]


_holds: dict[str, _ProcessHold] = {}
_holds_mutex = threading.Lock()


def _forget_in_child() -> None:
    """A forked child (a load-generator worker) must not keep the host after its parent dies: close
    its copy of each lock fd. Never LOCK_UN here: the parent shares the same open file and lock."""
    global _holds_mutex
    _holds_mutex = threading.Lock()
    for hold in _holds.values():
        hold.mutex = threading.Lock()
        if hold.fd is not None:
            with contextlib.suppress(OSError):
                os.close(hold.fd)
        hold.fd, hold.owners = None, []


os.register_at_fork(after_in_child=_forget_in_child)


def _hold_for(path: Path) -> _ProcessHold:
    key = os.path.abspath(path)
    with _holds_mutex:
        hold = _holds.get(key)
        if hold is None:
            hold = _holds[key] = _ProcessHold(Path(key))
        return hold


class HostLock:
    """The host-wide benchmark lock. Cheap to create: every HostLock on one path in one process
    shares that process's hold, which is re-entrant and counted (`acquire` n times, `release` n
    times). `setting` is where it lives (see `default_path`: a path, "off", or None for the default
    place); a lock that is off always succeeds."""

    def __init__(self, setting: str | Path | None = None) -> None:
        self.path = default_path(setting)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def holder(self) -> Holder | None:
        """Who holds the host according to the file (None when nobody wrote there, or it is off).
        The file is only a description: whether the host is free is what flock says."""
        if self.path is None:
            return None
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8") or "null")
            return Holder(pid=int(doc["pid"]), owners=tuple(str(o) for o in doc.get("owners") or ()),
                          since=float(doc.get("since") or 0.0), command=str(doc.get("command") or ""))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def held_here(self) -> bool:
        """Whether this process holds the host now."""
        if self.path is None:
            return False
        hold = _hold_for(self.path)
        with hold.mutex:
            return bool(hold.owners)

    def _who(self) -> str:
        h = self.holder()
        # A dead pid in the file: its successor took the lock and has not described itself yet.
        who = h.describe() if h is not None and h.alive() else "another process is benchmarking"
        return f"{who} (lock {self.path})"

    def waiting_message(self) -> str:
        """"waiting for the host: pid 1234 (infrec serve; job X) is benchmarking since 10:02:03 (lock …)"."""
        return f"waiting for the host: {self._who()}"

    def acquire(self, owner: str, *, deadline: float | None = None, cancel: threading.Event | None = None,
                on_wait: Callable[[str], None] | None = None, report_every_s: float = REPORT_EVERY_S,
                poll_s: float = POLL_S) -> float:
        """Hold the host for `owner` (a label such as a job name); returns the seconds spent waiting.

        While another process holds it, `on_wait(message)` is called at once, then every
        `report_every_s` and whenever the holder changes; `cancel` is checked every `poll_s` and
        raises JobStopped; `deadline` (wall-clock time.time() seconds) raises
        HostLockTimeout naming the holder. Never blocks in the kernel, so both act promptly."""
        if self.path is None:
            return 0.0
        hold = _hold_for(self.path)
        start = time.monotonic()
        last_report = -1e9
        last_message = ""
        while True:
            if cancel is not None and cancel.is_set():
                raise JobStopped(f"stopped while {last_message or self.waiting_message()}")
            with hold.mutex:
                if hold.try_take(owner):
                    return time.monotonic() - start
            message = self.waiting_message()
            if deadline is not None and time.time() >= deadline:
                who = self._who()
                raise HostLockTimeout(f"the host stayed busy until the deadline: {who}", who)
            now = time.monotonic()
            if on_wait is not None and (message != last_message or now - last_report >= report_every_s):
                last_report = now
                on_wait(message)
            last_message = message
            wait = poll_s if deadline is None else max(0.0, min(poll_s, deadline - time.time()))
            if cancel is not None:
                cancel.wait(wait)
            else:
                time.sleep(wait)

    def release(self, owner: str) -> None:
        """Leave the hold taken by `acquire(owner)`; the process's last release frees the host."""
        if self.path is None:
            return
        hold = _hold_for(self.path)
        with hold.mutex:
            hold.drop(owner)

    @contextlib.contextmanager
    def held(self, owner: str, *, deadline: float | None = None, cancel: threading.Event | None = None,
             on_wait: Callable[[str], None] | None = None) -> Iterator[float]:
        """`with lock.held("job"):` — acquire (same keywords) and always release."""
        waited = self.acquire(owner, deadline=deadline, cancel=cancel, on_wait=on_wait)
        try:
            yield waited
        finally:
            self.release(owner)
