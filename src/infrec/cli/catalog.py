"""`infrec catalog list|show|refresh`: the instance types infrec can recommend, with resources and
prices for one region — every price shown with its region, source and date — and what this host
will do with each (run it natively, emulate it at a fraction, or refuse it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from infrec.cli.errors import close_matches, did_you_mean, failed, usage
from infrec.cli.lookup import aws_regions, check_instance_types, check_region
from infrec.cli.output import OUTPUT_OPTION, Output, chosen, print_json, print_text
from infrec.config import Settings
from infrec.core.catalog import (
    DEFAULT_CATALOG_ENV,
    DEFAULT_REGION,
    REGION_ENV,
    Catalog,
    CatalogError,
    InstanceType,
    NotOfferedInRegion,
    UnknownInstanceType,
)
from infrec.jobs.hostfit import Fit
from infrec.services import host_fits

app = typer.Typer(help="The instance catalog: types, resources, prices per region.", no_args_is_help=True)

_CATALOG_HELP = f"Catalog JSON file replacing the packaged one (default: ${DEFAULT_CATALOG_ENV} or packaged)."
_REGION_HELP = f"AWS region whose prices to use (default: ${REGION_ENV} or {DEFAULT_REGION})."


def _settings() -> Settings:
    """The settings (INFREC_REGION, INFREC_CATALOG); a bad one ends the command naming it (exit 2)."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise usage(str(exc)) from None


def _region(region: str | None) -> str:
    return (region or _settings().region).strip()


def _open(catalog: Path | None, region: str, region_given: bool = True) -> Catalog:
    """The catalog priced for `region`; a bad file, a misspelt region or a region the catalog has no
    prices for at all ends the command with the reason (exit 2), never a traceback."""
    try:
        path = catalog or _settings().catalog
        cat = Catalog.load(path, region) if path else Catalog.default(region)
    except CatalogError as exc:
        raise usage(f"{'--catalog' if catalog else DEFAULT_CATALOG_ENV}: {exc}") from None
    check_region(region, cat, "--region" if region_given else REGION_ENV)
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


def _type_record(t: InstanceType, fit: Fit | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"InstanceType": t.name, "VCpus": t.vcpus, "MemoryGiB": t.memory_gib,
                           "Accelerators": t.accelerators.describe() if t.accelerators else None,
                           "PricePerHour": t.price_per_hour, "PriceRegion": t.price_region or None,
                           "PriceSource": t.price_source or None, "PriceDate": t.price_date or None}
    if fit is not None:
        rec["OnThisHost"] = {"Verdict": fit.verdict, "Scale": fit.scale, "Reason": fit.reason or None}
    return rec


