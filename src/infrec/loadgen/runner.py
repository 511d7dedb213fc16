"""`run_load`: the synchronous entry point the jobs layer calls.

It pre-builds the request bytes, forks the worker processes, merges their per-second windows as
they arrive, evaluates the stopping conditions live, and returns a `LoadResult`. Every wait is
bounded by the hard deadline, and every worker process is reaped on every way out.

**An isolated generator.** Workers always run in their own processes, never as a thread of the
caller: the caller is the control process, whose API, database and usage sampler would share
the GIL (and so the latency figures) with the generator. Given `cpu_ids`, each worker pins
itself to one of them (worker i to cpu_ids[i]) while there are enough; with more workers than
CPUs every worker gets the whole set and the kernel balances them. One CPU per worker keeps the
workers from landing on one CPU while others idle (the scheduler is slow to part two busy
event loops), and makes "busy" mean the same for every worker. Processes are forked, not
spawned: a fork costs a few milliseconds, the pre-built requests are shared, and callers need
no `if __name__ == "__main__"` guard; what the child may and may not touch after the fork is in
`infrec.loadgen.worker.child_main`.

**A checked generator.** Each worker reports its own CPU time (time.process_time in the child)
and the time it was ready to run but waited for a CPU (/proc/thread-self/schedstat: neighbours
on its CPUs, such as the control process or another job). Both are taken from t0 to the end of
the traffic (the drain of late answers after it, at almost no CPU, would dilute them just when
they matter) and put on one scale: seconds over (traffic seconds × `generator_cpus`), giving
`generator_busy` and `generator_wait`. A run whose busy + wait is above GENERATOR_BOUND (0.85,
or INFREC_LOADGEN_MAX_BUSY) is `generator_bound`: its figures measure the generator, not the
endpoint, and must never be taken as capacity; `more_workers` says how many processes to try
next, or that no more CPUs are left, and `generator_bound_reason` words the failure.

Why 85 %: a worker is one event loop, a single queue served by one CPU. As its utilisation ρ
nears 1, the time a due send or a ready answer waits for the loop grows like ρ/(1-ρ) — about 6
service times at 85 %, 19 at 95 % — and that wait lands in the recorded latency and in late
sends (the achieved rate falls short of the offered one for the generator's sake, not the
endpoint's). The figure is a mean over the run, too: a run averaging 85 % has seconds near
100 %. Below ~85 % the loop's own queueing stays small against the millisecond latencies we
measure; above it, it does not. Waiting counts as busy because a send waits just the same
whether the loop is working or kept off its CPU: on a shared 2-CPU host, one process offering
40,000 req/s to a local server was 47 % busy and waited 40 % (p50 9.6 ms), while two processes
on two CPUs served the same rate at p50 1.0 ms.

Environment: INFREC_LOADGEN_MAX_BUSY (a fraction in (0, 1], default 0.85) overrides the bound.
The generator's CPUs come from the caller (`cpu_ids`); `LocalExecutor.loadgen_cpus()` gives the
CPUs its endpoints never get, or INFREC_LOADGEN_CPUS when set.
"""

from __future__ import annotations

import contextlib
import fcntl
import marshal
import os
import selectors
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from infrec.core.stats import (
    ERROR_KINDS,
    STOP_CANCELLED,
    STOP_COMPLETED,
    STOP_DEADLINE,
    LoadResult,
    WindowStats,
)
from infrec.core.traffic import OpenLoop, Phases, Stairs, StoppingConditions
from infrec.loadgen import histogram, stopping
from infrec.loadgen.payloads import Payload
from infrec.loadgen.worker import FRAME, GO, WorkerConfig, child_main

SLIVER_S = 0.25
GENERATOR_BOUND = 0.85
MAX_BUSY_ENV = "INFREC_LOADGEN_MAX_BUSY"
WAIT_NOTE = 0.25  # a generator that waited for a CPU this much of the run gets a note
_START_GRACE_S = 30.0
_REAP_GRACE_S = 5.0
_MAX_CONNECTIONS = 1000
# Forking a process with threads is safe here: the child runs only `child_main` (see there).
warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks", category=DeprecationWarning,
                        module=r"infrec\.loadgen\.runner")


