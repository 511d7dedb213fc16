"""`infrec version` (and `infrec --version`): which build is answering, for bug reports."""

from __future__ import annotations

import typer

import infrec
from infrec.cli.output import OUTPUT_OPTION, Output, chosen, print_json, print_text


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version(output: Output | None = OUTPUT_OPTION) -> None:
        """Print infrec's version."""
        fmt = chosen(output)
        if fmt is Output.json:
            print_json({"Version": infrec.__version__})
        elif fmt is Output.text:
            print_text([[infrec.__version__]])
        else:
            typer.echo(infrec.__version__)
