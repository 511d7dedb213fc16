"""`infrec catalog list`: the instance types infrec can recommend, with resources and prices."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from infrec.core.catalog import DEFAULT_CATALOG_ENV, Catalog, CatalogError

app = typer.Typer(help="The instance catalog: types, resources, prices.", no_args_is_help=True)


@app.command("list")
def list_types(
    catalog: Path | None = typer.Option(None, "--catalog", help=f"Catalog JSON file replacing the packaged one "
                                                                f"(default: ${DEFAULT_CATALOG_ENV} or packaged)."),
    family: str | None = typer.Option(None, "--family", help="Only names starting with this, e.g. ml.c6i"),
) -> None:
    """Show every instance type: vCPUs, memory, accelerators, hourly price and its source."""
    from rich.console import Console
    from rich.table import Table

    try:
        cat = Catalog.load(catalog) if catalog else Catalog.from_env(os.environ)
    except CatalogError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    types = [t for t in cat if not family or t.name.startswith(family)]
    table = Table(title=f"Instance catalog ({cat.origin}, {len(types)} types)")
    for col, just in (("Name", "left"), ("vCPUs", "right"), ("GiB", "right"),
                      ("Accelerators", "left"), ("USD/h", "right"), ("Price date", "left")):
        table.add_column(col, justify=just, no_wrap=col != "Accelerators")  # type: ignore[arg-type]
    for t in types:
        table.add_row(t.name, f"{t.vcpus:g}", f"{t.memory_gib:g}",
                      t.accelerators.describe() if t.accelerators else "-",
                      f"{t.price_per_hour:.4f}", t.price_date or "-")
    console = Console()
    console.print(table)
    sources = sorted({t.price_source for t in types if t.price_source})
    for s in sources:
        console.print(f"Price source: {s}", highlight=False)
