"""The parent's side of the load generator's worker processes: fork them with their pipes, read
their frames without blocking, and reap every one of them on every way out.

Processes are forked, not spawned: a fork costs a few milliseconds, the pre-built requests are
shared, and callers need no `if __name__ == "__main__"` guard; what the child may and may not
touch after the fork is in `infrec.loadgen.worker.child_main`.
"""

from __future__ import annotations

import contextlib
import fcntl
import marshal
import os
import signal
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from infrec.loadgen.worker import FRAME, WorkerConfig, child_main

REAP_GRACE_S = 5.0
# Forking a process with threads is safe here: the child runs only `child_main` (see there).
warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning,
                        module=r"infrec\.loadgen\.processes")


@dataclass
class Child:
    """One worker process as the parent sees it: its pid, our ends of its pipes, the bytes of a
    frame not yet whole, and — once reaped — its wait status and CPU time."""

    index: int
    pid: int
    ctl: int  # our end of its control pipe
    out: int  # our end of its result pipe
    buf: bytearray = field(default_factory=bytearray)
    status: int | None = None  # wait status once reaped
    rusage_cpu: float = 0.0

    def reap(self, block: bool = False) -> bool:
        """True once the process has been waited for (here or elsewhere)."""
        if self.status is None:
            try:
                pid, status, ru = os.wait4(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:  # somebody else reaped it
                pid, status, ru = self.pid, 0, None
            if pid == self.pid:
                self.status = status
                self.rusage_cpu = ru.ru_utime + ru.ru_stime if ru is not None else 0.0
        return self.status is not None

    def tell(self, msg: bytes) -> None:
        with contextlib.suppress(OSError):  # gone already, or (never) a full pipe
            os.write(self.ctl, msg)

    def read(self) -> list[tuple[Any, ...]]:
        """Every whole frame readable now, without blocking."""
        msgs: list[tuple[Any, ...]] = []
        while True:
            try:
                data = os.read(self.out, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                break
            self.buf += data
        while len(self.buf) >= FRAME.size:
            (n,) = FRAME.unpack_from(self.buf)
            if len(self.buf) < FRAME.size + n:
                break
            msgs.append(marshal.loads(bytes(self.buf[FRAME.size:FRAME.size + n])))
            del self.buf[:FRAME.size + n]
        return msgs


def fork_workers(configs: list[WorkerConfig], pins: list[list[int] | None], children: list[Child]) -> None:
    """Fork one worker process per config, appending each to `children` as soon as it exists."""
    pipes: list[tuple[int, int, int, int]] = []  # (ctl_r, ctl_w, out_r, out_w)
    try:
        for _ in configs:
            ctl_r, ctl_w = os.pipe()
            pipes.append((ctl_r, ctl_w, -1, -1))
            out_r, out_w = os.pipe()
            pipes[-1] = (ctl_r, ctl_w, out_r, out_w)
            with contextlib.suppress(OSError, AttributeError):  # room for seconds of windows: a
                fcntl.fcntl(out_w, fcntl.F_SETPIPE_SZ, 1 << 20)  # worker never waits on a slow reader
        every = [fd for p in pipes for fd in p]
        parent = os.getpid()
        for cfg, pin, (ctl_r, ctl_w, out_r, out_w) in zip(configs, pins, pipes, strict=True):
            inherited = [fd for fd in every if fd not in (ctl_r, out_w)]
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child; coverage cannot follow it
                child_main(cfg, pin, ctl_r, out_w, inherited, parent)
            children.append(Child(cfg.index, pid, ctl_w, out_r))
            os.set_blocking(ctl_w, False)
            os.set_blocking(out_r, False)
    finally:
        ours = {fd for c in children for fd in (c.ctl, c.out)}
        for fd in {fd for p in pipes for fd in p if fd >= 0} - ours:
            with contextlib.suppress(OSError):
                os.close(fd)


def reap_all(children: list[Child]) -> None:
    """Stop every worker, wait up to REAP_GRACE_S for them to leave, then kill what is left."""
    for c in children:
        c.tell(b"s")
        with contextlib.suppress(OSError):
            os.close(c.ctl)  # end of file: a worker that missed the "s" stops on it too
    end = time.monotonic() + REAP_GRACE_S
    while not all(c.reap() for c in children) and time.monotonic() < end:
        time.sleep(0.005)
    for c in children:
        if not c.reap():
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.pid, signal.SIGKILL)
            c.reap(block=True)
        with contextlib.suppress(OSError):
            os.close(c.out)

