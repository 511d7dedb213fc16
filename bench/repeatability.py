"""Does infrec give the same answer twice, and is the answer true? Default jobs on two real scikit-learn
models, each run several times on three instance types that are the same hardware here (ml.c5.large,
ml.m5.large, ml.c6i.large: 2 vCPUs each, emulated at 0.5× = one CPU on a 2-core host), plus one
one-user Advanced job on an emulated type.

Models (both served by `infrec/sklearn`, both built by this bench, nothing downloaded):
- example: what `infrec example create DIR` writes (iris RandomForest, mixed JSON/CSV payloads);
- real: an ExtraTreesRegressor sized so that one request (one row of JSON) costs ≥ 5 ms of one
  CPU (150 trees of depth 10, 16 features; more trees where a request measures under 7 ms of CPU).

Figures:
- worst_spread (%): for each (model, instance type), (max − min) / median of MaxInvocations across the
  runs; the worst of all. A configuration with a failed run counts 100.
- tie_detected: a run ties when the candidate types' recommendations are tied with each other through
  `TiedWith` (lists of RecommendationIds; directly or transitively). yes only when every Default run did.
- real_error (%): the real model's truth is its in-process rate: the model file loaded by the infrec/sklearn
  handler in a subprocess pinned to ONE CPU (OMP/MKL/OpenBLAS threads = 1), answering the job's
  payloads round-robin (decode → predict → encode) for REPEATABILITY_TRUTH_SECONDS, measured right
  before and right after each job; a step's truth is the two interpolated linearly to the middle of
  that step (InvocationStartTime/EndTime), so a host whose speed drifts during a job moves the truth
  with the steps (this VM's own speed moves ±15 % over 20-second blocks and up to ~30 % between runs:
  the "host" columns show it). A type's true MaxInvocations = rate × the instance's vCPUs × 60
  (MaxInvocations is for the full instance, i.e. the emulated measurement already divided by the
  scale; equivalently the emulated rate against rate × emulated vCPUs). real_error is the worst
  |signed error| over every run and type of the real model (a failed step counts 100). The example
  model's error is printed for
  information only (its requests are short, so HTTP overhead weighs more).
- adv_bound_ok: the one-user Advanced job's MaxInvocations ≤ 60 × the in-process rate — one user, one
  request at a time, cannot send more — where the rate is the upper end of the 95 % interval of the
  faster truth run around the job (its per-second rates, with infrec's own interval for correlated
  batches): the host's speed drifts ±17 % from second to second and stays so for ~10 s, so a truth run
  is a measurement with an interval too. The strict form (the faster truth's mean × 1.03) is printed
  beside it.
- Information: how many runs' MaxInvocations intervals hold their configuration's median across the
  runs (an honest 95 % interval should, nearly always).

Knobs (environment): REPEATABILITY_RUNS (3), REPEATABILITY_TYPES (ml.c5.large,ml.m5.large,ml.c6i.large),
REPEATABILITY_MODELS (example,real), REPEATABILITY_ADVANCED_TYPE (ml.c5.xlarge),
REPEATABILITY_ADVANCED_SECONDS (60; 0 skips the Advanced job), REPEATABILITY_TRUTH_SECONDS (20, at
least 3); infrec's own INFREC_TRIAL_SECONDS and INFREC_HOLD_SECONDS pass through to the jobs (unset: the
runner's defaults).

A benchmark, not a test: it prints figures; its last line is
`repeatability: worst_spread=<percent> tie_detected=<yes|no> real_error=<percent> adv_bound_ok=<yes|no>`.
Run with `make bench-repeatability`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROLE = "arn:aws:iam::000000000000:role/bench"
REAL_FEATURES = 16
REAL_MIN_MS = 7.0          # size the real model so a request costs at least this (goal: ≥ 5 ms)
ADV_TOLERANCE = 1.03
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
TERMINAL = ("COMPLETED", "FAILED", "STOPPED")
LOCK_OWNER = "bench/repeatability.py"


def _env_int(key: str, default: int, minimum: int = 0) -> int:
    return max(minimum, int(os.environ.get(key, "") or default))


def _env_list(key: str, default: str) -> list[str]:
    return [x.strip() for x in (os.environ.get(key) or default).split(",") if x.strip()]


# ------------------------------------------------------------------ models
def _tar_folder(folder: Path, dest: Path) -> None:
    with tarfile.open(dest, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)


def _extract(archive: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _cost_ms(model: Any, rows: list[Any], seconds: float = 1.0) -> float:
    """Rough in-process CPU ms per one-row predict (sizing only; the truth is measured pinned, later).
    CPU time, not wall time, so other processes on a busy host do not make the model look heavier."""
    for r in rows:
        model.predict(r)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        model.predict(rows[n % len(rows)])
        n += 1
    return (time.process_time() - t0) / n * 1000.0


def _build_real(folder: Path) -> dict[str, Any]:
    """An ExtraTreesRegressor on a fixed synthetic regression table; one request = one JSON row."""
    import joblib
    import numpy as np
    from sklearn.ensemble import ExtraTreesRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, REAL_FEATURES))
    y = 2.0 * x[:, 0] + np.sin(3.0 * x[:, 1]) + x[:, 2] * x[:, 3] + rng.normal(scale=0.1, size=len(x))
    rows = [x[i:i + 1] for i in range(4)]
    trees, model, ms = 150, None, 0.0
    for _ in range(3):
        model = ExtraTreesRegressor(n_estimators=trees, max_depth=10, random_state=0, n_jobs=1).fit(x, y)
        ms = _cost_ms(model, rows)
        if ms >= REAL_MIN_MS or trees >= 2000:
            break
        trees = min(2000, math.ceil(trees * REAL_MIN_MS * 1.2 / ms))
    model_dir = folder / "model"
    model_dir.mkdir(parents=True)
    joblib.dump(model, model_dir / "model.joblib")
    payload_dir = folder / "payload"
    payload_dir.mkdir()
    test = rng.normal(size=(4, REAL_FEATURES))
    for i, row in enumerate(test):
        (payload_dir / f"row-{i}.json").write_text(json.dumps({"instances": [[round(float(v), 6) for v in row]]}))
    _tar_folder(model_dir, folder / "model.tar.gz")
    _tar_folder(payload_dir, folder / "payload.tar.gz")
    return {"name": "real", "what": f"ExtraTreesRegressor {trees} trees, depth 10, {REAL_FEATURES} features, "
                                    f"1 row per request (~{ms:.1f} ms unpinned)",
            "model_dir": model_dir, "payload_dir": payload_dir, "model_tar": folder / "model.tar.gz",
            "payload_tar": folder / "payload.tar.gz", "content_types": ["application/json"]}


def _build_example(folder: Path) -> dict[str, Any]:
    from infrec.examples import create_example

    ex = create_example(folder)
    return {"name": "example", "what": f"{ex.estimator} on {ex.dataset} (`infrec example create`)",
            "model_dir": _extract(ex.model_path, folder / "model"),
            "payload_dir": _extract(ex.payload_path, folder / "payload"),
            "model_tar": ex.model_path, "payload_tar": ex.payload_path, "content_types": list(ex.content_types)}


# ------------------------------------------------------------------- truth
def _truth_child(model_dir: str, payload_dir: str, content_types: str, seconds: float, cpu: int) -> None:
    """Runs in the pinned subprocess: the infrec/sklearn handler answers the payloads round-robin."""
    os.sched_setaffinity(0, {cpu})
    from infrec.loadgen import load_payloads
    from infrec.serving.images import create
    from infrec.serving.settings import ServerSettings

    ctypes = json.loads(content_types)
    settings = ServerSettings.from_env({"SM_MODEL_DIR": model_dir, "INFREC_IMAGE": "infrec/sklearn",
                                        "SAGEMAKER_MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "1"})
    image = create("infrec/sklearn", settings)
    image.load()
    payloads = load_payloads(payload_dir, ctypes[0], ctypes)
    warm_end = time.perf_counter() + 0.5
    while time.perf_counter() < warm_end:
        for p in payloads:
            image.invoke(p.body, p.content_type, None)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    series: list[float] = []                    # the rate of each second, for the truth's own interval
    sec_n, sec_t = 0, t0
    while time.perf_counter() - t0 < seconds:   # whole cycles, so every payload weighs the same
        for p in payloads:
            image.invoke(p.body, p.content_type, None)
        n += len(payloads)
        sec_n += len(payloads)
        now = time.perf_counter()
        if now - sec_t >= 1.0:
            series.append(sec_n / (now - sec_t))
            sec_n, sec_t = 0, now
    wall, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"requests": n, "wall_s": wall, "cpu_s": cpu_s, "series": series}))


def _truth(model: dict[str, Any], seconds: float) -> dict[str, float]:
    """Requests per second of one CPU, in process (no HTTP), pinned to the CPU endpoints get here."""
    cpu = max(os.sched_getaffinity(0))   # the local executor keeps the first CPU for the load generator
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    argv = [sys.executable, str(Path(__file__).resolve()), "--truth", str(model["model_dir"]),
            str(model["payload_dir"]), json.dumps(model["content_types"]), str(seconds), str(cpu)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=seconds + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"truth measurement of {model['name']} failed: {err.strip()[-500:]}")
    doc = json.loads(out.strip().splitlines()[-1])
    rate = doc["requests"] / doc["wall_s"]
    return {"rate": rate, "ms": 1000.0 / rate, "cpu_ms": doc["cpu_s"] / doc["requests"] * 1000.0,
            "series": doc.get("series") or [rate]}


# -------------------------------------------------------------------- jobs
def _wait(services: Any, name: str, timeout: float) -> str:
    end = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < end:
        status = services.jobs.describe_inference_recommendations_job({"JobName": name})["Status"]
        if status in TERMINAL:
            return str(status)
        time.sleep(1)
    services.jobs.stop_inference_recommendations_job({"JobName": name})
    for _ in range(60):
        status = services.jobs.describe_inference_recommendations_job({"JobName": name})["Status"]
        if status in TERMINAL:
            break
        time.sleep(1)
    return f"{status} (timed out)"


def _run_job(services: Any, req: dict[str, Any], timeout: float, active: list[str], model: dict[str, Any],
             truth_seconds: float) -> dict[str, Any]:
    """Run one job to its end, with the model's in-process truth measured right before and after it."""
    name = req["JobName"]
    before_at = time.time()
    before = _truth(model, truth_seconds)
    before_at = (before_at + time.time()) / 2
    t0 = time.monotonic()
    services.jobs.create_inference_recommendations_job(req)
    active.append(name)
    status = _wait(services, name, timeout)
    active.remove(name)
    seconds = time.monotonic() - t0
    details = services.jobs.job_details(name)
    recs = details["Job"].get("InferenceRecommendations") or []
    after_at = time.time()
    after = _truth(model, truth_seconds)
    after_at = (after_at + time.time()) / 2
    rate = (before["rate"] + after["rate"]) / 2
    truth = {"before": before["rate"], "after": after["rate"], "rate": rate, "ms": 1000.0 / rate,
             "before_at": before_at, "after_at": after_at,
             "before_high": _high(before), "after_high": _high(after),
             "cpu_ms": (before["cpu_ms"] + after["cpu_ms"]) / 2}
    return {"name": name, "status": status, "steps": details["Steps"], "recs": recs, "seconds": seconds,
            "failure": details["Job"].get("FailureReason"), "model": model["name"], "truth": truth}


