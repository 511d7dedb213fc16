"""The dashboard's pages: the job list (filters, live progress, stop, pick jobs to compare) and the
comparison of two or more jobs side by side. Pure, like `report.html`: the web layer hands in what
the job service returned and serves the markup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from infrec.core.serverless import endpoint_label
from infrec.report.figures import config_label, cost_chart, measured
from infrec.report.html import (
    ACTIVE_JOB,
    TERMINAL_STEP,
    WebPage,
    _ts,
    cost_text,
    job_url,
    latency_text,
    live_block,
    number,
    step_details,
    throughput_text,
)
from infrec.report.page import badge, document, table
from infrec.report.plots import render

STATUSES = ("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPING", "STOPPED")
JOB_TYPES = ("Default", "Advanced")


def progress_summary(details: Mapping[str, Any]) -> dict[str, Any]:
    """How far a job is: steps ended of all, and one line on what runs now (phase, rate, P95,
    errors), as the CLI's live view shows it. Also what the web page's script polls."""
    job = details["Job"]
    steps = details.get("Steps") or []
    done = sum(1 for s in steps if s.get("Status") in TERMINAL_STEP)
    total = len(steps)
    text = f"{done} of {total} steps ended"
    for s in steps:
        if s.get("Status") != "IN_PROGRESS":
            continue
        p = s.get("Progress") or {}
        now = f"step {s.get('StepIndex', 0) + 1} ({config_label(s)})"
        if p.get("Waiting"):
            now += f": {p['Waiting']}"
        elif p:
            now += (f": {p.get('Phase') or 'running'}, {float(p.get('Rate') or 0):,.0f} req/s"
                    + (f" (target {float(p['TargetRate']):,.0f})" if p.get("TargetRate") else "")
                    + (f", P95 {float(p['P95Ms']):,.1f} ms" if p.get("P95Ms") is not None else "")
                    + f", errors {p.get('Errors', 0)}")
        else:
            now += ": starting"
        text += f" — {now}"
        break
    pct = 100.0 if job.get("Status") not in ACTIVE_JOB else (100.0 * done / total if total else 0.0)
    return {"JobName": job["JobName"], "Status": job.get("Status"), "Done": done, "Total": total,
            "Percent": round(pct, 1), "Text": text}


def _filters(status: str | None, name_contains: str | None, job_type: str | None) -> str:
    def options(values: Sequence[str], chosen: str | None) -> str:
        return '<option value="">any</option>' + "".join(
            f'<option value="{v}"{" selected" if v == chosen else ""}>{v}</option>' for v in values)
    return ('<form class="filters" method="get" action="/ui">'
            f'<label>name contains<input type="search" name="name" value="{escape(name_contains or "")}"></label>'
            f'<label>status<select name="status">{options(STATUSES, status)}</select></label>'
            f'<label>type<select name="type">{options(JOB_TYPES, job_type)}</select></label>'
            '<button type="submit">Filter</button><a class="btn" href="/ui">Clear</a></form>')


def jobs_index(jobs: list[dict[str, Any]], progress: Mapping[str, Mapping[str, Any]] | None = None, *,
               web: WebPage | None = None, status: str | None = None, name_contains: str | None = None,
               job_type: str | None = None) -> str:
    """The job list. `progress` (job name → progress_summary) is given for the running jobs; their
    rows show it, with a stop button, and the page's script keeps it current."""
    progress = progress or {}
    rows = []
    for j in jobs:
        name = j["JobName"]
        active = j["Status"] in ACTIVE_JOB
        prog = progress.get(name)
        cell = live_block(name, prog) if active and prog is not None else ""
        stop = (f'<form class="inline" method="post" action="{escape(job_url(name, "/stop"))}">'
                f'<button class="stop" type="submit" aria-label="stop {escape(name)}">Stop</button></form>'
                if active and j["Status"] != "STOPPING" else "")
        created, ended = j.get("CreationTime"), j.get("CompletionTime")
        took = (f"{(ended - created) / 60:.1f} min" if isinstance(created, int | float) and isinstance(ended, int | float)
                else "-")
        rows.append([f'<input type="checkbox" name="job" value="{escape(name)}" form="compare" '
                     f'aria-label="compare {escape(name)}">',
                     f'<a href="{escape(job_url(name))}">{escape(name)}</a>', escape(j["JobType"]), badge(j["Status"]),
                     cell, _ts(created), took, stop, escape((j.get("FailureReason") or "")[:160])])
    listing = (table(["", "job", "type", "status", "progress", "created", "took", "", "failure"], rows, left=4,
                     wrap=(4, 8)) if rows else "<p>No job matches.</p>")
    body = ("<h1>Recommendation jobs</h1>" + _filters(status, name_contains, job_type)
            + '<form id="compare" class="actions" method="get" action="/ui/compare">'
              '<button type="submit">Compare selected jobs</button>'
              '<small>tick two or more jobs</small></form>' + listing)
    return document("infrec jobs", body, script=web.script if web is not None else None)


