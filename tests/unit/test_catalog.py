"""The instance catalog: packaged data is complete and sane; user files replace it; errors name the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infrec.config import Settings
from infrec.core.catalog import Catalog, CatalogError, UnknownInstanceType
from infrec.services import catalog_for

# Families offered (priced) in us-east-1 by the packaged AWS Price List extract. ml.t3, ml.m6i and
# ml.r6i are in catalog.json but have no SageMaker hosting price there: not offered (tested below).
FAMILIES = ["ml.t2", "ml.m5", "ml.m7i", "ml.c5", "ml.c6i", "ml.c7i", "ml.r5",
            "ml.c6g", "ml.c7g", "ml.g4dn", "ml.g5", "ml.g6", "ml.inf1", "ml.inf2", "ml.p3", "ml.p4d"]


def test_packaged_catalog_covers_common_families_with_priced_types() -> None:
    cat = Catalog.default()
    for fam in FAMILIES:
        assert any(n.startswith(fam + ".") for n in cat.names()), fam
    for t in cat:
        assert t.vcpus > 0 and t.memory_gib > 0 and t.price_per_hour > 0, t
        assert t.price_source and t.price_date == "2026-05-20" and t.price_region == "us-east-1", t
    m5 = cat.get("ml.m5.large")
    assert (m5.vcpus, m5.memory_gib, m5.accelerators) == (2, 8, None)
    g4 = cat.get("ml.g4dn.xlarge")
    assert g4.accelerators is not None and g4.accelerators.count == 1 and "T4" in g4.accelerators.kind
    # Bigger sizes of one family cost more: a cheap sanity check on the copied prices.
    c6i = [cat.get(f"ml.c6i.{s}") for s in ("large", "xlarge", "2xlarge", "4xlarge")]
    assert [t.price_per_hour for t in c6i] == sorted(t.price_per_hour for t in c6i)


def test_unknown_type_names_close_matches() -> None:
    cat = Catalog.default()
    assert not cat.has("ml.m5.larg")
    with pytest.raises(UnknownInstanceType) as exc:
        cat.get("ml.m5.larg")
    assert "ml.m5.larg" in str(exc.value) and "ml.m5.large" in str(exc.value)


def test_user_file_replaces_packaged(tmp_path: Path) -> None:
    f = tmp_path / "mine.json"
    f.write_text(json.dumps({"price_source": "our finance team", "price_date": "2025-01-01",
                             "instance_types": [{"name": "onprem.gpu", "vcpus": 16, "memory_gib": 64,
                                                 "price_per_hour": 1.5,
                                                 "accelerators": {"count": 2, "kind": "L40S", "memory_gib": 48}},
                                                {"name": "onprem.half", "vcpus": 0.5, "memory_gib": 1,
                                                 "price_per_hour": 0.01, "price_date": "2025-02-02"}]}))
    cat = Catalog.load(f)
    assert cat.names() == ["onprem.gpu", "onprem.half"]
    assert not cat.has("ml.m5.large")
    assert cat.get("onprem.gpu").price_source == "our finance team"
    assert cat.get("onprem.half").vcpus == 0.5 and cat.get("onprem.half").price_date == "2025-02-02"
    assert catalog_for(Settings.from_env({"INFREC_CATALOG": str(f)})).names() == cat.names()
    assert catalog_for(Settings.from_env({})).has("ml.m5.large")


@pytest.mark.parametrize(("doc", "needle"), [
    ("not json", "not valid JSON"),
    ('{"instance_types": []}', "non-empty list"),
    ('{"instance_types": [{"name": "a", "vcpus": -1, "memory_gib": 1, "price_per_hour": 1}]}', "'vcpus'"),
    ('{"instance_types": [{"name": "a", "vcpus": 1, "memory_gib": 1}]}', "'price_per_hour'"),
    ('{"instance_types": [{"name": "a", "vcpus": 1, "memory_gib": 1, "price_per_hour": 1, "cpu": 2}]}', "cpu"),
    ('{"instance_types": [{"name": "a", "vcpus": 1, "memory_gib": 1, "price_per_hour": 1},'
     ' {"name": "a", "vcpus": 1, "memory_gib": 1, "price_per_hour": 1}]}', "twice"),
])
def test_bad_files_get_clear_errors(tmp_path: Path, doc: str, needle: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(doc)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(f)
    assert needle in str(exc.value) and str(f) in str(exc.value)


def test_missing_file() -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog.load("/nonexistent/catalog.json")


def test_cli_lists_catalog(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "infrec"
    out = subprocess.run([str(exe), "catalog", "list", "--family", "ml.c6i"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "ml.c6i.large" in out.stdout and "ml.m5.large" not in out.stdout
    bad = subprocess.run([str(exe), "catalog", "list", "--catalog", str(tmp_path / "none.json")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr


# ------------------------------------------------------------------ prices per region

# Twelve us-east-1 prices that hand-typed lists commonly get wrong by more than 0.5 %, as the AWS
# Price List extract of 2026-05-20 has them.
CORRECTED_US_EAST_1 = {
    "ml.g4dn.2xlarge": 0.94, "ml.g4dn.4xlarge": 1.505, "ml.g4dn.8xlarge": 2.72, "ml.g4dn.12xlarge": 4.89,
    "ml.g4dn.16xlarge": 5.44, "ml.g6.xlarge": 1.1267, "ml.inf1.2xlarge": 0.434, "ml.inf1.6xlarge": 1.416,
    "ml.inf1.24xlarge": 5.666, "ml.inf2.24xlarge": 7.79, "ml.inf2.48xlarge": 15.58, "ml.p4d.24xlarge": 25.2513,
}


@pytest.mark.parametrize(("name", "price"), sorted(CORRECTED_US_EAST_1.items()))
def test_corrected_us_east_1_prices(name: str, price: float) -> None:
    t = Catalog.default("us-east-1").get(name)
    assert t.price_per_hour == pytest.approx(price, abs=5e-5)
    assert (t.price_region, t.price_date) == ("us-east-1", "2026-05-20") and "AWS Price List" in t.price_source


def test_packaged_prices_are_the_reference_file_per_region() -> None:
    """Every region's prices come from the packaged Price List extract, and no catalog type is priced
    in a region that lacks it."""
    from infrec.core.catalog import packaged_prices

    doc = packaged_prices()
    assert doc["price_date"] == "2026-05-20" and "MIT License" in doc["license"] and "RightScale" in doc["license"]
    assert len(doc["regions"]) == 37
    for region in ("eu-west-1", "af-south-1", "ap-southeast-5"):
        cat = Catalog.default(region)
        table = doc["regions"][region]["prices"]
        assert {t.name: t.price_per_hour for t in cat} == {n: p for n, p in table.items() if cat.has(n)}
        assert all(u.name not in table for u in cat.not_offered())
        assert len(cat) + len(cat.not_offered()) == 119


def test_type_not_offered_in_region_is_refused_never_priced_as_elsewhere() -> None:
    from infrec.core.catalog import NotOfferedInRegion

    us, af = Catalog.default("us-east-1"), Catalog.default("af-south-1")
    assert us.get("ml.c6i.large").price_per_hour > 0
    assert not af.has("ml.c6i.large") and af.knows("ml.c6i.large") and "ml.c6i.large" not in af.names()
    with pytest.raises(NotOfferedInRegion) as exc:
        af.get("ml.c6i.large")
    msg = str(exc.value)
    assert "'ml.c6i.large'" in msg and "af-south-1" in msg and "2026-05-20" in msg
    assert isinstance(exc.value, UnknownInstanceType) and exc.value.region == "af-south-1"
    # What the job service says for a mix of a typo and a type not offered (it calls unknown_message).
    both = af.unknown_message(["ml.c6i.large", "ml.c5.larg"])
    assert "not offered in af-south-1" in both and "did you mean ml.c5.large" in both
    # ml.t3 is in catalog.json but SageMaker hosting has no price for it in us-east-1.
    assert not us.has("ml.t3.medium") and {u.name for u in us.not_offered()} >= {"ml.t3.medium", "ml.m6i.large"}


def test_unknown_region_names_the_regions_with_prices() -> None:
    cat = Catalog.default("mars-1")
    assert len(cat) == 0
    with pytest.raises(UnknownInstanceType, match=r"no price in region 'mars-1'.*eu-west-1"):
        cat.get("ml.m5.large")


def test_region_from_environment() -> None:
    assert catalog_for(Settings.from_env({"INFREC_REGION": "eu-west-1"})).get("ml.m5.large").price_per_hour == 0.128
    assert catalog_for(Settings.from_env({})).get("ml.m5.large").price_per_hour == 0.115


def test_user_file_regions_take_precedence_and_own_prices_stay(tmp_path: Path) -> None:
    f = tmp_path / "mine.json"
    f.write_text(json.dumps({
        "price_source": "our finance team", "price_date": "2025-01-01",
        "regions": {"eu-west-1": {"price_source": "AWS Price List", "price_date": "2026-06-01",
                                  "prices": {"ml.m5.large": 0.2, "ml.other": 9}}},
        "instance_types": [{"name": "ml.m5.large", "vcpus": 2, "memory_gib": 8, "price_per_hour": 0.1},
                           {"name": "onprem", "vcpus": 4, "memory_gib": 8, "price_per_hour": 0.05},
                           {"name": "ml.c5.large", "vcpus": 2, "memory_gib": 4}]}))
    eu = Catalog.load(f, "eu-west-1")
    m5 = eu.get("ml.m5.large")
    assert (m5.price_per_hour, m5.price_region, m5.price_date, m5.price_source) == (
        0.2, "eu-west-1", "2026-06-01", "AWS Price List")
    assert eu.get("onprem").price_per_hour == 0.05 and eu.get("onprem").price_region == ""
    assert not eu.has("ml.c5.large") and eu.names() == ["ml.m5.large", "onprem"]
    us = Catalog.load(f, "us-east-1")
    assert us.get("ml.m5.large").price_per_hour == 0.1 and us.get("ml.m5.large").price_date == "2025-01-01"
    with pytest.raises(UnknownInstanceType, match="no price in region 'us-east-1'"):
        us.get("ml.c5.large")
    # A file without serverless prices gets the packaged ones.
    assert us.serverless_price().usd_per_gb_second == 0.00002


@pytest.mark.parametrize(("regions", "needle"), [
    ('[]', "'regions' must be an object"),
    ('{"eu-west-1": {"ml.m5.large": 0.1}}', "regions['eu-west-1'] must be an object with 'prices'"),
    ('{"eu-west-1": {"prices": {"ml.m5.large": "cheap"}}}', "'ml.m5.large' must be a number"),
    ('{"eu-west-1": {"prices": {}, "currency": "EUR"}}', "unknown field(s) currency"),
])
def test_bad_region_tables_get_clear_errors(tmp_path: Path, regions: str, needle: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text('{"regions": ' + regions + ', "instance_types": [{"name": "a", "vcpus": 1, "memory_gib": 1}]}')
    with pytest.raises(CatalogError) as exc:
        Catalog.load(f)
    assert needle in str(exc.value) and str(f) in str(exc.value)


def test_serverless_price_per_gb_second() -> None:
    from infrec.core.catalog import PriceUnavailable, serverless_price_per_gb_second

    price = serverless_price_per_gb_second(Catalog.default("us-east-1"))
    assert price.usd_per_gb_second == 0.00002 and price.region == "us-east-1"
    assert price.source and price.date == "2022-08-16"
    assert price.cost(1024, 1) == pytest.approx(0.00002) and price.cost(6144, 10) == pytest.approx(0.0012)
    with pytest.raises(PriceUnavailable, match="eu-west-1"):
        serverless_price_per_gb_second(Catalog.default("eu-west-1"))


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from infrec.cli import app

    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "INFREC_CATALOG": "", "INFREC_REGION": "",
                                                **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def test_cli_lists_eu_west_1_prices_with_date_and_source() -> None:
    code, out, _ = _cli(["catalog", "list", "--region", "eu-west-1"])
    assert code == 0
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "0.1280" in rows["ml.m5.large"] and "2026-05-20" in rows["ml.m5.large"]
    assert "27.2730" in rows["ml.p4d.24xlarge"] and "0.8210" in rows["ml.g4dn.xlarge"]
    assert "ml.t3.medium" not in rows
    assert "Prices: USD/hour on-demand in eu-west-1 — AWS Price List extract" in out and "2026-05-20" in out
    assert "22 type(s) in the catalog have no price in eu-west-1" in out
    # INFREC_REGION picks the column when --region is absent; --all shows the types not offered.
    code, out, _ = _cli(["catalog", "list", "--family", "ml.t3", "--all"], {"INFREC_REGION": "eu-west-1"})
    assert code == 0 and "ml.t3.medium" in out and "not offered in eu-west-1" in out


def test_cli_show_and_refusals() -> None:
    code, out, _ = _cli(["catalog", "show", "ml.g4dn.2xlarge"])
    assert code == 0 and "0.9400 USD/hour" in out and "us-east-1" in out and "2026-05-20" in out
    code, _, err = _cli(["catalog", "show", "ml.c6i.large", "--region", "af-south-1"])
    assert code == 2 and "not offered in af-south-1" in err and "2026-05-20" in err and "Traceback" not in err
    code, _, err = _cli(["catalog", "list", "--region", "mars-1"])
    assert code == 2 and "no prices for region 'mars-1'" in err
    code, _, err = _cli(["catalog", "refresh"])
    assert code == 2 and "--catalog" in err


def test_default_candidates_keep_the_types_offered_in_the_region() -> None:
    defaults = ["ml.c5.large", "ml.m5.large", "ml.c6i.large", "ml.c5.xlarge"]  # jobs.recommendation_jobs's
    assert Catalog.default("us-east-1").offered(defaults) == defaults
    assert Catalog.default("af-south-1").offered(defaults) == ["ml.c5.large", "ml.m5.large", "ml.c5.xlarge"]
    assert Catalog.default("mars-1").offered(defaults) == defaults  # none offered: refused by name
