"""`infrec jobs list | describe | steps | watch | report | export | stop | clean | resume`: the
recommendation jobs, the same embedded and against a server (`--endpoint-url`): report and export
come from the server's own pages there. A job name that is not found is answered with the closest
names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from infrec.cli.arguments import JOB_NAME
from infrec.cli.backend import ENDPOINT_OPTION, Backend, BackendError, EmbeddedBackend, fail, open_backend
from infrec.cli.errors import did_you_mean, failed, usage
from infrec.cli.output import OUTPUT_OPTION, Output, chosen, print_json, print_text
from infrec.cli.results import (
    finish,
    job_document,
    recommendation_rows,
    step_intervals_table,
    uncertainty_table,
)
from infrec.cli.watch import watch
from infrec.report.tables import recommendations_table, steps_table

app = typer.Typer(help="Inspect, follow, export and stop recommendation jobs.", no_args_is_help=True)
console = Console(width=None if Console().is_terminal else 150)
STATUSES = ("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPING", "STOPPED", "DELETING", "DELETED")
NAME_ARGUMENT: Any = typer.Argument(..., help="The job's name.")


def _ts(v: Any) -> str:
    from datetime import datetime

    if v is None:
        return "-"
    if isinstance(v, int | float):
        return datetime.fromtimestamp(v).strftime("%Y-%m-%d %H:%M:%S")
    return str(v)[:19]


def _checked(name: str) -> str:
    """A job name as SageMaker allows it; anything else is refused before a call."""
    if not JOB_NAME.fullmatch(name):
        raise usage(f"NAME {name!r} is not a job name (1 to 64 letters, digits and hyphens)")
    return name


def _open_for(name: str, endpoint_url: str | None, run_jobs: bool = False) -> Backend:
    """The backend for a command on job `name`, once the name is known to be one."""
    _checked(name)
    return open_backend(endpoint_url, run_jobs=run_jobs)


def job_names(backend: Backend, contains: str | None = None) -> list[str]:
    req: dict[str, Any] = {"MaxResults": 100}
    if contains:
        req["NameContains"] = contains
    return [j["JobName"] for j in backend.call("ListInferenceRecommendationsJobs", req)["InferenceRecommendationsJobs"]]


def job_failure(backend: Backend, exc: BackendError, name: str) -> typer.Exit:
    """The refusal, with the closest job names when the job was not found (one list call)."""
    if exc.code == "ResourceNotFound":
        try:
            hint = did_you_mean(name, job_names(backend))
        except BackendError:
            hint = ""
        return failed(f"job {name!r} not found (ResourceNotFound){hint or '; `infrec jobs list` shows the jobs'}")
    return fail(exc)


@app.command("list")
def list_jobs(endpoint_url: str | None = ENDPOINT_OPTION,
              status: str | None = typer.Option(None, help=f"Only jobs in this status ({', '.join(STATUSES)})."),
              name_contains: str | None = typer.Option(None, help="Only jobs whose name contains this."),
              output: Output | None = OUTPUT_OPTION) -> None:
    """List recommendation jobs, newest first."""
    req: dict[str, Any] = {"MaxResults": 100}
    if status:
        if status.upper() not in STATUSES:
            raise usage(f"--status {status!r} is not a job status{did_you_mean(status.upper(), STATUSES)} "
                        f"(one of {', '.join(STATUSES)})")
        req["StatusEquals"] = status.upper()
    if name_contains:
        req["NameContains"] = name_contains
    backend = open_backend(endpoint_url)
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
    fmt = chosen(output)
    if fmt is Output.json:
        print_json({"InferenceRecommendationsJobs": jobs})
        return
    if fmt is Output.text:
        print_text([j["JobName"], j["JobType"], j["Status"], _ts(j.get("CreationTime")),
                    _ts(j.get("CompletionTime")), j.get("FailureReason")] for j in jobs)
        return
    t = Table(title="Recommendation jobs")
    for col in ("name", "type", "status", "created", "completed", "failure"):
        t.add_column(col)
    for j in jobs:
        t.add_row(j["JobName"], j["JobType"], j["Status"], _ts(j.get("CreationTime")), _ts(j.get("CompletionTime")),
                  (j.get("FailureReason") or "")[:60])
    console.print(t)


@app.command("describe")
def describe(name: str = NAME_ARGUMENT, endpoint_url: str | None = ENDPOINT_OPTION,
             output: Output | None = OUTPUT_OPTION) -> None:
    """Show a job, its recommendations and (embedded) infrec's extra detail such as the VPC report."""
    backend = _open_for(name, endpoint_url)
    try:
        job = backend.call("DescribeInferenceRecommendationsJob", {"JobName": name})
        details = backend.job_details(name)
    except BackendError as exc:
        raise job_failure(backend, exc, name) from exc
    finally:
        backend.close()
    fmt = chosen(output)
    if fmt is Output.json:
        print_json(job_document(job, details))
        return
    if fmt is Output.text:
        print_text([[job["JobName"], job["JobType"], job["Status"], job.get("FailureReason")]])
        if job.get("InferenceRecommendations"):
            print_text(recommendation_rows(job))
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
def steps(name: str = NAME_ARGUMENT, endpoint_url: str | None = ENDPOINT_OPTION,
          output: Output | None = OUTPUT_OPTION) -> None:
    """List a job's benchmark steps with their metrics or failure reasons."""
    backend = _open_for(name, endpoint_url)
    try:
        out = backend.call("ListInferenceRecommendationsJobSteps", {"JobName": name, "MaxResults": 100})
        details = backend.job_details(name)
    except BackendError as exc:
        raise job_failure(backend, exc, name) from exc
    finally:
        backend.close()
    fmt = chosen(output)
    if fmt is Output.json:
        print_json({"Steps": details["Steps"] if details else out["Steps"]})
        return
    if fmt is Output.text:
        rows = details["Steps"] if details else [dict(s["InferenceBenchmark"], Status=s["Status"])
                                                 for s in out["Steps"]]
        print_text([i, s.get("Status"), (s.get("EndpointConfiguration") or {}).get("InstanceType"),
                    (s.get("Metrics") or {}).get("MaxInvocations"), (s.get("Metrics") or {}).get("ModelLatency"),
                    s.get("FailureReason")] for i, s in enumerate(rows, 1))
        return
    console.print(steps_table(details["Steps"] if details else out["Steps"]))
    holds = step_intervals_table(details["Steps"]) if details else None
    if holds is not None:
        console.print(holds)


