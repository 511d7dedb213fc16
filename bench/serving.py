"""Benchmark: requests per second per core of infrec's built-in model server against MLflow's
scoring server, like for like.

Headline: the same JSON work on both sides. infrec serves a Python handler (`infrec/python`,
code/inference.py) whose request is decoded from JSON into a numpy array and whose answer
`{"predictions": [[…]]}` is encoded back to JSON; MLflow serves a pyfunc model that returns its
input, which its scoring server likewise decodes from JSON and encodes back. Beside it, infrec's
no-op (`infrec/synthetic` at 0 ms, which echoes the body without decoding it): the server's own
cost per request, with no model work at all.

Each server runs one worker pinned to one CPU (taskset); wrk (Debian package, installed with
apt-get when missing, as `make bench-loadgen` does) drives it from the other CPUs with 16
keep-alive connections. Every wrk run is preceded by a 2 s wrk warm-up run that is not scored.
The servers are started once and measured in turn, REPS times (interleaved, so a busy moment on
the machine hits all of them): median and min–max of the repetitions; the ratio is taken within
each repetition. MLflow is installed in its own venv under /tmp (once); without it the MLflow
figures are `na`.

A benchmark, not a test. Last line:
`serving: infrec_json_rps_per_core=<n> mlflow_rps_per_core=<n|na> ratio=<x|na> infrec_noop_rps_per_core=<n>`
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import ensure_debian_package, free_port

MLFLOW_VENV = Path(os.environ.get("INFREC_BENCH_MLFLOW_VENV", "/tmp/infrec-mlflow-venv"))
BODY = '{"inputs": [[1.0, 2.0, 3.0, 4.0]]}'
DURATION_S = int(os.environ.get("INFREC_BENCH_SECONDS", "10"))
WARMUP_S = int(os.environ.get("INFREC_BENCH_WARMUP", "2"))
REPS = int(os.environ.get("INFREC_BENCH_REPS", "3"))
CONNECTIONS = 16

MLFLOW_MODEL = """
import sys
import mlflow.pyfunc

class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input

mlflow.pyfunc.save_model(sys.argv[1], python_model=Echo())
"""

# input_fn and output_fn are infrec's defaults: JSON → numpy array, and back to JSON.
ECHO_HANDLER = """
def model_fn(model_dir):
    return None


def predict_fn(data, model):
    return {"predictions": data}
"""


def wait_ping(url: str, deadline_s: float, proc: subprocess.Popen[bytes]) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def invoke(url: str) -> str:
    """One request, so the figures below are known to be for a correct answer."""
    req = urllib.request.Request(url, data=BODY.encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return f"{resp.status} {resp.read()[:80].decode(errors='replace')}"


def wrk(wrk_bin: str, url: str, client_cpus: str) -> float:
    """Requests/s of a scored wrk run against POST url, after an unscored warm-up run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n')
        script = f.name
    try:
        base = ["taskset", "-c", client_cpus, wrk_bin, "-t1", f"-c{CONNECTIONS}", "-s", script]
        subprocess.run([*base, f"-d{WARMUP_S}s", url], capture_output=True, timeout=WARMUP_S + 60)
        out = subprocess.run([*base, f"-d{DURATION_S}s", url], capture_output=True, text=True,
                             timeout=DURATION_S + 60).stdout
    finally:
        os.unlink(script)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  wrk saw {errors.group(1)} error responses: not counted", flush=True)
        return 0.0
    return float(rps.group(1)) if rps else 0.0


