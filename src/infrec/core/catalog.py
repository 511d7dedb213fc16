"""Instance types as data: resources and an hourly price per region, from a catalog a user can replace.

A recommendation is priced and sized from these numbers, so they live in data files rather than in
code: `core/data/catalog.json` holds what each SageMaker type gives a model server (vCPUs, memory,
accelerators) and `core/data/prices.json` what it costs per hour in each AWS region, copied from an
AWS Price List extract (its source, date and license are in the file). A user outside AWS
(on-premises nodes, another cloud) writes their own file and infrec treats those types exactly like
SageMaker's.

Prices are per region and never borrowed: the catalog is built for one region (`INFREC_REGION`,
default us-east-1) and a type without a price there is *not offered* in it — `get` refuses it with a
message naming the type, the region and the price list's date, rather than pricing it as elsewhere.

Parsing is pure (`Catalog.from_dict`); the loaders only read bytes and hand them over.

File format (JSON)::

    {"price_source": "...", "price_date": "YYYY-MM-DD",          # defaults for every price below
     "regions": {                                                # optional: prices per region
        "eu-west-1": {"prices": {"ml.m5.large": 0.128},
                      "price_source": "...", "price_date": "..."}},   # optional overrides
     "instance_types": [
        {"name": "ml.m5.large", "vcpus": 2, "memory_gib": 8,
         "price_per_hour": 0.115,                                 # optional: your own price, any region
         "accelerators": {"count": 1, "kind": "NVIDIA T4", "memory_gib": 16},   # optional
         "price_source": "...", "price_date": "..."}                           # optional overrides
     ],
     "serverless": {"price_per_gb_second": {"us-east-1": 0.00002},             # optional
                    "price_source": "...", "price_date": "..."}}

A type's price in region R: the `regions[R]` table when it lists the type, else the type's own
`price_per_hour` (a price you set yourself, the same in every region — files written before regions
existed work unchanged), else none: the type is not offered in R.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_CATALOG_ENV = "INFREC_CATALOG"
REGION_ENV = "INFREC_REGION"
DEFAULT_REGION = "us-east-1"
_PACKAGED = "infrec's packaged catalog"


class CatalogError(ValueError):
    """A catalog file that cannot be used; the message names the file and the bad entry."""


class UnknownInstanceType(LookupError):
    """An instance type the catalog does not hold; the message suggests close names."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotOfferedInRegion(UnknownInstanceType):
    """A type the catalog knows but has no price for in the catalog's region. A subclass of
    UnknownInstanceType so every caller that refuses unknown types refuses this one too, with a
    message naming the region and the price list's date instead of a typo hint."""

    def __init__(self, name: str, region: str, message: str) -> None:
        super().__init__(name, message)
        self.region = region


class PriceUnavailable(LookupError):
    """No price of some kind (e.g. serverless) for the catalog's region; the message says why."""


@dataclass(frozen=True)
class Accelerators:
    """GPUs or inference chips of one instance type (`count` devices of `kind`, each `memory_gib`)."""

    count: int
    kind: str
    memory_gib: float

    def describe(self) -> str:
        return f"{self.count} × {self.kind} ({self.memory_gib:g} GiB)"


@dataclass(frozen=True)
class InstanceType:
    """One instance type: what it gives a model server and what it costs per hour in the catalog's
    region (`price_region`; empty for a user's own region-neutral price)."""

    name: str
    vcpus: float
    memory_gib: float
    price_per_hour: float
    accelerators: Accelerators | None = None
    price_source: str = ""
    price_date: str = ""
    price_region: str = ""

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * 1024**3)

    def price_record(self) -> dict[str, Any]:
        """`{"Price": {...}}` for a step's Details: the hourly price a result was costed with, and its
        region, source and date, so a report shows them even after the catalog changes. Empty for a
        type without a catalog price (e.g. serverless, priced otherwise)."""
        if not (self.price_source or self.price_date):
            return {}
        return {"Price": {"UsdPerHour": self.price_per_hour, "Region": self.price_region,
                          "Source": self.price_source, "Date": self.price_date}}


@dataclass(frozen=True)
class UnpricedType:
    """A type whose resources the catalog knows but which has no price in the catalog's region:
    listed (so people see it exists elsewhere), never benchmarked or priced."""

    name: str
    vcpus: float
    memory_gib: float
    accelerators: Accelerators | None = None


@dataclass(frozen=True)
class PriceTable:
    """One region's hourly prices, with the source and date they were read from."""

    region: str
    prices: Mapping[str, float]
    source: str
    date: str


