"""The `infrec` command line: a thin shell over the services.

Each command group lives in its own module here and is registered below, so the groups stay small
and independent. `main` gives every error one style (errors.py): click's own usage errors are
turned into the same single line as ours, and an unexpected exception never prints a traceback
unless INFREC_DEBUG=1 asks for it.
"""

from __future__ import annotations

import os
import sys

import typer

from infrec.cli import output as output_choice
from infrec.cli.output import OUTPUT_HELP, Output

app = typer.Typer(
    name="infrec",
    help="Self-hosted inference recommender with SageMaker's API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        import infrec

        typer.echo(f"infrec {infrec.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    output: Output | None = typer.Option(None, "--output", case_sensitive=False, help=OUTPUT_HELP),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print infrec's version and exit."),
) -> None:
    """Self-hosted inference recommender with SageMaker's API."""
    output_choice.choose_default(output)


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


def _usage_line(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)   # a usage error knows its command; other Typer errors do not
    where = str(getattr(ctx, "command_path", None) or "infrec")
    what = " ".join(exc.format_message().split()).rstrip(".").replace("Value error, ", "")
    return f"error: {what}; see `{where} --help`"


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:
        typer.echo(_usage_line(exc), err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("INFREC_DEBUG") == "1":
            raise
        typer.echo(f"error: {type(exc).__name__}: {' '.join(str(exc).split())} (an unexpected failure; "
                   "INFREC_DEBUG=1 shows where, for a bug report)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
