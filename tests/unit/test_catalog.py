"""The instance catalog: packaged data is complete and sane; user files replace it; errors name the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infrec.core.catalog import Catalog, CatalogError, UnknownInstanceType

FAMILIES = ["ml.t2", "ml.t3", "ml.m5", "ml.m6i", "ml.m7i", "ml.c5", "ml.c6i", "ml.c7i", "ml.r5", "ml.r6i",
            "ml.c6g", "ml.c7g", "ml.g4dn", "ml.g5", "ml.g6", "ml.inf1", "ml.inf2", "ml.p3", "ml.p4d"]


def test_packaged_catalog_covers_common_families_with_priced_types() -> None:
    cat = Catalog.default()
    for fam in FAMILIES:
        assert any(n.startswith(fam + ".") for n in cat.names()), fam
    for t in cat:
        assert t.vcpus > 0 and t.memory_gib > 0 and t.price_per_hour > 0, t
        assert t.price_source and t.price_date, t
    m5 = cat.get("ml.m5.large")
    assert (m5.vcpus, m5.memory_gib, m5.accelerators) == (2, 8, None)
    g4 = cat.get("ml.g4dn.xlarge")
    assert g4.accelerators is not None and g4.accelerators.count == 1 and "T4" in g4.accelerators.kind
    # Bigger sizes of one family cost more: a cheap sanity check on the transcribed prices.
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
    assert Catalog.from_env({"INFREC_CATALOG": str(f)}).names() == cat.names()
    assert Catalog.from_env({}).has("ml.m5.large")


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
