"""A job's report as one self-contained HTML page (no scripts, no external assets), so it can be
mailed, archived or served as is. Pure: it renders the data `JobService.job_details` returns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from infrec.core.recommend import cost_range, interval
from infrec.core.serverless import endpoint_label

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


# ------------------------------------------------------------------ figures with their uncertainty
# Plain text, shared with the CLI tables (which import them from here).

def number(x: float) -> str:
    """A figure for people: thousands separated, no false precision."""
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _ms(x: float) -> str:
    return number(x) if abs(x) >= 100 else f"{x:.{1 if abs(x) >= 10 else 2}f}"


def _level(details: Mapping[str, Any] | None, name: str) -> str:
    level = ((details or {}).get(name) or {}).get("ConfidenceLevel", 0.95)
    try:
        return f"{100 * float(level):g} % CI"
    except (TypeError, ValueError):
        return "CI"


def throughput_text(metrics: Mapping[str, Any], details: Mapping[str, Any] | None) -> str:
    """`26,360/min (95 % CI 25,900–26,800)`; `26,360/min` for a step without an interval; `-` without
    MaxInvocations."""
    if "MaxInvocations" not in metrics:
        return "-"
    text = f"{number(metrics['MaxInvocations'])}/min"
    iv = interval(details, "MaxInvocationsInterval")
    if iv:
        text += f" ({_level(details, 'MaxInvocationsInterval')} {number(iv[0])}–{number(iv[1])})"
    return text


def latency_text(metrics: Mapping[str, Any], details: Mapping[str, Any] | None) -> str:
    """`13 ms (95 % CI 12.1–13.4 ms)`; `13 ms` without an interval; `-` without ModelLatency."""
    if "ModelLatency" not in metrics:
        return "-"
    text = f"{number(metrics['ModelLatency'])} ms"
    iv = interval(details, "ModelLatencyInterval")
    if iv:
        text += f" ({_level(details, 'ModelLatencyInterval')} {_ms(iv[0])}–{_ms(iv[1])} ms)"
    return text


def cost_text(metrics: Mapping[str, Any], details: Mapping[str, Any] | None) -> str:
    """Dollars per million inferences, with the range the throughput's uncertainty allows."""
    if metrics.get("CostPerInference") is None or not metrics.get("MaxInvocations"):
        return "-"
    point = f"${metrics['CostPerInference'] * 1e6:.3f}"
    lo, hi = cost_range({"Metrics": metrics, "Details": details or {}})
    low, high = f"${lo * 1e6:.3f}", ("∞" if hi == float("inf") else f"${hi * 1e6:.3f}")
    return point if low == high else f"{point} ({low}–{high})"


def interval_notes(details: Mapping[str, Any] | None) -> list[str]:
    """What a reader must know to trust the intervals: where MaxInvocations came from (a measured
    capacity, and the load its latency belongs to), a measurement that hit its cap before the
    throughput interval was within ±3 %, and the rate the search saw fail (the limit lies below it)."""
    d = details or {}
    notes = []
    iv = d.get("MaxInvocationsInterval")
    capacity = isinstance(iv, Mapping) and iv.get("Source") == "capacity"
    if capacity:
        cap = d.get("Capacity") or {}
        hold = d.get("Hold") or {}
        users = cap.get("Users")
        at = hold.get("TargetRps")
        rps = cap.get("Rps")
        text = "capacity, saturated" + (f" ({users} in flight)" if users else "")
        if isinstance(at, int | float) and isinstance(rps, int | float) and rps > 0:
            text += f"; latency at {100 * at / rps:.0f} % of it"
        notes.append(text)
    if isinstance(iv, Mapping) and iv.get("Converged") is False:
        why = "cap" if capacity else (d.get("Hold") or {}).get("EndedBy")
        notes.append(f"CI not converged ({why if why in ('cap', 'stopped') else 'cap'})")
    failed = d.get("FailedAtInvocations")
    if isinstance(failed, int | float) and not isinstance(failed, bool):
        notes.append(f"search failed at {number(failed)}/min")
    return notes


def price_notes(steps: list[dict[str, Any]] | None) -> list[str]:
    """What the dollar figures rest on: one line per region/source/date among the completed steps'
    `Details.Price` (recorded when each step ran), and a line for steps that ran before infrec
    recorded it. Serverless steps are priced per GB-second and say so themselves."""
    if steps is None:
        return ["Prices: hourly on-demand prices of the catalog infrec used (`infrec catalog list` shows "
                "their region, source and date)"]
    seen: dict[tuple[str, str, str], None] = {}
    unrecorded = False
    for s in steps:
        if not s.get("Metrics") or (s.get("EndpointConfiguration") or {}).get("ServerlessConfig"):
            continue
        p = (s.get("Details") or {}).get("Price")
        if isinstance(p, Mapping):
            seen[(str(p.get("Region") or ""), str(p.get("Source") or "source not recorded"),
                  str(p.get("Date") or "date not recorded"))] = None
        else:
            unrecorded = True
    lines = [f"Prices: USD/hour on-demand {'in ' + region if region else '(own price, any region)'} — "
             f"{source}, {date}" for region, source, date in seen]
    if unrecorded:
        lines.append("Prices of steps run before infrec recorded their source: the catalog in use then "
                     "(source and date not recorded)")
    return lines


def tied_text(rec: Mapping[str, Any], recs: list[dict[str, Any]]) -> str:
    """`tie: #2, #3` — the rows (1-based, as listed) this recommendation is tied with on throughput."""
    row = {r.get("RecommendationId"): i for i, r in enumerate(recs, 1)}
    tied = sorted(row[t] for t in rec.get("TiedWith") or [] if t in row)
    return ("tie: " + ", ".join(f"#{i}" for i in tied)) if tied else ""


