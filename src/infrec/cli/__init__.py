"""The `infrec` command line: a thin shell over the services.

Each command group lives in its own module here and is registered below, so the
groups stay small and independent.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="infrec",
    help="Self-hosted inference recommender with SageMaker's API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Self-hosted inference recommender with SageMaker's API."""


def _register() -> None:
    # One line per command group; each module defines `app` (a group) or `register(app)`.
    from infrec.cli import catalog, demo, example, jobs, recommend, serve, version, vpc

    version.register(app)
    serve.register(app)
    recommend.register(app)
    demo.register(app)
    app.add_typer(jobs.app, name="jobs")
    app.add_typer(catalog.app, name="catalog")
    app.add_typer(example.app, name="example")
    app.add_typer(vpc.app, name="vpc")


_register()


def main() -> None:
    app()