def _high(truth: dict[str, Any]) -> float:
    """The upper end of a truth run's 95 % interval (per-second rates, allowing for the host's
    correlated drift: infrec.core.confidence.series_interval)."""
    from infrec.core.confidence import series_interval

    xs = truth["series"]
    return float(series_interval(xs, center=truth["rate"]).high) if len(xs) >= 2 else float(truth["rate"])


def _holds(iv: Any, value: float) -> bool:
    return isinstance(iv, dict) and "Low" in iv and float(iv["Low"]) <= value <= float(iv["High"])


def _truth_at(truth: dict[str, Any], at: float | None) -> float:
    """The in-process rate at epoch `at`: before/after interpolated linearly (their mean without a time)."""
    if at is None or truth["after_at"] <= truth["before_at"]:
        return float(truth["rate"])
    f = min(1.0, max(0.0, (at - truth["before_at"]) / (truth["after_at"] - truth["before_at"])))
    return float(truth["before"] + (truth["after"] - truth["before"]) * f)


def _step_row(step: dict[str, Any]) -> dict[str, Any]:
    m = step.get("Metrics") or {}
    d = step.get("Details") or {}
    scale = float(step.get("EmulationScale") or d.get("EmulationScale") or 1.0)
    return {"type": step["EndpointConfiguration"]["InstanceType"], "scale": scale,
            "max": m.get("MaxInvocations"), "latency": m.get("ModelLatency"),
            "interval": d.get("MaxInvocationsInterval"), "failed_at": d.get("FailedAtInvocations"),
            "status": step.get("Status"),
            "mid": ((float(step["InvocationStartTime"]) + float(step["InvocationEndTime"])) / 2
                    if step.get("InvocationStartTime") and step.get("InvocationEndTime") else None),
            "failure": step.get("FailureReason")}


