"""The generic validator over botocore's service model: patterns translated from Java, enums, ranges."""

from __future__ import annotations

import pytest

from infrec.api.validation import operation, validate_request
from infrec.core.errors import ValidationError
from infrec.core.paging import decode_token, encode_token, page


def _check(op: str, body: dict) -> None:
    model = operation(op)
    assert model is not None
    validate_request(model, body)


def test_java_unicode_classes_are_understood() -> None:
    # Tag keys use \p{L}: letters of any script pass, control characters do not.
    _check("CreateModelPackageGroup", {"ModelPackageGroupName": "g", "Tags": [{"Key": "équipe", "Value": "ü"}]})
    with pytest.raises(ValidationError, match=r"Tags\.1\.Key"):
        _check("CreateModelPackageGroup", {"ModelPackageGroupName": "g", "Tags": [{"Key": "a\u0007", "Value": "v"}]})


def test_enum_and_timestamp_and_nested_paths() -> None:
    with pytest.raises(ValidationError, match="enum"):
        _check("ListModelPackages", {"ModelApprovalStatus": "Maybe"})
    _check("ListModelPackages", {"CreationTimeAfter": "2026-01-01T00:00:00Z"})
    with pytest.raises(ValidationError, match="timestamp"):
        _check("ListModelPackages", {"CreationTimeAfter": "yesterday"})
    with pytest.raises(ValidationError, match=r"InputConfig\.EndpointConfigurations\.1\.InstanceType"):
        _check("CreateInferenceRecommendationsJob", {
            "JobName": "j", "JobType": "Advanced", "RoleArn": "arn:aws:iam::000000000000:role/r",
            "InputConfig": {"EndpointConfigurations": [{"InstanceType": "ml.nope"}]}})


def test_file_uris_are_an_accepted_extension_for_s3_fields() -> None:
    spec = {"Containers": [{"Image": "infrec/sklearn", "ModelDataUrl": "file:///tmp/model.tar.gz"}]}
    _check("CreateModelPackage", {"ModelPackageGroupName": "g", "InferenceSpecification": spec})
    spec["Containers"][0]["ModelDataUrl"] = "ftp://host/model.tar.gz"
    with pytest.raises(ValidationError, match="ModelDataUrl"):
        _check("CreateModelPackage", {"ModelPackageGroupName": "g", "InferenceSpecification": spec})


def test_paging_tokens_belong_to_their_query() -> None:
    items = list(range(25))
    q = {"NameContains": "a", "MaxResults": 10}
    first, tok = page(items, q)
    assert first == list(range(10)) and tok
    second, tok2 = page(items, dict(q, NextToken=tok))
    assert second == list(range(10, 20)) and tok2
    assert decode_token(encode_token(5, q), q) == 5
    with pytest.raises(ValidationError, match="NextToken"):
        page(items, {"NameContains": "b", "NextToken": tok})
