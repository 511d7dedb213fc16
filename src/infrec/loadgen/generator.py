"""`run_load`: the synchronous entry point the jobs layer calls, with a `LoadPlan` of what to send,
where, how and for how long at most.

It pre-builds the request bytes, forks the worker processes, merges their per-second windows as
they arrive, evaluates the stopping conditions live, and returns a `LoadResult`. Every wait is
bounded by the hard deadline, and every worker process is reaped on every way out.

**An isolated generator.** Workers always run in their own processes, never as a thread of the
caller: the caller is the control process, whose API, database and usage sampler would share
the GIL (and so the latency figures) with the generator. Given `cpu_ids`, each worker pins
itself to one of them (worker i to cpu_ids[i]) while there are enough; with more workers than
CPUs every worker gets the whole set and the kernel balances them. One CPU per worker keeps the
workers from landing on one CPU while others idle (the scheduler is slow to part two busy
event loops), and makes "busy" mean the same for every worker. How the processes are forked and
reaped is `infrec.loadgen.processes`.

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

Settings: the operator's INFREC_LOADGEN_MAX_BUSY (a fraction in (0, 1], default 0.85) reaches the
generator as the caller's `LoadgenOptions` (Settings.loadgen_max_busy). The generator's CPUs come
from the caller (`cpu_ids`); `LocalExecutor.loadgen_cpus()` gives the CPUs its endpoints never get,
or the operator's INFREC_LOADGEN_CPUS.
"""

from __future__ import annotations

import os
import selectors
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from infrec.loadgen.processes import Child, fork_workers, reap_all
from infrec.loadgen.worker import GO, WorkerConfig

SLIVER_S = 0.25
GENERATOR_BOUND = 0.85
WAIT_NOTE = 0.25  # a generator that waited for a CPU this much of the run gets a note
MAX_CONNECTIONS = 1000
_START_GRACE_S = 30.0

OnWindow = Callable[[WindowStats], None]
OnParts = Callable[[int, list[tuple[Any, ...]]], None]


@dataclass(frozen=True)
class LoadgenOptions:
    """The generator's settings: `max_busy`, the busy fraction above which a run is generator-bound
    (GENERATOR_BOUND, 0.85, unless INFREC_LOADGEN_MAX_BUSY says otherwise)."""

    max_busy: float = GENERATOR_BOUND


@dataclass(frozen=True)
class LoadPlan:
    """One run of the generator: drive `shape` against `targets` (POST <target><path>) with
    `payloads`, ending early when `stopping` holds for the last window, and never past `deadline_s`.

    Payloads are used round-robin, or in a random order seeded by `seed` when one is given; a
    payload's own content type wins over `content_type`. Several targets are instances of one
    endpoint: each request goes to the one with the fewest outstanding requests; a request not
    answered within `timeout_s` is an error. `workers` processes generate the load with at most
    `max_connections` connections between them, pinned to `cpu_ids` when given (worker i to
    cpu_ids[i] while there are enough, else each to all of them).

    `path` and `worker_factory` let another protocol run on the same engine (the token-aware
    generator, `infrec.loadgen.genai`): the path requests go to and the Worker subclass the
    processes run."""

    targets: Sequence[str]
    payloads: Sequence[Payload]
    shape: Phases | Stairs | OpenLoop
    stopping: StoppingConditions | None = None
    deadline_s: float = 3600.0
    content_type: str = "application/octet-stream"
    timeout_s: float = 30.0
    workers: int = 1
    seed: int | None = None
    max_connections: int = MAX_CONNECTIONS
    cpu_ids: Sequence[int] | None = None
    path: str = "/invocations"
    worker_factory: Any = None


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


def run_load(plan: LoadPlan, *, cancel: threading.Event | None = None, on_window: OnWindow | None = None,
             on_parts: OnParts | None = None, options: LoadgenOptions | None = None) -> LoadResult:
    """Run `plan` and measure it: the run ends when the shape is done, a stopping condition holds
    for the last window, `cancel` is set (within about a second) or the plan's deadline has passed.

    `on_window` sees each merged window as it completes (an observer that raises is noted, not
    obeyed); `on_parts` sees each window's raw frames (with a Worker subclass's extra fields) before
    they are merged. `options` defaults to `LoadgenOptions()`. The result says how busy the
    generator was and whether the run was generator-bound. Raises ValueError for a plan that cannot
    run, RuntimeError when the processes could not be started (after stopping any that were)."""
    _check(plan)
    bound = (options or LoadgenOptions()).max_busy
    pins, gen_cpus = _pins(plan.cpu_ids, plan.workers)
    configs = _configs(plan)
    run = _Run(plan, cancel, on_window, on_parts)
    start = time.monotonic()
    t0 = start
    try:
        t0 = run.start(configs, pins, start)
        run.follow(start + plan.deadline_s)
        run.flush()
    finally:
        run.close()
    return _result(run, t0, gen_cpus, bound)


