"""`infrec jobs list | describe | steps | report | export | stop`: the recommendation jobs, embedded or
remote (report and export read infrec's own detail, so they run embedded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from infrec.cli.backend import ENDPOINT_OPTION, BackendError, EmbeddedBackend, fail, open_backend
from infrec.cli.recommend import step_intervals_table, uncertainty_table
from infrec.report.tables import recommendations_table, steps_table

app = typer.Typer(help="Inspect and stop recommendation jobs.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 150)


def _ts(v: Any) -> str:
    from datetime import datetime

    if v is None:
        return "-"
    if isinstance(v, int | float):
        return datetime.fromtimestamp(v).strftime("%Y-%m-%d %H:%M:%S")
    return str(v)[:19]


@app.command("list")
def list_jobs(endpoint_url: str | None = ENDPOINT_OPTION,
              status: str | None = typer.Option(None, help="Only jobs in this status."),
              name_contains: str | None = typer.Option(None, help="Only jobs whose name contains this.")) -> None:
    """List recommendation jobs, newest first."""
    backend = open_backend(endpoint_url)
    req: dict[str, Any] = {"MaxResults": 100}
    if status:
        req["StatusEquals"] = status.upper()
    if name_contains:
        req["NameContains"] = name_contains
    jobs: list[dict[str, Any]] = []
    try:
        for _ in range(1000):  # pages of 100; bounded
            page = backend.call("ListInferenceRecommendationsJobs", req)
            jobs.extend(page["InferenceRecommendationsJobs"])
            if not page.get("NextToken"):
                break
            req["NextToken"] = page["NextToken"]
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()
    t = Table(title="Recommendation jobs")
    for col in ("name", "type", "status", "created", "completed", "failure"):
        t.add_column(col)
    for j in jobs:
        t.add_row(j["JobName"], j["JobType"], j["Status"], _ts(j.get("CreationTime")), _ts(j.get("CompletionTime")),
                  (j.get("FailureReason") or "")[:60])
    console.print(t)


@app.command("describe")
def describe(name: str, endpoint_url: str | None = ENDPOINT_OPTION,
             as_json: bool = typer.Option(False, "--json", help="Print the full description as JSON.")) -> None:
    """Show a job, its recommendations and (embedded) infrec's extra detail such as the VPC report."""
    backend = open_backend(endpoint_url)
    try:
        job = backend.call("DescribeInferenceRecommendationsJob", {"JobName": name})
        details = backend.job_details(name)
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()
    if as_json:
        typer.echo(json.dumps({"Job": job, "Details": details}, indent=2, default=str))
        return
    console.print(f"[bold]{job['JobName']}[/] {job['JobType']} job: [bold]{job['Status']}[/]")
    if job.get("FailureReason"):
        console.print(f"[red]failure:[/] {job['FailureReason']}")
    if details:
        waiting = ((details.get("Result") or {}).get("HostLock") or {}).get("Waiting")
        if waiting and job["Status"] in ("PENDING", "IN_PROGRESS"):
            console.print(f"[yellow]{waiting}[/]")
        vpc = (details.get("Result") or {}).get("VpcPreflight")
        if vpc:
            render_vpc(vpc)
    recs = job.get("InferenceRecommendations") or []
    steps = details["Steps"] if details else None
    if recs:
        console.print(recommendations_table(recs, steps))
        ties = uncertainty_table(recs, steps)
        if ties is not None:
            console.print(ties)
    if steps is not None:
        console.print(steps_table(steps))
        nodes = nodes_table(steps)
        if nodes is not None:
            console.print(nodes)
        holds = step_intervals_table(steps)
        if holds is not None:
            console.print(holds)


def nodes_table(steps: list[dict[str, Any]]) -> Table | None:
    """Where each step's endpoint ran, when that was a Ray node (Details.Node); None otherwise."""
    rows = [(str(i), s.get("Status", "?"), str((s.get("EndpointConfiguration") or {}).get("InstanceType", "?")),
             str(node.get("Id", "?")), str(node.get("Address", "?")))
            for i, s in enumerate(steps, 1) if (node := (s.get("Details") or {}).get("Node"))]
    if not rows:
        return None
    t = Table(title="Where the steps ran (Ray nodes)")
    for col in ("#", "status", "instance", "node id", "address"):
        t.add_column(col)
    for row in rows:
        t.add_row(*row)
    return t


def render_vpc(report: dict[str, Any]) -> None:
    t = Table(title="VPC preflight")
    for col in ("check", "status", "resources", "detail / fix"):
        t.add_column(col)
    for f in report.get("checks") or report.get("findings") or []:
        res = f.get("resources") or []
        detail = f.get("message", "")
        if f.get("remedy") and f.get("status") in ("fail", "warn"):
            detail += f" — fix: {f['remedy']}"
        t.add_row(str(f.get("id")), str(f.get("status")), ", ".join(map(str, res)), detail)
    console.print(t)
    for note in report.get("notes") or []:
        console.print(f"[dim]{note}[/]")