def parse_target(url: str, path: str = "/invocations") -> tuple[str, int, str]:
    """'http://host:port[/prefix]' -> (host, port, '/prefix/invocations') (or '/prefix' + `path`)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"target {url!r} must be an http:// base URL such as http://127.0.0.1:8080")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"target {url!r} has an invalid port") from exc
    return parts.hostname, port, parts.path.rstrip("/") + path


def build_request(host: str, port: int, path: str, body: bytes, content_type: str) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: infrec-loadgen\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def _merge_parts(k: int, parts: list[tuple[Any, ...]], closed_loop: bool) -> WindowStats:
    hist = histogram.new_histogram()
    w = WindowStats(start_s=float(k), duration_s=max(p[3] for p in parts))
    kinds = dict.fromkeys(ERROR_KINDS, 0)
    load = 0.0
    cpu = 0.0
    for p in parts:
        w.requests += p[4]
        w.successes += p[5]
        for kind, n in p[6].items():
            kinds[kind] += n
        w.bytes_received += p[7]
        if p[8]:
            hist.decode_and_add(p[8])
        load += p[9]
        cpu += p[10]
        w.sent += p[11] if len(p) > 11 else 0
    w.errors_by_kind = kinds
    if closed_loop:
        w.users = round(load)
    else:
        w.target_rate = load
    histogram.fill_latency(w, hist)
    w.generator_cpu_percent = 100.0 * cpu / w.duration_s if w.duration_s > 0 else 0.0
    return w



def max_busy() -> float:
    """The busy fraction above which a run is generator-bound: INFREC_LOADGEN_MAX_BUSY or 0.85."""
    raw = os.environ.get(MAX_BUSY_ENV, "").strip()
    if not raw:
        return GENERATOR_BOUND
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise ValueError(f"{MAX_BUSY_ENV}={raw!r} must be a fraction in (0, 1], such as 0.85")
    return value


def more_workers(result: LoadResult, cpu_ids: list[int] | None = None) -> int | None:
    """How many generator processes to use when rerunning the generator-bound trial `result`:
    twice as many as it ran, at most one per CPU of `cpu_ids` (this process's CPUs when None).
    None when it already had a process per CPU: more processes could only share those CPUs,
    so the step should fail with `generator_bound_reason(result)`."""
    available = len(dict.fromkeys(cpu_ids)) if cpu_ids else len(os.sched_getaffinity(0))
    if result.workers >= available:
        return None
    return min(available, max(2 * result.workers, 1))


def generator_bound_reason(result: LoadResult) -> str:
    """Why a generator-bound trial is no evidence of capacity, in words for a FailureReason."""
    cpus = result.generator_cpus
    if result.closed_loop:
        load = f"with {max((w.users for w in result.windows), default=0):,} users"
    else:
        load = f"at {max((w.target_rate for w in result.windows), default=0.0):,.0f} req/s offered"
    waited = (f" and waited for {'it' if cpus == 1 else 'them'} {100 * result.generator_wait:.0f} % of the time"
              if result.generator_wait >= 0.05 else "")
    return (f"the load generator ran at {100 * result.generator_busy:.0f} % of its {cpus:g} "
            f"CPU{'' if cpus == 1 else 's'}{waited} {load}: the figure would measure the generator, not the "
            "endpoint; give the generator more CPUs (INFREC_LOADGEN_CPUS / a larger host)")


@dataclass
class _Child:
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


def _fork_workers(configs: list[WorkerConfig], pins: list[list[int] | None], children: list[_Child]) -> None:
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
            children.append(_Child(cfg.index, pid, ctl_w, out_r))
            os.set_blocking(ctl_w, False)
            os.set_blocking(out_r, False)
    finally:
        ours = {fd for c in children for fd in (c.ctl, c.out)}
        for fd in {fd for p in pipes for fd in p if fd >= 0} - ours:
            with contextlib.suppress(OSError):
                os.close(fd)


def _reap_all(children: list[_Child]) -> None:
    """Stop every worker, wait up to _REAP_GRACE_S for them to leave, then kill what is left."""
    for c in children:
        c.tell(b"s")
        with contextlib.suppress(OSError):
            os.close(c.ctl)  # end of file: a worker that missed the "s" stops on it too
    end = time.monotonic() + _REAP_GRACE_S
    while not all(c.reap() for c in children) and time.monotonic() < end:
        time.sleep(0.005)
    for c in children:
        if not c.reap():
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.pid, signal.SIGKILL)
            c.reap(block=True)
        with contextlib.suppress(OSError):
            os.close(c.out)


def run_load(targets: list[str], payloads: list[Payload], shape: Phases | Stairs | OpenLoop,
             stopping_conditions: StoppingConditions | None = None, deadline_s: float = 3600.0,
             content_type: str = "application/octet-stream", timeout_s: float = 30.0,
             cancel: threading.Event | None = None, on_window: Callable[[WindowStats], None] | None = None,
             workers: int = 1, seed: int | None = None, max_connections: int = _MAX_CONNECTIONS,
             cpu_ids: list[int] | None = None, path: str = "/invocations", worker_factory: Any = None,
             on_parts: Callable[[int, list[tuple[Any, ...]]], None] | None = None) -> LoadResult:
    """Drive `shape` against `targets` (POST <target>/invocations) and measure it.

    `path`, `worker_factory` and `on_parts` let another protocol run on the same engine (the
    token-aware generator, `infrec.loadgen.genai`): the path requests go to, the Worker subclass
    the processes run, and a hook that sees each window's raw frames (with the subclass's extra
    fields) before they are merged.

    Payloads are used round-robin, or in a random order seeded by `seed` when one is given; a
    payload's own content type wins over `content_type`. Several targets are instances of one
    endpoint: each request goes to the one with the fewest outstanding requests. The run ends
    when the shape is done, a stopping condition holds for the last window, `cancel` is set
    (within about a second) or `deadline_s` has passed.

    `workers` processes generate the load, pinned to `cpu_ids` when given (worker i to
    cpu_ids[i] while there are enough, else each to all of them); the result says how busy they
    were and whether the run was generator-bound. Raises RuntimeError when the processes could
    not be started (after stopping any that were).
    """
    if not targets:
        raise ValueError("targets must name at least one http:// base URL")
    if not payloads:
        raise ValueError("payloads must hold at least one request body")
    if not isinstance(shape, Phases | Stairs | OpenLoop):
        raise ValueError(f"shape must be Phases, Stairs or OpenLoop, got {type(shape).__name__}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not deadline_s > 0:
        raise ValueError(f"deadline_s must be positive, got {deadline_s}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    bound = max_busy()
    own = os.sched_getaffinity(0)
    pins: list[list[int] | None]
    if cpu_ids is not None:
        ids = list(dict.fromkeys(int(c) for c in cpu_ids))
        if not ids:
            raise ValueError("cpu_ids must name at least one CPU (or be None)")
        if outside := [c for c in ids if c not in own]:
            raise ValueError(f"cpu_ids {outside} are not among this process's CPUs {sorted(own)}")
        pins = [[ids[i]] for i in range(workers)] if workers <= len(ids) else [list(ids)] * workers
        gen_cpus = float(min(workers, len(ids)))
    else:
        pins = [None] * workers
        gen_cpus = float(min(workers, len(own)))
    parsed = [parse_target(t, path) for t in targets]
    requests = [[build_request(h, p, path, pl.body, pl.content_type or content_type) for pl in payloads]
                for h, p, path in parsed]
    addrs = [(h, p) for h, p, _ in parsed]
    start = time.monotonic()
    hard_deadline = start + deadline_s
    conns_per_worker = max(1, max_connections // workers)
    configs = [WorkerConfig(index=i, count=workers, targets=addrs, requests=requests, shape=shape,
                            timeout_s=timeout_s, deadline_s=deadline_s, random_order=seed is not None,
                            seed=seed, max_connections=conns_per_worker, factory=worker_factory)
               for i in range(workers)]

    notes: list[str] = []
    children: list[_Child] = []
    parts: dict[int, list[tuple[Any, ...]]] = {}
    done: set[int] = set()
    cpu_total = 0.0
    wait_total = 0.0
    run_wall = 0.0
    affinity: list[list[int]] = [[] for _ in range(workers)]
    windows: list[WindowStats] = []
    stop_reason: str | None = None
    next_k = 0
    t0 = start
    give_up = hard_deadline + max(10.0, min(timeout_s, 30.0))
    sel = selectors.DefaultSelector()

    def emit(k: int) -> None:
        nonlocal stop_reason
        if on_parts is not None:
            on_parts(k, parts[k])
        w = _merge_parts(k, parts.pop(k), not isinstance(shape, OpenLoop))
        windows.append(w)
        if on_window is not None:
            try:
                on_window(w)
            except Exception as exc:  # a broken observer must not break the measurement
                notes.append(f"on_window failed: {type(exc).__name__}: {exc}")
        if stop_reason is None:
            reason = stopping.check(stopping_conditions, windows)
            if reason is not None:
                stop_reason = reason
                stop_all()

    def stop_all() -> None:
        for c in children:
            c.tell(b"s")

    def handle(msg: tuple[Any, ...]) -> None:
        nonlocal cpu_total, wait_total, run_wall, next_k, stop_reason
        kind = msg[0]
        if kind == "win":
            parts.setdefault(msg[2], []).append(msg)
            while next_k in parts and len(parts[next_k]) >= workers - len(done):
                emit(next_k)
                next_k += 1
        elif kind == "done":
            done.add(msg[1])
            cpu_total += msg[2]
            if msg[3]:
                notes.append(f"worker {msg[1]}: {msg[3]}")
            run_wall = max(run_wall, msg[4])
            wait_total += msg[5]
            if msg[6] and stop_reason is None:  # it reached the deadline before we said so
                stop_reason = STOP_DEADLINE
        elif kind == "error":
            notes.append(f"worker {msg[1]}: {msg[2]}")
        elif kind == "ready":
            affinity[msg[1]] = list(msg[3])

    def pump(timeout: float) -> list[tuple[Any, ...]]:
        msgs: list[tuple[Any, ...]] = []
        for key, _ in sel.select(timeout):
            msgs.extend(key.data.read())
        return msgs

    def exited_silently() -> list[_Child]:
        """Workers that are gone without a "done": their last frames are read first."""
        gone = []
        for c in children:
            if c.index not in done and c.reap():
                for msg in c.read():
                    handle(msg)
                if c.index not in done:
                    gone.append(c)
        return gone

    try:
        try:
            _fork_workers(configs, pins, children)
        except OSError as exc:
            raise RuntimeError(f"could not start the load generator's processes: {exc}") from exc
        for c in children:
            sel.register(c.out, selectors.EVENT_READ, c)
        # Start handshake: every worker pins itself and says ready; then one common t0 for all.
        ready: set[int] = set()
        ready_by = time.monotonic() + min(_START_GRACE_S, deadline_s)
        failed: list[str] = []
        while len(ready) < workers and time.monotonic() < ready_by and not failed:
            if cancel is not None and cancel.is_set():
                stop_reason = STOP_CANCELLED
                break
            for msg in pump(0.05):
                handle(msg)
                if msg[0] == "ready":
                    ready.add(msg[1])
            failed = [n for n in notes if n.startswith("worker ")] + [
                f"worker {c.index} exited with status {c.status}" for c in exited_silently()]
            if done:
                failed.append(f"{len(done)} worker(s) ended before the start")
        if stop_reason is None and len(ready) < workers:
            why = "; ".join(failed) or f"only {len(ready)} of {workers} were ready within {ready_by - start:.0f} s"
            raise RuntimeError(f"the load generator's processes did not start: {why}")
        if stop_reason is None:
            t0 = time.monotonic() + 0.02
            go = GO.pack(b"g", t0)
            for c in children:
                c.tell(go)
        else:
            stop_all()
            done.update(c.index for c in children)

        while len(done) < workers:
            now = time.monotonic()
            if stop_reason is None and cancel is not None and cancel.is_set():
                stop_reason = STOP_CANCELLED
                stop_all()
            if stop_reason is None and now >= hard_deadline:
                stop_reason = STOP_DEADLINE
                stop_all()
            if now >= give_up:
                notes.append("workers did not finish in time; their last windows are missing")
                break
            for msg in pump(0.05):
                handle(msg)
            for c in exited_silently():
                notes.append(f"worker {c.index} exited (status {c.status}) without reporting")
                done.add(c.index)
                cpu_total += c.rusage_cpu
        for k in sorted(parts):
            emit(k)
    finally:
        _reap_all(children)
        sel.close()
    if len(windows) > 1 and windows[-1].duration_s < SLIVER_S:
        last, prev = windows.pop(), windows.pop()
        merged = histogram.merge_windows([prev, last])
        merged.users, merged.target_rate = prev.users, prev.target_rate
        windows.append(merged)
    if windows:
        total = histogram.merge_windows(windows)
        total.start_s = 0.0
    else:
        total = WindowStats(duration_s=0.0)
    if run_wall <= 0:
        run_wall = max(time.monotonic() - t0, 1e-6)
    cpu_percent = 100.0 * cpu_total / run_wall
    total.generator_cpu_percent = cpu_percent
    busy = min(cpu_total / (run_wall * gen_cpus), 1.0)
    wait = min(wait_total / (run_wall * gen_cpus), 1.0)
    generator_bound = busy + wait > bound
    if generator_bound:
        notes.append(f"generator-bound: the generator was busy {100 * busy:.0f} % of its {gen_cpus:g} CPU(s) "
                     f"and waited for them {100 * wait:.0f} % (bound {100 * bound:.0f} %)")
    elif wait > WAIT_NOTE:
        notes.append(f"the generator waited for a CPU {100 * wait:.0f} % of the run: other work shares its CPUs")
    return LoadResult(windows=windows, total=total, stop_reason=stop_reason or STOP_COMPLETED,
                      generator_cpu_percent=cpu_percent, workers=workers,
                      closed_loop=not isinstance(shape, OpenLoop), notes=notes, start_monotonic=t0,
                      generator_cpus=gen_cpus, generator_busy=busy, generator_bound=generator_bound,
                      generator_wait=wait, generator_affinity=affinity)
