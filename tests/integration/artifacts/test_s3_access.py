"""Access denied and refused credentials, against a moto server of our own that enforces IAM
(the shared one does not): the message must say which, never "no such key" or a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infrec.artifacts.errors import ArtifactError
from infrec.artifacts.uri import FileAccess
from tests.helpers import free_port, stop_process, wait_for_port

# Requests moto serves before it starts enforcing IAM: exactly the set-up calls below.
_SETUP_CALLS = 5

files = FileAccess()  # any local path: a program building its own services reads as it likes


@pytest.fixture(scope="module")
def locked_s3() -> Iterator[tuple[str, dict[str, str]]]:
    """A moto server with auth on, bucket 'locked' holding one object, and keys of a user who may
    only list buckets. Yields (endpoint, that user's credentials)."""
    port = free_port()
    exe = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                            env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(_SETUP_CALLS)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 30.0, proc)
        url = f"http://127.0.0.1:{port}"
        kw = {"endpoint_url": url, "region_name": "us-east-1",
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        s3, iam = boto3.client("s3", **kw), boto3.client("iam", **kw)
        s3.create_bucket(Bucket="locked")
        s3.put_object(Bucket="locked", Key="model.tar.gz", Body=b"x")
        iam.create_user(UserName="nobody")
        key = iam.create_access_key(UserName="nobody")["AccessKey"]
        iam.put_user_policy(UserName="nobody", PolicyName="list-only", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}))
        yield url, {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    finally:
        stop_process(proc)


def _use(monkeypatch: pytest.MonkeyPatch, url: str, creds: dict[str, str]) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for k, v in creds.items():
        monkeypatch.setenv(k, v)


def test_access_denied_is_named(locked_s3: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch,
                                tmp_path: Path) -> None:
    url, creds = locked_s3
    _use(monkeypatch, url, creds)
    with pytest.raises(ArtifactError, match=r"^s3://locked/model\.tar\.gz: access denied"):
        files.check_readable("s3://locked/model.tar.gz")
    with pytest.raises(ArtifactError, match=r"^s3://locked/model\.tar\.gz: access denied$"):
        files.read_bytes("s3://locked/model.tar.gz")
    with pytest.raises(ArtifactError, match="access denied"):
        files.exists("s3://locked/model.tar.gz")  # "cannot tell" is not "does not exist"
    with pytest.raises(ArtifactError, match="cannot write: access denied"):
        files.write_bytes("s3://locked/new", b"y")
    with pytest.raises(ArtifactError, match="access denied"):
        files.fetch_and_extract("s3://locked/model.tar.gz", tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_refused_credentials_are_named(locked_s3: tuple[str, dict[str, str]],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = locked_s3
    _use(monkeypatch, url, {"AWS_ACCESS_KEY_ID": "AKIDNOTKNOWN", "AWS_SECRET_ACCESS_KEY": "nope"})
    with pytest.raises(ArtifactError, match=r"credentials refused by S3 \(InvalidAccessKeyId\)"):
        files.read_bytes("s3://locked/model.tar.gz")