@app.command("steps")
def steps(name: str, endpoint_url: str | None = ENDPOINT_OPTION) -> None:
    """List a job's benchmark steps with their metrics or failure reasons."""
    backend = open_backend(endpoint_url)
    try:
        out = backend.call("ListInferenceRecommendationsJobSteps", {"JobName": name, "MaxResults": 100})
        details = backend.job_details(name)
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()
    console.print(steps_table(details["Steps"] if details else out["Steps"]))
    holds = step_intervals_table(details["Steps"]) if details else None
    if holds is not None:
        console.print(holds)


def _embedded_details(name: str) -> dict[str, Any]:
    """A job's whole record (steps, trials, recommendations), read in process: what report and export
    render. Embedded mode only, where the details are always at hand."""
    backend = open_backend(None)
    try:
        details = backend.job_details(name)
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()
    assert details is not None
    return details


@app.command("report")
def report(name: str, output: Path = typer.Option(..., "--output", "-o", help="HTML file to write.")) -> None:
    """Write a job's report as one self-contained HTML page (embedded mode)."""
    from infrec.report.html import job_report

    details = _embedded_details(name)
    output.write_text(job_report(details), encoding="utf-8")
    console.print(f"wrote {output}")


@app.command("export")
def export_job(name: str,
               fmt: str = typer.Option("csv", "--format", "-f", help="csv (one table: steps, trials, "
                                       "recommendations, told apart by the `record` column) or json."),
               output: Path | None = typer.Option(None, "--output", "-o",
                                                  help="File to write; standard output when omitted.")) -> None:
    """Export a job's steps, trials and recommendations for a spreadsheet or a script (embedded mode)."""
    from infrec.report.export import FORMATS, export

    if fmt not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}, not {fmt!r}", err=True)
        raise typer.Exit(2)
    details = _embedded_details(name)
    text = export(details, fmt)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    Console(stderr=True).print(f"wrote {output}")


@app.command("stop")
def stop(name: str, endpoint_url: str | None = ENDPOINT_OPTION) -> None:
    """Stop a job: its endpoints and load end within seconds."""
    backend = open_backend(endpoint_url)
    try:
        backend.call("StopInferenceRecommendationsJob", {"JobName": name})
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()
    console.print(f"stopping {name}")


@app.command("clean")
def clean(older_than_days: float = typer.Option(
        7.0, "--older-than-days", min=0.0,
        help="Only folders last touched at least this many days ago (0: every ended job's).")) -> None:
    """Remove ended jobs' working folders (extracted models and payloads) from this machine's
    INFREC_HOME. Jobs remove their own when they end (unless INFREC_KEEP_ARTIFACTS=1); this clears
    what was kept or left behind. Results stay in the database; running jobs are never touched."""
    from infrec.core.errors import NotFoundError
    from infrec.jobs import states
    from infrec.jobs.workspace import clean as clean_folders

    backend = open_backend(None)
    try:
        assert isinstance(backend, EmbeddedBackend)
        services = backend.services

        def is_ended(name: str) -> bool:
            try:
                return services.jobs.repo.get(name).status in states.TERMINAL
            except NotFoundError:
                return True   # a folder without a job (deleted, or from another database) is leftover
        removed = clean_folders(services.settings.home, is_ended, older_than_days * 86400.0)
    finally:
        backend.close()
    total = sum(b for _, b in removed)
    for name, freed in removed:
        console.print(f"removed {name} ({freed / 2**20:.1f} MiB)")
    console.print(f"{len(removed)} job folder(s) removed, {total / 2**20:.1f} MiB freed")


@app.command("resume")
def resume(name: str, timeout: int = typer.Option(3600, help="Seconds to watch it before returning.")) -> None:
    """Continue a job a killed infrec process left unfinished, in this process (embedded mode):
    finished steps are kept, the rest run again. Other commands never resume old jobs unasked."""
    from infrec.cli.recommend import finish, watch
    from infrec.core.errors import NotFoundError

    backend = open_backend(None, run_jobs=True)
    try:
        assert isinstance(backend, EmbeddedBackend)
        try:
            why = backend.services.resume_job(name)
        except NotFoundError as exc:
            raise fail(BackendError(exc.code, exc.message)) from exc
        if why:
            typer.echo(f"error: {why}", err=True)
            raise typer.Exit(1)
        console.print(f"resuming {name}")
        finish(backend, watch(backend, name, float(timeout)))
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()
