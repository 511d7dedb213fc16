"""Does a step measured on a Ray node agree with the same step measured locally, and with the truth?

Starts a Ray cluster on this host (executors.raylocal, every node on 127.0.0.1): a head offering
`infrec:loadgen` (the driver, this process, connects to it and runs the load generator) and one
worker node with `--num-cpus 1` offering `infrec:bench.one`, a 1-vCPU custom catalog type. Runs the
same Default job on `infrec/synthetic` at 20 ms per request (capacity known: 1 vCPU × 1000 / 20 =
50 requests/s) first with the local executor, then with the Ray executor, stops the cluster and
counts what is left of it (processes of its nodes, actors' sentinels, endpoints, ledger entries).

A benchmark, not a test: it prints figures with their 95 % intervals (batches = runs of the
capacity measurement); its last line is
`ray: status=<job status> ray_scale=<step scale> local_vs_ray_error=<%> truth_error=<%> leaked=<n>`.
Run with `make bench-ray`. (Not named ray.py: run as a script, that would shadow the ray package.) INFREC_TRIAL_SECONDS (default 4) and INFREC_HOLD_SECONDS (default 30) as in
bench/fidelity.py.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from payloads import synthetic_payload

SERVICE_MS = 20
TYPE = {"name": "bench.one", "vcpus": 1.0, "memory_gib": 2.0, "price_per_hour": 0.05}
TRUTH_RPS = TYPE["vcpus"] * 1000.0 / SERVICE_MS


def run_job(label: str, home: Path, payload: Path, executor: str, address: str | None) -> dict[str, Any]:
    """One Default job on bench.one with the given executor; its status and its one step."""
    from infrec.config import Settings
    from infrec.services import Services

    os.environ.update(INFREC_HOME=str(home), INFREC_EXECUTOR=executor)
    if address:
        os.environ["INFREC_RAY_ADDRESS"] = address
    services = Services(Settings.from_env())
    services.start_jobs(resume=False)
    try:
        services.registry.create_model_package_group({"ModelPackageGroupName": "bench"})
        arn = services.registry.create_model_package({
            "ModelPackageGroupName": "bench",
            "InferenceSpecification": {"Containers": [{"Image": "infrec/synthetic", "Environment": {
                "INFREC_SYNTHETIC_SERVICE_MS": str(SERVICE_MS)}}], "SupportedContentTypes": ["application/json"]},
            "SamplePayloadUrl": payload.as_uri()})["ModelPackageArn"]
        name = f"bench-ray-{label}"
        services.jobs.create_inference_recommendations_job({
            "JobName": name, "JobType": "Default", "RoleArn": "arn:aws:iam::000000000000:role/bench",
            "InputConfig": {"ModelPackageVersionArn": arn, "JobDurationInSeconds": 1200,
                            "ContainerConfig": {"SupportedInstanceTypes": [TYPE["name"]]}}})
        end = time.monotonic() + 1200
        status = "PENDING"
        while time.monotonic() < end:
            status = services.jobs.describe_inference_recommendations_job({"JobName": name})["Status"]
            if status in ("COMPLETED", "FAILED", "STOPPED"):
                break
            time.sleep(1)
        step = services.jobs.job_details(name)["Steps"][0]
        return {"status": status, "step": step}
    finally:
        services.close()


def figures(step: dict[str, Any]) -> tuple[float, str, float]:
    """(measured requests/s, its 95 % interval as text, scale) of a step."""
    m = step.get("Metrics") or {}
    d = step.get("Details") or {}
    if not m:
        return float("nan"), "-", float(step.get("EmulationScale") or float("nan"))
    rps = float(d.get("MaxInvocationsExact", m["MaxInvocations"])) / 60.0
    iv = d.get("MaxInvocationsInterval") or {}
    spread = (f"[{iv['Low'] / 60:.1f}, {iv['High'] / 60:.1f}] ({iv.get('Batches', '?')} batches)"
              if "Low" in iv and "High" in iv else "-")
    return rps, spread, float(step.get("EmulationScale", 1.0))


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="infrec-bench-ray-"))
    catalog = work / "catalog.json"
    catalog.write_text(json.dumps({"instance_types": [TYPE]}))
    os.environ.update(INFREC_CATALOG=str(catalog), RAY_USAGE_STATS_ENABLED="0")
    os.environ.setdefault("INFREC_TRIAL_SECONDS", "4")
    for var in ("INFREC_DATABASE_URL", "INFREC_RAY_ADDRESS", "RAY_ADDRESS"):
        os.environ.pop(var, None)
    payload = synthetic_payload(work)

    from infrec.executors.raylocal import LocalRayCluster

    local = run_job("local", work / "home-local", payload, "local", None)
    cluster = LocalRayCluster(work / "ray")
    ray_run: dict[str, Any] = {"status": "NOT_RUN", "step": {}}
    node_id = "-"
    try:
        address = cluster.start_head(num_cpus=1, resources={"infrec:loadgen": 1})
        cluster.add_node("bench-one", num_cpus=1, resources={f"infrec:{TYPE['name']}": 1})
        ray_run = run_job("ray", work / "home-ray", payload, "ray", address)
        node_id = ((ray_run["step"].get("Details") or {}).get("Node") or {}).get("Id", "-")
    finally:
        try:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        finally:
            cluster.stop()  # whatever happened above: no node of this benchmark outlives it
    leaked = len(cluster.leftovers()) + len(list((cluster.state_dir / "endpoints").glob("*.json")))

    l_rps, l_spread, l_scale = figures(local["step"])
    r_rps, r_spread, r_scale = figures(ray_run["step"])
    print(f"bench-ray: infrec/synthetic at {SERVICE_MS} ms on {TYPE['name']} ({TYPE['vcpus']:g} vCPU), "
          f"true capacity {TRUTH_RPS:.1f} req/s")
    print(f"  local executor: status={local['status']} scale={l_scale:g} measured={l_rps:.1f} req/s "
          f"95% interval {l_spread}")
    print(f"  ray executor:   status={ray_run['status']} scale={r_scale:g} measured={r_rps:.1f} req/s "
          f"95% interval {r_spread} node={node_id}")
    for label, run in (("local", local), ("ray", ray_run)):
        if run["step"].get("FailureReason"):
            print(f"  {label} step failed: {run['step']['FailureReason']}")
    lvr = abs(r_rps - l_rps) / l_rps * 100.0 if l_rps == l_rps and l_rps else float("nan")
    truth = abs(r_rps - TRUTH_RPS) / TRUTH_RPS * 100.0
    print(f"ray: status={ray_run['status']} ray_scale={r_scale:g} local_vs_ray_error={lvr:.1f} "
          f"truth_error={truth:.1f} leaked={leaked}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.exit(main())
