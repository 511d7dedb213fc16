"""Model Registry operations through boto3 against a real `infrec serve`."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.helpers import InfrecServer


def _spec(model_url: str | None = None) -> dict:
    container: dict = {"Image": "infrec/sklearn", "Framework": "SKLEARN", "FrameworkVersion": "1.4"}
    if model_url:
        container["ModelDataUrl"] = model_url
    return {
        "Containers": [container],
        "SupportedContentTypes": ["text/csv", "application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.c5.large", "ml.m5.large"],
    }


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_groups_versions_and_models(server: InfrecServer, tmp_path: Path) -> None:
    sm = server.client()
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not really a tarball, but readable")
    arn = sm.create_model_package_group(ModelPackageGroupName="churn", ModelPackageGroupDescription="churn models")[
        "ModelPackageGroupArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/churn"

    arns = [sm.create_model_package(ModelPackageGroupName="churn", InferenceSpecification=_spec(model.as_uri()),
                                    Domain="MACHINE_LEARNING", Task="CLASSIFICATION",
                                    CustomerMetadataProperties={"team": "ml"})["ModelPackageArn"]
            for _ in range(3)]
    assert arns == [f"arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/{v}" for v in (1, 2, 3)]

    d = sm.describe_model_package(ModelPackageName=arns[1])
    assert d["ModelPackageVersion"] == 2 and d["ModelPackageGroupName"] == "churn"
    assert d["ModelApprovalStatus"] == "PendingManualApproval"
    assert d["InferenceSpecification"]["Containers"][0]["Image"] == "infrec/sklearn"
    assert d["CustomerMetadataProperties"] == {"team": "ml"}

    sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved",
                            CustomerMetadataProperties={"owner": "me"}, CustomerMetadataPropertiesToRemove=["team"])
    d = sm.describe_model_package(ModelPackageName=arns[1])
    assert d["ModelApprovalStatus"] == "Approved" and d["CustomerMetadataProperties"] == {"owner": "me"}
    approved = sm.list_model_packages(ModelPackageGroupName="churn", ModelApprovalStatus="Approved")
    assert [p["ModelPackageVersion"] for p in approved["ModelPackageSummaryList"]] == [2]

    # Pagination: 3 versions, pages of 2, ascending by creation.
    first = sm.list_model_packages(ModelPackageGroupName="churn", MaxResults=2, SortOrder="Ascending")
    assert [p["ModelPackageVersion"] for p in first["ModelPackageSummaryList"]] == [1, 2]
    second = sm.list_model_packages(ModelPackageGroupName="churn", MaxResults=2, SortOrder="Ascending",
                                    NextToken=first["NextToken"])
    assert [p["ModelPackageVersion"] for p in second["ModelPackageSummaryList"]] == [3]
    assert "NextToken" not in second
    paginated = [p["ModelPackageVersion"]
                 for pg in sm.get_paginator("list_model_packages").paginate(
                     ModelPackageGroupName="churn", PaginationConfig={"PageSize": 1})
                 for p in pg["ModelPackageSummaryList"]]
    assert sorted(paginated) == [1, 2, 3]

    with pytest.raises(ClientError) as exc:
        sm.delete_model_package_group(ModelPackageGroupName="churn")
    assert _code(exc) == "ConflictException" and "version" in str(exc.value)
    for a in arns:
        sm.delete_model_package(ModelPackageName=a)
    sm.delete_model_package_group(ModelPackageGroupName="churn")
    with pytest.raises(ClientError) as exc:
        sm.describe_model_package_group(ModelPackageGroupName="churn")
    assert _code(exc) == "ResourceNotFound"

    # Unversioned package and a model that names it.
    sm.create_model_package(ModelPackageName="standalone", InferenceSpecification=_spec())
    assert [p["ModelPackageName"] for p in sm.list_model_packages()["ModelPackageSummaryList"]] == ["standalone"]
    sm.create_model(ModelName="m1", PrimaryContainer={"ModelPackageName": "standalone"},
                    ExecutionRoleArn="arn:aws:iam::000000000000:role/SageMakerRole")
    sm.create_model(ModelName="m2", PrimaryContainer={"Image": "infrec/synthetic",
                                                      "Environment": {"INFREC_SYNTHETIC_SERVICE_MS": "5"}})
    assert sm.describe_model(ModelName="m2")["PrimaryContainer"]["Environment"] == {"INFREC_SYNTHETIC_SERVICE_MS": "5"}
    names = [m["ModelName"] for pg in sm.get_paginator("list_models").paginate(PaginationConfig={"PageSize": 1})
             for m in pg["Models"]]
    assert sorted(names) == ["m1", "m2"]
    sm.delete_model(ModelName="m1")
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["m2"]


def test_registration_refuses_unreadable_artifacts(server: InfrecServer, tmp_path: Path) -> None:
    sm = server.client()
    sm.create_model_package_group(ModelPackageGroupName="g")
    missing = (tmp_path / "nope.tar.gz").as_uri()
    with pytest.raises(ClientError) as exc:
        sm.create_model_package(ModelPackageGroupName="g", InferenceSpecification=_spec(missing))
    assert _code(exc) == "ValidationException"
    assert "ModelDataUrl" in str(exc.value) and "nope.tar.gz" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        sm.create_model_package(ModelPackageGroupName="g", InferenceSpecification=_spec(),
                                SamplePayloadUrl=missing)
    assert "SamplePayloadUrl" in str(exc.value)
    # Nothing half-registered.
    assert sm.list_model_packages(ModelPackageGroupName="g")["ModelPackageSummaryList"] == []


def test_registration_checks_s3_artifacts(aws_env: str, tmp_path: Path) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="churn/model.tar.gz", Body=b"x")
    srv = InfrecServer({"INFREC_HOME": str(tmp_path / "home")})
    try:
        sm = srv.client()
        sm.create_model_package_group(ModelPackageGroupName="g")
        sm.create_model_package(ModelPackageGroupName="g", InferenceSpecification=_spec("s3://models/churn/model.tar.gz"))
        with pytest.raises(ClientError) as exc:
            sm.create_model_package(ModelPackageGroupName="g",
                                    InferenceSpecification=_spec("s3://models/churn/missing.tar.gz"))
        assert "s3://models/churn/missing.tar.gz" in str(exc.value)
    finally:
        srv.stop()


def test_unknown_builtin_image_is_refused(server: InfrecServer) -> None:
    sm = server.client()
    with pytest.raises(ClientError) as exc:
        sm.create_model(ModelName="m", PrimaryContainer={"Image": "infrec/tensorflow"})
    assert _code(exc) == "ValidationException" and "infrec/sklearn" in str(exc.value)


def test_tags_on_registry_resources(server: InfrecServer) -> None:
    sm = server.client()
    arn = sm.create_model_package_group(ModelPackageGroupName="tagged", Tags=[{"Key": "team", "Value": "ml"}])[
        "ModelPackageGroupArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    assert {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]} == {"team": "ml", "env": "dev"}
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as exc:
        sm.list_tags(ResourceArn=arn.replace("tagged", "missing"))
    assert "missing" in str(exc.value)
