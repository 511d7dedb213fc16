"""A sweep of malformed requests: each gets a 4xx in the AWS JSON error shape naming the problem,
and none of them disturbs what is already stored."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.helpers import InfrecServer

CT = "application/x-amz-json-1.1"


def _post(server: InfrecServer, target: str | None, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Content-Type": CT}
    if target is not None:
        headers["X-Amz-Target"] = target
    try:
        conn.request("POST", "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return resp.status, json.loads(data)


CASES = [
    ("missing member", "SageMaker.CreateModelPackageGroup", {}, "ValidationException", "ModelPackageGroupName"),
    ("wrong type", "SageMaker.CreateModelPackageGroup", {"ModelPackageGroupName": 42},
     "ValidationException", "must be a string"),
    ("over-long name", "SageMaker.CreateModelPackageGroup", {"ModelPackageGroupName": "a" * 64},
     "ValidationException", "less than or equal to 63"),
    ("bad pattern", "SageMaker.CreateModelPackageGroup", {"ModelPackageGroupName": "no spaces"},
     "ValidationException", "regular expression"),
    ("bad enum", "SageMaker.ListModelPackageGroups", {"SortBy": "Size"}, "ValidationException", "enum"),
    ("number out of range", "SageMaker.ListModelPackageGroups", {"MaxResults": 0},
     "ValidationException", "MaxResults"),
    ("unknown member", "SageMaker.CreateModelPackageGroup",
     {"ModelPackageGroupName": "g", "Colour": "red"}, "ValidationException", "Colour"),
    ("nested list item", "SageMaker.CreateModelPackage",
     {"ModelPackageGroupName": "g", "InferenceSpecification": {"Containers": [{"Image": 3}]}},
     "ValidationException", "InferenceSpecification.Containers.1.Image"),
    ("boolean as string", "SageMaker.CreateModel",
     {"ModelName": "m", "PrimaryContainer": {"Image": "infrec/sklearn"}, "EnableNetworkIsolation": "yes"},
     "ValidationException", "EnableNetworkIsolation"),
    ("bad next token", "SageMaker.ListModelPackageGroups", {"NextToken": "garbage"},
     "ValidationException", "NextToken"),
    ("unknown operation", "SageMaker.LaunchRockets", {}, "UnknownOperationException", "LaunchRockets"),
    ("other service", "AmazonS3.ListBuckets", {}, "UnknownOperationException", "X-Amz-Target"),
    ("no target", None, {}, "UnknownOperationException", "X-Amz-Target"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_invalid_request(shared_server: InfrecServer, case: tuple) -> None:
    _, target, body, code, needle = case
    status, err = _post(shared_server, target, json.dumps(body).encode())
    assert 400 <= status < 500, err
    assert err["__type"] == code
    assert needle in err["message"]


def test_non_json_and_huge_bodies(shared_server: InfrecServer) -> None:
    server = shared_server
    status, err = _post(server, "SageMaker.ListModels", b"{not json")
    assert status == 400 and err["__type"] == "SerializationException" and "JSON" in err["message"]
    status, err = _post(server, "SageMaker.ListModels", b"\xff\xfe")
    assert status == 400 and err["__type"] == "SerializationException"
    big = json.dumps({"ModelPackageGroupName": "g", "ModelPackageGroupDescription": "x" * (5 * 1024 * 1024)})
    status, err = _post(server, "SageMaker.CreateModelPackageGroup", big.encode())
    assert status == 413 and "limit" in err["message"]


def test_bad_requests_lose_nothing(server: InfrecServer) -> None:
    sm = server.client()
    sm.create_model_package_group(ModelPackageGroupName="keep")
    for _, target, body, _, _ in CASES:
        _post(server, target, json.dumps(body).encode())
    names = [g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]]
    assert names == ["keep"]
