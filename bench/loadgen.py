"""How fast and how truthful is infrec's load generator, next to wrk and Locust?

Part 1 (throughput): nginx (Debian package, installed with apt-get when missing) on 127.0.0.1
answers POST /invocations with a fixed body, pinned to core 0; each generator, pinned to core 1,
drives it as fast as it can for ~10 s with the same 64 keep-alive connections/users: infrec
(closed loop, one worker), wrk (Debian package) and Locust with FastHttpUser (no wait time).
3 repetitions each, medians, and the ratios infrec/wrk and infrec/Locust.

Part 2 (coordinated omission): a small server (tests/integration/loadgen/server.py) freezes for
200 ms on every 100th request. Ground truth is what requests arriving at a steady 100/s would
experience: a FIFO simulation of that stall pattern (the stalled request waits 200 ms, those due
during the freeze wait until it ends). infrec's open loop at 100/s is compared to it, and so are
the closed-loop tools (infrec closed loop and wrk, one connection each), which send nothing
while the server is frozen and so never see the queue a steady arrival stream would build.

A benchmark, not a test. Last line:
`loadgen: infrec/wrk=<ratio> infrec/locust=<ratio> p99_error_open=<percent> p99_error_closed=<percent> p99_error_wrk=<percent>`
Run with `make bench-loadgen`. Every process it starts is stopped by pid.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.helpers import free_port, stop_process, wait_for_port  # noqa: E402

PY = sys.executable
SECONDS = float(os.environ.get("INFREC_BENCH_SECONDS", "10"))
REPS = int(os.environ.get("INFREC_BENCH_REPS", "3"))
CONNECTIONS = 64
BODY = b'{"instances": [[1.0, 2.0, 3.0, 4.0]]}'
STALL_EVERY, STALL_MS, OPEN_RATE = 100, 200.0, 100.0
SERVER_CORE, GEN_CORE = "0", "1"
PINNED = (os.cpu_count() or 1) >= 2

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
  io.write(string.format("INFREC %d %d %f %f %f %f\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency:percentile(90)))
end
"""

LOCUSTFILE = """
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

class Invoker(FastHttpUser):
    wait_time = constant(0)

    @task
    def invoke(self):
        self.client.post("/invocations", data={body!r}, headers={{"Content-Type": "application/json"}})
"""

INFREC_RUN = """
import json, sys
from infrec.core.traffic import OpenLoop, Phase, Phases
from infrec.loadgen import Payload, run_load
mode, url, seconds, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
shape = OpenLoop(rate=n, duration_s=seconds) if mode == "open" else Phases((Phase(int(n), 0, seconds),))
res = run_load([url], [Payload({body!r}, "application/json")], shape, None, deadline_s=seconds + 30)
steady = res.windows[1:] or res.windows
t = res.total
print("INFREC " + json.dumps({{"rps": sum(w.requests for w in steady) / sum(w.duration_s for w in steady),
    "p50": t.p50_ms, "p90": t.p90_ms, "p99": t.p99_ms, "p999": t.p999_ms, "errors": t.errors, "cpu": res.generator_cpu_percent}}))
"""


def pin(core: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", core, *cmd] if PINNED and shutil.which("taskset") else cmd


def ensure_debian_package(binary: str, package: str) -> str:
    found = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {package} with apt-get …", flush=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", package], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if not found:
        raise SystemExit(f"{package} installed but {binary} is not on PATH")
    return found


