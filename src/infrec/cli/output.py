"""`--output json|table|text`, as the AWS CLI has it: every command that prints data prints it as a
table for people (the default), as JSON for programs, or as tab-separated text for shell pipes.
The option is accepted before the command (`infrec --output json jobs list`) and after it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import typer


class Output(StrEnum):
    json = "json"
    table = "table"
    text = "text"


OUTPUT_HELP = "How to print the result: table (default), json or text (tab-separated)."
OUTPUT_OPTION: Any = typer.Option(None, "--output", case_sensitive=False, help=OUTPUT_HELP)


_before_command: list[Output | None] = [None]


def choose_default(value: Output | None) -> None:
    """What `infrec --output X COMMAND` chose; the root command sets it before each command runs."""
    _before_command[0] = value


def chosen(value: Output | None) -> Output:
    """The command's own --output, else the one given before the command, else table."""
    if value is not None:
        return Output(value)
    return _before_command[0] or Output.table


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=_plain))


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return " ".join(str(value).split())   # one record per line, whatever the text holds


def print_text(rows: Iterable[Sequence[Any]]) -> None:
    """One tab-separated line per record, for `cut`, `awk` and `while read`."""
    for row in rows:
        typer.echo("\t".join(cell(v) for v in row))
