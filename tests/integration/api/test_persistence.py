"""Registry state survives a restart of `infrec serve` (also a crash), on SQLite and PostgreSQL;
concurrent creation of one name yields one success and one conflict, never a duplicate or a 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.helpers import InfrecServer


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"INFREC_HOME": str(tmp_path / "home"), "INFREC_DATABASE_URL": database_url}


def test_state_survives_restart_and_crash(tmp_path: Path, database_url: str) -> None:
    env = _env(tmp_path, database_url)
    srv = InfrecServer(env)
    try:
        sm = srv.client()
        sm.create_model_package_group(ModelPackageGroupName="durable")
        sm.create_model_package(ModelPackageGroupName="durable",
                                InferenceSpecification={"Containers": [{"Image": "infrec/synthetic"}]})
        sm.create_model(ModelName="durable-model", PrimaryContainer={"Image": "infrec/synthetic"})
    finally:
        srv.stop()  # graceful
    srv = InfrecServer(env)
    try:
        sm = srv.client()
        assert sm.describe_model_package(ModelPackageName="durable/1")["ModelPackageVersion"] == 1
        sm.create_model_package(ModelPackageGroupName="durable",
                                InferenceSpecification={"Containers": [{"Image": "infrec/synthetic"}]})
    finally:
        srv.kill()  # crash
    srv = InfrecServer(env)
    try:
        sm = srv.client()
        versions = sm.list_model_packages(ModelPackageGroupName="durable")["ModelPackageSummaryList"]
        assert sorted(v["ModelPackageVersion"] for v in versions) == [1, 2]
        assert sm.describe_model(ModelName="durable-model")["ModelName"] == "durable-model"
    finally:
        srv.stop()


def test_concurrent_creates(tmp_path: Path, database_url: str) -> None:
    srv = InfrecServer(_env(tmp_path, database_url))
    try:
        clients = [srv.client() for _ in range(8)]

        def create(i: int) -> str:
            try:
                clients[i].create_model_package_group(ModelPackageGroupName="race")
                return "ok"
            except ClientError as exc:
                return str(exc.response["Error"]["Code"])

        for _ in range(3):
            with ThreadPoolExecutor(2) as pool:
                results = sorted(pool.map(create, range(2)))
            assert results in (["ConflictException", "ok"],), results
            clients[0].delete_model_package_group(ModelPackageGroupName="race")

        clients[0].create_model_package_group(ModelPackageGroupName="versions")

        def register(i: int) -> str:
            return str(clients[i].create_model_package(
                ModelPackageGroupName="versions",
                InferenceSpecification={"Containers": [{"Image": "infrec/synthetic"}]})["ModelPackageArn"])

        with ThreadPoolExecutor(8) as pool:
            arns = list(pool.map(register, range(8)))
        assert sorted(int(a.rsplit("/", 1)[1]) for a in arns) == list(range(1, 9))
    finally:
        srv.stop()


@pytest.mark.parametrize("url", ["postgresql+psycopg://nobody:wrong@127.0.0.1:1/none"])
def test_unreachable_database_is_a_clear_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(RuntimeError) as exc:
        InfrecServer(_env(tmp_path, url))
    assert "cannot open database" in str(exc.value) and "***" in str(exc.value)