@app.command("watch")
def watch_job(name: str = NAME_ARGUMENT, endpoint_url: str | None = ENDPOINT_OPTION,
              timeout: int = typer.Option(3600, min=1, help="Seconds to follow it before returning."),
              output: Output | None = OUTPUT_OPTION) -> None:
    """Follow a job to its end with live progress, then print its recommendations; exit 1 unless it
    completed. Ctrl-C stops the job."""
    fmt = chosen(output)
    backend = _open_for(name, endpoint_url)
    try:
        backend.call("DescribeInferenceRecommendationsJob", {"JobName": name})
    except BackendError as exc:
        backend.close()
        raise job_failure(backend, exc, name) from exc
    if isinstance(backend, EmbeddedBackend) and _nobody_runs(backend, name):
        backend.close()
        raise failed(f"job {name} is not finished and no process runs it (queued with --no-wait, or left by a "
                     f"process that ended); `infrec jobs resume {name}` runs it here")
    try:
        progress = console if fmt is Output.table else Console(stderr=True)
        finish(backend, watch(backend, name, float(timeout), progress), fmt)
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()


def _nobody_runs(backend: EmbeddedBackend, name: str) -> bool:
    """Whether an unfinished job has no live owner: following it here would wait for nothing."""
    from infrec.jobs import states
    from infrec.jobs.scheduler import owner_alive

    row = backend.services.jobs.repo.get(name)
    return row.status in states.ACTIVE and not owner_alive(row.owner)


def _write(text: str, outfile: Path | None) -> None:
    if outfile is None:
        typer.echo(text, nl=False)
        return
    try:
        outfile.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise failed(f"--outfile {outfile}: {exc.strerror or exc}") from exc
    Console(stderr=True).print(f"wrote {outfile}", highlight=False)


