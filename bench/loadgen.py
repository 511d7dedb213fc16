"""How fast and how truthful is infrec's load generator, next to wrk and Locust?

Part 1 (throughput): nginx (Debian package, installed with apt-get when missing) on 127.0.0.1
answers POST /invocations with a fixed body, pinned to core 0; each generator, pinned to core 1,
drives it as fast as it can with the same 64 keep-alive connections/users: infrec (closed loop,
one worker), wrk (Debian package) and Locust with FastHttpUser (no wait time). Requests per
second over the scored seconds, REPS interleaved repetitions: median, min–max, and the ratios
infrec/wrk and infrec/Locust (per repetition, so both sides of a ratio share the same moment).

Part 2 (the whole latency distribution against a known truth): a server in this file
(`--stall-server`) answers every request on its own after a service time drawn, in arrival
order, from a seeded RNG: uniform 10–30 ms, except that with probability 5 % the request stalls
for uniform 150–250 ms instead (stratified: each block of 1,000 requests holds one draw from
each 1/1,000 slice of probability, shuffled, so stalls fall at random places but sampling noise
stays well under 1 %). Requests never wait for one another (each is held by a precise
timer thread while the event loop keeps serving), so the latency of every request is that
mixture whatever the arrival pattern, open or closed loop: its mean and percentiles are exact
numbers, P50 and P90 inside the normal band, P99 and P99.9 inside the stall band (none of them
on a step of the distribution). Each repetition uses one seed for every tool, so every tool
faces the same sequence of service times. Scored: mean, P50, P90, P99 and P99.9 of infrec's open
loop at RATE/s, infrec's closed loop, wrk and Locust with as many connections/users as keep
about RATE/s in flight (wrk is wrk2-style open loop at RATE/s when the installed wrk has `-R`,
plain closed-loop wrk otherwise, and says which). Closed-loop wrk 4 adds synthetic samples
before it reports (its coordinated-omission correction, which invents requests when, as here,
the server never queues them); it is scored as printed, and beside that with the correction
undone exactly from its 1 µs histogram. The server reports how late its own timers fire, and a
simulated perfect tool shows how far N samples stray from the truth by chance alone.

Warm-up, the same for every tool: the first WARMUP seconds of traffic are not scored. infrec
and Locust run WARMUP + scored seconds in one process and only requests completing after the
warm-up count (infrec: its per-second windows; Locust: a request listener in the locustfile).
wrk reports only whole-run statistics, so a WARMUP-second wrk run with the same connections
goes first and is thrown away.

A benchmark, not a test. Last line:
`loadgen: infrec/wrk=<r> infrec/locust=<r> dist_error_open=<%> dist_error_closed=<%> dist_error_wrk=<%>
dist_error_wrk_raw=<%> dist_error_locust=<%>` (on one line; each error is the worst |error| of
mean/P50/P90/P99/P99.9, median of the repetitions; wrk_raw only for closed-loop wrk). Run with `make bench-loadgen`. Every process it starts is stopped by pid.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.helpers import free_port, stop_process, wait_for_port  # noqa: E402

PY = sys.executable
SECONDS = int(os.environ.get("INFREC_BENCH_SECONDS", "10"))  # scored seconds, part 1
DIST_SECONDS = int(os.environ.get("INFREC_BENCH_DIST_SECONDS", "15"))  # scored seconds, part 2
WARMUP = int(os.environ.get("INFREC_BENCH_WARMUP", "2"))
REPS = int(os.environ.get("INFREC_BENCH_REPS", "3"))
CONNECTIONS = 64
BODY = b'{"instances": [[1.0, 2.0, 3.0, 4.0]]}'
RATE = 500.0  # part 2 offered rate, requests/s
NORMAL_MS, STALL_MS, STALL_P = (10.0, 30.0), (150.0, 250.0), 0.05
BLOCK = 1000  # stratification block, requests
SERVER_CORE, GEN_CORE = "0", "1"
PINNED = (os.cpu_count() or 1) >= 2
METRICS = ("mean", "p50", "p90", "p99", "p999")
LABELS = {"mean": "mean", "p50": "P50", "p90": "P90", "p99": "P99", "p999": "P99.9"}

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log crit;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location = /invocations {{ default_type application/json; return 200 '{{"predictions": [1]}}'; }}
    location = /ping {{ return 200 ''; }}
  }}
}}
"""