def _best(job: Mapping[str, Any]) -> Mapping[str, Any] | None:
    recs = job.get("InferenceRecommendations") or []
    return recs[0] if recs else None


def compare_page(all_details: list[dict[str, Any]]) -> str:
    """Jobs side by side: a summary column each, every configuration's figures across the jobs
    (matched by configuration, with the change against the first job), and one cost/latency chart
    with each job's configurations as its own series."""
    names = [d["Job"]["JobName"] for d in all_details]
    head = ["", *names]
    summary: list[list[str]] = []

    def row(label: str, cells: list[str]) -> None:
        summary.append([escape(label), *cells])

    row("status", [badge(d["Job"]["Status"]) for d in all_details])
    row("type", [escape(d["Job"]["JobType"]) for d in all_details])
    row("model", [escape(str(d["Job"].get("ModelName") or _package(d["Job"]) or "-")) for d in all_details])
    row("created", [_ts(d["Job"].get("CreationTime")) for d in all_details])
    row("steps", [f"{sum(1 for s in d['Steps'] if s.get('Status') == 'COMPLETED')} of {len(d['Steps'])} completed"
                  for d in all_details])
    bests = [_best(d["Job"]) for d in all_details]
    details_of = [step_details([dict(b)], d["Steps"])[0] if b else None for b, d in zip(bests, all_details, strict=True)]
    row("recommended", [escape(endpoint_label(b["EndpointConfiguration"])) if b else "-" for b in bests])
    row("max invocations", [escape(throughput_text(b.get("Metrics") or {}, dd)) if b else "-"
                            for b, dd in zip(bests, details_of, strict=True)])
    row("model latency", [escape(latency_text(b.get("Metrics") or {}, dd)) if b else "-"
                          for b, dd in zip(bests, details_of, strict=True)])
    row("per 1M inferences", [escape(cost_text(b.get("Metrics") or {}, dd)) if b else "-"
                              for b, dd in zip(bests, details_of, strict=True)])
    links = "".join(f'<a class="btn" href="{escape(job_url(n))}">{escape(n)}</a>' for n in names)
    parts = ['<p><a href="/ui">← all jobs</a></p>', f"<h1>Comparing {len(names)} jobs</h1>",
             f'<div class="actions">{links}</div>', "<h2>Summary</h2>", table(head, summary, left=1, wrap=())]

    configs: dict[str, dict[int, Mapping[str, Any]]] = {}
    for i, d in enumerate(all_details):
        for s in d["Steps"]:
            configs.setdefault(config_label(s), {})[i] = s
    crows = []
    for label, by_job in configs.items():
        cells = [escape(label)]
        base = by_job.get(0)
        for i in range(len(all_details)):
            s = by_job.get(i)
            m = (s or {}).get("Metrics") or {}
            if s is None:
                cells.append("-")
                continue
            if not m:
                cells.append(badge(str(s.get("Status"))))
                continue
            text = (f"{number(m['MaxInvocations'])}/min · {number(m.get('ModelLatency', 0))} ms · "
                    f"${float(m.get('CostPerInference', 0)) * 1e6:.3f}/1M")
            bm = (base or {}).get("Metrics") or {}
            if i > 0 and bm.get("MaxInvocations"):
                change = 100.0 * (m["MaxInvocations"] - bm["MaxInvocations"]) / bm["MaxInvocations"]
                text += f" ({change:+.1f} % throughput)"
            cells.append(escape(text))
        crows.append(cells)
    parts += ["<h2>Configurations across the jobs</h2>",
              "<p><small>Max invocations per minute · model latency · cost per million inferences; the change "
              "is against the first job's same configuration. Overlapping confidence intervals (see each job's "
              "report) mean a difference is noise.</small></p>",
              table(["configuration", *names], crows, left=1)]

    steps: list[Mapping[str, Any]] = []
    owners: dict[int, str] = {}
    for d in all_details:
        for s in measured(d["Steps"]):
            owners[len(steps)] = d["Job"]["JobName"]
            steps.append(s)
    chart = cost_chart(steps, [], plot_id="compare-cost", label_jobs=owners)
    if chart is not None:
        parts += ["<h2>Cost against latency</h2>", '<div class="grid one"><div class="card">'
                  "<p><small>Every measured configuration of each job (marker per job); the Pareto front across "
                  "all of them.</small></p>" + render(chart) + "</div></div>"]
    return document("compare jobs — infrec", "\n".join(parts))


def _package(job: Mapping[str, Any]) -> str:
    arn = (job.get("InputConfig") or {}).get("ModelPackageVersionArn") or ""
    return str(arn).rpartition("model-package/")[2]