@app.command("report")
def report(name: str = NAME_ARGUMENT,
           outfile: Path | None = typer.Option(None, "--outfile", help="HTML file to write; standard output "
                                                                       "when omitted."),
           endpoint_url: str | None = ENDPOINT_OPTION) -> None:
    """Write a job's report as one HTML page (from the server's own page with --endpoint-url)."""
    backend = _open_for(name, endpoint_url)
    try:
        text = backend.job_report(name)
    except BackendError as exc:
        raise job_failure(backend, exc, name) from exc
    finally:
        backend.close()
    _write(text, outfile)


@app.command("export")
def export_job(name: str = NAME_ARGUMENT,
               fmt: str = typer.Option("csv", "--format", help="File format: csv (one table: steps, trials, "
                                       "recommendations, told apart by the `record` column) or json."),
               outfile: Path | None = typer.Option(None, "--outfile",
                                                   help="File to write; standard output when omitted."),
               endpoint_url: str | None = ENDPOINT_OPTION) -> None:
    """Export a job's steps, trials and recommendations for a spreadsheet or a script."""
    from infrec.report.export import FORMATS

    if fmt not in FORMATS:
        raise usage(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    backend = _open_for(name, endpoint_url)
    try:
        text = backend.job_export(name, fmt)
    except BackendError as exc:
        raise job_failure(backend, exc, name) from exc
    finally:
        backend.close()
    _write(text, outfile)


@app.command("stop")
def stop(name: str = NAME_ARGUMENT, endpoint_url: str | None = ENDPOINT_OPTION,
         output: Output | None = OUTPUT_OPTION) -> None:
    """Stop a job: its endpoints and load end within seconds."""
    backend = _open_for(name, endpoint_url)
    try:
        backend.call("StopInferenceRecommendationsJob", {"JobName": name})
    except BackendError as exc:
        raise job_failure(backend, exc, name) from exc
    finally:
        backend.close()
    fmt = chosen(output)
    if fmt is Output.json:
        print_json({"JobName": name, "Stopping": True})
    elif fmt is Output.text:
        print_text([[name]])
    else:
        console.print(f"stopping {name}")


@app.command("clean")
def clean(older_than_days: float = typer.Option(
        7.0, "--older-than-days", min=0.0,
        help="Only folders last touched at least this many days ago (0: every ended job's)."),
        output: Output | None = OUTPUT_OPTION) -> None:
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
    fmt = chosen(output)
    if fmt is Output.json:
        print_json({"Removed": [{"Folder": n, "Bytes": b} for n, b in removed], "BytesFreed": total})
        return
    if fmt is Output.text:
        print_text([n, b] for n, b in removed)
        return
    for name, freed in removed:
        console.print(f"removed {name} ({freed / 2**20:.1f} MiB)")
    console.print(f"{len(removed)} job folder(s) removed, {total / 2**20:.1f} MiB freed")


@app.command("resume")
def resume(name: str = NAME_ARGUMENT, timeout: int = typer.Option(3600, min=1, help="Seconds to watch it before "
                                                                                    "returning."),
           output: Output | None = OUTPUT_OPTION) -> None:
    """Continue a job a killed infrec process left unfinished (or one `recommend --no-wait` queued),
    in this process (embedded mode): finished steps are kept, the rest run again. Other commands
    never resume old jobs unasked."""
    from infrec.core.errors import NotFoundError

    fmt = chosen(output)
    backend = _open_for(name, None, run_jobs=True)
    try:
        assert isinstance(backend, EmbeddedBackend)
        try:
            why = backend.services.resume_job(name)
        except NotFoundError as exc:
            raise job_failure(backend, BackendError(exc.code, exc.message), name) from exc
        if why:
            raise failed(why)
        progress = console if fmt is Output.table else Console(stderr=True)
        progress.print(f"resuming {name}")
        finish(backend, watch(backend, name, float(timeout), progress), fmt)
    except BackendError as exc:
        raise fail(exc) from exc
    finally:
        backend.close()
