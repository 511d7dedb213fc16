"""`infrec demo`: the main job on embedded defaults — the bundled example model, registered, then a
Default recommendation job over four candidate instance types, printed as a ranked table, and its
report written as one HTML file whose path is the last line printed."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from infrec.cli.arguments import split_values
from infrec.cli.backend import BackendError, fail, open_backend
from infrec.cli.errors import usage
from infrec.cli.lookup import check_instance_types
from infrec.cli.output import OUTPUT_OPTION, Output, chosen, print_json
from infrec.cli.recommend import JobSpec, checked_catalog, register_model, run_recommendation
from infrec.cli.results import show_result
from infrec.cli.watch import CONSOLE
from infrec.report.html import job_report

DEMO_INSTANCE_TYPES = ["ml.c5.large", "ml.m5.large", "ml.c6i.large", "ml.c5.xlarge"]


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        instance_types: list[str] = typer.Option(None, "--instance-types", help="Override the four candidates."),
        output: Output | None = OUTPUT_OPTION,
    ) -> None:
        """Create the example model, register it, and run a Default recommendation job on it."""
        import os

        from infrec.config import Settings
        from infrec.examples import create_example

        # A quick look: each step's confirmation hold is capped at 20 s (unless set), so four types
        # finish in a few minutes; a step whose interval is still wider than ±3 % says so.
        fmt = chosen(output)
        console = CONSOLE if fmt is Output.table else Console(stderr=True)
        try:
            settings = Settings.from_env({"INFREC_HOLD_SECONDS": "20", **os.environ})
        except ValueError as exc:
            raise usage(str(exc)) from exc
        types = split_values(instance_types) or DEMO_INSTANCE_TYPES
        check_instance_types(types, checked_catalog())
        folder = settings.ensure_home() / "demo"
        example = create_example(folder)
        console.print(f"example model: {example.model_path}  payloads: {example.payload_path}")
        backend = open_backend(None, run_jobs=True, settings=settings)
        try:
            arn = register_model(backend, "infrec-demo", "infrec/sklearn", example.model_path.as_uri(),
                                 example.payload_path.as_uri(), list(example.content_types), {})
            console.print(f"registered {arn}")
            spec = JobSpec(package_arn=arn, job_name=time.strftime("demo-%Y%m%d-%H%M%S"), instance_types=types,
                           duration_s=600)
            job = run_recommendation(backend, spec, console)
            if fmt is Output.table:
                show_result(backend, job)
            # The last line: where the job's report (plots, tables) lies, to open in a browser.
            report = folder / f"{job['JobName']}.html"
            details = backend.job_details(job["JobName"])
            assert details is not None  # embedded mode always has them
            report.write_text(job_report(details), encoding="utf-8")
            if fmt is Output.json:
                print_json({"Job": job, "Details": details, "Report": str(report.resolve())})
            elif fmt is Output.text:
                typer.echo(str(report.resolve()))
            else:
                console.print(f"report: {report.resolve()}", soft_wrap=True)
            if job["Status"] != "COMPLETED":
                raise typer.Exit(1)
        except BackendError as exc:
            raise fail(exc) from exc
        finally:
            backend.close()
