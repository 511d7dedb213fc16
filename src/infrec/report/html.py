"""A job's report as one self-contained HTML page (inline SVG plots, no external assets, no script in
the saved file), so it can be mailed, archived or opened offline; the same page is served at
/ui/jobs/<name>. Pure: it renders the data `JobService.job_details` returns."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from infrec.core.recommend import cost_range, interval
from infrec.core.scaling import recommend_scaling
from infrec.core.serverless import endpoint_label
from infrec.report.export import export
from infrec.report.figures import (
    config_label,
    cost_chart,
    latency_chart,
    timeline_lanes,
    trial_latencies,
    trial_load,
    utilisation_chart,
)
from infrec.report.page import badge, document, table
from infrec.report.plots import render, timeline

ACTIVE_JOB = ("PENDING", "IN_PROGRESS", "STOPPING")
TERMINAL_STEP = ("COMPLETED", "FAILED", "STOPPED")


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


def _metric_text(metrics: Mapping[str, Any], details: Mapping[str, Any] | None, metric: str, unit: str,
                 bound: Callable[[float], str], bound_unit: str) -> str:
    """A metric with its unit and, where the step has one, its `<metric>Interval` after it; `-` when
    the step has no such metric. Every metric reads the same way in the report."""
    if metric not in metrics:
        return "-"
    text = f"{number(metrics[metric])}{unit}"
    iv = interval(details, f"{metric}Interval")
    if iv:
        text += f" ({_level(details, f'{metric}Interval')} {bound(iv[0])}–{bound(iv[1])}{bound_unit})"
    return text


def throughput_text(metrics: Mapping[str, Any], details: Mapping[str, Any] | None) -> str:
    """`26,360/min (95 % CI 25,900–26,800)`; `26,360/min` for a step without an interval; `-` without
    MaxInvocations."""
    return _metric_text(metrics, details, "MaxInvocations", "/min", number, "")


def latency_text(metrics: Mapping[str, Any], details: Mapping[str, Any] | None) -> str:
    """`13 ms (95 % CI 12.1–13.4 ms)`; `13 ms` without an interval; `-` without ModelLatency."""
    return _metric_text(metrics, details, "ModelLatency", " ms", _ms, " ms")


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


def _n(v: Any, fmt: str = "{:,.0f}") -> str:
    return fmt.format(v) if isinstance(v, int | float) and not isinstance(v, bool) else "-"


@dataclass(frozen=True)
class WebPage:
    """How a report is served by `infrec serve` rather than saved as a file: its actions (export,
    stop) go to the /ui routes, and a running job's progress is kept live by `script` (static text
    the web layer allows by its hash), which reads the `data-live-*` attributes written here."""

    script: str | None = None
    stop_allowed: bool = True


def job_url(name: str, suffix: str = "") -> str:
    return f"/ui/jobs/{quote(name, safe='')}{suffix}"


def _download(details: dict[str, Any], fmt: str, web: WebPage | None) -> str:
    name = details["Job"]["JobName"]
    if web is not None:
        href = job_url(name, f"/export.{fmt}")
    else:   # a saved file has no server to ask: the export travels inside it
        mime = "text/csv" if fmt == "csv" else "application/json"
        href = f"data:{mime};charset=utf-8;base64," + base64.b64encode(export(details, fmt).encode()).decode()
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return f'<a class="btn" href="{escape(href)}" download="{escape(safe)}.{fmt}">Export {fmt.upper()}</a>'


def _kpis(job: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    recs = job.get("InferenceRecommendations") or []
    by_ep = {(s.get("EndpointConfiguration") or {}).get("EndpointName"): s for s in steps}
    done = sum(1 for s in steps if s.get("Status") in TERMINAL_STEP)
    cards = [("steps", f"{done} of {len(steps)} ended",
              f"{sum(1 for s in steps if s.get('Status') == 'COMPLETED')} completed")]
    if recs:
        r = recs[0]
        m = r.get("Metrics") or {}
        d = (by_ep.get((r.get("EndpointConfiguration") or {}).get("EndpointName")) or {}).get("Details")
        cards = [("recommended", escape(endpoint_label(r["EndpointConfiguration"])),
                  escape(_env(r.get("ModelConfiguration") or {})) if r.get("ModelConfiguration") else ""),
                 ("max invocations", escape(f"{number(m['MaxInvocations'])}/min") if "MaxInvocations" in m else "-",
                  escape(throughput_text(m, d).partition(" (")[2].rstrip(")"))),
                 ("model latency", escape(f"{number(m['ModelLatency'])} ms") if "ModelLatency" in m else "-",
                  escape(latency_text(m, d).partition(" (")[2].rstrip(")"))),
                 ("per 1M inferences", escape(cost_text(m, d).partition(" (")[0]),
                  f"${m.get('CostPerHour', 0):.3f}/hour"), *cards]
    return '<div class="kpis">' + "".join(
        f'<div class="kpi"><small>{label}</small><b>{value}</b><small>{sub}</small></div>'
        for label, value, sub in cards) + "</div>"


def live_block(name: str, summary: Mapping[str, Any], reload_on_step: bool = False) -> str:
    """A running job's progress, server-rendered; the web page's script refreshes it in place (and
    reloads the page when the job's status changes, or with `reload_on_step` when a step ends)."""
    pct = float(summary.get("Percent") or 0.0)
    again = " data-reload-on-step" if reload_on_step else ""
    return (f'<div class="live"{again} data-live-job="{escape(name)}" data-done="{int(summary.get("Done") or 0)}" '
            f'data-status="{escape(str(summary.get("Status")))}">'
            f'<div class="bar" title="steps ended"><span style="width:{pct:.0f}%"></span></div>'
            f'<span data-live-text>{escape(str(summary.get("Text") or ""))}</span></div>')


def _recommendations(recs: list[dict[str, Any]], steps: list[dict[str, Any]]) -> list[str]:
    scale = {s["EndpointConfiguration"].get("EndpointName"): s.get("EmulationScale", 1.0) for s in steps}
    rows = []
    for i, (r, d) in enumerate(zip(recs, step_details(recs, steps), strict=True), 1):
        m, ec = r.get("Metrics") or {}, r["EndpointConfiguration"]
        sc = scale.get(ec.get("EndpointName"), 1.0)
        notes = interval_notes(d)
        rows.append([str(i), escape(endpoint_label(ec)), str(ec.get("InitialInstanceCount", 1)),
                     escape(_env(r.get("ModelConfiguration") or {})), escape(throughput_text(m, d)),
                     escape(latency_text(m, d)), f"{m.get('CpuUtilization', 0):.0f} %",
                     f"{m.get('MemoryUtilization', 0):.0f} %", f"${m.get('CostPerHour', 0):.3f}",
                     escape(cost_text(m, d)), _n(m.get("ModelSetupTime"), "{:g} s"),
                     escape("+".join(r.get("BestFor") or [])), escape(tied_text(r, recs)),
                     "no" if sc >= 1 else f"at {sc:g}×",
                     f'<span class="warn">{escape("; ".join(notes))}</span>' if notes else ""])
    return ['<h2 id="recommendations">Recommendations</h2>', table(
        ["#", "instance", "count", "environment", "max invocations", "model latency", "cpu", "mem",
         "per hour", "per 1M inferences", "setup", "best for", "tied with", "emulated", "notes"], rows, left=2,
        wrap=(14,), narrow=(4, 5, 9)),
        "<p><small>Ranges are 95 % confidence intervals. Rows whose throughput ranges overlap (up to the "
        "rate the search saw fail) are ties: the difference between them is noise, so they are ranked by "
        "price, none of them is best for throughput, and one is best for cost only where its price "
        "difference outweighs that noise.</small></p>",
        "".join(f"<p><small>{escape(line)}</small></p>" for line in price_notes(steps))]


def _scaling(job: dict[str, Any]) -> list[str]:
    """GetScalingConfigurationRecommendation's advice for each recommendation, at its defaults."""
    if job.get("Status") != "COMPLETED":
        return []
    rows = []
    for i, r in enumerate(job.get("InferenceRecommendations") or [], 1):
        if r["EndpointConfiguration"].get("ServerlessConfig"):
            continue
        try:
            adv = recommend_scaling(job["JobName"], r)
        except ValueError:
            continue
        dyn = adv["DynamicScalingConfiguration"]
        target = dyn["ScalingPolicies"][0]["TargetTracking"]["TargetValue"]
        rows.append([str(i), escape(endpoint_label(r["EndpointConfiguration"])), f"{target:,.0f}/min per instance",
                     f"{dyn['MinCapacity']}–{dyn['MaxCapacity']}", f"{dyn['ScaleOutCooldown']} s",
                     f"{dyn['ScaleInCooldown']} s", f"{adv['TargetCpuUtilizationPerCore']} %"])
    if not rows:
        return []
    return ['<h2 id="scaling">Scaling advice</h2>',
            "<p>Target tracking on SageMakerVariantInvocationsPerInstance (what "
            "<code>GetScalingConfigurationRecommendation</code> answers with its defaults; give it your expected "
            "traffic as ScalingPolicyObjective for the capacity bounds).</p>",
            table(["#", "instance", "target value", "instances", "scale-out cooldown", "scale-in cooldown",
                   "CPU target per core"], rows, left=2)]


def _charts(job: dict[str, Any], steps: list[dict[str, Any]], now: float) -> list[str]:
    parts: list[str] = []
    recs = job.get("InferenceRecommendations") or []
    cost = cost_chart(steps, recs)
    lanes, total = timeline_lanes(steps, now)
    top = []
    if cost is not None:
        top.append('<div class="card"><h3>Cost against latency</h3>'
                   "<p><small>Each measured configuration at its ModelLatency and cost per million inferences "
                   "(bars: 95 % confidence intervals). On the Pareto front no other configuration is both cheaper "
                   "and faster; the ring is the top recommendation.</small></p>" + render(cost) + "</div>")
    if lanes:
        top.append('<div class="card"><h3>Timeline of the steps</h3><p><small>Endpoint setup, then each trial '
                   "by phase; hover a bar for its figures.</small></p>" + timeline("timeline", lanes, total) + "</div>")
    if top:
        parts += ['<h2 id="plots">Overview</h2>', f'<div class="grid">{"".join(top)}</div>']
    cards = []
    for s in steps:
        lat, util = latency_chart(s, job), utilisation_chart(s)
        if lat is None and util is None:
            continue
        idx = s["StepIndex"] + 1
        body = f'<div class="card" id="step-{idx}"><h3>Step {idx}: {escape(config_label(s))} {badge(s["Status"])}</h3>'
        body += '<div class="pair">'
        if lat is not None:
            body += ("<div><p><small>Latency percentiles of every trial against the throughput it achieved, in "
                     "invocations per minute read back to the full instance (faded, off the line: a trial that did "
                     "not pass); "
                     "the vertical line is the measured MaxInvocations, shaded across its confidence interval."
                     "</small></p>" + render(lat) + "</div>")
        if util is not None:
            body += ("<div><p><small>The endpoint's CPU and memory utilisation during each trial, in % of the "
                     "instance's.</small></p>" + render(util) + "</div>")
        cards.append(body + "</div></div>")
    if cards:
        parts += ['<h2 id="configurations">Each configuration under load</h2>', f'<div class="grid">{"".join(cards)}</div>']
    return parts


def _steps(steps: list[dict[str, Any]]) -> list[str]:
    rows = []
    for s in steps:
        m = s.get("Metrics") or {}
        d = s.get("Details") or {}
        pct = d.get("ModelLatencyPercentilesMs") or {}
        notes = interval_notes(d) if m else []
        rows.append([str(s["StepIndex"] + 1), badge(s["Status"]),
                     escape(endpoint_label(s["EndpointConfiguration"])), escape(_env(s.get("ModelConfiguration") or {})),
                     escape(throughput_text(m, d)), escape(latency_text(m, d)),
                     " / ".join(f"{pct[p]:.1f}" for p in ("P50", "P90", "P95", "P99") if p in pct) or "-",
                     f"{s.get('EmulationScale', 1.0):g}", escape(str(d.get("Enforcement") or "-")),
                     escape(s.get("FailureReason") or "") + (
                         f'<span class="warn">{escape("; ".join(notes))}</span>' if notes else "")])
    parts = ['<h2 id="steps">Benchmark steps</h2>', table(
        ["#", "status", "instance", "environment", "max invocations", "model latency", "P50/P90/P95/P99 ms",
         "scale", "enforcement", "reason / notes"], rows, left=4, wrap=(9,), narrow=(4, 5))]
    for s in steps:
        d = s.get("Details") or {}
        ts = d.get("Trials") or []
        label = escape(config_label(s))
        if ts:
            trows = []
            for i, t in enumerate(ts):
                lat = trial_latencies(t)
                load = trial_load(s, t)
                trows.append([str(i + 1), escape(str(t.get("Phase") or "-")),
                              _n(t.get("TargetRps"), "{:,.1f}") if t.get("TargetRps") else _n(t.get("Users"), "{} users"),
                              _n(t.get("AchievedRps"), "{:,.1f}"), _n(load), _n(100 * float(t.get("ErrorRate") or 0),
                                                                               "{:.2f} %"),
                              *(_n(lat.get(p), "{:,.1f}") for p in ("P50", "P95", "P99")),
                              _n(t.get("CpuUtilization"), "{:.0f} %"), _n(t.get("MemoryUtilization"), "{:.1f} %"),
                              _n(t.get("Seconds"), "{:g} s"), escape(str(t.get("Verdict", "")))])
            parts.append(f"<details><summary>Step {s['StepIndex'] + 1}: rate search on {label} — {len(ts)} trials"
                         "</summary>" + table(
                             ["#", "phase", "offered req/s", "achieved req/s", "invocations/min", "errors",
                              "P50 ms", "P95 ms", "P99 ms", "cpu", "mem", "measured", "verdict"], trows, left=2)
                         + "</details>")
        hold = _hold_text(s.get("Metrics") or {}, d)
        if hold:
            parts.append(f"<p><small>Step {s['StepIndex'] + 1} ({label}), {escape(hold)}</small></p>")
    return parts


def _vpc(result: dict[str, Any]) -> list[str]:
    vpc = result.get("VpcPreflight")
    if not vpc:
        return []
    rows = [[escape(str(c.get("id"))), f'<span class="{escape(str(c.get("status")))}">{escape(str(c.get("status")))}'
             "</span>", escape(", ".join(map(str, c.get("resources") or []))),
             escape(c.get("message", "")) + (f"<br><small>fix: {escape(c['remedy'])}</small>"
                                             if c.get("remedy") and c.get("status") in ("fail", "warn") else "")]
            for c in vpc.get("checks") or []]
    return ['<h2 id="vpc">VPC preflight</h2>', table(["check", "status", "resources", "detail"], rows, left=3,
                                                     wrap=(3,)),
            *(f"<p><small>{escape(n)}</small></p>" for n in vpc.get("notes") or [])]


def job_report(details: dict[str, Any], *, web: WebPage | None = None, now: float | None = None) -> str:
    """The whole report: summary, plots, tables, scaling advice, VPC findings. Without `web`, a
    self-contained file (its exports embedded); with it, the /ui page (exports and stop by the server)."""
    from infrec.report.dashboard import progress_summary

    job = details["Job"]
    steps = details["Steps"]
    result = details.get("Result") or {}
    now = time.time() if now is None else now
    name = job["JobName"]
    active = job["Status"] in ACTIVE_JOB
    nav = '<p><a href="/ui">← all jobs</a></p>' if web is not None else ""
    parts = [nav, f"<h1>{escape(name)}</h1>",
             f"<p>{escape(job['JobType'])} job {badge(job['Status'])} — created {_ts(job.get('CreationTime'))}, "
             f"ended {_ts(job.get('CompletionTime'))}"
             + (f" — model {escape(str(job.get('ModelName') or ''))}" if job.get("ModelName") else "") + "</p>"]
    if job.get("FailureReason"):
        parts.append(f'<p class="fail">{escape(job["FailureReason"])}</p>')
    actions = [_download(details, "csv", web), _download(details, "json", web)]
    if web is not None and active and web.stop_allowed:
        actions.append(f'<form class="inline" method="post" action="{escape(job_url(name, "/stop"))}">'
                       '<button class="stop" type="submit">Stop job</button></form>')
    parts.append(f'<div class="actions">{"".join(actions)}</div>')
    if active:
        parts.append(live_block(name, progress_summary(details), reload_on_step=True))
    parts.append(_kpis(job, steps))
    parts += _charts(job, steps, now)
    recs = job.get("InferenceRecommendations") or []
    if recs:
        parts += _recommendations(recs, steps)
    parts += _scaling(job)
    parts += _steps(steps)
    parts += _vpc(result)
    parts.append(f"<p><small>infrec report, written {_ts(now)}.</small></p>")
    return document(f"{name} — infrec", "\n".join(parts), script=web.script if web is not None else None)


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