def step_details(recs: list[dict[str, Any]], steps: list[dict[str, Any]]) -> list[Mapping[str, Any] | None]:
    """Each recommendation's step Details (matched by EndpointName), None where there is none."""
    by_endpoint = {(s.get("EndpointConfiguration") or {}).get("EndpointName"): s.get("Details") for s in steps}
    return [by_endpoint.get((r.get("EndpointConfiguration") or {}).get("EndpointName")) for r in recs]


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
        for i, (r, d) in enumerate(zip(recs, step_details(recs, steps), strict=True), 1):
            m, ec = r.get("Metrics") or {}, r["EndpointConfiguration"]
            sc = scale.get(ec.get("EndpointName"), 1.0)
            notes = interval_notes(d)
            rows.append([str(i), escape(endpoint_label(ec)), str(ec.get("InitialInstanceCount", 1)),
                         escape(_env(r.get("ModelConfiguration") or {})), escape(throughput_text(m, d)),
                         escape(latency_text(m, d)), f"{m.get('CpuUtilization', 0):.0f} %",
                         f"{m.get('MemoryUtilization', 0):.0f} %", f"${m.get('CostPerHour', 0):.3f}",
                         escape(cost_text(m, d)), escape("+".join(r.get("BestFor") or [])),
                         escape(tied_text(r, recs)), "no" if sc >= 1 else f"at {sc:g}×",
                         f'<span class="warn">{escape("; ".join(notes))}</span>' if notes else ""])
        parts += ["<h2>Recommendations</h2>", _table(
            ["#", "instance", "count", "environment", "max invocations", "model latency", "cpu", "mem",
             "per hour", "per 1M inferences", "best for", "tied with", "emulated", "notes"], rows, left=2),
            "<p><small>Ranges are 95 % confidence intervals. Rows whose throughput ranges overlap (up to the "
            "rate the search saw fail) are ties: the difference between them is noise, so they are ranked by "
            "price, none of them is best for throughput, and one is best for cost only where its price "
            "difference outweighs that noise.</small></p>",
            "".join(f"<p><small>{escape(line)}</small></p>" for line in price_notes(steps))]
    rows = []
    for s in steps:
        m = s.get("Metrics") or {}
        d = s.get("Details") or {}
        pct = d.get("ModelLatencyPercentilesMs") or {}
        notes = interval_notes(d) if m else []
        rows.append([str(s["StepIndex"] + 1), f'<span class="{escape(s["Status"])}">{escape(s["Status"])}</span>',
                     escape(endpoint_label(s["EndpointConfiguration"])), escape(_env(s.get("ModelConfiguration") or {})),
                     escape(throughput_text(m, d)), escape(latency_text(m, d)),
                     " / ".join(f"{pct[p]:.1f}" for p in ("P50", "P90", "P95", "P99") if p in pct) or "-",
                     f"{s.get('EmulationScale', 1.0):g}", escape(str(d.get("Enforcement") or "-")),
                     escape(s.get("FailureReason") or "") + (
                         f'<span class="warn">{escape("; ".join(notes))}</span>' if notes else "")])
    parts += ["<h2>Benchmark steps</h2>", _table(
        ["#", "status", "instance", "environment", "max invocations", "model latency", "P50/P90/P95/P99 ms",
         "scale", "enforcement", "reason / notes"], rows, left=4)]
    for s in steps:
        d = s.get("Details") or {}
        trials = d.get("Trials") or []
        if trials:
            keys = list(trials[0])
            parts += [f"<h3>Step {s['StepIndex'] + 1}: rate search on {escape(s['EndpointConfiguration']['InstanceType'])}"
                      "</h3>", _table(keys, [[escape(str(t.get(k, ""))) for k in keys] for t in trials], left=0)]
        hold = _hold_text(s.get("Metrics") or {}, d)
        if hold:
            parts.append(f"<p>Step {s['StepIndex'] + 1} ({escape(s['EndpointConfiguration']['InstanceType'])}), "
                         f"{escape(hold)}</p>")
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


def _hold_text(metrics: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """One line on the confirmation hold the throughput interval comes from."""
    iv = details.get("MaxInvocationsInterval")
    if not isinstance(iv, Mapping) or not metrics:
        return ""
    parts = [f"confirmation hold: {throughput_text(metrics, details)}"]
    if isinstance(iv.get("Windows"), int):
        parts.append(f"{iv['Windows']} windows")
    hw = iv.get("HalfWidthPercent")
    if isinstance(hw, int | float) and hw == hw and hw != float("inf"):
        parts.append(f"±{hw:.1f} %")
    parts.append("converged" if iv.get("Converged") is not False else "")
    parts += interval_notes(details)
    lat = latency_text(metrics, details)
    if lat != "-":
        parts.append(f"model latency {lat}")
    return ", ".join(p for p in parts if p) + "."


def jobs_index(jobs: list[dict[str, Any]]) -> str:
    rows = [[f'<a href="/ui/jobs/{escape(j["JobName"])}">{escape(j["JobName"])}</a>', escape(j["JobType"]),
             f'<span class="{escape(j["Status"])}">{escape(j["Status"])}</span>', _ts(j.get("CreationTime")),
             escape((j.get("FailureReason") or "")[:120])] for j in jobs]
    table = _table(["job", "type", "status", "created", "failure"], rows, left=5)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>infrec jobs</title><style>{_STYLE}</style>"
            f"</head><body><h1>Recommendation jobs</h1>{table}</body></html>")
