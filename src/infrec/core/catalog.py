"""Instance types as data: resources and an hourly price, from a catalog a user can replace.

A recommendation is priced and sized from these numbers, so they live in one data file
(`core/data/catalog.json`) rather than in code: a user outside AWS (on-premises nodes, another
cloud) writes their own file and infrec treats those types exactly like SageMaker's.

Parsing is pure (`Catalog.from_dict`); the two loaders only read bytes and hand them over.

File format (JSON)::

    {"price_source": "...", "price_date": "YYYY-MM-DD",          # defaults for every type
     "instance_types": [
        {"name": "ml.m5.large", "vcpus": 2, "memory_gib": 8, "price_per_hour": 0.115,
         "accelerators": {"count": 1, "kind": "NVIDIA T4", "memory_gib": 16},   # optional
         "price_source": "...", "price_date": "..."}                           # optional overrides
     ]}
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_CATALOG_ENV = "INFREC_CATALOG"


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
    """One instance type: what it gives a model server and what it costs per hour."""

    name: str
    vcpus: float
    memory_gib: float
    price_per_hour: float
    accelerators: Accelerators | None = None
    price_source: str = ""
    price_date: str = ""

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * 1024**3)


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


def _parse_type(entry: Any, index: int, defaults: Mapping[str, Any], origin: str) -> InstanceType:
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
    return InstanceType(
        name=name.strip(),
        vcpus=_number(entry, "vcpus", where),
        memory_gib=_number(entry, "memory_gib", where),
        price_per_hour=_number(entry, "price_per_hour", where, positive=False),
        accelerators=acc,
        price_source=str(entry.get("price_source", defaults.get("price_source", ""))),
        price_date=str(entry.get("price_date", defaults.get("price_date", ""))),
    )


class Catalog:
    """The instance types infrec knows, by name. Immutable once built."""

    def __init__(self, types: list[InstanceType], origin: str = "<memory>") -> None:
        self.origin = origin
        self._types: dict[str, InstanceType] = {}
        for t in types:
            if t.name in self._types:
                raise CatalogError(f"{origin}: instance type {t.name!r} is defined twice")
            self._types[t.name] = t

    # ---------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, doc: Any, origin: str = "<memory>") -> Catalog:
        """Parse a catalog document (the JSON file's content). Pure: no I/O."""
        if isinstance(doc, list):
            doc = {"instance_types": doc}
        if not isinstance(doc, Mapping):
            raise CatalogError(f"{origin}: a catalog is a JSON object with an 'instance_types' list")
        items = doc.get("instance_types")
        if not isinstance(items, list) or not items:
            raise CatalogError(f"{origin}: 'instance_types' must be a non-empty list")
        return cls([_parse_type(e, i, doc, origin) for i, e in enumerate(items)], origin)

    @classmethod
    def from_json(cls, text: str, origin: str = "<memory>") -> Catalog:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{origin}: not valid JSON ({exc})") from None
        return cls.from_dict(doc, origin)

    @classmethod
    def default(cls) -> Catalog:
        """The packaged catalog of SageMaker real-time instance types."""
        text = resources.files("infrec.core").joinpath("data/catalog.json").read_text(encoding="utf-8")
        return cls.from_json(text, "infrec's packaged catalog")

    @classmethod
    def load(cls, path: str | Path) -> Catalog:
        """A user's catalog file; it replaces the packaged one entirely."""
        p = Path(path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CatalogError(f"catalog file {str(p)!r} does not exist") from None
        except OSError as exc:
            raise CatalogError(f"catalog file {str(p)!r} cannot be read: {exc.strerror}") from None
        return cls.from_json(text, str(p))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Catalog:
        """`INFREC_CATALOG` when set, else the packaged default."""
        path = environ.get(DEFAULT_CATALOG_ENV)
        return cls.load(path) if path else cls.default()

    # ---------------------------------------------------------------- lookups
    def has(self, name: str) -> bool:
        return name in self._types

    def get(self, name: str) -> InstanceType:
        """The type called `name`; an unknown name raises with close matches to help a typo."""
        try:
            return self._types[name]
        except KeyError:
            raise UnknownInstanceType(name, self.unknown_message([name])) from None

    def unknown_message(self, names: list[str]) -> str:
        parts = []
        for n in names:
            close = difflib.get_close_matches(n, list(self._types), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            parts.append(f"{n!r}{hint}")
        return (f"instance type {', '.join(parts)} not in the catalog ({self.origin}); "
                f"add it with a catalog file (--catalog FILE or {DEFAULT_CATALOG_ENV})")

    def names(self) -> list[str]:
        return list(self._types)

    def __iter__(self) -> Iterator[InstanceType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types
