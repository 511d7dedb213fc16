"""One way for every command to say what went wrong: a single line on stderr that names what is
wrong and what to do, exit status 2 for a bad argument (nothing was done) and 1 for an action that
failed. Scripts can tell the two apart, and nobody reads a traceback or a framed box."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import typer

USAGE = 2
FAILED = 1


def _line(message: str) -> str:
    return "error: " + " ".join(message.split())


def usage(message: str) -> typer.Exit:
    """A bad argument, refused before anything was written: print it and return the Exit to raise."""
    typer.echo(_line(message), err=True)
    return typer.Exit(USAGE)


def failed(message: str) -> typer.Exit:
    """An action that was tried and did not succeed."""
    typer.echo(_line(message), err=True)
    return typer.Exit(FAILED)


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean a or b?` for a misspelt name, '' when nothing is close: appended to a refusal."""
    close = close_matches(word, candidates)
    return f"; did you mean {' or '.join(close)}?" if close else ""
