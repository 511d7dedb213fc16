"""Artifacts by s3:// URI against moto's S3 server on loopback, configured only through the standard
AWS settings (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3), exactly as a user points infrec at MinIO."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import boto3
import pytest

from infrec.artifacts.errors import ArchiveError, ArtifactError
from infrec.artifacts.uri import FileAccess
from infrec.config import Settings
from tests.helpers import free_port

files = FileAccess()  # any local path: a program building its own services reads as it likes


@pytest.fixture
def bucket(aws_env: str) -> str:
    name = f"infrec-test-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def _targz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_write_read_exists_size(bucket: str) -> None:
    u = f"s3://{bucket}/models/a b/model.bin"
    assert not files.exists(u)
    files.write_bytes(u, b"hello s3")
    assert files.exists(u)
    assert files.read_bytes(u) == b"hello s3"
    assert files.size(u) == 8
    files.check_readable(u)
    # A prefix with objects under it exists and is readable (SageMaker's uncompressed model data).
    assert files.exists(f"s3://{bucket}/models/")
    files.check_readable(f"s3://{bucket}/models/a b")
    with pytest.raises(ArtifactError, match="larger than 3 bytes"):
        files.read_bytes(u, max_bytes=3)


def test_check_readable_names_what_is_missing(bucket: str) -> None:
    with pytest.raises(ArtifactError) as info:
        files.check_readable(f"s3://{bucket}/no/such/model.tar.gz")
    assert str(info.value) == f"s3://{bucket}/no/such/model.tar.gz: no such key"
    with pytest.raises(ArtifactError, match="no such bucket 'infrec-missing-bucket'"):
        files.check_readable("s3://infrec-missing-bucket/model.tar.gz")
    with pytest.raises(ArtifactError, match="no such bucket"):
        files.read_bytes("s3://infrec-missing-bucket/model.tar.gz")
    with pytest.raises(ArtifactError, match="no such key"):
        files.read_bytes(f"s3://{bucket}/nope")
    assert not files.exists("s3://infrec-missing-bucket/x")
    with pytest.raises(ArtifactError, match="needs a bucket"):
        files.check_readable("s3:///key")
    with pytest.raises(ArtifactError, match="unsupported scheme 'ftp'"):
        files.check_readable("ftp://host/model.tar.gz")


def test_endpoint_for_s3_overrides_the_general_one(bucket: str, aws_env: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on the general endpoint: only the S3-specific setting can make this work.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", aws_env)
    files.write_bytes(f"s3://{bucket}/k", b"v")
    assert files.read_bytes(f"s3://{bucket}/k") == b"v"


def test_unreachable_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, aws_env: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(ArtifactError, match=r"s3://b/k: cannot reach the S3 endpoint"):
        files.check_readable("s3://b/k")


def test_fetch_and_extract_archive_prefix_and_plain_object(bucket: str, tmp_path: Path) -> None:
    files.write_bytes(f"s3://{bucket}/m/model.tar.gz", _targz({"model.joblib": b"J", "code/inference.py": b"P"}))
    out = files.fetch_and_extract(f"s3://{bucket}/m/model.tar.gz", tmp_path / "model")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == \
        ["code/inference.py", "model.joblib"]

    files.write_bytes(f"s3://{bucket}/payload/a.json", b"[[1]]")
    files.write_bytes(f"s3://{bucket}/payload/sub/b.csv", b"1\n")
    out = files.fetch_and_extract(f"s3://{bucket}/payload", tmp_path / "payload")
    assert (out / "a.json").read_bytes() == b"[[1]]"
    assert (out / "sub" / "b.csv").read_bytes() == b"1\n"

    files.write_bytes(f"s3://{bucket}/one/body.json", b'{"instances": [[1]]}')
    out = files.fetch_and_extract(f"s3://{bucket}/one/body.json", tmp_path / "one")
    assert [p.name for p in out.iterdir()] == ["body.json"]

    dest = files.download(f"s3://{bucket}/one/body.json", tmp_path)
    assert dest == tmp_path / "body.json" and dest.read_bytes() == b'{"instances": [[1]]}'


def test_hostile_archive_from_s3_refused_naming_member(bucket: str, tmp_path: Path) -> None:
    files.write_bytes(f"s3://{bucket}/evil.tar.gz", _targz({"ok": b"1", "../../escape": b"x"}))
    with pytest.raises(ArchiveError) as info:
        files.fetch_and_extract(f"s3://{bucket}/evil.tar.gz", tmp_path / "work" / "model")
    assert info.value.member == "../../escape"
    assert str(info.value).startswith(f"s3://{bucket}/evil.tar.gz: ")
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "work" / "model").exists()
    assert [p.name for p in (tmp_path / "work").iterdir()] == []


def test_size_limit_applies_to_downloads(bucket: str, tmp_path: Path) -> None:
    files.write_bytes(f"s3://{bucket}/big.bin", b"b" * 5000)
    with pytest.raises(ArtifactError, match="larger than the limit of 1000 bytes"):
        files.fetch_and_extract(f"s3://{bucket}/big.bin", tmp_path / "d", max_bytes=1000)
    assert not list((tmp_path).rglob("big.bin"))


def test_endpoint_named_by_host_uses_path_style(bucket: str, aws_env: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # MinIO is usually http://minio:9000 or http://localhost:9000: virtual-host addressing would ask
    # for <bucket>.localhost, which does not resolve; path style works everywhere.
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env.replace("127.0.0.1", "localhost"))
    files.write_bytes(f"s3://{bucket}/by-host", b"ok")
    assert files.read_bytes(f"s3://{bucket}/by-host") == b"ok"
    with pytest.raises(ValueError, match="INFREC_S3_ADDRESSING_STYLE='sideways'"):
        Settings.from_env({"INFREC_S3_ADDRESSING_STYLE": "sideways"})
    virtual = FileAccess.from_settings(Settings.from_env({"INFREC_S3_ADDRESSING_STYLE": "virtual"}))
    assert virtual.client().meta.config.s3["addressing_style"] == "virtual"