@app.command("list")
def list_types(
    catalog: Path | None = typer.Option(None, "--catalog", help=_CATALOG_HELP),
    region: str | None = typer.Option(None, "--region", help=_REGION_HELP),
    family: str | None = typer.Option(None, "--family", help="Only names starting with this, e.g. ml.c6i"),
    show_all: bool = typer.Option(False, "--all", help="Also list the types not offered in the region."),
    output: Output | None = OUTPUT_OPTION,
) -> None:
    """Show the instance types offered in a region: vCPUs, memory, accelerators, hourly price, its
    date and source, and what this host does with each: runs it natively, emulates it at a fraction
    of its vCPUs (throughput read back to the full instance), or refuses it (no accelerator of its
    kind, more vCPUs than any allowed fraction fits). Types without a price in the region are not
    offered there: counted, and listed with --all."""
    from rich.console import Console
    from rich.table import Table

    reg = _region(region)
    cat = _open(catalog, reg, region_given=region is not None)
    types = [t for t in cat if not family or t.name.startswith(family)]
    hidden = [u for u in cat.not_offered() if not family or u.name.startswith(family)]
    fits = host_fits(types, _settings())
    fmt = chosen(output)
    if fmt is Output.json:
        doc: dict[str, Any] = {"Region": reg, "Catalog": cat.origin,
                               "InstanceTypes": [_type_record(t, fits[t.name]) for t in types]}
        if show_all:
            doc["NotOffered"] = [{"InstanceType": u.name, "VCpus": u.vcpus, "MemoryGiB": u.memory_gib} for u in hidden]
        print_json(doc)
        return
    if fmt is Output.text:
        print_text([t.name, f"{t.vcpus:g}", f"{t.memory_gib:g}", t.accelerators.describe() if t.accelerators else "",
                    f"{t.price_per_hour:.4f}", t.price_date, fits[t.name].label()] for t in types)
        return
    table = Table(title=f"Instance catalog, {reg} ({cat.origin}, {len(types)} types offered)")
    for col, just in (("Name", "left"), ("vCPUs", "right"), ("GiB", "right"),
                      ("Accelerators", "left"), ("USD/h", "right"), ("Price date", "left"), ("This host", "left")):
        table.add_column(col, justify=just, no_wrap=col not in ("Accelerators", "This host"))  # type: ignore[arg-type]
    for t in types:
        table.add_row(t.name, f"{t.vcpus:g}", f"{t.memory_gib:g}",
                      t.accelerators.describe() if t.accelerators else "-",
                      f"{t.price_per_hour:.4f}", t.price_date or "-", fits[t.name].label())
    if show_all:
        for u in hidden:
            table.add_row(u.name, f"{u.vcpus:g}", f"{u.memory_gib:g}",
                          u.accelerators.describe() if u.accelerators else "-", f"not offered in {reg}", "-", "-")
    console = Console()
    console.print(table)
    for line in price_lines(types):
        console.print(line, highlight=False)
    if hidden:
        console.print(f"{len(hidden)} type(s) in the catalog have no price in {reg} and are not offered there "
                      f"(never priced as elsewhere; {cat.price_list_text()})"
                      + ("." if show_all else "; --all lists them."), highlight=False)
    _host_notes(fits, console)


def _host_notes(fits: dict[str, Fit], console: Any) -> None:
    """Under the table: why the refused types are refused (one line per reason) and what emulation means."""
    reasons: dict[str, list[str]] = {}
    for name, fit in fits.items():
        if fit.verdict == "refused":
            reasons.setdefault(_short_reason(fit.reason), []).append(name)
    if any(f.verdict == "emulated" for f in fits.values()):
        console.print("This host: emulated types run at the given fraction of their vCPUs (memory not scaled); "
                      "throughput is read back to the full instance (core/emulation.py).", highlight=False)
    for why, names in reasons.items():
        console.print(f"Refused here ({', '.join(names[:4])}{' …' if len(names) > 4 else ''}): {why}",
                      highlight=False)


def _short_reason(reason: str) -> str:
    """A refusal without its type's own name and numbers, so types refused for one cause share a line."""
    if "; this host has no " in reason:
        return "this host has no " + reason.split("; this host has no ", 1)[1].split(",")[0] + \
            " (an accelerated type would run as a CPU machine priced as the accelerated instance)"
    if "vCPUs; this host can give" in reason:
        return "more vCPUs than this host can give, even emulated at a fraction"
    return reason


