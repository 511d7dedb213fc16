"""SigV4 signatures must cover what the request does and where it goes. A signature whose
SignedHeaders is only `x-amz-date` used to be accepted, so anyone who saw one signed request could
send it to another operation (X-Amz-Target) or server (Host) under the same valid signature."""

from __future__ import annotations

import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from tests.helpers import InfrecServer
from tests.security.conftest import AKID, CT, SECRET, Answer, request


class _Signs(SigV4Auth):
    """botocore's own signer, told to sign only the named headers (what a hostile client may send)."""

    def __init__(self, only: tuple[str, ...]) -> None:
        super().__init__(Credentials(AKID, SECRET), "sagemaker", "us-east-1")
        self.only = only

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        full = super().headers_to_sign(request)
        out = HTTPHeaders()
        for name in self.only:
            out[name] = full[name]
        return out


def _signed(server: InfrecServer, target: str, only: tuple[str, ...] | None,
            body: bytes = b"{}", send_target: str | None = None) -> Answer:
    req = AWSRequest(method="POST", url=f"{server.url}/", data=body,
                     headers={"X-Amz-Target": f"SageMaker.{target}", "Content-Type": CT})
    signer = SigV4Auth(Credentials(AKID, SECRET), "sagemaker", "us-east-1") if only is None else _Signs(only)
    signer.add_auth(req)
    headers = {k: v for k, v in req.headers.items()}
    if send_target is not None:
        headers["X-Amz-Target"] = f"SageMaker.{send_target}"
    return request(server, "POST", "/", body, headers)


def test_signature_over_x_amz_date_only_is_refused(keyed_server: InfrecServer) -> None:
    answer = _signed(keyed_server, "ListModels", ("x-amz-date",))
    assert answer.status == 403, answer.text
    err = answer.json()
    assert err["__type"] == "IncompleteSignature"
    assert "SignedHeaders must include host and x-amz-target" in err["message"]
    assert "host, x-amz-target" in err["message"]


def test_signature_without_target_cannot_be_moved_to_another_operation(keyed_server: InfrecServer) -> None:
    """The attack: a request signed over host and date only (the old server accepted it, and the same
    signature under another X-Amz-Target) is sent to another operation."""
    sm = keyed_server.client(key=AKID, secret=SECRET)
    sm.create_model_package_group(ModelPackageGroupName="victim")
    body = json.dumps({"ModelPackageGroupName": "victim"}).encode()
    moved = _signed(keyed_server, "DescribeModelPackageGroup", ("host", "x-amz-date"), body=body,
                    send_target="DeleteModelPackageGroup")
    assert moved.status == 403 and moved.json()["__type"] == "IncompleteSignature"
    assert sm.describe_model_package_group(ModelPackageGroupName="victim")["ModelPackageGroupName"] == "victim"


@pytest.mark.parametrize("only, missing", [(("host", "x-amz-date"), "x-amz-target"),
                                           (("x-amz-date", "x-amz-target"), "host")])
def test_each_required_header_must_be_signed(keyed_server: InfrecServer, only: tuple[str, ...],
                                             missing: str) -> None:
    answer = _signed(keyed_server, "ListModels", only)
    assert answer.status == 403, answer.text
    assert answer.json()["__type"] == "IncompleteSignature"
    assert f"does not cover {missing}" in answer.json()["message"]


def test_complete_signatures_still_work(keyed_server: InfrecServer) -> None:
    answer = _signed(keyed_server, "ListModels", None)
    assert answer.status == 200, answer.text
    assert "Models" in answer.json()
    # The payload is covered even though X-Amz-Content-SHA256 is not sent: another body fails.
    req = AWSRequest(method="POST", url=f"{keyed_server.url}/", data=b"{}",
                     headers={"X-Amz-Target": "SageMaker.ListModels", "Content-Type": CT})
    SigV4Auth(Credentials(AKID, SECRET), "sagemaker", "us-east-1").add_auth(req)
    tampered = request(keyed_server, "POST", "/", b'{"MaxResults": 1}', dict(req.headers.items()))
    assert tampered.status == 403 and tampered.json()["__type"] == "InvalidSignatureException"
    # And a normal boto3 client is untouched.
    sm = keyed_server.client(key=AKID, secret=SECRET)
    sm.create_model_package_group(ModelPackageGroupName="sigv4-ok")
    assert sm.describe_model_package_group(ModelPackageGroupName="sigv4-ok")["ModelPackageGroupName"] == "sigv4-ok"
