"""A job's report as one self-contained HTML page (no scripts, no external assets), so it can be
mailed, archived or served as is. Pure: it renders the data `JobService.job_details` returns."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.FAILED,.fail{color:#b00}.COMPLETED,.pass{color:#070}.warn{color:#a60}
small{color:#666}
"""


def _ts(v: Any) -> str:
    if not isinstance(v, int | float):
        return "-"
    return datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _env(model_cfg: dict[str, Any]) -> str:
    return " ".join(f"{p['Key']}={p['Value']}" for p in model_cfg.get("EnvironmentParameters") or []) or "-"


def _table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def job_report(details: dict[str, Any]) -> str:
    job = details["Job"]
    steps = details["Steps"]
    result = details.get("Result") or {}
    parts = [f"<h1>{escape(job['JobName'])}</h1>",
             f"<p>{escape(job['JobType'])} job — <b class=\"{escape(job['Status'])}\">{escape(job['Status'])}</b>"
             f" — created {_ts(job.get('CreationTime'))}, ended {_ts(job.get('CompletionTime'))}</p>"]
    if job.get("FailureReason"):
        parts.append(f'<p class="fail">{escape(job["FailureReason"])}</p>')
    scale = {s["EndpointConfiguration"]["EndpointName"]: s.get("EmulationScale", 1.0) for s in steps}
    recs = job.get("InferenceRecommendations") or []
    if recs:
        rows = []
        for i, r in enumerate(recs, 1):
            m, ec = r.get("Metrics") or {}, r["EndpointConfiguration"]
            sc = scale.get(ec.get("EndpointName"), 1.0)
            rows.append([str(i), escape(ec["InstanceType"]), str(ec.get("InitialInstanceCount", 1)),
                         escape(_env(r.get("ModelConfiguration") or {})), f"{m.get('MaxInvocations', 0):,}",
                         str(m.get("ModelLatency", "-")), f"{m.get('CpuUtilization', 0):.0f}",
                         f"{m.get('MemoryUtilization', 0):.0f}", f"{m.get('CostPerHour', 0):.3f}",
                         f"{m.get('CostPerInference', 0) * 1e6:.3f}", escape("+".join(r.get("BestFor") or [])),
                         "no" if sc >= 1 else f"at {sc:g}×"])
        parts += ["<h2>Recommendations</h2>", _table(
            ["#", "instance", "count", "environment", "max inv/min", "latency ms", "cpu %", "mem %", "$/hour",
             "$/1M inferences", "best for", "emulated"], rows, left=2)]
    rows = []
    for s in steps:
        m = s.get("Metrics") or {}
        d = s.get("Details") or {}
        pct = d.get("ModelLatencyPercentilesMs") or {}
        rows.append([str(s["StepIndex"] + 1), f'<span class="{escape(s["Status"])}">{escape(s["Status"])}</span>',
                     escape(s["EndpointConfiguration"]["InstanceType"]), escape(_env(s.get("ModelConfiguration") or {})),
                     f"{m['MaxInvocations']:,}" if "MaxInvocations" in m else "-",
                     " / ".join(f"{pct[p]:.1f}" for p in ("P50", "P90", "P95", "P99") if p in pct) or "-",
                     f"{s.get('EmulationScale', 1.0):g}", escape(str(d.get("Enforcement") or "-")),
                     escape(s.get("FailureReason") or "")])
    parts += ["<h2>Benchmark steps</h2>", _table(
        ["#", "status", "instance", "environment", "max inv/min", "P50/P90/P95/P99 ms", "scale", "enforcement",
         "reason"], rows, left=4)]
    for s in steps:
        trials = (s.get("Details") or {}).get("Trials") or []
        if trials:
            keys = list(trials[0])
            parts += [f"<h3>Step {s['StepIndex'] + 1}: rate search on {escape(s['EndpointConfiguration']['InstanceType'])}"
                      "</h3>", _table(keys, [[escape(str(t.get(k, ""))) for k in keys] for t in trials], left=0)]
    vpc = result.get("VpcPreflight")
    if vpc:
        rows = [[escape(str(c.get("id"))), f'<span class="{escape(str(c.get("status")))}">{escape(str(c.get("status")))}'
                 "</span>", escape(", ".join(map(str, c.get("resources") or []))),
                 escape(c.get("message", "")) + (f"<br><small>fix: {escape(c['remedy'])}</small>"
                                                 if c.get("remedy") and c.get("status") in ("fail", "warn") else "")]
                for c in vpc.get("checks") or []]
        parts += ["<h2>VPC preflight</h2>", _table(["check", "status", "resources", "detail"], rows, left=4)]
        parts += [f"<p><small>{escape(n)}</small></p>" for n in vpc.get("notes") or []]
    body = "\n".join(parts)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(job['JobName'])} — infrec"
            f"</title><style>{_STYLE}</style></head><body>{body}<p><small>infrec</small></p></body></html>")


def jobs_index(jobs: list[dict[str, Any]]) -> str:
    rows = [[f'<a href="/ui/jobs/{escape(j["JobName"])}">{escape(j["JobName"])}</a>', escape(j["JobType"]),
             f'<span class="{escape(j["Status"])}">{escape(j["Status"])}</span>', _ts(j.get("CreationTime")),
             escape((j.get("FailureReason") or "")[:120])] for j in jobs]
    table = _table(["job", "type", "status", "created", "failure"], rows, left=5)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>infrec jobs</title><style>{_STYLE}</style>"
            f"</head><body><h1>Recommendation jobs</h1>{table}</body></html>")
