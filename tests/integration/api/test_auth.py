"""SigV4 verification when keys are configured, and the refusal to expose an unauthenticated API."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.helpers import InfrecServer


@pytest.fixture
def keyed_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"AKIDINFREC": "s3cret"}))
    srv = InfrecServer({"INFREC_HOME": str(tmp_path / "home")}, ["--auth", str(keys)])
    try:
        yield srv
    finally:
        srv.stop()


def test_signed_requests_pass_and_others_are_refused(keyed_server: InfrecServer) -> None:
    good = keyed_server.client(key="AKIDINFREC", secret="s3cret")
    good.create_model_package_group(ModelPackageGroupName="signed")
    assert good.describe_model_package_group(ModelPackageGroupName="signed")["ModelPackageGroupName"] == "signed"

    with pytest.raises(ClientError) as exc:
        keyed_server.client(key="AKIDINFREC", secret="wrong").list_model_package_groups()
    assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(ClientError) as exc:
        keyed_server.client(key="UNKNOWN", secret="s3cret").list_model_package_groups()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"

    conn = http.client.HTTPConnection("127.0.0.1", keyed_server.port, timeout=10)
    conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": "SageMaker.ListModels",
                                                   "Content-Type": "application/x-amz-json-1.1"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert resp.status == 403 and body["__type"] == "MissingAuthenticationToken"


def test_non_loopback_bind_needs_auth(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "infrec"
    out = subprocess.run([str(exe), "serve", "--host", "0.0.0.0", "--port", "1"], capture_output=True, text=True,
                         timeout=60, env={"INFREC_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "--auth" in out.stderr