def run_capture(cmd: list[str], timeout: float, cwd: Path | None = None) -> str:
    """Run a generator to completion (by pid, with a deadline) and return its stdout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
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


def infrec(mode: str, url: str, n: float, seconds: float = SECONDS) -> dict[str, float]:
    out = run_capture(pin(GEN_CORE, [PY, "-c", INFREC_RUN.format(body=BODY), mode, url, str(seconds), str(n)]),
                      timeout=seconds + 60)
    line = next(x for x in out.splitlines() if x.startswith("INFREC "))
    return dict(json.loads(line[7:]))


def wrk(wrk_bin: str, url: str, connections: int, script: Path, seconds: float = SECONDS) -> dict[str, float]:
    out = run_capture(pin(GEN_CORE, [wrk_bin, "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", str(script),
                                     url + "/invocations"]), timeout=seconds + 60)
    fields = next(x for x in out.splitlines() if x.startswith("INFREC ")).split()
    reqs, dur_us = int(fields[1]), int(fields[2])
    return {"rps": reqs / (dur_us / 1e6), "p50": float(fields[3]) / 1000, "p99": float(fields[4]) / 1000,
            "p999": float(fields[5]) / 1000, "p90": float(fields[6]) / 1000}


def locust(url: str, folder: Path, seconds: float = SECONDS) -> dict[str, float]:
    prefix = folder / f"locust-{time.monotonic_ns()}"
    run_capture(pin(GEN_CORE, [str(Path(PY).parent / "locust"), "-f", str(folder / "locustfile.py"), "--headless",
                               "-u", str(CONNECTIONS), "-r", str(CONNECTIONS), "-t", f"{int(seconds)}s",
                               "--host", url, "--csv", str(prefix), "--only-summary", "--loglevel", "ERROR"]),
                timeout=seconds + 60)
    with open(f"{prefix}_stats.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    return {"rps": float(rows[0]["Requests/s"])}


def ground_truth(rate: float, seconds: float) -> dict[str, float]:
    """Latency of a steady arrival stream at `rate` through the known stall pattern (FIFO)."""
    free, lat = 0.0, []
    for i in range(int(rate * seconds)):
        arrival = i / rate
        start = max(arrival, free)
        end = start + (STALL_MS / 1000 if (i + 1) % STALL_EVERY == 0 else 0.0)
        free = end
        lat.append((end - arrival) * 1000)
    lat.sort()

    def pct(p: float) -> float:
        return lat[max(0, math.ceil(p / 100 * len(lat)) - 1)]

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "p999": pct(99.9)}


def error_pct(got: float, truth: float) -> float:
    return abs(got - truth) / truth * 100 if truth else 0.0


def main() -> None:
    nginx_bin = ensure_debian_package("nginx", "nginx-light")
    wrk_bin = ensure_debian_package("wrk", "wrk")
    tmp = Path(tempfile.mkdtemp(prefix="infrec-bench-loadgen-"))
    try:
        bench(nginx_bin, wrk_bin, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench(nginx_bin: str, wrk_bin: str, tmp: Path) -> None:
    (tmp / "locustfile.py").write_text(LOCUSTFILE.format(body=BODY.decode()))
    (tmp / "post.lua").write_text(WRK_LUA.format(body=BODY.decode()))
    port = free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=port))
    url = f"http://127.0.0.1:{port}"
    print(f"cores: {os.cpu_count()} (server on core {SERVER_CORE}, generator on core {GEN_CORE}"
          f"{'' if PINNED else ', NOT pinned: fewer than 2 cores'}); {REPS}×{SECONDS:.0f}s runs, "
          f"{CONNECTIONS} connections/users", flush=True)
    nginx = subprocess.Popen(pin(SERVER_CORE, [nginx_bin, "-p", str(tmp), "-c", str(tmp / "nginx.conf")]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, list[dict[str, float]]] = {"infrec": [], "wrk": [], "locust": []}
    try:
        wait_for_port(port, 20.0, nginx)  # type: ignore[arg-type]
        for rep in range(REPS):
            results["infrec"].append(infrec("closed", url, CONNECTIONS))
            results["wrk"].append(wrk(wrk_bin, url, CONNECTIONS, tmp / "post.lua"))
            results["locust"].append(locust(url, tmp))
            print(f"  rep {rep + 1}: " + "  ".join(f"{k} {v[-1]['rps']:,.0f}/s" for k, v in results.items()),
                  flush=True)
    finally:
        stop_process(nginx)  # type: ignore[arg-type]
    med = {k: statistics.median(r["rps"] for r in v) for k, v in results.items()}
    cpu = statistics.median(r["cpu"] for r in results["infrec"])
    print(f"\nPart 1: max requests/s against nginx (median of {REPS})")
    print(f"  {'generator':<10}{'requests/s':>14}")
    for k, v in med.items():
        print(f"  {k:<10}{v:>14,.0f}")
    print(f"  infrec generator CPU: {cpu:.0f}% of one core")

    truth = ground_truth(OPEN_RATE, SECONDS)
    runs: dict[str, dict[str, float]] = {}
    for name in ("infrec open", "infrec closed", "wrk"):
        sport = free_port()
        stall = subprocess.Popen(pin(SERVER_CORE, [PY, str(REPO / "tests/integration/loadgen/server.py"),
                                                   "--port", str(sport), "--stall-every", str(STALL_EVERY),
                                                   "--stall-ms", str(STALL_MS), "--uvloop"]),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(sport, 20.0, stall)  # type: ignore[arg-type]
            surl = f"http://127.0.0.1:{sport}"
            if name == "infrec open":
                runs[name] = infrec("open", surl, OPEN_RATE)
            elif name == "infrec closed":
                runs[name] = infrec("closed", surl, 1)
            else:
                runs[name] = wrk(wrk_bin, surl, 1, tmp / "post.lua")
        finally:
            stop_process(stall)  # type: ignore[arg-type]
    print(f"\nPart 2: a server stalling {STALL_MS:.0f} ms on every {STALL_EVERY}th request; ground truth = "
          f"steady {OPEN_RATE:.0f} requests/s through that pattern")
    print(f"  {'source':<15}{'req/s':>9}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'p99.9 ms':>10}{'p99 error':>11}")
    print(f"  {'ground truth':<15}{OPEN_RATE:>9.0f}{truth['p50']:>10.2f}{truth['p90']:>10.2f}{truth['p99']:>10.2f}"
          f"{truth['p999']:>10.2f}")
    errs = {}
    for name, r in runs.items():
        errs[name] = error_pct(r["p99"], truth["p99"])
        print(f"  {name:<15}{r['rps']:>9.0f}{r['p50']:>10.2f}{r['p90']:>10.2f}{r['p99']:>10.2f}{r['p999']:>10.2f}"
              f"{errs[name]:>10.1f}%")
    print(f"loadgen: infrec/wrk={med['infrec'] / med['wrk']:.3f} infrec/locust={med['infrec'] / med['locust']:.2f} "
          f"p99_error_open={errs['infrec open']:.1f} p99_error_closed={errs['infrec closed']:.1f} "
          f"p99_error_wrk={errs['wrk']:.1f}")


if __name__ == "__main__":
    main()