def _check(plan: LoadPlan) -> None:
    """Refuse a plan that cannot run, before any process exists."""
    if not plan.targets:
        raise ValueError("targets must name at least one http:// base URL")
    if not plan.payloads:
        raise ValueError("payloads must hold at least one request body")
    if not isinstance(plan.shape, Phases | Stairs | OpenLoop):
        raise ValueError(f"shape must be Phases, Stairs or OpenLoop, got {type(plan.shape).__name__}")
    if plan.workers < 1:
        raise ValueError(f"workers must be at least 1, got {plan.workers}")
    if not plan.deadline_s > 0:
        raise ValueError(f"deadline_s must be positive, got {plan.deadline_s}")
    if not plan.timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {plan.timeout_s}")


def _pins(cpu_ids: Sequence[int] | None, workers: int) -> tuple[list[list[int] | None], float]:
    """Each worker's CPUs (None: unpinned) and how many CPUs the generator has in all."""
    own = os.sched_getaffinity(0)
    if cpu_ids is None:
        return [None] * workers, float(min(workers, len(own)))
    ids = list(dict.fromkeys(int(c) for c in cpu_ids))
    if not ids:
        raise ValueError("cpu_ids must name at least one CPU (or be None)")
    if outside := [c for c in ids if c not in own]:
        raise ValueError(f"cpu_ids {outside} are not among this process's CPUs {sorted(own)}")
    pins: list[list[int] | None] = [[ids[i]] for i in range(workers)] if workers <= len(ids) else [list(ids)] * workers
    return pins, float(min(workers, len(ids)))


