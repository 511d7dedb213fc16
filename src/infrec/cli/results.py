"""A job's outcome as a person or a program reads it: the recommendations (or the steps, when none
came out), their 95 % confidence intervals and ties, as tables, JSON or tab-separated text."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from infrec.cli.backend import Backend
from infrec.cli.output import Output, print_json, print_text
from infrec.cli.watch import CONSOLE
from infrec.core.recommend import interval
from infrec.core.serverless import endpoint_label
from infrec.report.html import (
    cost_text,
    interval_notes,
    latency_text,
    step_details,
    throughput_text,
    tied_text,
)
from infrec.report.tables import recommendations_table, steps_table


def finish(backend: Backend, job: dict[str, Any], fmt: Output = Output.table) -> None:
    """Print the outcome; a job that did not complete makes the command fail."""
    show_result(backend, job, fmt)
    if job["Status"] != "COMPLETED":
        raise typer.Exit(1)


def show_result(backend: Backend, job: dict[str, Any], fmt: Output = Output.table) -> None:
    details = backend.job_details(job["JobName"])
    if fmt is Output.json:
        print_json(job_document(job, details))
        return
    if fmt is Output.text:
        print_text(recommendation_rows(job))
        return
    recs = job.get("InferenceRecommendations") or []
    steps = details["Steps"] if details else None
    CONSOLE.print(f"job [bold]{job['JobName']}[/]: [bold]{job['Status']}[/]")
    if job.get("FailureReason"):
        CONSOLE.print(f"[red]{job['FailureReason']}[/]")
    if recs:
        CONSOLE.print(recommendations_table(recs, steps))
        ties = uncertainty_table(recs, steps)
        if ties is not None:
            CONSOLE.print(ties)
    elif details:
        CONSOLE.print(steps_table(details["Steps"]))
        holds = step_intervals_table(details["Steps"])
        if holds is not None:
            CONSOLE.print(holds)
    if details and any(s.get("EmulationScale", 1.0) < 1.0 for s in details["Steps"]):
        CONSOLE.print("[dim]Emulated rows ran at the given fraction of the instance's vCPUs (memory is not scaled) "
                      "on this host; throughput is read back to the full instance by one policy "
                      "(core/emulation.py). See `make bench-fidelity` for the error.[/]")


def job_document(job: dict[str, Any], details: dict[str, Any] | None) -> dict[str, Any]:
    """`--output json` of one job: SageMaker's description, and infrec's detail (steps, emulation,
    VPC report) beside it where there is any."""
    return {"Job": job, "Details": None if details is None else {k: v for k, v in details.items() if k != "Job"}}


def recommendation_rows(job: dict[str, Any]) -> list[list[Any]]:
    """`--output text`: one line per recommendation (rank, instance, count, max invocations/min,
    model latency ms, USD/hour, USD per 1M inferences), or the job's name, status and failure."""
    recs = job.get("InferenceRecommendations") or []
    if not recs:
        return [[job["JobName"], job["Status"], job.get("FailureReason")]]
    rows = []
    for i, r in enumerate(recs, 1):
        m, ec = r.get("Metrics") or {}, r.get("EndpointConfiguration") or {}
        cpi = m.get("CostPerInference")
        rows.append([i, ec.get("InstanceType") or endpoint_label(ec), ec.get("InitialInstanceCount", 1),
                     m.get("MaxInvocations"), m.get("ModelLatency"), m.get("CostPerHour"),
                     round(cpi * 1e6, 6) if isinstance(cpi, int | float) else None])
    return rows


def _has_intervals(details: Any) -> bool:
    d = details or {}
    return interval(d, "MaxInvocationsInterval") is not None or d.get("FailedAtInvocations") is not None


def uncertainty_table(recs: list[dict[str, Any]], steps: list[dict[str, Any]] | None) -> Table | None:
    """The recommendations' 95 % confidence intervals and ties, row numbers as in the recommendations
    table; None when there is nothing to add (a job from before intervals, no ties)."""
    details = step_details(recs, steps or [])
    if not any(r.get("TiedWith") for r in recs) and not any(_has_intervals(d) for d in details):
        return None
    t = Table(title="Uncertainty: 95 % confidence intervals; overlapping throughput ranges are ties, "
                    "ranked by price")
    for col, just in (("#", "right"), ("instance", "left"), ("max invocations", "right"),
                      ("model latency", "right"), ("per 1M inferences", "right"), ("tied with", "left"),
                      ("notes", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, (r, d) in enumerate(zip(recs, details, strict=True), 1):
        m = r.get("Metrics") or {}
        t.add_row(str(i), (r.get("EndpointConfiguration") or {}).get("InstanceType", "?"), throughput_text(m, d),
                  latency_text(m, d), cost_text(m, d), tied_text(r, recs), "; ".join(interval_notes(d)))
    return t


def step_intervals_table(steps: list[dict[str, Any]]) -> Table | None:
    """Completed steps' 95 % confidence intervals (steps numbered as in the steps table); None when no
    step has one."""
    if not any(_has_intervals(s.get("Details")) for s in steps):
        return None
    t = Table(title="Steps: 95 % confidence intervals (of the measured capacity; with a latency goal, of the "
                    "confirmation hold)")
    for col, just in (("#", "right"), ("instance", "left"), ("max invocations", "right"),
                      ("model latency", "right"), ("notes", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, s in enumerate(steps, 1):
        m, d = s.get("Metrics") or {}, s.get("Details")
        if not m:
            continue
        t.add_row(str(i), (s.get("EndpointConfiguration") or {}).get("InstanceType", "?"), throughput_text(m, d),
                  latency_text(m, d), "; ".join(interval_notes(d)))
    return t


