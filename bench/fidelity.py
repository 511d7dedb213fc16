"""How true are infrec's numbers? Default jobs on `infrec/synthetic`, whose capacity is known
(vCPUs × 1000 / service_ms requests/s once workers ≥ vCPUs), across native and emulated instance
types; prints measured MaxInvocations/60 against that truth, and the measured per-request latency
(one request at a time) against the true one: service_ms, stretched to service_ms / vCPUs when an
instance has less than one CPU. ModelLatency is printed too; it is the latency at the held load
(85 % of the measured capacity) and includes the queueing that load brings, so it is not compared
with the service time.

A benchmark, not a test: it prints figures; its last line is
`fidelity: worst_throughput_error=<percent> worst_latency_error=<percent>`.
Run with `make bench-fidelity`. INFREC_TRIAL_SECONDS (default 4) sets the shortest trial; INFREC_HOLD_SECONDS
(default 30) caps the capacity measurement (half of it, in two parts) and the latency hold.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from payloads import synthetic_payload

SERVICE_MS = (5, 20, 50)
# Types that fit this host run natively; the ml.* ones are larger and run emulated at a fraction.
CUSTOM_TYPES = [
    {"name": "bench.half", "vcpus": 0.5, "memory_gib": 1.0, "price_per_hour": 0.025},
    {"name": "bench.one", "vcpus": 1.0, "memory_gib": 2.0, "price_per_hour": 0.05},
]
EMULATED_TYPES = ["ml.c5.large", "ml.c5.xlarge"]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="infrec-fidelity-"))
    from infrec.core.catalog import Catalog

    base = Catalog.default()
    entries = list(CUSTOM_TYPES)
    for name in EMULATED_TYPES:
        t = base.get(name)
        entries.append({"name": t.name, "vcpus": t.vcpus, "memory_gib": t.memory_gib,
                        "price_per_hour": t.price_per_hour})
    catalog_file = work / "catalog.json"
    catalog_file.write_text(json.dumps({"instance_types": entries}))
    os.environ.update(INFREC_HOME=str(work / "home"), INFREC_CATALOG=str(catalog_file))
    os.environ.setdefault("INFREC_TRIAL_SECONDS", "4")
    os.environ.pop("INFREC_DATABASE_URL", None)

    from rich.console import Console
    from rich.table import Table

    from infrec.config import Settings
    from infrec.services import Services

    console = Console(width=160)
    payload = synthetic_payload(work)
    services = Services(Settings.from_env())
    services.start_jobs(resume=False)
    vcpus = {e["name"]: float(e["vcpus"]) for e in entries}
    table = Table(title="fidelity: infrec/synthetic, known capacity = vCPUs × 1000 / service_ms")
    for col in ("service ms", "instance", "vCPUs", "scale", "true rps", "measured rps", "error %",
                "true ms", "unloaded p50 ms", "error %", "ModelLatency ms (P95 at 85 %)", "host steal %"):
        table.add_column(col, justify="right")
    worst_tp, worst_lat = 0.0, 0.0
    try:
        services.registry.create_model_package_group({"ModelPackageGroupName": "fidelity"})
        for ms in SERVICE_MS:
            arn = services.registry.create_model_package({
                "ModelPackageGroupName": "fidelity",
                "InferenceSpecification": {"Containers": [{"Image": "infrec/synthetic", "Environment": {
                    "INFREC_SYNTHETIC_SERVICE_MS": str(ms)}}], "SupportedContentTypes": ["application/json"]},
                "SamplePayloadUrl": payload.as_uri()})["ModelPackageArn"]
            name = f"fidelity-{ms}ms"
            services.jobs.create_inference_recommendations_job({
                "JobName": name, "JobType": "Default", "RoleArn": "arn:aws:iam::000000000000:role/bench",
                "InputConfig": {"ModelPackageVersionArn": arn, "JobDurationInSeconds": 1800,
                                "ContainerConfig": {"SupportedInstanceTypes": [e["name"] for e in entries]}}})
            end = time.monotonic() + 1800
            while time.monotonic() < end:
                status = services.jobs.describe_inference_recommendations_job({"JobName": name})["Status"]
                if status in ("COMPLETED", "FAILED", "STOPPED"):
                    break
                time.sleep(1)
            details = services.jobs.job_details(name)
            for step in details["Steps"]:
                itype = step["EndpointConfiguration"]["InstanceType"]
                truth = vcpus[itype] * 1000.0 / ms
                m = step.get("Metrics")
                if not m:
                    table.add_row(str(ms), itype, f"{vcpus[itype]:g}", "-", f"{truth:.1f}", "FAILED", "-", "-", "-",
                                  "-", (step.get("FailureReason") or "")[:40], "-")
                    worst_tp = max(worst_tp, 100.0)
                    continue
                exact = (step.get("Details") or {}).get("MaxInvocationsExact", m["MaxInvocations"])
                measured = exact / 60.0
                tp_err = (measured - truth) / truth * 100
                details = step.get("Details") or {}
                # One request's wall time: service_ms of CPU, stretched when an instance (or its one
                # worker) gets less than a whole CPU.
                # Under a CFS quota (period 100 ms), a request that fits the quota runs unthrottled;
                # a longer one waits out the rest of each period.
                per_cpu = vcpus[itype] * step["EmulationScale"]
                true_ms = ms if per_cpu >= 1.0 or ms < 0.9 * per_cpu * 100.0 else ms / per_cpu
                unloaded = float(details.get("UnloadedP50Ms", float("nan")))
                lat_err = (unloaded - true_ms) / true_ms * 100
                worst_tp = max(worst_tp, abs(tp_err))
                worst_lat = max(worst_lat, abs(lat_err))
                table.add_row(str(ms), itype, f"{vcpus[itype]:g}", f"{step['EmulationScale']:g}", f"{truth:.1f}",
                              f"{measured:.1f}", f"{tp_err:+.1f}", f"{true_ms:.1f}", f"{unloaded:.1f}",
                              f"{lat_err:+.1f}", str(m.get("ModelLatency")),
                              f"{details['HostStealPercent']:.1f}" if "HostStealPercent" in details else "-")
    finally:
        services.close()
    console.print(table)
    print(f"fidelity: worst_throughput_error={worst_tp:.1f} worst_latency_error={worst_lat:.1f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.exit(main())