@dataclass(frozen=True)
class ServerlessPrice:
    """SageMaker Serverless Inference compute price in one region: USD per GB-second of configured
    memory (1024 MB = 1 GB), with its source and date."""

    region: str
    usd_per_gb_second: float
    source: str
    date: str

    def cost(self, memory_size_mb: float, seconds: float) -> float:
        """USD for `seconds` of compute on an endpoint configured with `memory_size_mb` (MemorySizeInMB)."""
        return memory_size_mb / 1024.0 * seconds * self.usd_per_gb_second


@dataclass(frozen=True)
class _Parsed:
    """A type as written in the file, before its price for a region is chosen."""

    unpriced: UnpricedType
    own_price: float | None
    source: str
    date: str


def _number(entry: Mapping[str, Any], key: str, where: str, *, required: bool = True,
            positive: bool = True) -> float:
    value = entry.get(key)
    if value is None and not required:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogError(f"{where}: {key!r} must be a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise CatalogError(f"{where}: {key!r} must be {'positive' if positive else 'zero or more'}, got {value}")
    return float(value)


def _parse_type(entry: Any, index: int, defaults: Mapping[str, Any], origin: str,
                price_required: bool) -> _Parsed:
    where = f"{origin}: instance_types[{index}]"
    if not isinstance(entry, Mapping):
        raise CatalogError(f"{where} must be an object, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CatalogError(f"{where}: 'name' must be a non-empty string")
    where = f"{origin}: instance type {name!r}"
    unknown = set(entry) - {"name", "vcpus", "memory_gib", "price_per_hour", "accelerators",
                            "price_source", "price_date"}
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    acc_doc = entry.get("accelerators")
    acc: Accelerators | None = None
    if acc_doc is not None:
        if not isinstance(acc_doc, Mapping):
            raise CatalogError(f"{where}: 'accelerators' must be an object with count, kind, memory_gib")
        kind = acc_doc.get("kind")
        if not isinstance(kind, str) or not kind:
            raise CatalogError(f"{where}: accelerators 'kind' must be a non-empty string")
        acc = Accelerators(count=int(_number(acc_doc, "count", where)), kind=kind,
                           memory_gib=_number(acc_doc, "memory_gib", where, required=False, positive=False))
    own: float | None = None
    if entry.get("price_per_hour") is not None or price_required:
        own = _number(entry, "price_per_hour", where, positive=False)
    return _Parsed(
        unpriced=UnpricedType(name=name.strip(), vcpus=_number(entry, "vcpus", where),
                              memory_gib=_number(entry, "memory_gib", where), accelerators=acc),
        own_price=own,
        source=str(entry.get("price_source", defaults.get("price_source", ""))),
        date=str(entry.get("price_date", defaults.get("price_date", ""))),
    )


def _text(doc: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise CatalogError(f"{where}: {key!r} must be a string, got {value!r}")
    return value


def parse_price_tables(regions: Any, defaults: Mapping[str, Any], origin: str) -> dict[str, PriceTable]:
    """`regions` of a catalog or prices file → PriceTable per region. Pure; errors name the entry."""
    if regions is None:
        return {}
    if not isinstance(regions, Mapping):
        raise CatalogError(f"{origin}: 'regions' must be an object of region → {{\"prices\": {{type: USD/hour}}}}")
    d_source = _text(defaults, "price_source", "", origin)
    d_date = _text(defaults, "price_date", "", origin)
    tables: dict[str, PriceTable] = {}
    for region, entry in regions.items():
        where = f"{origin}: regions[{region!r}]"
        if not isinstance(region, str) or not region.strip():
            raise CatalogError(f"{origin}: a region name must be a non-empty string, got {region!r}")
        if not isinstance(entry, Mapping) or not isinstance(entry.get("prices"), Mapping):
            raise CatalogError(f"{where} must be an object with 'prices' (instance type → USD/hour)")
        unknown = set(entry) - {"prices", "price_source", "price_date"}
        if unknown:
            raise CatalogError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        prices = {str(name): _number(entry["prices"], name, where, positive=False) for name in entry["prices"]}
        tables[region] = PriceTable(region=region, prices=prices,
                                    source=_text(entry, "price_source", d_source, where),
                                    date=_text(entry, "price_date", d_date, where))
    return tables


def _parse_serverless(doc: Any, origin: str) -> dict[str, ServerlessPrice]:
    if doc is None:
        return {}
    where = f"{origin}: serverless"
    if not isinstance(doc, Mapping) or not isinstance(doc.get("price_per_gb_second"), Mapping):
        raise CatalogError(f"{where} must be an object with 'price_per_gb_second' (region → USD per GB-second)")
    source, date = _text(doc, "price_source", "", where), _text(doc, "price_date", "", where)
    per = doc["price_per_gb_second"]
    return {str(r): ServerlessPrice(str(r), _number(per, r, where), source, date) for r in per}


def merge_prices(catalog_doc: Mapping[str, Any], prices_doc: Mapping[str, Any]) -> dict[str, Any]:
    """The packaged catalog: resources from catalog.json, prices (per region, serverless) and their
    source/date from prices.json. Pure."""
    merged = dict(catalog_doc)
    for key in ("price_source", "price_date", "regions", "serverless"):
        if key in prices_doc:
            merged[key] = prices_doc[key]
    return merged


class Catalog:
    """The instance types infrec knows, priced for one region, by name. Immutable once built.

    Iteration, `names()`, `has()` and `get()` cover the types *offered* (priced) in `region`; the
    others are in `not_offered()`, and `get()` refuses them with a message naming the region.
    """

    def __init__(self, types: list[InstanceType], origin: str = "<memory>", *, region: str = DEFAULT_REGION,
                 unpriced: list[UnpricedType] | None = None,
                 price_tables: Mapping[str, PriceTable] | None = None,
                 serverless: Mapping[str, ServerlessPrice] | None = None) -> None:
        self.origin = origin
        self.region = region
        self.price_tables: dict[str, PriceTable] = dict(price_tables or {})
        self._serverless: dict[str, ServerlessPrice] = dict(serverless or {})
        self._types: dict[str, InstanceType] = {}
        self._unpriced: dict[str, UnpricedType] = {}
        for t in types:
            self._check_new(t.name)
            self._types[t.name] = t
        for u in unpriced or []:
            self._check_new(u.name)
            self._unpriced[u.name] = u

    def _check_new(self, name: str) -> None:
        if name in self._types or name in self._unpriced:
            raise CatalogError(f"{self.origin}: instance type {name!r} is defined twice")

    # ---------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, doc: Any, origin: str = "<memory>", *, region: str = DEFAULT_REGION) -> Catalog:
        """Parse a catalog document (the JSON file's content) and price it for `region`. Pure: no I/O."""
        if isinstance(doc, list):
            doc = {"instance_types": doc}
        if not isinstance(doc, Mapping):
            raise CatalogError(f"{origin}: a catalog is a JSON object with an 'instance_types' list")
        items = doc.get("instance_types")
        if not isinstance(items, list) or not items:
            raise CatalogError(f"{origin}: 'instance_types' must be a non-empty list")
        tables = parse_price_tables(doc.get("regions"), doc, origin)
        # Without price tables, a type's own price is the only one it can have: required, as ever.
        parsed = [_parse_type(e, i, doc, origin, price_required=not tables) for i, e in enumerate(items)]
        table = tables.get(region)
        priced: list[InstanceType] = []
        unpriced: list[UnpricedType] = []
        for p in parsed:
            u = p.unpriced
            if table is not None and u.name in table.prices:
                price, source, date, where = table.prices[u.name], table.source, table.date, region
            elif p.own_price is not None:
                price, source, date, where = p.own_price, p.source, p.date, ""
            else:
                unpriced.append(u)
                continue
            priced.append(InstanceType(name=u.name, vcpus=u.vcpus, memory_gib=u.memory_gib, price_per_hour=price,
                                       accelerators=u.accelerators, price_source=source, price_date=date,
                                       price_region=where))
        return cls(priced, origin, region=region, unpriced=unpriced, price_tables=tables,
                   serverless=_parse_serverless(doc.get("serverless"), origin))

    @classmethod
    def from_json(cls, text: str, origin: str = "<memory>", *, region: str = DEFAULT_REGION) -> Catalog:
        return cls.from_dict(parse_json(text, origin), origin, region=region)

    @classmethod
    def default(cls, region: str = DEFAULT_REGION) -> Catalog:
        """The packaged catalog of SageMaker real-time instance types, priced for `region` from the
        packaged AWS Price List extract."""
        return cls.from_dict(packaged_document(), _PACKAGED, region=region)

    @classmethod
    def load(cls, path: str | Path, region: str = DEFAULT_REGION) -> Catalog:
        """A user's catalog file; it replaces the packaged one entirely (serverless prices, which
        few files carry, fall back to the packaged ones)."""
        p = Path(path).expanduser()
        doc = parse_json(read_catalog_text(p), str(p))
        if isinstance(doc, Mapping) and "serverless" not in doc:
            doc = {**doc, "serverless": packaged_document().get("serverless")}
        return cls.from_dict(doc, str(p), region=region)

    # ---------------------------------------------------------------- lookups
    def has(self, name: str) -> bool:
        """Whether `name` can be benchmarked and priced here: known and offered in this region."""
        return name in self._types

    def knows(self, name: str) -> bool:
        """Whether the catalog holds `name` at all, offered in this region or not."""
        return name in self._types or name in self._unpriced

    def get(self, name: str) -> InstanceType:
        """The type called `name`, priced for this region. A type not offered here raises
        NotOfferedInRegion; an unknown name raises with close matches to help a typo."""
        try:
            return self._types[name]
        except KeyError:
            pass
        if name in self._unpriced:
            raise NotOfferedInRegion(name, self.region, self.not_offered_message(name))
        raise UnknownInstanceType(name, self.unknown_message([name]))

    def price_list_text(self) -> str:
        """`the price list of 2026-05-20 (AWS Price List extract …; origin)` for this region's table."""
        table = self.price_tables.get(self.region)
        if table is None:
            return self.origin
        return (f"the price list of {table.date or 'unknown date'} "
                f"({table.source or 'source not given'}; {self.origin})")

    def not_offered_message(self, name: str) -> str:
        if self.price_tables and self.region not in self.price_tables:
            return (f"instance type {name!r} has no price in region {self.region!r}: {self.origin} holds prices "
                    f"for {', '.join(sorted(self.price_tables))} only; set {REGION_ENV} to one of them, run "
                    f"`infrec catalog refresh --region {self.region}`, or give the type a price_per_hour in "
                    f"your own catalog file ({DEFAULT_CATALOG_ENV})")
        return (f"instance type {name!r} is not offered in {self.region}: it has no price there in "
                f"{self.price_list_text()}; infrec never prices it as in another region. Choose a type "
                f"offered in {self.region} (`infrec catalog list`), another region ({REGION_ENV}), or give it "
                f"a price_per_hour in your own catalog file ({DEFAULT_CATALOG_ENV})")

    def unknown_message(self, names: list[str]) -> str:
        """Why each name in `names` cannot be used: not offered in this region, or not in the catalog."""
        messages = [self.not_offered_message(n) for n in names if n in self._unpriced]
        unknown = [n for n in names if n not in self._unpriced]
        if unknown:
            parts = []
            for n in unknown:
                close = difflib.get_close_matches(n, list(self._types), n=3, cutoff=0.6)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                parts.append(f"{n!r}{hint}")
            messages.insert(0, f"instance type {', '.join(parts)} not in the catalog ({self.origin}); "
                               f"add it with a catalog file (--catalog FILE or {DEFAULT_CATALOG_ENV})")
        return "; ".join(messages)

    def names(self) -> list[str]:
        return list(self._types)

    def offered(self, names: list[str]) -> list[str]:
        """Those of `names` offered in this region, in order; all of `names` when none is, so the
        caller's refusal names them (a Default job's candidates in a region that lacks some)."""
        return [n for n in names if n in self._types] or list(names)

    def not_offered(self) -> list[UnpricedType]:
        """Types the catalog knows that have no price in this region (not offered here)."""
        return list(self._unpriced.values())

    def serverless_price(self) -> ServerlessPrice:
        """The Serverless Inference price per GB-second in this region; PriceUnavailable where the
        catalog has none for it (never the price of another region)."""
        try:
            return self._serverless[self.region]
        except KeyError:
            known = ", ".join(sorted(self._serverless)) or "none"
            raise PriceUnavailable(
                f"no Serverless Inference price for region {self.region!r} in {self.origin} (it has one for: "
                f"{known}); infrec never prices serverless as in another region — add "
                f"serverless.price_per_gb_second.{self.region} to your catalog file ({DEFAULT_CATALOG_ENV})"
            ) from None

    def __iter__(self) -> Iterator[InstanceType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types


def serverless_price_per_gb_second(catalog: Catalog) -> ServerlessPrice:
    """USD per GB-second of configured memory for SageMaker Serverless Inference in the catalog's
    region, with source and date (`.usd_per_gb_second`, `.cost(memory_size_mb, seconds)`). Raises
    PriceUnavailable where the catalog has no serverless price for its region. Pure."""
    return catalog.serverless_price()


# -------------------------------------------------------------------- reading
# Not pure, but only bytes: the packaged data files and a user's file.

def parse_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{origin}: not valid JSON ({exc})") from None


def read_catalog_text(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"catalog file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise CatalogError(f"catalog file {str(p)!r} is a folder, not a file") from None
    except OSError as exc:
        raise CatalogError(f"catalog file {str(p)!r} cannot be read: {exc.strerror}") from None


@functools.cache
def packaged_resources() -> dict[str, Any]:
    """catalog.json as written: instance types and their resources, no prices. Read once; callers
    copy before changing it."""
    text = resources.files("infrec.core").joinpath("data/catalog.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = parse_json(text, _PACKAGED)
    return doc


@functools.cache
def packaged_prices() -> dict[str, Any]:
    """prices.json as written: the AWS Price List extract per region, its source, date and license."""
    text = resources.files("infrec.core").joinpath("data/prices.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = parse_json(text, "infrec's packaged prices")
    return doc


@functools.cache
def packaged_document() -> dict[str, Any]:
    """The packaged catalog document: catalog.json's resources with prices.json's prices. Read once."""
    return merge_prices(packaged_resources(), packaged_prices())
