"""`infrec example create DIR`: the bundled example model (iris, scikit-learn), written as
model.tar.gz and payload.tar.gz ready to register, so a newcomer has something to benchmark at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from infrec.cli.errors import usage
from infrec.cli.output import OUTPUT_OPTION, Output, chosen, print_json, print_text

if TYPE_CHECKING:
    from infrec.examples import ExampleModel

app = typer.Typer(help="The bundled example model (scikit-learn, iris).", no_args_is_help=True)


@app.command("create")
def create(
    directory: Path = typer.Argument(..., help="Folder to write model.tar.gz and payload.tar.gz into "
                                               "(created if missing; earlier files are replaced)."),
    register: bool = typer.Option(False, "--register", help="Also register it as a model package version."),
    group: str = typer.Option("infrec-example", help="Model package group for --register."),
    endpoint_url: str | None = typer.Option(None, "--endpoint-url", envvar="INFREC_ENDPOINT_URL",
                                            help="Register through a running `infrec serve`."),
    output: Output | None = OUTPUT_OPTION,
) -> None:
    """Train the example model and write its model and sample-payload archives to DIRECTORY."""
    from infrec.examples import create_example

    fmt = chosen(output)
    try:
        example = create_example(directory)
    except ValueError as exc:
        raise usage(f"DIRECTORY {directory}: {exc}") from None
    arn = None
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
    if fmt is Output.json:
        print_json({
            "ModelDataUrl": example.model_data_url,
            "SamplePayloadUrl": example.payload_url,
            "Image": example.image,
            "SupportedContentTypes": list(example.content_types),
            "Framework": example.framework,
            "FrameworkVersion": example.framework_version,
            "FeatureCount": example.feature_count,
            "PayloadFiles": list(example.payload_files),
            **({"ModelPackageArn": arn} if arn else {}),
        })
        return
    if fmt is Output.text:
        print_text([[example.model_data_url, example.payload_url, example.image, arn]])
        return
    _show(example)
    if arn:
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
