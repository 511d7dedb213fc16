"""Following a running job: live progress per step until it ends, Ctrl-C stopping it. Used by
`infrec recommend`, `infrec demo`, `infrec jobs watch` and `infrec jobs resume`."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from infrec.cli.backend import Backend, BackendError
from infrec.core.serverless import endpoint_label
from infrec.report.html import latency_text, throughput_text

# Tables are wide; a pipe or CI log (no terminal width) still gets them whole.
CONSOLE = Console(width=None if Console().is_terminal else 150)
TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}


def watch(backend: Backend, job_name: str, timeout_s: float, console: Console | None = None) -> dict[str, Any]:
    """Live progress per step until the job ends; Ctrl-C stops the job (and waits for it to stop).
    `console`: where the progress goes (standard error when the result is printed as JSON or text)."""
    console = console or CONSOLE
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
    raise BackendError("Timeout", f"job {job_name} did not finish within {timeout_s:.0f}s; it goes on: "
                                  f"`infrec jobs watch {job_name}` follows it")