def _ties(recs: list[dict[str, Any]], types: list[str]) -> tuple[dict[str, list[str]], bool]:
    """TiedWith per type (as instance type names), and whether all `types` are one tied group
    (union of TiedWith edges, so transitive ties count). A missing TiedWith is no tie."""
    type_of = {r.get("RecommendationId"): r["EndpointConfiguration"]["InstanceType"] for r in recs}
    parent = {t: t for t in type_of.values()}

    def find(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    shown: dict[str, list[str]] = {}
    for r in recs:
        me = r["EndpointConfiguration"]["InstanceType"]
        names = []
        for other in r.get("TiedWith") or []:
            o = type_of.get(other, other if other in parent else None)
            names.append(o or str(other))
            if o is not None:
                parent[find(me)] = find(o)
        shown[me] = names
    if any(t not in parent for t in types):
        return shown, False
    return shown, len({find(t) for t in types}) == 1


# ------------------------------------------------------------------- main
PREFIX = "infrec-repeatability-"


def _remove_stale_folders() -> None:
    """Folders of earlier runs that were killed outright (SIGKILL leaves no chance to clean up): each
    run writes its pid into its folder; a folder whose process is gone is removed."""
    for folder in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            pid = int((folder / "pid").read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue   # no pid file yet, or not ours to judge


def _fmt_interval(iv: Any) -> str:
    if isinstance(iv, dict) and "Low" in iv and "High" in iv:
        return f"{float(iv['Low']):,.0f}–{float(iv['High']):,.0f}"
    return "-"


def _fmt_number(x: Any) -> str:
    return f"{float(x):,.0f}" if isinstance(x, (int, float)) else "-"


def main() -> int:
    started = time.monotonic()
    runs = _env_int("REPEATABILITY_RUNS", 3, 1)
    types = _env_list("REPEATABILITY_TYPES", "ml.c5.large,ml.m5.large,ml.c6i.large")
    wanted = _env_list("REPEATABILITY_MODELS", "example,real")
    adv_type = os.environ.get("REPEATABILITY_ADVANCED_TYPE") or "ml.c5.xlarge"
    adv_seconds = _env_int("REPEATABILITY_ADVANCED_SECONDS", 60, 0)
    truth_seconds = float(_env_int("REPEATABILITY_TRUTH_SECONDS", 20, 3))
    unknown = sorted(set(wanted) - {"example", "real"})
    if unknown or not wanted:
        print(f"REPEATABILITY_MODELS: use example and/or real, not {','.join(unknown) or 'nothing'}", file=sys.stderr)
        return 2

    # SIGTERM (a killed `make`) unwinds like Ctrl-C, so the finally below still stops every endpoint.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _remove_stale_folders()
    work = Path(tempfile.mkdtemp(prefix=PREFIX))
    services: Any = None
    host_lock: Any = None
    locked = False
    active: list[str] = []
    try:
        (work / "pid").write_text(str(os.getpid()))
        os.environ.update(INFREC_HOME=str(work / "home"))
        for key in ("INFREC_DATABASE_URL", "INFREC_CATALOG", "INFREC_NO_EMULATION"):
            os.environ.pop(key, None)

        from rich.console import Console
        from rich.table import Table

        from infrec.config import Settings
        from infrec.executors.hostlock import HostLock
        from infrec.services import Services

        console = Console(width=170)
        builders = {"example": _build_example, "real": _build_real}
        models = [builders[n](work / n) for n in wanted]
        for m in models:
            print(f"model {m['name']}: {m['what']}")
        print(f"{runs} run(s) × {len(models)} model(s) of a Default job on {', '.join(types)}"
              + (f"; one one-user Advanced job ({adv_seconds} s) on {adv_type}"
                 if adv_seconds and "real" in wanted else ""), flush=True)

        # One benchmark at a time per host: hold infrec's host lock for the whole bench (its jobs run in
        # this process and share it), so no other infrec benchmark runs beside the jobs or the truth.
        shown = [""]

        def waiting(message: str) -> None:
            if message != shown[0]:
                shown[0] = message
                print(message, flush=True)

        host_lock = HostLock()
        host_lock.acquire(LOCK_OWNER, on_wait=waiting)
        locked = True
        services = Services(Settings.from_env())
        services.start_jobs(resume=False)
        vcpus = {t: services.catalog.get(t).vcpus for t in [*types, adv_type]}
        services.registry.create_model_package_group({"ModelPackageGroupName": "repeatability"})
        arns = {}
        for m in models:
            arns[m["name"]] = services.registry.create_model_package({
                "ModelPackageGroupName": "repeatability",
                "InferenceSpecification": {"Containers": [{"Image": "infrec/sklearn",
                                                           "ModelDataUrl": m["model_tar"].resolve().as_uri()}],
                                           "SupportedContentTypes": m["content_types"],
                                           "SupportedResponseMIMETypes": ["application/json"]},
                "SamplePayloadUrl": m["payload_tar"].resolve().as_uri()})["ModelPackageArn"]

        results: list[dict[str, Any]] = []     # one per Default job
        for run in range(1, runs + 1):
            for m in models:        # interleaved, so a slow drift of the host hits both models alike
                res = _run_job(services, {
                    "JobName": f"rep-{m['name']}-{run}", "JobType": "Default", "RoleArn": ROLE,
                    "InputConfig": {"ModelPackageVersionArn": arns[m["name"]], "JobDurationInSeconds": 1800,
                                    "ContainerConfig": {"SupportedInstanceTypes": types}}},
                    1900, active, m, truth_seconds)
                res["run"] = run
                results.append(res)
                print(f"run {run} {m['name']}: {res['status']} in {res['seconds']:.0f} s", flush=True)

        adv: dict[str, Any] | None = None
        if adv_seconds and "real" in wanted:
            adv = _run_job(services, {
                "JobName": "rep-advanced", "JobType": "Advanced", "RoleArn": ROLE,
                "InputConfig": {"ModelPackageVersionArn": arns["real"], "JobDurationInSeconds": adv_seconds + 600,
                                "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                                    {"InitialNumberOfUsers": 1, "SpawnRate": 1,
                                     "DurationInSeconds": adv_seconds}]},
                                "EndpointConfigurations": [{"InstanceType": adv_type}]}},
                adv_seconds + 700, active, next(m for m in models if m["name"] == "real"), truth_seconds)
            print(f"advanced: {adv['status']}", flush=True)
        services.close()
        services = None
    finally:
        if services is not None:
            for name in list(active):     # interrupted: end the running job's endpoints and load first
                try:
                    services.jobs.stop_inference_recommendations_job({"JobName": name})
                except Exception:
                    pass
            services.close()
        if locked:
            host_lock.release(LOCK_OWNER)
        shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------------------ figures
    t = Table(title="in-process truth per job: one CPU, threads = 1, decode → predict → encode of the job's "
                    "payloads, right before and right after the job")
    for col in ("job", "model", "req/s before", "req/s after", "truth req/s (mean)", "ms/request",
                "CPU ms/request", "drift %"):
        t.add_column(col, justify="right")
    for res in [*results, *([adv] if adv is not None else [])]:
        tr = res["truth"]
        t.add_row(res["name"], res["model"], f"{tr['before']:.1f}", f"{tr['after']:.1f}", f"{tr['rate']:.1f}",
                  f"{tr['ms']:.2f}", f"{tr['cpu_ms']:.2f}", f"{(tr['after'] - tr['before']) / tr['rate'] * 100:+.1f}")
    console.print(t)

    per_config: dict[tuple[str, str], list[float | None]] = {}
    intervals: dict[tuple[str, str], list[Any]] = {}
    errors: dict[tuple[str, str], list[float]] = {}
    truths: dict[tuple[str, str], list[float]] = {}
    run_ties: list[bool] = []
    for res in results:
        shown, tied = _ties(res["recs"], types)
        run_ties.append(tied)
        t = Table(title=f"run {res['run']}, model {res['model']} (job {res['name']}: {res['status']}, "
                        f"{res['seconds']:.0f} s) — tied: {'yes' if tied else 'no'}")
        for col in ("instance", "vCPUs here", "MaxInvocations", "interval", "failed at", "ModelLatency ms",
                    "true max/min", "error %", "TiedWith"):
            t.add_column(col, justify="right")
        rows = {r["type"]: r for r in map(_step_row, res["steps"])}
        failures = []
        for itype in types:
            r = rows.get(itype)
            key = (res["model"], itype)
            true_max = _truth_at(res["truth"], r["mid"] if r else None) * vcpus[itype] * 60.0
            if r is None or r["max"] is None:
                per_config.setdefault(key, []).append(None)
                errors.setdefault(key, []).append(math.inf)
                why = (r or {}).get("failure") or (r or {}).get("status") or "missing"
                failures.append(f"  {itype}: {why}")
                t.add_row(itype, "-", "FAILED", "-", "-", "-", f"{true_max:,.0f}", "-", "-")
                continue
            err = (r["max"] - true_max) / true_max * 100.0
            per_config.setdefault(key, []).append(float(r["max"]))
            intervals.setdefault(key, []).append(r["interval"])
            truths.setdefault(key, []).append(true_max)
            errors.setdefault(key, []).append(err)
            t.add_row(itype, f"{vcpus[itype]:g} × {r['scale']:g} = {vcpus[itype] * r['scale']:g}",
                      f"{r['max']:,}", _fmt_interval(r["interval"]), _fmt_number(r["failed_at"]), str(r["latency"]),
                      f"{true_max:,.0f}",
                      f"{err:+.1f}", ", ".join(shown.get(itype, [])) or "-")
        console.print(t)
        for line in failures:
            print(line)

    t = Table(title=f"summary over {runs} run(s): spread = (max − min) / median of MaxInvocations; "
                    "error against in-process rate × vCPUs; host = the same for the in-process truth "
                    "(the host's own drift), ratio = the spread of MaxInvocations / truth (info)")
    for col in ("model", "instance", "MaxInvocations per run", "median", "spread %", "host spread %",
                "ratio spread %", "intervals holding the median", "error % per run", "worst |error| %"):
        t.add_column(col, justify="right")
    worst_spread, real_error = 0.0, 0.0
    held, judged = 0, 0
    for (name, itype), values in per_config.items():
        got = [v for v in values if v is not None]
        ivs = intervals.get((name, itype), [])
        hold = sum(_holds(iv, statistics.median(got)) for iv in ivs) if got else 0
        held, judged = held + hold, judged + len(values)
        if len(got) < len(values) or not got:
            spread = 100.0
        else:
            med = statistics.median(got)
            spread = (max(got) - min(got)) / med * 100.0 if med > 0 else 100.0
        worst_spread = max(worst_spread, spread)
        errs = errors[(name, itype)]
        worst_err = max(abs(e) for e in errs)
        truth_list = truths.get((name, itype), [])
        host_spread = ((max(truth_list) - min(truth_list)) / statistics.median(truth_list) * 100.0
                       if len(truth_list) >= 2 else math.nan)
        ratios = [1 + e / 100 for e in errs if not math.isinf(e)]
        ratio_spread = ((max(ratios) - min(ratios)) / statistics.median(ratios) * 100.0
                        if len(ratios) >= 2 and len(ratios) == len(errs) else math.nan)
        if name == "real":
            real_error = max(real_error, min(worst_err, 100.0))
        t.add_row(name + ("" if name == "real" else " (info)"), itype,
                  ", ".join("FAILED" if v is None else f"{v:,.0f}" for v in values),
                  f"{statistics.median(got):,.0f}" if got else "-", f"{spread:.1f}",
                  "-" if math.isnan(host_spread) else f"{host_spread:.1f}",
                  "-" if math.isnan(ratio_spread) else f"{ratio_spread:.1f}", f"{hold}/{len(values)}",
                  ", ".join("-" if math.isinf(e) else f"{e:+.1f}" for e in errs),
                  "FAILED" if math.isinf(worst_err) else f"{worst_err:.1f}")
    console.print(t)

    adv_text = "skipped"
    if adv is not None:
        # The host's own speed moves by up to ~30 % between the truth runs around one job (see "host"
        # columns), so the bound takes the faster of the two: one user cannot outrun the model at the
        # best speed this host showed around the job (the mean of the two is printed beside it).
        adv_ms = 1000.0 / max(adv["truth"]["before"], adv["truth"]["after"])
        mean_ms = adv["truth"]["ms"]
        strict = 60_000.0 / adv_ms * ADV_TOLERANCE
        # The bound judged: the upper end of the faster truth's own 95 % interval. A truth run is
        # itself a measurement on a host whose speed drifts for seconds at a time; the bound is what
        # the model could have done at the fastest this host plausibly ran around the job. The old
        # bug (4× over one user's reach) is far outside it; the strict 3 % bound is printed beside it.
        bound = 60.0 * max(adv["truth"]["before_high"], adv["truth"]["after_high"])
        r = next((_step_row(s) for s in adv["steps"]), None)
        ok = r is not None and r["max"] is not None and r["max"] <= bound
        strict_ok = r is not None and r["max"] is not None and r["max"] <= strict
        adv_text = "yes" if ok else "no"
        t = Table(title=f"one-user Advanced job ({adv_seconds} s, real model): a single user cannot send more than "
                        f"60 × the upper 95 % limit of the faster truth around the job ({bound:,.0f}/min); strict: "
                        f"60,000 / {adv_ms:.2f} ms × {ADV_TOLERANCE} = {strict:,.0f}/min (their mean: {mean_ms:.2f} ms)")
        for col in ("instance", "vCPUs here", "MaxInvocations", "interval", "ModelLatency ms", "bound /min",
                    "ok", "strict bound /min", "strict ok"):
            t.add_column(col, justify="right")
        if r is None or r["max"] is None:
            t.add_row(adv_type, "-", "FAILED", "-", "-", f"{bound:,.0f}", "no", f"{strict:,.0f}", "no")
        else:
            t.add_row(r["type"], f"{vcpus[adv_type]:g} × {r['scale']:g} = {vcpus[adv_type] * r['scale']:g}",
                      f"{r['max']:,}", _fmt_interval(r["interval"]), str(r["latency"]), f"{bound:,.0f}", adv_text,
                      f"{strict:,.0f}", "yes" if strict_ok else "no")
        console.print(t)
        if r is None or r["max"] is None:
            print(f"  {adv_type}: {(r or {}).get('failure') or adv.get('failure') or adv['status']}")

    tie_text = "yes" if run_ties and all(run_ties) else "no"
    real_text = f"{real_error:.1f}" if "real" in wanted else "skipped"
    wall = time.monotonic() - started
    knobs = "".join(f"{k}={os.environ[k]}; " for k in ("INFREC_TRIAL_SECONDS", "INFREC_HOLD_SECONDS")
                    if k in os.environ)
    print(f"runs: {runs} per model ({len(results)} Default jobs, {len(types)} types each), runs tied: "
          f"{sum(run_ties)}/{len(run_ties)}; intervals holding their configuration's median across runs: "
          f"{held}/{judged}; Advanced: {'1 job' if adv is not None else 'skipped'}; {knobs}"
          f"wall time {int(wall // 60)} min {wall % 60:.0f} s")
    print(f"repeatability: worst_spread={worst_spread:.1f} tie_detected={tie_text} real_error={real_text} "
          f"adv_bound_ok={adv_text}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    if len(sys.argv) == 7 and sys.argv[1] == "--truth":
        _truth_child(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
        sys.exit(0)
    sys.exit(main())