def _configs(plan: LoadPlan) -> list[WorkerConfig]:
    """One config per worker, with every request's bytes built once, here, before the fork."""
    parsed = [parse_target(t, plan.path) for t in plan.targets]
    requests = [[build_request(h, p, path, pl.body, pl.content_type or plan.content_type) for pl in plan.payloads]
                for h, p, path in parsed]
    addrs = [(h, p) for h, p, _ in parsed]
    conns_per_worker = max(1, plan.max_connections // plan.workers)
    return [WorkerConfig(index=i, count=plan.workers, targets=addrs, requests=requests, shape=plan.shape,
                         timeout_s=plan.timeout_s, deadline_s=plan.deadline_s, random_order=plan.seed is not None,
                         seed=plan.seed, max_connections=conns_per_worker, factory=plan.worker_factory)
            for i in range(plan.workers)]


class _Run:
    """One run's parent side: the workers' frames in, merged windows out in order, the stopping
    conditions checked on each, and the workers' own accounts (CPU, waits, affinity) kept."""

    def __init__(self, plan: LoadPlan, cancel: threading.Event | None, on_window: OnWindow | None,
                 on_parts: OnParts | None) -> None:
        self.plan, self.cancel, self.on_window, self.on_parts = plan, cancel, on_window, on_parts
        self.workers = plan.workers
        self.notes: list[str] = []
        self.children: list[Child] = []
        self.parts: dict[int, list[tuple[Any, ...]]] = {}
        self.done: set[int] = set()
        self.cpu_total = 0.0
        self.wait_total = 0.0
        self.run_wall = 0.0
        self.affinity: list[list[int]] = [[] for _ in range(plan.workers)]
        self.windows: list[WindowStats] = []
        self.stop_reason: str | None = None
        self.next_k = 0
        self.sel = selectors.DefaultSelector()

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def emit(self, k: int) -> None:
        """Merge window `k` from every worker's part, show it to the observers, check the stopping
        conditions on it."""
        if self.on_parts is not None:
            self.on_parts(k, self.parts[k])
        w = _merge_parts(k, self.parts.pop(k), not isinstance(self.plan.shape, OpenLoop))
        self.windows.append(w)
        if self.on_window is not None:
            try:
                self.on_window(w)
            except Exception as exc:  # a broken observer must not break the measurement
                self.notes.append(f"on_window failed: {type(exc).__name__}: {exc}")
        if self.stop_reason is None:
            reason = stopping.check(self.plan.stopping, self.windows)
            if reason is not None:
                self.stop_reason = reason
                self.stop_all()

    def stop_all(self) -> None:
        for c in self.children:
            c.tell(b"s")

    def handle(self, msg: tuple[Any, ...]) -> None:
        """One frame from a worker: a window's part, its final account, an error, or ready."""
        kind = msg[0]
        if kind == "win":
            self.parts.setdefault(msg[2], []).append(msg)
            while self.next_k in self.parts and len(self.parts[self.next_k]) >= self.workers - len(self.done):
                self.emit(self.next_k)
                self.next_k += 1
        elif kind == "done":
            self.done.add(msg[1])
            self.cpu_total += msg[2]
            if msg[3]:
                self.notes.append(f"worker {msg[1]}: {msg[3]}")
            self.run_wall = max(self.run_wall, msg[4])
            self.wait_total += msg[5]
            if msg[6] and self.stop_reason is None:  # it reached the deadline before we said so
                self.stop_reason = STOP_DEADLINE
        elif kind == "error":
            self.notes.append(f"worker {msg[1]}: {msg[2]}")
        elif kind == "ready":
            self.affinity[msg[1]] = list(msg[3])

    def pump(self, timeout: float) -> list[tuple[Any, ...]]:
        msgs: list[tuple[Any, ...]] = []
        for key, _ in self.sel.select(timeout):
            msgs.extend(key.data.read())
        return msgs

    def exited_silently(self) -> list[Child]:
        """Workers that are gone without a "done": their last frames are read first."""
        gone = []
        for c in self.children:
            if c.index not in self.done and c.reap():
                for msg in c.read():
                    self.handle(msg)
                if c.index not in self.done:
                    gone.append(c)
        return gone

    def start(self, configs: list[WorkerConfig], pins: list[list[int] | None], start: float) -> float:
        """Fork the workers and wait for each to pin itself and say ready; then one common t0 for
        all, which is returned (`start` when the run was cancelled before it began)."""
        try:
            fork_workers(configs, pins, self.children)
        except OSError as exc:
            raise RuntimeError(f"could not start the load generator's processes: {exc}") from exc
        for c in self.children:
            self.sel.register(c.out, selectors.EVENT_READ, c)
        ready: set[int] = set()
        ready_by = time.monotonic() + min(_START_GRACE_S, self.plan.deadline_s)
        failed: list[str] = []
        while len(ready) < self.workers and time.monotonic() < ready_by and not failed:
            if self._cancelled():
                self.stop_reason = STOP_CANCELLED
                break
            for msg in self.pump(0.05):
                self.handle(msg)
                if msg[0] == "ready":
                    ready.add(msg[1])
            failed = [n for n in self.notes if n.startswith("worker ")] + [
                f"worker {c.index} exited with status {c.status}" for c in self.exited_silently()]
            if self.done:
                failed.append(f"{len(self.done)} worker(s) ended before the start")
        if self.stop_reason is None and len(ready) < self.workers:
            why = "; ".join(failed) or (f"only {len(ready)} of {self.workers} were ready within "
                                        f"{ready_by - start:.0f} s")
            raise RuntimeError(f"the load generator's processes did not start: {why}")
        if self.stop_reason is not None:
            self.stop_all()
            self.done.update(c.index for c in self.children)
            return start
        t0 = time.monotonic() + 0.02
        go = GO.pack(b"g", t0)
        for c in self.children:
            c.tell(go)
        return t0

    def follow(self, hard_deadline: float) -> None:
        """Read frames until every worker is done, telling them to stop on cancel or at the deadline;
        workers that have not finished well after the deadline are given up on."""
        give_up = hard_deadline + max(10.0, min(self.plan.timeout_s, 30.0))
        while len(self.done) < self.workers:
            now = time.monotonic()
            if self.stop_reason is None and self._cancelled():
                self.stop_reason = STOP_CANCELLED
                self.stop_all()
            if self.stop_reason is None and now >= hard_deadline:
                self.stop_reason = STOP_DEADLINE
                self.stop_all()
            if now >= give_up:
                self.notes.append("workers did not finish in time; their last windows are missing")
                break
            for msg in self.pump(0.05):
                self.handle(msg)
            for c in self.exited_silently():
                self.notes.append(f"worker {c.index} exited (status {c.status}) without reporting")
                self.done.add(c.index)
                self.cpu_total += c.rusage_cpu

    def flush(self) -> None:
        """Emit the windows still waiting for a part from a worker that will not send it."""
        for k in sorted(self.parts):
            self.emit(k)

    def close(self) -> None:
        reap_all(self.children)
        self.sel.close()


def _result(run: _Run, t0: float, gen_cpus: float, bound: float) -> LoadResult:
    """The run's windows (a final sliver merged into the one before it), their total, and the
    generator's account: how busy it was, how long it waited for a CPU, whether it was the bound."""
    windows, notes = run.windows, run.notes
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
    run_wall = run.run_wall
    if run_wall <= 0:
        run_wall = max(time.monotonic() - t0, 1e-6)
    cpu_percent = 100.0 * run.cpu_total / run_wall
    total.generator_cpu_percent = cpu_percent
    busy = min(run.cpu_total / (run_wall * gen_cpus), 1.0)
    wait = min(run.wait_total / (run_wall * gen_cpus), 1.0)
    generator_bound = busy + wait > bound
    if generator_bound:
        notes.append(f"generator-bound: the generator was busy {100 * busy:.0f} % of its {gen_cpus:g} CPU(s) "
                     f"and waited for them {100 * wait:.0f} % (bound {100 * bound:.0f} %)")
    elif wait > WAIT_NOTE:
        notes.append(f"the generator waited for a CPU {100 * wait:.0f} % of the run: other work shares its CPUs")
    return LoadResult(windows=windows, total=total, stop_reason=run.stop_reason or STOP_COMPLETED,
                      generator_cpu_percent=cpu_percent, workers=run.workers,
                      closed_loop=not isinstance(run.plan.shape, OpenLoop), notes=notes, start_monotonic=t0,
                      generator_cpus=gen_cpus, generator_busy=busy, generator_bound=generator_bound,
                      generator_wait=wait, generator_affinity=run.affinity)
