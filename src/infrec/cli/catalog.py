"""`infrec catalog list|show|refresh`: the instance types infrec can recommend, with resources and
prices for one region — every price shown with its region, source and date."""

from __future__ import annotations

from pathlib import Path

import typer

from infrec.config import Settings
from infrec.core.catalog import (
    DEFAULT_CATALOG_ENV,
    DEFAULT_REGION,
    REGION_ENV,
    Catalog,
    CatalogError,
    InstanceType,
    UnknownInstanceType,
)

app = typer.Typer(help="The instance catalog: types, resources, prices per region.", no_args_is_help=True)

_CATALOG_HELP = f"Catalog JSON file replacing the packaged one (default: ${DEFAULT_CATALOG_ENV} or packaged)."
_REGION_HELP = f"AWS region whose prices to use (default: ${REGION_ENV} or {DEFAULT_REGION})."


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _settings() -> Settings:
    """The settings (INFREC_REGION, INFREC_CATALOG); a bad one ends the command naming it (exit 2)."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _region(region: str | None) -> str:
    return (region or _settings().region).strip()


def _open(catalog: Path | None, region: str) -> Catalog:
    """The catalog priced for `region`; a bad file or a region the catalog has no prices for at all
    ends the command with the reason (exit 2), never a traceback."""
    try:
        path = catalog or _settings().catalog
        cat = Catalog.load(path, region) if path else Catalog.default(region)
    except CatalogError as exc:
        raise _fail(str(exc)) from None
    if cat.price_tables and region not in cat.price_tables and not len(cat):
        raise _fail(f"no prices for region {region!r} in {cat.origin}; it has prices for "
                    f"{', '.join(sorted(cat.price_tables))} (`infrec catalog refresh --region {region}` "
                    "reads them from the AWS Price List)")
    return cat


def price_lines(types: list[InstanceType]) -> list[str]:
    """`Prices: USD/hour on-demand in us-east-1 — AWS Price List extract (…), 2026-05-20`, one line per
    distinct region/source/date among `types`: what every shown price rests on."""
    seen: dict[tuple[str, str, str], None] = {}
    for t in types:
        seen[(t.price_region, t.price_source, t.price_date)] = None
    lines = []
    for region, source, date in seen:
        where = f"in {region}" if region else "(your own price, any region)"
        lines.append(f"Prices: USD/hour on-demand {where} — {source or 'source not given'}, "
                     f"{date or 'date not given'}")
    return lines


@app.command("list")
def list_types(
    catalog: Path | None = typer.Option(None, "--catalog", help=_CATALOG_HELP),
    region: str | None = typer.Option(None, "--region", help=_REGION_HELP),
    family: str | None = typer.Option(None, "--family", help="Only names starting with this, e.g. ml.c6i"),
    show_all: bool = typer.Option(False, "--all", help="Also list the types not offered in the region."),
) -> None:
    """Show the instance types offered in a region: vCPUs, memory, accelerators, hourly price, its
    date and source. Types without a price in the region are not offered there: counted, and listed
    with --all."""
    from rich.console import Console
    from rich.table import Table

    reg = _region(region)
    cat = _open(catalog, reg)
    types = [t for t in cat if not family or t.name.startswith(family)]
    hidden = [u for u in cat.not_offered() if not family or u.name.startswith(family)]
    table = Table(title=f"Instance catalog, {reg} ({cat.origin}, {len(types)} types offered)")
    for col, just in (("Name", "left"), ("vCPUs", "right"), ("GiB", "right"),
                      ("Accelerators", "left"), ("USD/h", "right"), ("Price date", "left")):
        table.add_column(col, justify=just, no_wrap=col != "Accelerators")  # type: ignore[arg-type]
    for t in types:
        table.add_row(t.name, f"{t.vcpus:g}", f"{t.memory_gib:g}",
                      t.accelerators.describe() if t.accelerators else "-",
                      f"{t.price_per_hour:.4f}", t.price_date or "-")
    if show_all:
        for u in hidden:
            table.add_row(u.name, f"{u.vcpus:g}", f"{u.memory_gib:g}",
                          u.accelerators.describe() if u.accelerators else "-", f"not offered in {reg}", "-")
    console = Console()
    console.print(table)
    for line in price_lines(types):
        console.print(line, highlight=False)
    if hidden:
        console.print(f"{len(hidden)} type(s) in the catalog have no price in {reg} and are not offered there "
                      f"(never priced as elsewhere; {cat.price_list_text()})"
                      + ("." if show_all else "; --all lists them."), highlight=False)


@app.command("show")
def show_type(
    name: str = typer.Argument(..., help="Instance type, e.g. ml.g5.xlarge"),
    catalog: Path | None = typer.Option(None, "--catalog", help=_CATALOG_HELP),
    region: str | None = typer.Option(None, "--region", help=_REGION_HELP),
) -> None:
    """One instance type: resources and its hourly price in the region, with the price's source and
    date. A type not offered in the region is refused with the reason."""
    reg = _region(region)
    cat = _open(catalog, reg)
    try:
        t = cat.get(name)
    except UnknownInstanceType as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{t.name}\n  vCPUs: {t.vcpus:g}\n  memory: {t.memory_gib:g} GiB\n"
               f"  accelerators: {t.accelerators.describe() if t.accelerators else '-'}\n"
               f"  price: {t.price_per_hour:.4f} USD/hour on-demand "
               f"({t.price_region or 'your own price, any region'})\n"
               f"  price source: {t.price_source or 'not given'}\n  price date: {t.price_date or 'not given'}\n"
               f"  catalog: {cat.origin}")


@app.command("refresh")
def refresh(
    region: list[str] = typer.Option([], "--region", help=f"Region to refresh (repeatable; default: "
                                                          f"${REGION_ENV} or {DEFAULT_REGION})."),
    output: Path | None = typer.Option(None, "--output", help=f"Catalog file to write (default: "
                                                              f"${DEFAULT_CATALOG_ENV}); created if missing."),
    instance_type: list[str] = typer.Option([], "--type", help="Refresh only this type (repeatable); "
                                                               "the region's other prices stay."),
) -> None:
    """Read current SageMaker hosting prices from the AWS Price List Query API (needs AWS credentials
    allowed pricing:GetProducts) into your catalog file, per region, with source and date."""
    from infrec.pricing import refresh as pricing

    target = output or _settings().catalog
    if target is None:
        raise _fail(f"name the catalog file to write: --output FILE, or set {DEFAULT_CATALOG_ENV} "
                    "(the packaged catalog is never changed)")
    regions = [r.strip() for r in region if r.strip()] or [_region(None)]
    try:
        results = pricing.refresh_file(target, regions, pricing.pricing_client(),
                                       instance_names=[t.strip() for t in instance_type if t.strip()] or None)
    except pricing.RefreshError as exc:
        raise _fail(str(exc)) from None
    for r in results:
        typer.echo(f"{r.region}: {r.prices} hosting prices read, {r.catalog_types_priced} of the catalog's types "
                   f"priced, {len(r.changed)} changed")
        for name, old, new in r.changed[:20]:
            typer.echo(f"  {name}: {'-' if old is None else f'{old:g}'} → {new:g}")
        if len(r.changed) > 20:
            typer.echo(f"  … and {len(r.changed) - 20} more")
    typer.echo(f"written to {target}; use it with {DEFAULT_CATALOG_ENV}={target}")
