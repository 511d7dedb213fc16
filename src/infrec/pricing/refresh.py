"""`infrec catalog refresh`: current SageMaker hosting prices from the AWS Price List Query API,
written per region into a user's catalog file (the one `INFREC_CATALOG` names, or `--output`).

The Price List API answers from a few AWS regions only (us-east-1, eu-central-1, ap-south-1);
which one is asked does not change the prices, which are filtered by `regionCode`. It needs AWS
credentials allowed `pricing:GetProducts`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infrec.core.catalog import Catalog, CatalogError, packaged_resources, parse_json, read_catalog_text
from infrec.core.pricelist import (
    REFRESH_SOURCE,
    SERVICE_CODE,
    HourlyPrices,
    PriceListError,
    product_filters,
    read_products,
    with_region_prices,
)

PRICING_API_REGION = "us-east-1"
MAX_PAGES = 200  # 100 products a page: far more than SageMaker has in one region; a loop guard


class RefreshError(RuntimeError):
    """Refreshing failed; the message says what and nothing was written."""


@dataclass(frozen=True)
class RegionRefresh:
    """What one region's refresh found: prices read, how many of the file's types they cover, and
    how many of those changed."""

    region: str
    prices: int
    catalog_types_priced: int
    changed: list[tuple[str, float | None, float]]


def pricing_client(api_region: str = PRICING_API_REGION) -> Any:
    """A boto3 client for the Price List Query API (a function so tests hand in a stubbed one)."""
    import boto3

    return boto3.client("pricing", region_name=api_region)


def fetch_region(client: Any, region: str, instance_names: Sequence[str] | None = None) -> dict[str, float]:
    """{instanceName: USD/hour} of SageMaker real-time hosting in `region`: one paginated query for
    the whole region, or one per name in `instance_names`."""
    prices = HourlyPrices()
    names: list[str | None] = list(instance_names) if instance_names else [None]
    for name in names:
        token: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "FormatVersion": "aws_v1",
                                      "Filters": product_filters(region, name), "MaxResults": 100}
            if token:
                params["NextToken"] = token
            page = _call(client, params)
            try:
                read_products(page.get("PriceList") or [], prices)
            except PriceListError as exc:
                raise RefreshError(f"the Price List answered something infrec cannot read for {region}: {exc}") from None
            token = page.get("NextToken")
            if not token:
                break
        else:
            raise RefreshError(f"the Price List kept paging past {MAX_PAGES} pages for {region}; stopped")
    # Filters match server-side; keep only the region asked for in case a product says otherwise.
    return dict(prices.prices.get(region, {}))


def _call(client: Any, params: dict[str, Any]) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        page: dict[str, Any] = client.get_products(**params)
    except NoCredentialsError:
        raise RefreshError("the AWS Price List API needs AWS credentials (any identity allowed "
                           "pricing:GetProducts); none were found") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise RefreshError(f"the AWS Price List API refused: {err.get('Code', '?')}: "
                           f"{err.get('Message', exc)}") from None
    except BotoCoreError as exc:
        raise RefreshError(f"the AWS Price List API could not be reached: {exc}") from None
    return page


def _load_target(path: Path) -> dict[str, Any]:
    """The file to refresh, checked to be a usable catalog; a new one starts from the packaged types."""
    if not path.exists():
        doc = copy.deepcopy(packaged_resources())
        doc["description"] = ("SageMaker real-time instance types (resources from infrec's packaged catalog) "
                              "with prices per region read by `infrec catalog refresh` from the AWS Price List.")
        return doc
    doc = parse_json(read_catalog_text(path), str(path))
    Catalog.from_dict(doc, str(path))  # refuse to write into a file that is not a catalog
    if not isinstance(doc, dict):  # a bare list of types is a catalog too
        doc = {"instance_types": doc}
    return doc


def refresh_file(path: str | Path, regions: Sequence[str], client: Any, *,
                 instance_names: Sequence[str] | None = None, today: str | None = None) -> list[RegionRefresh]:
    """Read `regions`' hosting prices from the Price List and write them into catalog file `path`
    (created from the packaged types when missing). All regions are read before anything is
    written; a region with no prices at all fails the whole refresh (most likely a misspelt region)."""
    target = Path(path).expanduser()
    if not regions:
        raise RefreshError("name at least one region")
    try:
        doc = _load_target(target)
    except CatalogError as exc:
        raise RefreshError(f"cannot refresh {str(target)!r}: {exc}") from None
    date = today or datetime.now(UTC).date().isoformat()
    source = REFRESH_SOURCE if not instance_names else f"{REFRESH_SOURCE}; refreshed types only: {', '.join(instance_names)}"
    names = {t.get("name") for t in doc.get("instance_types") or [] if isinstance(t, dict)}
    results: list[RegionRefresh] = []
    for region in dict.fromkeys(regions):
        prices = fetch_region(client, region, instance_names)
        if not prices:
            what = f" for {', '.join(instance_names)}" if instance_names else ""
            raise RefreshError(f"the AWS Price List has no SageMaker hosting prices in region {region!r}{what}; "
                               "check the region name (e.g. eu-west-1); nothing was written")
        old_table = ((doc.get("regions") or {}).get(region) or {}).get("prices") or {}
        changed = sorted((n, old_table.get(n), p) for n, p in prices.items()
                         if n in names and old_table.get(n) != p)
        doc = with_region_prices(doc, region, prices, source=source, date=date, replace=not instance_names)
        results.append(RegionRefresh(region, len(prices), len(names & set(prices)), changed))
    _write(target, doc)
    return results


def _write(path: Path, doc: dict[str, Any]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RefreshError(f"cannot write {str(path)!r}: {exc.strerror}") from None
