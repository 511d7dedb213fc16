"""One load-generating worker: an event loop that follows a traffic shape and counts per window.

Every worker runs in its own forked process (`child_main`), pinned to the CPUs it is given, and
talks to the coordinator (`infrec.loadgen.generator`) through two pipes only: results out as
length-prefixed `marshal` frames of plain tuples, and a control pipe in ("g" + t0 to start, "s"
to stop, end-of-file when the coordinator is gone). All workers share one start instant `t0`
(CLOCK_MONOTONIC is system-wide), so window k means the same second in every worker.

Closed loop: each user sends, waits for the answer (and the think time), sends again; latency
is measured from the actual send. Open loop: requests are due at intended instants (uniform or
Poisson); latency is measured from the intended instant (less the timer slop, SEND_SLOP_S), so a
server stall that delays later sends shows up in their latency (coordinated omission corrected, as wrk2 does).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import marshal
import math
import os
import random
import select
import signal
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from infrec.core.stats import ERROR_KINDS
from infrec.core.traffic import OpenLoop, Phases, Stairs
from infrec.loadgen import histogram
from infrec.loadgen.connection import Connection

try:  # imported here, in the parent, so a forked worker imports nothing
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency, but stay usable without it
    uvloop = None  # type: ignore[assignment]

TICK_S = 0.02
# The open-loop scheduler wakes on event-loop timers with about 1 ms resolution. A request sent
# within SEND_SLOP_S of its intended instant was on time as far as the server could tell, so its
# latency counts from the actual send; any later send (no free connection, a busy generator, a
# stalled server holding every connection) counts from the intended instant, as wrk2 does.
SEND_SLOP_S = 0.002
# uvloop rounds timers to whole milliseconds: a sleep under 0.5 ms returns at once, so waiting out
# a sub-millisecond gap would spin the CPU (and read as a busy generator: at 2,000 req/s it spent
# 77 % of a CPU that way). The open loop therefore sends what is due within EARLY_S, then sleeps
# at least MIN_SLEEP_S: every send lands within about a millisecond of its instant, inside SEND_SLOP_S.
EARLY_S = 0.0005
MIN_SLEEP_S = 0.001
STOP_DRAIN_S = 0.5
GO_WAIT_S = 60.0  # a worker that is never told to start leaves on its own
FRAME = struct.Struct("<I")  # result frames: length, then marshal.dumps(tuple)
GO = struct.Struct("<cd")  # control: b"g" and t0


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class OutQueue(Protocol):
    def put(self, item: Any) -> None: ...


@dataclass
class WorkerConfig:
    index: int
    count: int
    targets: list[tuple[str, int]]
    requests: list[list[bytes]]  # [target][payload] pre-built request bytes
    shape: Phases | Stairs | OpenLoop
    timeout_s: float
    deadline_s: float
    random_order: bool
    seed: int | None
    max_connections: int
    factory: Any = None  # a Worker subclass to run instead (infrec.loadgen.tokens.TokenWorker)


class _User:
    """A closed-loop user: one request outstanding at a time."""

    __slots__ = ("active", "worker")

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.active = True

    def start(self) -> None:
        if self.active and not self.worker.stopping:
            now = time.monotonic()
            self.worker.submit(now, self.done)

    def done(self, failed: bool) -> None:
        w = self.worker
        if not self.active or w.stopping:
            return
        delay = w.think_s + (0.01 if failed else 0.0)  # no hot spin against a refusing port
        if delay > 0:
            w.loop.call_later(delay, self.start)
        else:
            self.start()


class Worker:
    connection_class: type[Connection] = Connection  # subclasses parse their own answers

    def __init__(self, cfg: WorkerConfig, out: OutQueue, stop: StopFlag, cpu_clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.out = out
        self.stop = stop
        self.cpu_clock = cpu_clock
        self.closed_loop = not isinstance(cfg.shape, OpenLoop)
        self.duration = cfg.shape.duration_s
        self.think_s = getattr(cfg.shape, "think_time_s", 0.0)
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self.t0 = 0.0
        self.stopping = False
        self.stop_time = 0.0
        ntargets = len(cfg.targets)
        self.idle: list[list[Connection]] = [[] for _ in range(ntargets)]
        self.outstanding = [0] * ntargets
        self.connecting = [0] * ntargets
        self.nconns = 0
        self.conns: set[Connection] = set()
        self.busy: set[Connection] = set()
        self.pending: deque[tuple[float, Any]] = deque()
        self.rng = random.Random(None if cfg.seed is None else cfg.seed * 1009 + cfg.index)
        self.counter = cfg.index
        self.npayloads = len(cfg.requests[0])
        self.users: list[_User] = []
        # current window
        self.win = 0
        self.lat: list[int] = []
        self.w_requests = 0
        self.sent_by_win: dict[int, int] = {}
        self.w_successes = 0
        self.w_bytes = 0
        self.w_errors = dict.fromkeys(ERROR_KINDS, 0)
        self.w_cpu = 0.0
        self.cpu_start = 0.0
        self.wait_start = 0.0
        self.final_load = 0.0
        self.last_end = 0.0

    # ---- requests -------------------------------------------------------------------------
    def _pick(self) -> int:
        if len(self.outstanding) == 1:
            return 0
        best, low = 0, math.inf
        for t, n in enumerate(self.outstanding):
            load = n + self.connecting[t]
            if load < low:
                best, low = t, load
        return best

    def submit(self, intended: float, callback: Any) -> None:
        # Sends are counted in the window of their intended instant, so "completed / sent" over a
        # span of windows is exact whatever the arrival process offered by chance. A send the
        # scheduler made late, after its window was already reported, counts in the open window:
        # never lost from the total.
        k = max(self.win, int(intended - self.t0))
        self.sent_by_win[k] = self.sent_by_win.get(k, 0) + 1
        t = self._pick()
        if self.idle[t]:
            self._send(self.idle[t].pop(), intended, callback)
            return
        if self.nconns < self.cfg.max_connections:
            self.pending.append((intended, callback))
            self._open(t)
            return
        for conns in self.idle:
            if conns:
                self._send(conns.pop(), intended, callback)
                return
        self.pending.append((intended, callback))

    def _send(self, conn: Connection, intended: float, callback: Any) -> None:
        i = self._next_payload(conn)
        self.outstanding[conn.target] += 1
        self.busy.add(conn)
        conn.send(self.cfg.requests[conn.target][i], intended, time.monotonic(), callback)

    def _next_payload(self, conn: Connection) -> int:
        """The index of the payload `conn` sends next: drawn at random, or taken in turn (workers
        sharing a plan step by their count, so together they send every payload in order).
        A subclass overrides it to tell the connection what it carries."""
        if self.cfg.random_order:
            return self.rng.randrange(self.npayloads)
        i = self.counter % self.npayloads
        self.counter += self.cfg.count
        return i

    def _open(self, t: int) -> None:
        self.nconns += 1
        self.connecting[t] += 1
        host, port = self.cfg.targets[t]
        task = self.loop.create_task(self.loop.create_connection(lambda: self.connection_class(self, t), host, port))
        task.add_done_callback(lambda f, t=t: self._opened(f, t))  # type: ignore[misc]

    def _opened(self, fut: asyncio.Future[Any], t: int) -> None:
        self.connecting[t] -= 1
        if fut.cancelled():
            self.nconns -= 1
            return
        exc = fut.exception()
        if exc is None:
            return  # connection_made already handed it work
        self.nconns -= 1
        kind = "conn_refused" if isinstance(exc, ConnectionRefusedError) else "other"
        if self.pending:
            _intended, cb = self.pending.popleft()
            self._count_error(kind, time.monotonic())
            if cb is not None:
                cb(True)

    def on_connected(self, conn: Connection) -> None:
        self.conns.add(conn)
        if self.stopping:
            conn.close()
            return
        self._free(conn)

    def _free(self, conn: Connection) -> None:
        if self.pending and not self.stopping:
            intended, cb = self.pending.popleft()
            self._send(conn, intended, cb)
        else:
            self.idle[conn.target].append(conn)

    def on_response(self, conn: Connection, status: int, keep: bool) -> None:
        end = time.monotonic()
        conn.busy = False
        self.busy.discard(conn)
        self.outstanding[conn.target] -= 1
        cb = conn.callback
        ok = status < 400
        if ok:
            start = conn.sent if self.closed_loop or conn.sent - conn.intended <= SEND_SLOP_S else conn.intended
            self._count(end, True, None, conn.nbytes, int((end - start) * 1e6))
        else:
            self._count(end, False, "http_4xx" if status < 500 else "http_5xx", conn.nbytes, 0)
        if keep:
            self._free(conn)
        if cb is not None:
            cb(not ok)

    def on_failed(self, conn: Connection, kind: str) -> None:
        if not conn.busy:
            return
        conn.busy = False
        self.busy.discard(conn)
        self.outstanding[conn.target] -= 1
        self._count_error(kind, time.monotonic())
        if conn.callback is not None:
            conn.callback(True)

    def on_closed(self, conn: Connection) -> None:
        if conn in self.conns:
            self.conns.discard(conn)
            self.nconns -= 1
        idle = self.idle[conn.target]
        if conn in idle:
            idle.remove(conn)
        if self.pending and not self.stopping and self.nconns < self.cfg.max_connections:
            self._open(self._pick())

    # ---- counting -------------------------------------------------------------------------
    def _count_error(self, kind: str, end: float) -> None:
        self._count(end, False, kind, 0, 0)

    def _count(self, end: float, ok: bool, kind: str | None, nbytes: int, lat_us: int) -> None:
        self.last_end = end
        if not self.stopping and self.win + 1 <= end - self.t0 < self.duration:
            self._flush_until(end)
        self.w_requests += 1
        self.w_bytes += nbytes
        if ok:
            self.w_successes += 1
            self.lat.append(lat_us)
        else:
            self.w_errors[kind or "other"] += 1

    def _flush_until(self, now: float) -> None:
        while now - self.t0 >= self.win + 1:
            self._flush(1.0)

    def _flush(self, duration: float) -> None:
        hist = histogram.new_histogram()
        histogram.record_all(hist, self.lat)
        cpu = self.cpu_clock()
        load: float = sum(1 for u in self.users if u.active)
        if self.stopping:
            load = self.final_load
        elif not self.closed_loop:
            load = self._rate_share(self.win + duration - 1e-6)
        if self.stopping:  # the last window: every send not yet counted
            sent = sum(n for k, n in self.sent_by_win.items() if k >= self.win)
            self.sent_by_win.clear()
        else:
            sent = self.sent_by_win.pop(self.win, 0)
        self.out.put(("win", self.cfg.index, self.win, duration, self.w_requests, self.w_successes,
                      dict(self.w_errors), self.w_bytes, histogram.encode(hist) if self.lat else "",
                      load, cpu - self.w_cpu, sent, *self.window_extra()))
        self.w_cpu = cpu
        self.win += 1
        self.lat = []
        self.w_requests = self.w_successes = self.w_bytes = 0
        self.w_errors = dict.fromkeys(ERROR_KINDS, 0)

    def window_extra(self) -> tuple[Any, ...]:
        """What a subclass adds to each window's frame (and resets for the next window)."""
        return ()

    # ---- shapes ---------------------------------------------------------------------------
    def _user_share(self, t: float) -> int:
        shape = self.cfg.shape
        assert isinstance(shape, Phases | Stairs)
        total = shape.users_at(t)
        n, i = self.cfg.count, self.cfg.index
        return total // n + (1 if i < total % n else 0)

    def _rate_share(self, t: float) -> float:
        shape = self.cfg.shape
        assert isinstance(shape, OpenLoop)
        return shape.rate_at(t) / self.cfg.count

    def _adjust_users(self, t: float) -> None:
        want = self._user_share(t)
        active = [u for u in self.users if u.active]
        if len(active) > want:
            for u in active[want:]:
                u.active = False
        elif len(active) < want:
            for _ in range(want - len(active)):
                u = _User(self)
                self.users.append(u)
                u.start()
        if len(self.users) > 4 * (want + 16):
            self.users = [u for u in self.users if u.active]

    async def _open_loop(self) -> None:
        shape = self.cfg.shape
        assert isinstance(shape, OpenLoop)
        poisson = shape.arrival == "poisson"
        duration = shape.duration_s - 1e-7  # summed gaps drift by ulps; never one request too many
        n = self.cfg.count
        rate0 = shape.rate_at(0.0)
        offset = (self.cfg.index / (rate0 * 1.0)) if rate0 > 0 and not poisson else 0.0
        t = offset
        sent = 0
        while not self.stopping and t < duration:
            now = time.monotonic() - self.t0
            budget = 100_000  # bounded burst per iteration
            while t <= now + EARLY_S and t < duration and budget > 0 and not self.stopping:
                rate = shape.rate_at(t) / n
                if rate <= 0:
                    t += 0.01
                    continue
                self.submit(self.t0 + t, None)
                sent += 1
                budget -= 1
                t += self.rng.expovariate(rate) if poisson else 1.0 / rate
            gap = t - (time.monotonic() - self.t0)
            await asyncio.sleep(0.0 if gap <= 0 else min(max(gap, MIN_SLEEP_S), TICK_S))

    # ---- main -----------------------------------------------------------------------------
    def _sweep_timeouts(self, now: float) -> None:
        limit = self.cfg.timeout_s
        for conn in [c for c in self.busy if now - c.sent > limit]:
            self.on_failed(conn, "timeout")
            conn.close()

    async def run(self, t0: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.t0 = t0
        self.cpu_start = self.w_cpu = self.cpu_clock()
        self.wait_start = run_delay_s()
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        shape = self.cfg.shape
        duration = shape.duration_s
        hard_end = t0 + self.cfg.deadline_s
        sched = None if self.closed_loop else self.loop.create_task(self._open_loop())
        natural = past_deadline = False
        while True:
            now = time.monotonic()
            if now - t0 >= duration:
                natural = True
                self.stop_time = t0 + duration
                break
            if self.stop.is_set() or now >= hard_end:
                self.stop_time = now
                past_deadline = now >= hard_end
                break
            self._flush_until(now)
            if self.closed_loop:
                self._adjust_users(now - t0)
            self._sweep_timeouts(now)
            await asyncio.sleep(TICK_S)
        if self.win < int(self.stop_time - t0 - 1e-9):
            self._flush_until(self.stop_time - 1e-9)
        # The generator's own cost, over the traffic only: the drain after it (up to seconds of
        # waiting for late answers, at almost no CPU) would dilute it exactly when it matters.
        ran = (self.cpu_clock() - self.cpu_start, max(time.monotonic() - t0, 0.0),
               max(run_delay_s() - self.wait_start, 0.0))
        self.final_load = (sum(1 for u in self.users if u.active) if self.closed_loop
                           else self._rate_share(self.stop_time - t0 - 1e-6))
        self.stopping = True
        if sched is not None:
            sched.cancel()
        for u in self.users:
            u.active = False
        self.pending.clear()
        drain_end = time.monotonic() + (min(self.cfg.timeout_s, 5.0) if natural else STOP_DRAIN_S)
        while self.busy and time.monotonic() < drain_end and not (natural and self.stop.is_set()):
            await asyncio.sleep(0.005)
            self._sweep_timeouts(time.monotonic())
        # Requests drained after the stop belong to the last window, which lasts until they ended.
        self._flush(max(max(self.stop_time, self.last_end) - (t0 + self.win), 0.0))
        for conn in list(self.conns):
            conn.busy = False
            conn.close()
        await asyncio.sleep(0)
        # ("done", index, CPU seconds, note, seconds since t0, seconds spent waiting for a CPU,
        # stopped by its own deadline), from t0 to the end of the traffic (the shape's end, or the stop).
        self.out.put(("done", self.cfg.index, ran[0], "", ran[1], ran[2], past_deadline))


def run_delay_s() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (0 where the kernel does not say)."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class PipeOut:
    """The writing end of a worker's result pipe: one length-prefixed marshal frame per message."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def put(self, item: Any) -> None:
        data = marshal.dumps(item)
        view = memoryview(FRAME.pack(len(data)) + data)
        while view:
            view = view[os.write(self.fd, view):]


class ControlStop:
    """A worker process's stop flag: set by b"s" on the control pipe, by the pipe's end (the
    coordinator closed it, or died) or by this process being orphaned; polled once a tick."""

    def __init__(self, fd: int, parent: int) -> None:
        self.fd = fd
        self.parent = parent
        self._set = False

    def is_set(self) -> bool:
        if self._set:
            return True
        try:
            data: bytes | None = os.read(self.fd, 64)
        except BlockingIOError:
            data = None
        except OSError:
            data = b""
        if (data is not None and (not data or b"s" in data)) or os.getppid() != self.parent:
            self._set = True
        return self._set


def _wait_go(fd: int, parent: int) -> float | None:
    """Block until the coordinator says go (then its t0), stop, goes away, or GO_WAIT_S pass."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    end = time.monotonic() + GO_WAIT_S
    buf = b""
    while len(buf) < GO.size:
        left = end - time.monotonic()
        if left <= 0 or os.getppid() != parent:
            return None
        if not poller.poll(min(left, 1.0) * 1000):
            continue
        data = os.read(fd, GO.size - len(buf))
        buf += data
        if not data or buf[:1] != b"g":
            return None
    return float(GO.unpack(buf)[1])


def _reset_signals() -> None:
    """Drop the parent's Python signal handlers and wakeup fd: they would act on the parent's
    objects (or write into the parent's event loop) from this process. SIGINT is ignored: a
    Ctrl-C reaches the coordinator, which stops us through the control pipe."""
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
    for sig in signal.valid_signals():
        with contextlib.suppress(ValueError, OSError, TypeError):
            if callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def child_main(cfg: WorkerConfig, cpus: list[int] | None, ctl_fd: int, out_fd: int, inherited: list[int],
               parent: int) -> NoReturn:
    """The whole life of a worker process, called straight after fork; never returns.

    The parent may have many threads, and any of them may have held a lock at the fork, so the
    child touches nothing of the parent's: no imports (uvloop was imported by the parent), no
    logging, no parent objects; garbage collection is frozen for what it inherited (a collected
    parent object's finalizer could talk on the parent's sockets, a database connection's for
    one); the parent's signal handlers are dropped. It pins itself, says ready, waits for go, runs
    its event loop and leaves with os._exit, so no parent atexit or finalizer code ever runs here.
    """
    code = 0
    out = PipeOut(out_fd)
    try:
        gc.freeze()
        for fd in inherited:
            with contextlib.suppress(OSError):
                os.close(fd)
        _reset_signals()
        if cpus:
            os.sched_setaffinity(0, cpus)
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()
        try:
            out.put(("ready", cfg.index, os.getpid(), sorted(os.sched_getaffinity(0))))
            t0 = _wait_go(ctl_fd, parent)
            if t0 is None:
                out.put(("done", cfg.index, 0.0, "never started", 0.0, 0.0, False))
            else:
                os.set_blocking(ctl_fd, False)
                worker = (cfg.factory or Worker)(cfg, out, ControlStop(ctl_fd, parent), time.process_time)
                loop.run_until_complete(worker.run(t0))
        finally:
            loop.close()
    except BaseException as exc:
        code = 1
        with contextlib.suppress(BaseException):  # the coordinator may be gone
            out.put(("error", cfg.index, f"{type(exc).__name__}: {exc}"))
            out.put(("done", cfg.index, 0.0, "", 0.0, 0.0, False))
    finally:
        os._exit(code)