WRK_LUA = """
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("INFREC %d %d %d %f %f %f %f %f %f\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
  for i = 1, #latency do
    local v, n = latency(i)
    io.write(string.format("H %d %d\\n", v, n))
  end
end
"""

# Every request is recorded (completion time, latency) so the warm-up is cut by time, as for infrec.
LOCUSTFILE = """
import json, os, time
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

T0, DONE, FAILED = [0.0], [], [0]

@events.test_start.add_listener
def _start(**kw):
    T0[0] = time.time()

@events.request.add_listener
def _record(response_time, exception=None, start_time=None, **kw):
    if exception is None:
        DONE.append((start_time + response_time / 1000.0, response_time))
    else:
        FAILED[0] += 1

@events.quitting.add_listener
def _write(**kw):
    with open(os.environ["INFREC_LOCUST_OUT"], "w") as f:
        json.dump({{"t0": T0[0], "done": DONE, "failed": FAILED[0]}}, f)

class Invoker(FastHttpUser):
    wait_time = constant(0)

    @task
    def invoke(self):
        self.client.post("/invocations", data={body!r}, headers={{"Content-Type": "application/json"}})
"""

INFREC_RUN = """
import json, sys
from infrec.core.traffic import OpenLoop, Phase, Phases
from infrec.loadgen import LoadPlan, Payload, run_load
from infrec.loadgen.histogram import merge_windows
mode, url, warmup, seconds, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
total = warmup + seconds
shape = OpenLoop(rate=n, duration_s=total) if mode == "open" else Phases((Phase(int(n), 0, total),))
res = run_load(LoadPlan([url], [Payload({body!r}, "application/json")], shape, None, deadline_s=total + 30))
t = merge_windows([w for w in res.windows if w.start_s >= warmup - 1e-9])
print("INFREC " + json.dumps({{"rps": t.successes / t.duration_s, "mean": t.mean_ms, "p50": t.p50_ms,
    "p90": t.p90_ms, "p99": t.p99_ms, "p999": t.p999_ms, "n": t.successes, "errors": t.requests - t.successes,
    "cpu": res.generator_cpu_percent}}))
"""