@app.command("show")
def show_type(
    name: str = typer.Argument(..., help="Instance type, e.g. ml.g5.xlarge"),
    catalog: Path | None = typer.Option(None, "--catalog", help=_CATALOG_HELP),
    region: str | None = typer.Option(None, "--region", help=_REGION_HELP),
    output: Output | None = OUTPUT_OPTION,
) -> None:
    """One instance type: resources and its hourly price in the region, with the price's source and
    date, and what this host does with it. A type not offered in the region is refused with the reason."""
    reg = _region(region)
    cat = _open(catalog, reg, region_given=region is not None)
    try:
        t = cat.get(name)
    except NotOfferedInRegion as exc:
        raise usage(str(exc)) from None
    except UnknownInstanceType:
        check_instance_types([name], cat, option="NAME")
        raise
    fit = host_fits([t], _settings())[t.name]
    fmt = chosen(output)
    if fmt is Output.json:
        print_json(dict(_type_record(t, fit), Catalog=cat.origin))
        return
    if fmt is Output.text:
        print_text([[t.name, f"{t.vcpus:g}", f"{t.memory_gib:g}", t.accelerators.describe() if t.accelerators else "",
                     f"{t.price_per_hour:.4f}", t.price_date, fit.label()]])
        return
    typer.echo(f"{t.name}\n  vCPUs: {t.vcpus:g}\n  memory: {t.memory_gib:g} GiB\n"
               f"  accelerators: {t.accelerators.describe() if t.accelerators else '-'}\n"
               f"  price: {t.price_per_hour:.4f} USD/hour on-demand "
               f"({t.price_region or 'your own price, any region'})\n"
               f"  price source: {t.price_source or 'not given'}\n  price date: {t.price_date or 'not given'}\n"
               f"  catalog: {cat.origin}\n"
               f"  this host: {fit.label()}{': ' + fit.reason if fit.reason else ''}")


@app.command("refresh")
def refresh(
    region: list[str] = typer.Option([], "--region", help=f"Region to refresh (repeatable; default: "
                                                          f"${REGION_ENV} or {DEFAULT_REGION})."),
    catalog: Path | None = typer.Option(None, "--catalog", help=f"Catalog file to write (default: "
                                                                f"${DEFAULT_CATALOG_ENV}); created if missing."),
    instance_type: list[str] = typer.Option([], "--type", help="Refresh only this type (repeatable); "
                                                               "the region's other prices stay."),
    output: Output | None = OUTPUT_OPTION,
) -> None:
    """Read current SageMaker hosting prices from the AWS Price List Query API (needs AWS credentials
    allowed pricing:GetProducts) into your catalog file, per region, with source and date. Every
    region and type is checked before the first call; nothing is written unless all regions answer."""
    from infrec.pricing import refresh as pricing

    target = catalog or _settings().catalog
    if target is None:
        raise usage(f"name the catalog file to write: --catalog FILE, or set {DEFAULT_CATALOG_ENV} "
                    "(the packaged catalog is never changed)")
    regions = [r.strip() for r in region if r.strip()] or [_region(None)]
    known = Catalog.default(DEFAULT_REGION)
    for name in regions:
        if name not in aws_regions():
            raise usage(f"--region {name!r} is not an AWS region{did_you_mean(name, aws_regions())}")
    types = [t.strip() for t in instance_type if t.strip()]
    for t in types:
        if not known.knows(t) and close_matches(t, known.names()):
            raise usage(f"--type {t!r} is not an instance type of the catalog{did_you_mean(t, known.names())}")
    try:
        results = pricing.refresh_file(target, regions, pricing.pricing_client(), instance_names=types or None)
    except pricing.RefreshError as exc:
        raise failed(str(exc)) from None
    fmt = chosen(output)
    if fmt is Output.json:
        print_json({"Catalog": str(target), "Regions": [
            {"Region": r.region, "PricesRead": r.prices, "CatalogTypesPriced": r.catalog_types_priced,
             "Changed": [{"InstanceType": n, "Old": old, "New": new} for n, old, new in r.changed]}
            for r in results]})
        return
    if fmt is Output.text:
        print_text([r.region, r.prices, r.catalog_types_priced, len(r.changed)] for r in results)
        return
    for r in results:
        typer.echo(f"{r.region}: {r.prices} hosting prices read, {r.catalog_types_priced} of the catalog's types "
                   f"priced, {len(r.changed)} changed")
        for name, old, new in r.changed[:20]:
            typer.echo(f"  {name}: {'-' if old is None else f'{old:g}'} → {new:g}")
        if len(r.changed) > 20:
            typer.echo(f"  … and {len(r.changed) - 20} more")
    typer.echo(f"written to {target}; use it with {DEFAULT_CATALOG_ENV}={target}")
