"""`infrec catalog refresh`: Price List products → a user's catalog file, per region. boto3 runs against
botocore's Stubber (no network: an unstubbed call raises), on responses shaped like the real
`pricing.get_products` ones — each PriceList entry a JSON string of one SageMaker product."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from infrec.core.catalog import Catalog
from infrec.core.pricelist import HourlyPrices, PriceListError, read_products
from infrec.pricing import refresh as pricing
from infrec.pricing.refresh import RefreshError, fetch_region, refresh_file

REGION_NAMES = {"eu-west-1": ("EU (Ireland)", "EU"), "us-east-1": ("US East (N. Virginia)", "USE1")}


def product(name: str, region: str, usd: str, *, unit: str = "Hrs", component: str = "Hosting",
            sku: str = "JDZQJFUVUR8SUWHS") -> str:
    """One Price List product as the API returns it (a JSON string), after a real SageMaker hosting SKU."""
    location, prefix = REGION_NAMES.get(region, (region, region.upper()))
    offer, rate = "JRTCKXETXF", "6YS6EN2CT7"
    return json.dumps({
        "product": {"productFamily": "ML Instance", "sku": sku, "attributes": {
            "regionCode": region, "servicecode": "AmazonSageMaker", "location": location,
            "locationType": "AWS Region", "usagetype": f"{prefix}-Host:{name}", "operation": "RunInstance",
            "instanceName": name, "instanceType": f"{name}-{component}", "component": component,
            "vCpu": "2", "memory": "8 GiB", "computeType": "CPU", "servicename": "Amazon SageMaker"}},
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {f"{sku}.{offer}": {
            "priceDimensions": {f"{sku}.{offer}.{rate}": {
                "unit": unit, "endRange": "Inf", "beginRange": "0", "appliesTo": [], "rateCode": f"{sku}.{offer}.{rate}",
                "description": f"${usd} per {component} {name} in {location}", "pricePerUnit": {"USD": usd}}},
            "sku": sku, "effectiveDate": "2026-05-01T00:00:00Z", "offerTermCode": offer, "termAttributes": {}}}},
        "version": "20260520000000", "publicationDate": "2026-05-20T00:00:00Z"})


def params(region: str, token: str | None = None, name: str | None = None) -> dict[str, Any]:
    filters = [{"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
               {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    if name:
        filters.append({"Type": "TERM_MATCH", "Field": "instanceName", "Value": name})
    p: dict[str, Any] = {"ServiceCode": "AmazonSageMaker", "FormatVersion": "aws_v1", "Filters": filters,
                         "MaxResults": 100}
    if token:
        p["NextToken"] = token
    return p


@pytest.fixture
def client() -> Iterator[tuple[Any, Stubber]]:
    c = boto3.client("pricing", region_name="us-east-1")
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


def stub_eu_west_1(stub: Stubber) -> None:
    """Two pages for eu-west-1: a price, a type priced twice (the highest wins), and products that are
    not hourly hosting prices (skipped)."""
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "NextToken": "page-2", "PriceList": [
        product("ml.m5.large", "eu-west-1", "0.1290000000"),
        product("ml.g4dn.xlarge", "eu-west-1", "0.8200000000", sku="A"),
        product("ml.m5.large", "eu-west-1", "0.0000000000", unit="Quantity", sku="B"),
    ]}, params("eu-west-1"))
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
        product("ml.g4dn.xlarge", "eu-west-1", "0.8300000000", sku="C"),
        product("ml.c5.large", "eu-west-1", "0.1200000000", sku="D"),
    ]}, params("eu-west-1", "page-2"))


def test_read_products_parses_real_shapes() -> None:
    got = read_products([product("ml.m5.large", "us-east-1", "0.1150000000"),
                         product("ml.m5.large", "us-east-1", "0.3000000000", component="Training"),
                         json.loads(product("ml.c5.large", "us-east-1", "0.1020000000"))])
    assert got.prices == {"us-east-1": {"ml.m5.large": 0.115, "ml.c5.large": 0.102}} and got.skipped == 1
    with pytest.raises(PriceListError, match=r"PriceList\[1\] is not valid JSON"):
        read_products([product("ml.m5.large", "us-east-1", "1"), "{not json"], HourlyPrices())


def test_fetch_region_paginates_and_keeps_the_highest(client: tuple[Any, Stubber]) -> None:
    c, stub = client
    stub_eu_west_1(stub)
    assert fetch_region(c, "eu-west-1") == {"ml.m5.large": 0.129, "ml.g4dn.xlarge": 0.83, "ml.c5.large": 0.12}


def test_refresh_creates_a_catalog_file_priced_per_region(client: tuple[Any, Stubber], tmp_path: Path) -> None:
    c, stub = client
    stub_eu_west_1(stub)
    out = tmp_path / "sub" / "catalog.json"
    [r] = refresh_file(out, ["eu-west-1"], c, today="2026-08-01")
    assert (r.region, r.prices, r.catalog_types_priced) == ("eu-west-1", 3, 3)
    assert ("ml.m5.large", None, 0.129) in r.changed
    cat = Catalog.load(out, "eu-west-1")
    m5 = cat.get("ml.m5.large")
    assert (m5.price_per_hour, m5.price_date, m5.price_region) == (0.129, "2026-08-01", "eu-west-1")
    assert "AWS Price List Query API" in m5.price_source
    assert sorted(cat.names()) == ["ml.c5.large", "ml.g4dn.xlarge", "ml.m5.large"]
    assert cat.get("ml.g4dn.xlarge").accelerators is not None  # resources come from the packaged types
    # Other regions are not in the file: nothing is priced there, never as in eu-west-1.
    assert len(Catalog.load(out, "us-east-1")) == 0


def test_refresh_into_an_old_style_user_file_and_of_one_type(client: tuple[Any, Stubber], tmp_path: Path) -> None:
    c, stub = client
    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"price_source": "hand-typed", "price_date": "2024-06-01", "instance_types": [
        {"name": "ml.m5.large", "vcpus": 2, "memory_gib": 8, "price_per_hour": 0.115},
        {"name": "ml.c5.large", "vcpus": 2, "memory_gib": 4, "price_per_hour": 0.102}]}))
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
        product("ml.m5.large", "us-east-1", "0.1150000000"), product("ml.c5.large", "us-east-1", "0.1050000000")]},
        params("us-east-1"))
    refresh_file(f, ["us-east-1"], c, today="2026-08-01")
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [
        product("ml.m5.large", "us-east-1", "0.1200000000")]}, params("us-east-1", name="ml.m5.large"))
    [r] = refresh_file(f, ["us-east-1"], c, instance_names=["ml.m5.large"], today="2026-08-02")
    assert r.changed == [("ml.m5.large", 0.115, 0.12)]
    doc = json.loads(f.read_text())
    assert doc["price_source"] == "hand-typed"  # the file's own prices and defaults are kept
    assert doc["regions"]["us-east-1"]["prices"] == {"ml.c5.large": 0.105, "ml.m5.large": 0.12}
    assert "refreshed types only: ml.m5.large" in doc["regions"]["us-east-1"]["price_source"]
    us = Catalog.load(f, "us-east-1")
    assert us.get("ml.c5.large").price_per_hour == 0.105 and us.get("ml.m5.large").price_date == "2026-08-02"
    assert Catalog.load(f, "eu-west-1").get("ml.m5.large").price_per_hour == 0.115  # own price, any region


def test_refresh_failures_write_nothing(client: tuple[Any, Stubber], tmp_path: Path) -> None:
    c, stub = client
    f = tmp_path / "mine.json"
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []}, params("eu-wst-1"))
    with pytest.raises(RefreshError, match="no SageMaker hosting prices in region 'eu-wst-1'"):
        refresh_file(f, ["eu-wst-1"], c)
    stub.add_client_error("get_products", "AccessDeniedException", "not authorized to perform: pricing:GetProducts",
                          expected_params=params("eu-west-1"))
    with pytest.raises(RefreshError, match=r"AccessDeniedException.*pricing:GetProducts"):
        refresh_file(f, ["eu-west-1"], c)
    assert not f.exists()
    f.write_text('{"instance_types": "oops"}')
    with pytest.raises(RefreshError, match="instance_types"):
        refresh_file(f, ["eu-west-1"], c)  # refused before any call
    assert f.read_text() == '{"instance_types": "oops"}'


def test_cli_refresh_writes_the_infrec_catalog_file(client: tuple[Any, Stubber], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from infrec.cli import app

    c, stub = client
    stub_eu_west_1(stub)
    monkeypatch.setattr(pricing, "pricing_client", lambda api_region="us-east-1": c)
    f = tmp_path / "cat.json"
    res = CliRunner().invoke(app, ["catalog", "refresh", "--region", "eu-west-1"],
                             env={"INFREC_CATALOG": str(f), "COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "eu-west-1: 3 hosting prices read" in res.stdout and str(f) in res.stdout
    res = CliRunner().invoke(app, ["catalog", "list", "--region", "eu-west-1"],
                             env={"INFREC_CATALOG": str(f), "COLUMNS": "200"})
    assert res.exit_code == 0 and "0.1290" in res.stdout and "AWS Price List Query API" in res.stdout
