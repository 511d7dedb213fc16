"""`infrec example create DIR`: the bundled example model (iris, scikit-learn), written as
model.tar.gz and payload.tar.gz ready to register, so a newcomer has something to benchmark at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from infrec.examples import ExampleModel

app = typer.Typer(help="The bundled example model (scikit-learn, iris).", no_args_is_help=True)


@app.command("create")
def create(
    directory: Path = typer.Argument(..., help="Folder to write model.tar.gz and payload.tar.gz into "
                                               "(created if missing; earlier files are replaced)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON instead of a table."),
    register: bool = typer.Option(False, "--register", help="Also register it as a model package version."),
    group: str = typer.Option("infrec-example", help="Model package group for --register."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", envvar="INFREC_ENDPOINT_URL",
                                            help="Register through a running `infrec serve`."),
) -> None:
    """Train the example model and write its model and sample-payload archives to DIRECTORY."""
    from infrec.examples import create_example

    try:
        example = create_example(directory)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps({
            "ModelDataUrl": example.model_data_url,
            "SamplePayloadUrl": example.payload_url,
            "Image": example.image,
            "SupportedContentTypes": list(example.content_types),
            "Framework": example.framework,
            "FrameworkVersion": example.framework_version,
            "FeatureCount": example.feature_count,
            "PayloadFiles": list(example.payload_files),
        }, indent=2))
    else:
        _show(example)
    if register:
        from infrec.cli.backend import BackendError, fail, open_backend
        from infrec.cli.recommend import register_model

        backend = open_backend(endpoint_url)
        try:
            arn = register_model(backend, group, example.image, example.model_data_url, example.payload_url,
                                 list(example.content_types), {})
        except BackendError as exc:
            raise fail(exc) from exc
        finally:
            backend.close()
        typer.echo(f"registered {arn}")


def _show(example: ExampleModel) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Example model in {example.directory}", show_header=False)
    table.add_column("What", style="bold", no_wrap=True)
    table.add_column("Value")
    rows = [
        ("Model data", f"{example.model_data_url}  ({example.model_path.stat().st_size} bytes, model.joblib)"),
        ("Sample payload", f"{example.payload_url}  ({example.payload_path.stat().st_size} bytes)"),
        ("Request bodies", ", ".join(example.payload_files)),
        ("Content types", ", ".join(example.content_types)),
        ("Image", example.image),
        ("Framework", f"{example.framework} {example.framework_version}"),
        ("Model", f"{example.estimator} on {example.dataset}, {example.feature_count} features, "
                  f"training accuracy {example.training_accuracy:.3f}"),
    ]
    for what, value in rows:
        table.add_row(what, value)
    Console().print(table)