# ---- the truth ------------------------------------------------------------------------------
def _uniform_cdf(x: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def truth_cdf(x: float) -> float:
    return (1 - STALL_P) * _uniform_cdf(x, *NORMAL_MS) + STALL_P * _uniform_cdf(x, *STALL_MS)


def truth_quantile(p: float) -> float:
    lo, hi = NORMAL_MS[0], STALL_MS[1]
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if truth_cdf(mid) < p else (lo, mid)
    return (lo + hi) / 2


def truth() -> dict[str, float]:
    mean = (1 - STALL_P) * sum(NORMAL_MS) / 2 + STALL_P * sum(STALL_MS) / 2
    return {"mean": mean, "p50": truth_quantile(0.5), "p90": truth_quantile(0.9),
            "p99": truth_quantile(0.99), "p999": truth_quantile(0.999)}


def truth_inverse(u: float) -> float:
    """The service time (ms) at cumulative probability u."""
    if u < 1 - STALL_P:
        return NORMAL_MS[0] + u / (1 - STALL_P) * (NORMAL_MS[1] - NORMAL_MS[0])
    return STALL_MS[0] + (u - (1 - STALL_P)) / STALL_P * (STALL_MS[1] - STALL_MS[0])


def service_times(seed: int) -> Iterator[float]:
    """Service times (ms) in arrival order: stratified random draws from the truth.

    Each block of BLOCK consecutive requests takes one draw from each 1/BLOCK slice of
    probability, in a shuffled order: stalls land at random positions, yet every block holds
    exactly STALL_P × BLOCK of them, so a few thousand requests already carry the true shape
    and a tool's error is not drowned in sampling noise.
    """
    rng = random.Random(seed)
    while True:
        block = [truth_inverse((j + rng.random()) / BLOCK) for j in range(BLOCK)]
        rng.shuffle(block)
        yield from block


def summarize(values_ms: list[float]) -> dict[str, float]:
    a = np.asarray(values_ms, dtype=float)
    if a.size == 0:
        return dict.fromkeys(METRICS, float("nan"))
    q = np.percentile(a, [50, 90, 99, 99.9], method="inverted_cdf")  # nearest rank, as HDR histograms
    return {"mean": float(a.mean()), "p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2]),
            "p999": float(q[3])}


def chance_errors(n: int, sims: int = 200) -> dict[str, float]:
    """95th percentile of |error| % of a perfect tool that records n consecutive requests from a
    random point of the server's stream: what sampling alone does to the figures."""
    pick = random.Random(12345)
    t = truth()
    errs: dict[str, list[float]] = {m: [] for m in METRICS}
    for i in range(sims):
        stream = service_times(1000 + i)
        for _ in range(pick.randrange(BLOCK)):
            next(stream)
        s = summarize([next(stream) for _ in range(n)])
        for m in METRICS:
            errs[m].append(abs(error_pct(s[m], t[m])))
    return {m: float(np.percentile(v, 95)) for m, v in errs.items()}


def error_pct(got: float, want: float) -> float:
    return (got - want) / want * 100 if want else 0.0


# ---- the stall server -------------------------------------------------------------------------
def stall_server(port: int, seed: int) -> None:
    """Serve POST /invocations: each request held for its own service time, independently."""
    import ctypes
    import heapq
    import threading

    import uvloop
    from tests.integration.loadgen.server import HttpProtocol

    stream = service_times(seed)
    sys.setswitchinterval(0.0005)  # the timer thread gets the GIL back quickly
    loop = uvloop.new_event_loop()
    late_us: list[int] = []
    heap: list[tuple[float, int, Any]] = []
    cond = threading.Condition()
    seq = [0]
    lead = [0.0]  # how early to wake so replies leave on time: learnt from how late they left

    def timer() -> None:
        # libuv/epoll timers fire up to ~1 ms late; a condition wait wakes within ~0.2 ms, and
        # `lead` (learnt from the replies' own lateness) takes the rest of that off.
        try:
            ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK = 1 ns for this thread
        except (OSError, AttributeError):
            pass
        while True:
            with cond:
                while True:
                    now = time.monotonic()
                    if heap and heap[0][0] <= now:
                        break
                    cond.wait(heap[0][0] - now if heap else None)
                due = []
                while heap and heap[0][0] <= now:
                    due.append(heapq.heappop(heap)[2])
            for fn in due:
                loop.call_soon_threadsafe(fn)

    class Handler(HttpProtocol):
        def on_message_complete(self) -> None:
            if self.url.startswith(b"/stats"):
                late = sorted(late_us) or [0]
                self.write(json.dumps({"requests": len(late_us), "late_mean_us": sum(late) / len(late),
                                       "late_p1_us": late[int(0.01 * (len(late) - 1))],
                                       "late_p99_us": late[int(0.99 * (len(late) - 1))]}).encode())
                return
            start = time.monotonic()
            hold = next(stream) / 1000.0

            def reply() -> None:
                self.write(b'{"predictions": [1]}')
                late = time.monotonic() - start - hold
                late_us.append(int(late * 1e6))
                lead[0] = min(0.002, max(0.0, lead[0] + (5e-6 if late > 0 else -5e-6)))  # tracks the median

            with cond:
                seq[0] += 1
                heapq.heappush(heap, (start + hold - lead[0], seq[0], reply))
                if heap[0][1] == seq[0]:
                    cond.notify()

        def write(self, body: bytes) -> None:
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    threading.Thread(target=timer, daemon=True).start()
    server = loop.run_until_complete(loop.create_server(Handler, "127.0.0.1", port, backlog=4096))
    try:
        loop.run_forever()
    finally:
        server.close()


# ---- running tools ----------------------------------------------------------------------------
def pin(core: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", core, *cmd] if PINNED and shutil.which("taskset") else cmd


def _find(binary: str) -> str | None:
    return shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)


def ensure_debian_package(binary: str, package: str) -> str:
    """The path of `binary`, installing Debian's `package` with apt-get first when it is missing."""
    found = _find(binary)
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"installing {package} with apt-get …", flush=True)
    install = [*sudo, "apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], stdout=subprocess.DEVNULL, env=env)  # a fresh machine
        subprocess.run(install, check=True, stdout=subprocess.DEVNULL, env=env)
    found = _find(binary)
    if not found:
        raise SystemExit(f"{package} installed but {binary} is not on PATH")
    return found


def run_capture(cmd: list[str], timeout: float, extra_env: dict[str, str] | None = None) -> str:
    """Run a generator to completion (by pid, with a deadline) and return its stdout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(extra_env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(proc)  # type: ignore[arg-type]
        raise SystemExit(f"{cmd[0:4]} ran past {timeout:.0f}s") from None
    finally:
        if proc.poll() is None:
            stop_process(proc)  # type: ignore[arg-type]
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} failed ({proc.returncode}): {err.decode()[-1500:]}")
    return out.decode()


def infrec(mode: str, url: str, n: float, seconds: int) -> dict[str, float]:
    out = run_capture(pin(GEN_CORE, [PY, "-c", INFREC_RUN.format(body=BODY), mode, url, str(WARMUP),
                                     str(seconds), str(n)]), timeout=WARMUP + seconds + 60)
    line = next(x for x in out.splitlines() if x.startswith("INFREC "))
    return dict(json.loads(line[7:]))


def wrk_has_rate(wrk_bin: str) -> bool:
    usage = subprocess.run([wrk_bin], capture_output=True, text=True, timeout=10)
    return "--rate" in usage.stdout + usage.stderr


def wrk(wrk_bin: str, url: str, connections: int, script: Path, seconds: int,
        rate: float | None = None) -> dict[str, float]:
    cmd = [wrk_bin, "-t1", f"-c{connections}", "-s", str(script)] + ([f"-R{rate:.0f}"] if rate else [])
    run_capture(pin(GEN_CORE, [*cmd, f"-d{WARMUP}s", url + "/invocations"]), timeout=WARMUP + 60)  # warm-up
    out = run_capture(pin(GEN_CORE, [*cmd, f"-d{seconds}s", url + "/invocations"]), timeout=seconds + 60)
    lines = out.splitlines()
    f = next(x for x in lines if x.startswith("INFREC ")).split()
    reqs, dur_us, errors = int(f[1]), int(f[2]), int(f[3])
    ms = [float(x) / 1000 for x in f[4:9]]
    res = {"rps": (reqs - errors) / (dur_us / 1e6), "n": reqs - errors, "errors": errors,
           **dict(zip(METRICS, ms, strict=True))}
    if not rate and reqs // connections > 0:
        # wrk 4 "corrects" for coordinated omission before it reports: every latency L ≥ 2·I (I =
        # run time / requests per connection) gains synthetic samples L−I, L−2I, … > I. Undo that
        # exactly from the 1 µs histogram to show what it measured as well as what it printed.
        hist = {int(v): int(n) for _, v, n in (x.split() for x in lines if x.startswith("H "))}
        raw = uncorrect(hist, dur_us // (reqs // connections))
        res["raw"] = summarize(list(np.repeat(np.array(list(raw), dtype=float) / 1000, list(raw.values()))))
    return res


def uncorrect(hist: dict[int, int], interval: int) -> dict[int, int]:
    """Invert wrk's stats_correct (ascending pass adding count(L) at L−I, L−2I, … while > I)."""
    data = dict(hist)
    for n in sorted(data, reverse=True):
        if n < 2 * interval:
            break
        count, m = data[n], n - interval
        while count and m > interval:
            data[m] = data.get(m, 0) - count
            m -= interval
    bad = [k for k, v in data.items() if v < 0]
    if bad:
        raise SystemExit(f"wrk histogram does not invert (interval {interval} µs): {bad[:5]}")
    return {k: v for k, v in data.items() if v > 0}


def locust(url: str, folder: Path, users: int, seconds: int) -> dict[str, float]:
    out = folder / f"locust-{time.monotonic_ns()}.json"
    # One second more than scored, so requests in flight when Locust stops do not matter.
    run_capture(pin(GEN_CORE, [str(Path(PY).parent / "locust"), "-f", str(folder / "locustfile.py"), "--headless",
                               "-u", str(users), "-r", str(users), "-t", f"{WARMUP + seconds + 1}s",
                               "--host", url, "--only-summary", "--loglevel", "ERROR"]),
                timeout=WARMUP + seconds + 60, extra_env={"INFREC_LOCUST_OUT": str(out)})
    data = json.loads(out.read_text())
    lo, hi = data["t0"] + WARMUP, data["t0"] + WARMUP + seconds
    lat = [ms for end, ms in data["done"] if lo <= end < hi]
    return {"rps": len(lat) / seconds, "n": len(lat), "errors": data["failed"], **summarize(lat)}


# ---- the benchmark ----------------------------------------------------------------------------
def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--stall-server":
        stall_server(int(sys.argv[2]), int(sys.argv[3]))
        return
    nginx_bin = ensure_debian_package("nginx", "nginx-light")
    wrk_bin = ensure_debian_package("wrk", "wrk")
    tmp = Path(tempfile.mkdtemp(prefix="infrec-bench-loadgen-"))
    try:
        (tmp / "locustfile.py").write_text(LOCUSTFILE.format(body=BODY.decode()))
        (tmp / "post.lua").write_text(WRK_LUA.format(body=BODY.decode()))
        print(f"cores: {os.cpu_count()} (server on core {SERVER_CORE}, generator on core {GEN_CORE}"
              f"{'' if PINNED else ', NOT pinned: fewer than 2 cores'}); {REPS} repetitions; every tool's "
              f"first {WARMUP} s of traffic unscored", flush=True)
        ratios = throughput(nginx_bin, wrk_bin, tmp)
        errors = distribution(wrk_bin, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"loadgen: infrec/wrk={ratios['wrk']:.3f} infrec/locust={ratios['locust']:.2f} "
          + " ".join(f"dist_error_{k}={statistics.median(v):.1f}" for k, v in errors.items()))


def throughput(nginx_bin: str, wrk_bin: str, tmp: Path) -> dict[str, float]:
    port = free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    url = f"http://127.0.0.1:{port}"
    print(f"\nPart 1: max requests/s against nginx, {CONNECTIONS} keep-alive connections/users, "
          f"{SECONDS} s scored per run", flush=True)
    nginx = subprocess.Popen(pin(SERVER_CORE, [nginx_bin, "-p", str(tmp), "-c", str(tmp / "nginx.conf")]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    res: dict[str, list[dict[str, float]]] = {"infrec": [], "wrk": [], "locust": []}
    try:
        wait_for_port(port, 20.0, nginx)  # type: ignore[arg-type]
        for rep in range(REPS):
            res["infrec"].append(infrec("closed", url, CONNECTIONS, SECONDS))
            res["wrk"].append(wrk(wrk_bin, url, CONNECTIONS, tmp / "post.lua", SECONDS))
            res["locust"].append(locust(url, tmp, CONNECTIONS, SECONDS))
            print(f"  rep {rep + 1}: " + "  ".join(f"{k} {v[-1]['rps']:,.0f}/s" for k, v in res.items()),
                  flush=True)
    finally:
        stop_process(nginx)  # type: ignore[arg-type]
    print(f"  {'generator':<10}{'requests/s, median (min–max) of ' + str(REPS):>44}")
    for k, v in res.items():
        print(f"  {k:<10}{spread([r['rps'] for r in v]):>44}")
    ratios = {}
    for other in ("wrk", "locust"):
        per_rep = [a["rps"] / b["rps"] for a, b in zip(res["infrec"], res[other], strict=True)]
        ratios[other] = statistics.median(per_rep)
        print(f"  infrec/{other:<8}{spread(per_rep, '.3f'):>36}   (ratio within each repetition)")
    print(f"  infrec generator CPU: {spread([r['cpu'] for r in res['infrec']])} % of one core")
    return ratios


def distribution(wrk_bin: str, tmp: Path) -> dict[str, list[float]]:
    want = truth()
    users = max(1, round(RATE * want["mean"] / 1000))  # Little's law: ~RATE/s in a closed loop
    wrk_rate = RATE if wrk_has_rate(wrk_bin) else None
    tools = {
        "open": f"infrec open loop, {RATE:.0f}/s",
        "closed": f"infrec closed loop, {users} users",
        "wrk": f"wrk open loop (-R), {RATE:.0f}/s" if wrk_rate else f"wrk closed loop, {users} conns, as printed",
        "locust": f"Locust closed loop, {users} users",
    }
    print(f"\nPart 2: latency distribution against the truth. Service time: uniform {NORMAL_MS[0]:.0f}–"
          f"{NORMAL_MS[1]:.0f} ms, or with probability {STALL_P:.0%} uniform {STALL_MS[0]:.0f}–{STALL_MS[1]:.0f} ms;"
          f" each request independent; {DIST_SECONDS} s scored per run, seed = repetition", flush=True)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in tools}
    late: list[float] = []
    for rep in range(REPS):
        for name in tools:
            sport = free_port()
            server = subprocess.Popen(pin(SERVER_CORE, [PY, str(Path(__file__).resolve()), "--stall-server",
                                                        str(sport), str(rep + 1)]),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_for_port(sport, 20.0, server)  # type: ignore[arg-type]
                surl = f"http://127.0.0.1:{sport}"
                if name == "open":
                    r = infrec("open", surl, RATE, DIST_SECONDS)
                elif name == "closed":
                    r = infrec("closed", surl, users, DIST_SECONDS)
                elif name == "wrk":
                    r = wrk(wrk_bin, surl, CONNECTIONS if wrk_rate else users, tmp / "post.lua", DIST_SECONDS,
                            wrk_rate)
                else:
                    r = locust(surl, tmp, users, DIST_SECONDS)
                with urllib.request.urlopen(surl + "/stats", timeout=5) as resp:
                    late.append(float(json.loads(resp.read())["late_mean_us"]))
            finally:
                stop_process(server)  # type: ignore[arg-type]
            runs[name].append(r)
        print(f"  rep {rep + 1}: " + "  ".join(
            f"{k} {v[-1]['n']:.0f} req, P99 {v[-1]['p99']:.1f} ms" for k, v in runs.items()), flush=True)
    if all("raw" in r for r in runs["wrk"]):
        runs = {**{k: v for k, v in runs.items() if k != "locust"},
                "wrk_raw": [{**r["raw"], "n": r["n"], "errors": 0} for r in runs["wrk"]], "locust": runs["locust"]}
        tools = {**{k: v for k, v in tools.items() if k != "locust"}, "wrk_raw": "  the same, correction undone",
                 "locust": tools["locust"]}
    n_typical = int(statistics.median(r["n"] for v in runs.values() for r in v))
    chance = chance_errors(n_typical)
    print(f"  ms, median (min–max) of {REPS}; error % = (measured − truth) / truth")
    print(f"  {'source':<34}" + "".join(f"{LABELS[m]:>24}" for m in METRICS))
    print(f"  {'truth (exact)':<34}" + "".join(f"{want[m]:>24.2f}" for m in METRICS))
    worst: dict[str, list[float]] = {}
    for name, label in tools.items():
        rs = runs[name]
        errs = [{m: error_pct(r[m], want[m]) for m in METRICS} for r in rs]
        worst[name] = [max(abs(e[m]) for m in METRICS) for e in errs]
        print(f"  {label:<34}" + "".join(f"{spread([r[m] for r in rs], '.2f'):>24}" for m in METRICS))
        print(f"  {'  error %':<34}" + "".join(f"{spread([e[m] for e in errs], '+.1f'):>24}" for m in METRICS))
        bad = sum(r["errors"] for r in rs)
        if bad:
            print(f"  {'  (failed requests, all runs)':<34}{bad:>24.0f}")
    print(f"  {'perfect tool, chance alone (95%)':<34}" + "".join(f"{'±' + format(chance[m], '.1f'):>24}"
                                                                   for m in METRICS))
    print(f"  (chance: {n_typical:,} samples per run, 200 simulated runs; the server's own timers fired "
          f"{spread(late, '.0f')} µs late on average)")
    print("  worst |error| over mean/P50/P90/P99/P99.9, median (min–max): " + "; ".join(
        f"{k} {spread(v, '.1f')} %" for k, v in worst.items()))
    return worst


if __name__ == "__main__":
    main()
