"""`infrec recommend`: register a model if needed, run a recommendation job with live progress,
print the ranked recommendations. The same path serves `infrec demo`."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from infrec.cli.backend import ENDPOINT_OPTION, Backend, BackendError, EmbeddedBackend, fail, open_backend
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

# Tables are wide; a pipe or CI log (no terminal width) still gets them whole.
console = Console(width=None if Console().is_terminal else 150)
TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}
DEFAULT_ROLE = "arn:aws:iam::000000000000:role/infrec-recommender"


def parse_latency(text: str) -> dict[str, Any]:
    """`P95:50ms` → a ModelLatencyThreshold."""
    m = re.fullmatch(r"\s*(P50|P90|P95|P99)\s*:\s*(\d+)\s*(ms)?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise typer.BadParameter(f"{text!r}: expected PERCENTILE:VALUEms, e.g. P95:50ms")
    return {"Percentile": m.group(1).upper(), "ValueInMilliseconds": int(m.group(2))}


def split_values(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _uri(path_or_uri: str) -> str:
    if "://" in path_or_uri:
        return path_or_uri
    p = Path(path_or_uri).expanduser().absolute()
    if not p.exists():
        raise typer.BadParameter(f"{path_or_uri}: no such file")
    return p.as_uri()


def register_model(backend: Backend, group: str, image: str, model_url: str, payload_url: str,
                   content_types: list[str], env: dict[str, str]) -> str:
    """The ARN of a version in `group` with this image, model data and payload; registers one if none."""
    try:
        backend.call("CreateModelPackageGroup", {"ModelPackageGroupName": group,
                                                 "ModelPackageGroupDescription": "registered by infrec recommend"})
    except BackendError as exc:
        if exc.code != "ConflictException":
            raise
    versions: list[dict[str, Any]] = []
    req: dict[str, Any] = {"ModelPackageGroupName": group, "MaxResults": 100}
    for _ in range(1000):  # bounded pagination
        page = backend.call("ListModelPackages", req)
        versions.extend(page["ModelPackageSummaryList"])
        if not page.get("NextToken"):
            break
        req["NextToken"] = page["NextToken"]
    for v in versions:
        d = backend.call("DescribeModelPackage", {"ModelPackageName": v["ModelPackageArn"]})
        c = d["InferenceSpecification"]["Containers"][0]
        if (c.get("Image"), c.get("ModelDataUrl"), c.get("Environment") or {}, d.get("SamplePayloadUrl")) == \
                (image, model_url, env, payload_url):
            return str(d["ModelPackageArn"])
    container: dict[str, Any] = {"Image": image, "ModelDataUrl": model_url}
    if env:
        container["Environment"] = env
    out = backend.call("CreateModelPackage", {
        "ModelPackageGroupName": group,
        "InferenceSpecification": {"Containers": [container], "SupportedContentTypes": content_types,
                                   "SupportedResponseMIMETypes": ["application/json"]},
        "SamplePayloadUrl": payload_url, "ModelApprovalStatus": "PendingManualApproval",
    })
    return str(out["ModelPackageArn"])


def watch(backend: Backend, job_name: str, timeout_s: float) -> dict[str, Any]:
    """Live progress per step until the job ends; Ctrl-C stops the job (and waits for it to stop)."""
    deadline = time.monotonic() + timeout_s
    tasks: dict[int, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        try:
            while time.monotonic() < deadline:
                job = backend.call("DescribeInferenceRecommendationsJob", {"JobName": job_name})
                details = backend.job_details(job_name)
                steps = details["Steps"] if details else [
                    dict(s["InferenceBenchmark"], Status=s["Status"], StepIndex=i) for i, s in enumerate(
                        backend.call("ListInferenceRecommendationsJobSteps",
                                     {"JobName": job_name, "MaxResults": 100})["Steps"])]
                for s in steps:
                    i = s["StepIndex"]
                    ec = s["EndpointConfiguration"]
                    label = f"{i + 1}. {endpoint_label(ec)}"
                    env = " ".join(f"{p['Key']}={p['Value']}"
                                   for p in (s.get("ModelConfiguration") or {}).get("EnvironmentParameters") or [])
                    if env:
                        label += f" [{env}]"
                    if i not in tasks:
                        tasks[i] = progress.add_task(label, total=1, info="")
                    info = s["Status"].lower()
                    p = s.get("Progress") or {}
                    if p.get("Waiting"):  # another process holds the host (one benchmark at a time)
                        info += f"  {p['Waiting']}"
                    elif p:
                        info += (f"{'  ' + p['Phase'] if p.get('Phase') else ''}"
                                 + f"  {p.get('Rate', 0):.0f} req/s"
                                 + (f" (target {p['TargetRate']:.0f})" if p.get("TargetRate") else "")
                                 + (f"  p95 {p['P95Ms']:.1f} ms" if p.get("P95Ms") is not None else "")
                                 + f"  errors {p.get('Errors', 0)}")
                    m = s.get("Metrics") or {}
                    if m:
                        info += f"  max {throughput_text(m, s.get('Details'))}  {latency_text(m, s.get('Details'))}"
                    if s.get("FailureReason") and s["Status"] == "FAILED":
                        info += f"  {s['FailureReason'][:60]}"
                    done = s["Status"] in TERMINAL
                    progress.update(tasks[i], completed=1 if done else 0, info=info)
                if job["Status"] in TERMINAL:
                    return job
                time.sleep(0.5)
        except KeyboardInterrupt:
            console.print("[yellow]stopping the job…[/]")
            try:
                backend.call("StopInferenceRecommendationsJob", {"JobName": job_name})
            except BackendError:
                pass  # it ended meanwhile
            end = time.monotonic() + 60
            while time.monotonic() < end:
                job = backend.call("DescribeInferenceRecommendationsJob", {"JobName": job_name})
                if job["Status"] in TERMINAL:
                    return job
                time.sleep(0.5)
    raise BackendError("Timeout", f"job {job_name} did not finish within {timeout_s:.0f}s; it goes on — "
                                  f"see `infrec jobs describe {job_name}`")


def run_recommendation(backend: Backend, *, package_arn: str, job_name: str, instance_types: list[str],
                       latency: dict[str, Any] | None, advanced: dict[str, Any] | None,
                       duration_s: int, role_arn: str = DEFAULT_ROLE) -> dict[str, Any]:
    input_config: dict[str, Any] = {"ModelPackageVersionArn": package_arn, "JobDurationInSeconds": duration_s}
    req: dict[str, Any] = {"JobName": job_name, "JobType": "Default", "RoleArn": role_arn,
                           "InputConfig": input_config}
    if instance_types:
        input_config["ContainerConfig"] = {"SupportedInstanceTypes": instance_types}
    if advanced:
        req["JobType"] = "Advanced"
        extra = dict(advanced)
        stopping = extra.pop("StoppingConditions", None)
        input_config.update(extra.pop("InputConfig", extra))
        if stopping:
            req["StoppingConditions"] = stopping
    if latency:
        req.setdefault("StoppingConditions", {}).setdefault("ModelLatencyThresholds", [latency])
    backend.call("CreateInferenceRecommendationsJob", req)
    return watch(backend, job_name, timeout_s=duration_s + 120)


def finish(backend: Backend, job: dict[str, Any]) -> None:
    """Print the outcome; a job that did not complete makes the command fail."""
    show_result(backend, job)
    if job["Status"] != "COMPLETED":
        raise typer.Exit(1)


def show_result(backend: Backend, job: dict[str, Any]) -> None:
    details = backend.job_details(job["JobName"])
    recs = job.get("InferenceRecommendations") or []
    steps = details["Steps"] if details else None
    console.print(f"job [bold]{job['JobName']}[/]: [bold]{job['Status']}[/]")
    if job.get("FailureReason"):
        console.print(f"[red]{job['FailureReason']}[/]")
    if recs:
        console.print(recommendations_table(recs, steps))
        ties = uncertainty_table(recs, steps)
        if ties is not None:
            console.print(ties)
    elif details:
        console.print(steps_table(details["Steps"]))
        holds = step_intervals_table(details["Steps"])
        if holds is not None:
            console.print(holds)
    if details and any(s.get("EmulationScale", 1.0) < 1.0 for s in details["Steps"]):
        console.print("[dim]Emulated rows ran at the given fraction of the instance's vCPUs (memory is not scaled) "
                      "on this host; throughput is read back to the full instance by one policy "
                      "(core/emulation.py). See `make bench-fidelity` for the error.[/]")


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


def register(app: typer.Typer) -> None:
    @app.command("recommend")
    def recommend(
        model: str = typer.Argument(..., help="model.tar.gz (path or s3:// URI) or a ModelPackageVersionArn."),
        image: str = typer.Option("infrec/sklearn", help="Serving image: infrec/sklearn, infrec/onnx, …"),
        payload: str | None = typer.Option(None, help="Sample payload archive (path or s3:// URI)."),
        content_type: list[str] = typer.Option(None, "--content-type", help="Payload content type(s)."),
        instance_types: list[str] = typer.Option(None, "--instance-types", help="Candidates (repeat or comma)."),
        latency: str | None = typer.Option(None, help="Latency goal, e.g. P95:50ms."),
        advanced: Path | None = typer.Option(None, help="JSON with EndpointConfigurations, TrafficPattern, "
                                                        "ResourceLimit and StoppingConditions: an Advanced job."),
        env: list[str] = typer.Option(None, "--env", help="Container environment KEY=VALUE (repeatable)."),
        group: str = typer.Option("infrec-models", help="Model package group to register into."),
        job_name: str | None = typer.Option(None, help="Job name (default: infrec-<time>)."),
        duration: int = typer.Option(3600, help="JobDurationInSeconds: a hard deadline."),
        endpoint_url: str | None = ENDPOINT_OPTION,
    ) -> None:
        """Find the cheapest configuration that meets the latency goal, measured on real endpoints."""
        lat = parse_latency(latency) if latency else None
        adv = None
        if advanced:
            try:
                adv = json.loads(advanced.read_text())
            except (OSError, ValueError) as exc:
                raise typer.BadParameter(f"{advanced}: {exc}") from exc
        environment = {}
        for item in env or []:
            k, sep, v = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"--env {item!r}: expected KEY=VALUE")
            environment[k] = v
        backend = open_backend(endpoint_url, run_jobs=True)
        left = backend.left_unfinished() if isinstance(backend, EmbeddedBackend) else []
        if left:
            console.print(f"[yellow]{len(left)} earlier job(s) left unfinished by a process that ended: "
                          f"{', '.join(left[:3])}{' …' if len(left) > 3 else ''}. They do not run now; "
                          "`infrec jobs resume NAME` continues one.[/]")
        try:
            if model.startswith("arn:"):
                package_arn = model
            else:
                if not payload:
                    raise typer.BadParameter("--payload is required when MODEL is a file")
                types = content_type or ["application/json"]
                package_arn = register_model(backend, group, image, _uri(model), _uri(payload), types, environment)
            name = job_name or time.strftime("infrec-%Y%m%d-%H%M%S-") + f"{int(time.time() * 1000) % 1000:03d}"
            job = run_recommendation(backend, package_arn=package_arn, job_name=name,
                                     instance_types=split_values(instance_types), latency=lat, advanced=adv,
                                     duration_s=duration)
            finish(backend, job)
        except BackendError as exc:
            raise fail(exc) from exc
        finally:
            backend.close()
