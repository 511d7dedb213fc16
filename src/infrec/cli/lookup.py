"""Checks of the names a user types — instance types, regions — against the catalog, each refusal
naming the option, what is wrong, the closest names (difflib) and where to look them up. Run
before any command writes anything."""

from __future__ import annotations

from functools import cache

from infrec.cli.errors import did_you_mean, usage
from infrec.core.catalog import DEFAULT_CATALOG_ENV, DEFAULT_REGION, Catalog


@cache
def aws_regions() -> tuple[str, ...]:
    """The regions SageMaker is offered in, as botocore's endpoint data lists them (all partitions)."""
    import botocore.session

    session = botocore.session.get_session()
    names: set[str] = set()
    for partition in session.get_available_partitions():
        names.update(session.get_available_regions("sagemaker", partition_name=partition))
    return tuple(sorted(names))


def check_region(region: str, cat: Catalog, option: str = "--region") -> None:
    """Refuse a name that is no AWS region (with the closest ones), and a region the catalog has no
    prices for at all (with how to get them)."""
    known = {*aws_regions(), *cat.price_tables}
    if region not in known:
        raise usage(f"{option}: no prices for region {region!r}: it is not an AWS region (the catalog has prices "
                    f"for {len(cat.price_tables)} regions, e.g. {DEFAULT_REGION}){did_you_mean(region, known)}")
    if cat.price_tables and region not in cat.price_tables and not len(cat):
        raise usage(f"{option}: no prices for region {region!r} in {cat.origin}; it has prices for "
                    f"{', '.join(sorted(cat.price_tables))} (`infrec catalog refresh --region {region}` "
                    "reads them from the AWS Price List)")


def check_instance_types(names: list[str], cat: Catalog, option: str = "--instance-types") -> None:
    """Every name must be a type of the catalog offered in its region."""
    for name in names:
        if cat.has(name):
            continue
        if cat.knows(name):
            raise usage(f"{option}: {cat.not_offered_message(name)}")
        raise usage(f"{option}: {name!r} is not an instance type of the catalog (`infrec catalog list` shows "
                    f"them; {DEFAULT_CATALOG_ENV}=FILE adds your own){did_you_mean(name, cat.names())}")