def start_infrec(stack: contextlib.ExitStack, server_cpu: str, image: str) -> str | None:
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="infrec-bench-"))
    stack.callback(shutil.rmtree, work, ignore_errors=True)
    (work / "code").mkdir()
    (work / "code" / "inference.py").write_text(ECHO_HANDLER)
    env = {**os.environ, "INFREC_IMAGE": image, "SAGEMAKER_BIND_TO_PORT": str(port), "SM_MODEL_DIR": str(work),
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "1", "INFREC_SYNTHETIC_SERVICE_MS": "0"}
    proc = subprocess.Popen(["taskset", "-c", server_cpu, sys.executable, "-m", "infrec.serving"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    stack.callback(stop_group, proc)
    if not wait_ping(f"http://127.0.0.1:{port}/ping", 30, proc):
        print(f"infrec server ({image}) did not start", flush=True)
        return None
    return f"http://127.0.0.1:{port}/invocations"


def ensure_mlflow() -> Path | None:
    """MLflow in its own venv (so its pins never touch infrec's); None when it cannot be installed."""
    exe = MLFLOW_VENV / "bin" / "mlflow"
    if exe.exists():
        return exe
    print(f"installing mlflow into {MLFLOW_VENV} (once) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True, timeout=120)
        subprocess.run([str(MLFLOW_VENV / "bin" / "pip"), "install", "-q", "mlflow"], check=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"mlflow could not be installed: {exc}", flush=True)
        return None
    return exe if exe.exists() else None


def start_mlflow(stack: contextlib.ExitStack, server_cpu: str) -> tuple[str, str] | None:
    exe = ensure_mlflow()
    if exe is None:
        return None
    work = Path(tempfile.mkdtemp(prefix="infrec-bench-mlflow-"))
    stack.callback(shutil.rmtree, work, ignore_errors=True)
    model = work / "echo"
    made = subprocess.run([str(MLFLOW_VENV / "bin" / "python"), "-c", MLFLOW_MODEL, str(model)],
                          capture_output=True, text=True, timeout=300)
    if made.returncode != 0:
        print(f"mlflow model could not be saved: {made.stderr[-500:]}", flush=True)
        return None
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    port = free_port()
    # MLflow execs `uvicorn` by name: its venv's bin must come first on PATH.
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"file://{work / 'mlruns'}", "OMP_NUM_THREADS": "1",
           "PATH": f"{MLFLOW_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(["taskset", "-c", server_cpu, str(exe), "models", "serve", "-m", str(model),
                             "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port), "-w", "1"],
                            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    stack.callback(stop_group, proc)
    if not wait_ping(f"http://127.0.0.1:{port}/ping", 120, proc):
        print("mlflow scoring server did not start", flush=True)
        return None
    return f"http://127.0.0.1:{port}/invocations", version


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def main() -> int:
    cpus = sorted(os.sched_getaffinity(0))
    wrk_bin = ensure_debian_package("wrk", "wrk")
    if shutil.which("taskset") is None or len(cpus) < 2:
        print("needs taskset (apt-get install util-linux) and at least 2 CPUs", flush=True)
        print("serving: infrec_json_rps_per_core=na mlflow_rps_per_core=na ratio=na infrec_noop_rps_per_core=na")
        return 1
    server_cpu, client_cpus = str(cpus[0]), ",".join(map(str, cpus[1:]))
    print(f"servers: 1 worker pinned to CPU {server_cpu}; wrk on CPU {client_cpus}, {CONNECTIONS} connections; "
          f"{REPS} × ({WARMUP_S} s warm-up + {DURATION_S} s scored) per server", flush=True)
    with contextlib.ExitStack() as stack:
        starters: dict[str, tuple[str, Callable[[], tuple[str, str] | None]]] = {
            "json": ("infrec built-in server, Python handler, JSON decode+encode",
                     lambda: _named(start_infrec(stack, server_cpu, "infrec/python"), "")),
            "mlflow": ("MLflow scoring server, pyfunc echo, JSON decode+encode",
                       lambda: start_mlflow(stack, server_cpu)),
            "noop": ("infrec built-in server, no-op (infrec/synthetic 0 ms)",
                     lambda: _named(start_infrec(stack, server_cpu, "infrec/synthetic"), "")),
        }
        urls: dict[str, str] = {}
        labels: dict[str, str] = {}
        for key, (label, start) in starters.items():
            started = start()
            if started is None:
                continue
            urls[key], version = started
            labels[key] = f"{label} ({version})" if version else label
            print(f"  {labels[key]}: answers {json.dumps(invoke(urls[key]))}", flush=True)
        rps: dict[str, list[float]] = {k: [] for k in urls}
        for rep in range(REPS):
            for key, url in urls.items():
                rps[key].append(wrk(wrk_bin, url, client_cpus))
            print(f"  rep {rep + 1}: " + "  ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rps.items()), flush=True)
    print(f"\nrequests/s on one core, median (min–max) of {REPS}:")
    width = max(len(v) for v in labels.values()) + 2
    for key, values in rps.items():
        print(f"  {labels[key]:<{width}}{spread(values):>26}")
    med = {k: statistics.median(v) for k, v in rps.items()}
    ratio = "na"
    if "json" in rps and "mlflow" in rps and all(rps["mlflow"]):
        per_rep = [a / b for a, b in zip(rps["json"], rps["mlflow"], strict=True)]
        ratio = f"{statistics.median(per_rep):.1f}"
        print(f"  infrec JSON handler / MLflow, within each repetition: {spread(per_rep, '.1f')}×")

    def fig(key: str) -> str:
        return f"{med[key]:.0f}" if med.get(key) else "na"

    print(f"serving: infrec_json_rps_per_core={fig('json')} mlflow_rps_per_core={fig('mlflow')} ratio={ratio} "
          f"infrec_noop_rps_per_core={fig('noop')}")
    return 0


def _named(url: str | None, version: str) -> tuple[str, str] | None:
    return None if url is None else (url, version)


if __name__ == "__main__":
    raise SystemExit(main())
