"""Benchmark: no-op requests per second per core of infrec's built-in model server, and of MLflow's
scoring server beside it when MLflow can be installed (in its own venv under /tmp).

Each server runs one worker pinned to one CPU (taskset); wrk drives it from the other CPUs with
keep-alive connections. The model does nothing (infrec/synthetic at 0 ms echoes the body; MLflow
serves a pyfunc that returns its input), so what is measured is the server's own cost per request.

Needs wrk (`apt-get install wrk`). A benchmark, not a test: it prints figures, its last line is
`serving: infrec_rps_per_core=<n> mlflow_rps_per_core=<n or na>`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MLFLOW_VENV = Path(os.environ.get("INFREC_BENCH_MLFLOW_VENV", "/tmp/infrec-mlflow-venv"))
BODY = '{"inputs": [[1.0, 2.0, 3.0, 4.0]]}'
DURATION_S = int(os.environ.get("INFREC_BENCH_SECONDS", "10"))
CONNECTIONS = 16

MLFLOW_MODEL = """
import sys
import mlflow.pyfunc

class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input

mlflow.pyfunc.save_model(sys.argv[1], python_model=Echo())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def wrk(url: str, client_cpus: str) -> tuple[float, str]:
    """(requests/s, p50 latency text) of a wrk run against POST url."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n')
        script = f.name
    try:
        base = ["taskset", "-c", client_cpus, "wrk", "-t1", f"-c{CONNECTIONS}", "-s", script, "--latency"]
        subprocess.run([*base, "-d2s", url], capture_output=True, timeout=60)  # warm-up
        out = subprocess.run([*base, f"-d{DURATION_S}s", url], capture_output=True, text=True,
                             timeout=DURATION_S + 60).stdout
    finally:
        os.unlink(script)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  wrk saw {errors.group(1)} error responses", flush=True)
    return (float(rps.group(1)) if rps else 0.0), (p50.group(1) if p50 else "?")


ECHO_HANDLER = """
def model_fn(model_dir):
    return None


def predict_fn(data, model):
    return data
"""


def bench_infrec(server_cpu: str, client_cpus: str, image: str, what: str) -> float:
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="infrec-bench-"))
    (work / "code").mkdir()
    (work / "code" / "inference.py").write_text(ECHO_HANDLER)
    env = {**os.environ, "INFREC_IMAGE": image, "SAGEMAKER_BIND_TO_PORT": str(port), "SM_MODEL_DIR": str(work),
           "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "1", "INFREC_SYNTHETIC_SERVICE_MS": "0"}
    proc = subprocess.Popen(["taskset", "-c", server_cpu, sys.executable, "-m", "infrec.serving"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if not wait_ping(f"http://127.0.0.1:{port}/ping", 30, proc):
            print("infrec server did not start", flush=True)
            return 0.0
        rps, p50 = wrk(f"http://127.0.0.1:{port}/invocations", client_cpus)
        print(f"infrec built-in server ({what}, 1 worker on CPU {server_cpu}): {rps:,.0f} req/s, p50 {p50}",
              flush=True)
        return rps
    finally:
        stop_group(proc)
        shutil.rmtree(work, ignore_errors=True)


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


def bench_mlflow(server_cpu: str, client_cpus: str) -> float | None:
    exe = ensure_mlflow()
    if exe is None:
        return None
    work = Path(tempfile.mkdtemp(prefix="infrec-bench-mlflow-"))
    model = work / "echo"
    try:
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
        try:
            if not wait_ping(f"http://127.0.0.1:{port}/ping", 120, proc):
                print("mlflow scoring server did not start", flush=True)
                return None
            rps, p50 = wrk(f"http://127.0.0.1:{port}/invocations", client_cpus)
            print(f"{version} scoring server (pyfunc echo, 1 worker on CPU {server_cpu}): "
                  f"{rps:,.0f} req/s, p50 {p50}", flush=True)
            return rps
        finally:
            stop_group(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("wrk") is None or shutil.which("taskset") is None or len(cpus) < 2:
        print("needs wrk and taskset (apt-get install wrk util-linux) and at least 2 CPUs", flush=True)
        print("serving: infrec_rps_per_core=na mlflow_rps_per_core=na")
        return 1
    server_cpu, client_cpus = str(cpus[0]), ",".join(map(str, cpus[1:]))
    infrec_rps = bench_infrec(server_cpu, client_cpus, "infrec/synthetic", "infrec/synthetic 0 ms: the no-op")
    # The same request through a Python handler that decodes the JSON to numpy and encodes it back,
    # closer to the work MLflow's pyfunc server does per request.
    bench_infrec(server_cpu, client_cpus, "infrec/python", "infrec/python echo handler, JSON decode+encode")
    mlflow_rps = bench_mlflow(server_cpu, client_cpus)
    ml = f"{mlflow_rps:.0f}" if mlflow_rps else "na"
    if mlflow_rps:
        print(f"infrec / mlflow: {infrec_rps / mlflow_rps:.1f}×", flush=True)
    print(f"serving: infrec_rps_per_core={infrec_rps:.0f} mlflow_rps_per_core={ml}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
