"""Reading SageMaker hosting prices out of AWS Price List products, and writing them into a catalog
document. Pure: the boto3 calls live in `infrec.pricing.refresh`; this module only turns what
`pricing.get_products` returned into numbers.

A product (each `PriceList` entry is one JSON string) looks like::

    {"product": {"productFamily": "ML Instance", "sku": "JDZQJFUVUR8SUWHS",
                 "attributes": {"component": "Hosting", "instanceName": "ml.m5.xlarge",
                                "instanceType": "ml.m5.xlarge-Hosting", "regionCode": "us-east-1",
                                "usagetype": "USE1-Host:ml.m5.xlarge", ...}},
     "serviceCode": "AmazonSageMaker",
     "terms": {"OnDemand": {"<sku>.<offer>": {"priceDimensions": {"<sku>.<offer>.<rate>": {
                 "unit": "Hrs", "pricePerUnit": {"USD": "0.2300000000"}, ...}}, ...}}},
     "publicationDate": "2026-05-20T...Z", ...}

The key is `instanceName`: `instanceType` carries a suffix (`ml.c5.large-Hosting`). Where a product
lists several hourly on-demand prices, or several products price one type, the highest is kept —
the rule the packaged extract was built with, so a refreshed file and the packaged one agree.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SERVICE_CODE = "AmazonSageMaker"
COMPONENT = "Hosting"
REFRESH_SOURCE = "AWS Price List Query API (pricing.get_products, AmazonSageMaker, component Hosting, on-demand Hrs)"


class PriceListError(ValueError):
    """A Price List response infrec cannot read; the message names the entry."""


@dataclass
class HourlyPrices:
    """Hourly on-demand prices read from Price List products, by region and instance name."""

    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: int = 0          # products that were not an hourly hosting price (other components, units)

    def add(self, region: str, name: str, price: float) -> None:
        table = self.prices.setdefault(region, {})
        table[name] = max(price, table.get(name, price))


def product_filters(region: str, instance_name: str | None = None) -> list[dict[str, str]]:
    """The `Filters` of `pricing.get_products` for SageMaker real-time hosting in `region`
    (and one instance type, by `instanceName`, when given)."""
    filters = [{"Type": "TERM_MATCH", "Field": "component", "Value": COMPONENT},
               {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    if instance_name:
        filters.append({"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_name})
    return filters


def _hourly_usd(terms: Any) -> list[float]:
    out: list[float] = []
    on_demand = terms.get("OnDemand") if isinstance(terms, Mapping) else None
    if not isinstance(on_demand, Mapping):
        return out
    for term in on_demand.values():
        dims = term.get("priceDimensions") if isinstance(term, Mapping) else None
        for dim in (dims or {}).values() if isinstance(dims, Mapping) else ():
            if not isinstance(dim, Mapping) or str(dim.get("unit", "")).lower() not in ("hrs", "hours", "hour"):
                continue
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            if usd is None:
                continue
            try:
                value = float(str(usd))
            except (TypeError, ValueError):
                continue
            if value >= 0 and value == value and value != float("inf"):
                out.append(value)
    return out


def read_products(price_list: Iterable[str | Mapping[str, Any]], into: HourlyPrices | None = None) -> HourlyPrices:
    """Add the hourly hosting prices of `price_list` (PriceList entries: JSON strings, or already
    parsed) to `into`. A product that is not an hourly on-demand hosting price is counted as skipped;
    an entry that is not a JSON object raises, naming its position."""
    result = into if into is not None else HourlyPrices()
    for i, entry in enumerate(price_list):
        if isinstance(entry, str):
            try:
                entry = json.loads(entry)
            except json.JSONDecodeError as exc:
                raise PriceListError(f"PriceList[{i}] is not valid JSON ({exc})") from None
        if not isinstance(entry, Mapping):
            raise PriceListError(f"PriceList[{i}] is not a JSON object")
        product = entry.get("product")
        attrs = product.get("attributes") if isinstance(product, Mapping) else None
        if not isinstance(attrs, Mapping):
            result.skipped += 1
            continue
        name, region = attrs.get("instanceName"), attrs.get("regionCode")
        prices = _hourly_usd(entry.get("terms"))
        if (attrs.get("component") != COMPONENT or not isinstance(name, str) or not name
                or not isinstance(region, str) or not region or not prices):
            result.skipped += 1
            continue
        result.add(region, name, max(prices))
    return result


def with_region_prices(doc: Mapping[str, Any], region: str, prices: Mapping[str, float], *,
                       source: str, date: str, replace: bool = True) -> dict[str, Any]:
    """A copy of catalog document `doc` whose `regions[region]` holds `prices`, read from `source`
    on `date`. `replace=False` keeps the region's other prices (a refresh of a few types only);
    those then carry the new source and date too, so say so in `source`."""
    new = copy.deepcopy(dict(doc))
    regions = new.get("regions")
    if not isinstance(regions, dict):
        regions = new["regions"] = {}
    old = regions.get(region) if isinstance(regions.get(region), Mapping) else None
    table: dict[str, float] = {}
    if not replace and old is not None and isinstance(old.get("prices"), Mapping):
        table.update(old["prices"])
    table.update(prices)
    regions[region] = {"price_source": source, "price_date": date,
                       "prices": {k: table[k] for k in sorted(table)}}
    new["regions"] = {k: regions[k] for k in sorted(regions)}
    return new
