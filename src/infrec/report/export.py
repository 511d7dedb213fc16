"""A job's figures as data for other tools: JSON (the stored documents, trials flattened beside
them) and CSV (one table, a `record` column saying whether a row is a step, a trial or a
recommendation, so a spreadsheet or `pandas.read_csv` can filter on it). Pure; used by
`infrec jobs export`, the web page's download links and the offline report's embedded ones."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from infrec.core.recommend import interval
from infrec.report.figures import config_label, trial_latencies, trial_load, trials

FORMATS = ("csv", "json")

COLUMNS = (
    "record", "job", "step", "trial", "rank", "configuration", "instance_type", "instance_count", "environment",
    "status", "phase", "target_rps", "users", "achieved_rps", "invocations_per_minute", "error_rate",
    "p50_ms", "p95_ms", "p99_ms", "cpu_utilization_pct", "memory_utilization_pct", "verdict", "trial_started_at",
    "trial_seconds", "max_invocations_per_minute", "max_invocations_ci_low", "max_invocations_ci_high",
    "model_latency_ms", "model_latency_ci_low", "model_latency_ci_high", "cost_per_hour_usd",
    "cost_per_1m_inferences_usd", "model_setup_time_s", "emulation_scale", "best_for", "tied_with",
    "recommendation_id", "started_at", "ended_at", "failure_reason",
)


def _env(step: Mapping[str, Any]) -> str:
    return " ".join(f"{p.get('Key')}={p.get('Value')}"
                    for p in (step.get("ModelConfiguration") or {}).get("EnvironmentParameters") or [])


def _common(job: str, step: Mapping[str, Any]) -> dict[str, Any]:
    ec = step.get("EndpointConfiguration") or {}
    return {"job": job, "configuration": config_label(step), "instance_type": ec.get("InstanceType", ""),
            "instance_count": ec.get("InitialInstanceCount", ""), "environment": _env(step)}


def _figures(metrics: Mapping[str, Any], details: Mapping[str, Any] | None) -> dict[str, Any]:
    tput = interval(details, "MaxInvocationsInterval")
    lat = interval(details, "ModelLatencyInterval")
    cpi = metrics.get("CostPerInference")
    return {"max_invocations_per_minute": metrics.get("MaxInvocations", ""),
            "max_invocations_ci_low": tput[0] if tput else "", "max_invocations_ci_high": tput[1] if tput else "",
            "model_latency_ms": metrics.get("ModelLatency", ""),
            "model_latency_ci_low": lat[0] if lat else "", "model_latency_ci_high": lat[1] if lat else "",
            "cost_per_hour_usd": metrics.get("CostPerHour", ""),
            "cost_per_1m_inferences_usd": round(cpi * 1e6, 6) if isinstance(cpi, int | float) else "",
            "model_setup_time_s": metrics.get("ModelSetupTime", ""),
            "cpu_utilization_pct": metrics.get("CpuUtilization", ""),
            "memory_utilization_pct": metrics.get("MemoryUtilization", "")}


def rows(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every step, every trial and every recommendation as flat rows over COLUMNS."""
    job = details["Job"]
    name = job["JobName"]
    steps = details.get("Steps") or []
    out: list[dict[str, Any]] = []
    by_endpoint: dict[Any, tuple[int, Mapping[str, Any]]] = {}
    for s in steps:
        idx = int(s.get("StepIndex", 0)) + 1
        by_endpoint[(s.get("EndpointConfiguration") or {}).get("EndpointName")] = (idx, s)
        out.append({"record": "step", "step": idx, **_common(name, s), "status": s.get("Status", ""),
                    **_figures(s.get("Metrics") or {}, s.get("Details")),
                    "emulation_scale": s.get("EmulationScale", ""), "started_at": s.get("StartedAt") or "",
                    "ended_at": s.get("EndedAt") or "", "failure_reason": s.get("FailureReason") or ""})
        for i, t in enumerate(trials(s)):
            lat = trial_latencies(t)
            load = trial_load(s, t)
            out.append({"record": "trial", "step": idx, "trial": i + 1, **_common(name, s),
                        "phase": t.get("Phase", ""), "target_rps": t.get("TargetRps") or "",
                        "users": t.get("Users") or "", "achieved_rps": t.get("AchievedRps", ""),
                        "invocations_per_minute": round(load, 1) if load is not None else "",
                        "error_rate": t.get("ErrorRate", ""), "p50_ms": lat.get("P50", ""),
                        "p95_ms": lat.get("P95", ""), "p99_ms": lat.get("P99", ""),
                        "cpu_utilization_pct": t.get("CpuUtilization", ""),
                        "memory_utilization_pct": t.get("MemoryUtilization", ""), "verdict": t.get("Verdict", ""),
                        "trial_started_at": t.get("StartedAt", ""), "trial_seconds": t.get("Seconds", ""),
                        "emulation_scale": s.get("EmulationScale", "")})
    for rank, r in enumerate(job.get("InferenceRecommendations") or [], 1):
        ec = r.get("EndpointConfiguration") or {}
        found = by_endpoint.get(ec.get("EndpointName"))
        step = found[1] if found else None
        base = _common(name, step if step is not None else r)
        out.append({"record": "recommendation", "rank": rank, "step": found[0] if found else "", **base,
                    **_figures(r.get("Metrics") or {}, (step or {}).get("Details")),
                    "best_for": "+".join(r.get("BestFor") or []), "tied_with": " ".join(r.get("TiedWith") or []),
                    "recommendation_id": r.get("RecommendationId", "")})
    return out


def _cell(v: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=, +, -, @ first) is quoted with a leading
    apostrophe: a failure reason repeats text from outside (a model's error), and opening the
    export must not execute it."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def to_csv(details: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows(details):
        writer.writerow({k: _cell(row.get(k, "")) for k in COLUMNS})
    return buf.getvalue()


def to_json(details: Mapping[str, Any]) -> str:
    """The job as DescribeInferenceRecommendationsJob gives it, its steps with their stored details
    (trials included), and the trials once more as flat rows for tools that want a table."""
    doc = {"Job": details["Job"], "Steps": details.get("Steps") or [],
           "Trials": [r for r in rows(details) if r["record"] == "trial"],
           "Recommendations": details["Job"].get("InferenceRecommendations") or []}
    return json.dumps(doc, indent=2, default=str) + "\n"


def export(details: Mapping[str, Any], fmt: str) -> str:
    if fmt == "csv":
        return to_csv(details)
    if fmt == "json":
        return to_json(details)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
