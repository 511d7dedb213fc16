"""Tables people read in a terminal: the recommendations and the steps of a job. Shared by every
CLI command that shows them, so `recommend`, `jobs describe` and `demo` print the same thing."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from infrec.report.html import price_notes


def _env(model_cfg: dict[str, Any]) -> str:
    params = model_cfg.get("EnvironmentParameters") or []
    return " ".join(f"{p['Key']}={p['Value']}" for p in params) or "-"


def recommendations_table(recs: list[dict[str, Any]], steps: list[dict[str, Any]] | None = None) -> Table:
    scale_by_endpoint = {}
    for s in steps or []:
        ec = s.get("EndpointConfiguration") or {}
        scale_by_endpoint[ec.get("EndpointName")] = s.get("EmulationScale", 1.0)
    t = Table(title="Recommendations (cheapest per inference first)", caption_justify="left",
              caption="\n".join(price_notes(steps)))
    for col, just in (("#", "right"), ("instance", "left"), ("count", "right"), ("environment", "left"),
                      ("max inv/min", "right"), ("latency ms", "right"), ("cpu %", "right"), ("mem %", "right"),
                      ("$/hour", "right"), ("$/1M inferences", "right"), ("setup s", "right"),
                      ("best for", "left"), ("emulated", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, r in enumerate(recs, 1):
        m = r.get("Metrics") or {}
        ec = r["EndpointConfiguration"]
        scale = scale_by_endpoint.get(ec.get("EndpointName"), 1.0)
        best = "+".join(r.get("BestFor", [])) if r.get("BestFor") else ""
        t.add_row(str(i), ec.get("InstanceType", "?"), str(ec.get("InitialInstanceCount", 1)),
                  _env(r.get("ModelConfiguration") or {}), f"{m.get('MaxInvocations', 0):,}",
                  str(m.get("ModelLatency", "-")), f"{m.get('CpuUtilization', 0):.0f}",
                  f"{m.get('MemoryUtilization', 0):.0f}", f"{m.get('CostPerHour', 0):.3f}",
                  f"{m.get('CostPerInference', 0) * 1e6:.3f}", str(m.get("ModelSetupTime", "-")), best,
                  "no" if scale >= 1 else f"at {scale:g}×")
    return t


def steps_table(steps: list[dict[str, Any]]) -> Table:
    t = Table(title="Benchmark steps")
    for col in ("#", "status", "instance", "environment", "max inv/min", "latency ms", "scale", "reason"):
        t.add_column(col)
    for i, s in enumerate(steps, 1):
        bench = s.get("InferenceBenchmark", s)
        m = bench.get("Metrics") or {}
        ec = bench.get("EndpointConfiguration") or {}
        t.add_row(str(i), s.get("Status", "?"), ec.get("InstanceType", "?"), _env(bench.get("ModelConfiguration") or {}),
                  f"{m['MaxInvocations']:,}" if "MaxInvocations" in m else "-",
                  str(m.get("ModelLatency", "-")), f"{s.get('EmulationScale', 1.0):g}",
                  (bench.get("FailureReason") or "")[:80])
    return t
