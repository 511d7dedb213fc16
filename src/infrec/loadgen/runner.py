"""`run_load`: the synchronous entry point the jobs layer calls.

It pre-builds the request bytes, starts the workers (a thread for one, forked processes for
more), merges their per-second windows as they arrive, evaluates the stopping conditions live,
and returns a `LoadResult`. Every wait is bounded by the hard deadline. Worker processes are
forked (not spawned) so callers need no `if __name__ == "__main__"` guard: a child only builds a
fresh event loop and touches none of the parent's threads or locks.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
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
from infrec.loadgen.worker import WorkerConfig, process_main, run_in_loop

SLIVER_S = 0.25
_START_GRACE_S = 30.0
_MAX_CONNECTIONS = 1000


def parse_target(url: str) -> tuple[str, int, str]:
    """'http://host:port[/prefix]' -> (host, port, '/prefix/invocations')."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"target {url!r} must be an http:// base URL such as http://127.0.0.1:8080")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"target {url!r} has an invalid port") from exc
    return parts.hostname, port, parts.path.rstrip("/") + "/invocations"


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
    w.errors_by_kind = kinds
    if closed_loop:
        w.users = round(load)
    else:
        w.target_rate = load
    histogram.fill_latency(w, hist)
    w.generator_cpu_percent = 100.0 * cpu / w.duration_s if w.duration_s > 0 else 0.0
    return w


def run_load(targets: list[str], payloads: list[Payload], shape: Phases | Stairs | OpenLoop,
             stopping_conditions: StoppingConditions | None = None, deadline_s: float = 3600.0,
             content_type: str = "application/octet-stream", timeout_s: float = 30.0,
             cancel: threading.Event | None = None, on_window: Callable[[WindowStats], None] | None = None,
             workers: int = 1, seed: int | None = None, max_connections: int = _MAX_CONNECTIONS) -> LoadResult:
    """Drive `shape` against `targets` (POST <target>/invocations) and measure it.

    Payloads are used round-robin, or in a random order seeded by `seed` when one is given; a
    payload's own content type wins over `content_type`. Several targets are instances of one
    endpoint: each request goes to the one with the fewest outstanding requests. The run ends
    when the shape is done, a stopping condition holds for the last window, `cancel` is set
    (within about a second) or `deadline_s` has passed.
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
    parsed = [parse_target(t) for t in targets]
    requests = [[build_request(h, p, path, pl.body, pl.content_type or content_type) for pl in payloads]
                for h, p, path in parsed]
    addrs = [(h, p) for h, p, _ in parsed]
    start = time.monotonic()
    hard_deadline = start + deadline_s
    conns_per_worker = max(1, max_connections // workers)

    def config(i: int) -> WorkerConfig:
        return WorkerConfig(index=i, count=workers, targets=addrs, requests=requests, shape=shape,
                            timeout_s=timeout_s, deadline_s=deadline_s, random_order=seed is not None,
                            seed=seed, max_connections=conns_per_worker)

    notes: list[str] = []
    out: Any
    stop: Any
    procs: list[Any] = []
    thread: threading.Thread | None = None
    if workers == 1:
        out, stop = queue.Queue(), threading.Event()
        t0 = time.monotonic() + 0.02
        thread = threading.Thread(target=run_in_loop, args=(config(0), out, stop, t0, time.thread_time),
                                  name="infrec-loadgen", daemon=True)
        thread.start()
    else:
        ctx = multiprocessing.get_context("fork")
        out, stop, go = ctx.Queue(), ctx.Event(), ctx.Event()
        t0_value = ctx.Value("d", 0.0)
        for i in range(workers):
            proc = ctx.Process(target=process_main, args=(config(i), out, stop, go, t0_value),
                               name=f"infrec-loadgen-{i}", daemon=True)
            proc.start()
            procs.append(proc)
        ready = 0
        ready_by = time.monotonic() + min(_START_GRACE_S, deadline_s)
        while ready < workers and time.monotonic() < ready_by:
            try:
                if out.get(timeout=0.1)[0] == "ready":
                    ready += 1
            except queue.Empty:
                if cancel is not None and cancel.is_set():
                    break
        t0 = time.monotonic() + 0.05
        t0_value.value = t0
        go.set()
        if ready < workers:
            stop.set()
            notes.append(f"only {ready} of {workers} worker processes started")

    parts: dict[int, list[tuple[Any, ...]]] = {}
    done: set[int] = set()
    cpu_total = 0.0
    windows: list[WindowStats] = []
    stop_reason: str | None = None
    next_k = 0
    give_up = hard_deadline + max(10.0, min(timeout_s, 30.0))

    def emit(k: int) -> None:
        nonlocal stop_reason
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
                stop.set()

    try:
        while len(done) < workers:
            now = time.monotonic()
            if stop_reason is None and cancel is not None and cancel.is_set():
                stop_reason = STOP_CANCELLED
                stop.set()
            if stop_reason is None and now >= hard_deadline:
                stop_reason = STOP_DEADLINE
                stop.set()
            if now >= give_up:
                notes.append("workers did not finish in time; their last windows are missing")
                break
            alive = thread.is_alive() if thread is not None else any(p.is_alive() for p in procs)
            try:
                msg = out.get(timeout=0.05)
            except queue.Empty:
                if not alive:
                    notes.append("a worker exited without reporting")
                    break
                continue
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
                    notes.append(msg[3])
            elif kind == "error":
                notes.append(f"worker {msg[1]}: {msg[2]}")
        for k in sorted(parts):
            emit(k)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=5.0)
        for p in procs:
            p.join(timeout=5.0)
            if p.is_alive():
                p.kill()
                p.join(timeout=5.0)
    wall = max(time.monotonic() - t0, 1e-6)
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
    cpu_percent = 100.0 * cpu_total / wall
    total.generator_cpu_percent = cpu_percent
    return LoadResult(windows=windows, total=total, stop_reason=stop_reason or STOP_COMPLETED,
                      generator_cpu_percent=cpu_percent, workers=workers,
                      closed_loop=not isinstance(shape, OpenLoop), notes=notes, start_monotonic=t0)
