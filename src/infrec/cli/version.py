"""`infrec version`: which build is answering, for bug reports."""

from __future__ import annotations

import typer

import infrec


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version() -> None:
        """Print infrec's version."""
        typer.echo(infrec.__version__)
