"""The model registry: model package groups, versioned and unversioned model packages, and models.

It mirrors SageMaker's Model Registry: versions number 1, 2, … within a group; a group with versions
cannot be deleted; registering checks that the artifacts it names can be read. Requests arrive already
validated against botocore's service model, so this layer enforces only the rules between fields and
between resources.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infrec.artifacts.errors import ArtifactError
from infrec.artifacts.uri import FileAccess
from infrec.core.arn import ArnBuilder, resource_name
from infrec.core.errors import ConflictError, NotFoundError, ValidationError
from infrec.core.images import validate_image
from infrec.core.paging import page
from infrec.core.timestamps import within
from infrec.store import Store
from infrec.store.tables import ModelPackageGroupRow, ModelPackageRow, ModelRow

_VERSION_RETRIES = 20


def _now() -> float:
    return round(time.time(), 3)


def _created(doc: dict[str, Any]) -> float:
    return float(doc["CreationTime"])


def _sorted(docs: list[dict[str, Any]], query: dict[str, Any], name_key: str) -> list[dict[str, Any]]:
    by = query.get("SortBy") or "CreationTime"
    reverse = (query.get("SortOrder") or "Descending") == "Descending"
    if by in ("Name", name_key):
        return sorted(docs, key=lambda d: (str(d.get(name_key, "")), d.get("ModelPackageVersion") or 0),
                      reverse=reverse)
    return sorted(docs, key=lambda d: (_created(d), d.get("ModelPackageVersion") or 0), reverse=reverse)


class RegistryService:
    def __init__(self, store: Store, arns: ArnBuilder, files: FileAccess, *, check_artifacts: bool = True) -> None:
        """`files`: where artifacts may come from, for this registry's checks and for whoever reads
        the artifacts of what it holds (jobs, hosting). `check_artifacts`: whether registering checks
        that they can be read (off only where no artifact is ever read, such as an API fuzzer)."""
        self.store = store
        self.arns = arns
        self.files = files
        self.check_artifacts = check_artifacts
        # DescribeModel's DeploymentRecommendation (instant recommendations from the jobs already
        # run); set by the composition root, since jobs sit above the registry.
        self.deployment_recommendation: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    # ---------------------------------------------------------------- groups
    def create_model_package_group(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req["ModelPackageGroupName"]
        arn = self.arns.sagemaker("model-package-group", name)
        doc = {
            "ModelPackageGroupName": name,
            "ModelPackageGroupArn": arn,
            "ModelPackageGroupDescription": req.get("ModelPackageGroupDescription"),
            "CreationTime": _now(),
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
            "Tags": req.get("Tags") or [],
        }
        try:
            with self.store.session() as s:
                s.add(ModelPackageGroupRow(name=name, arn=arn, created_at=_dt(doc["CreationTime"]), doc=doc))
        except IntegrityError as exc:
            raise ConflictError(f"Model Package Group {name!r} already exists") from exc
        return {"ModelPackageGroupArn": arn}

    def _group(self, s: Session, name_or_arn: str) -> ModelPackageGroupRow:
        name = resource_name(name_or_arn)
        row = s.scalar(select(ModelPackageGroupRow).where(func.lower(ModelPackageGroupRow.name) == name.lower()))
        if row is None:
            raise NotFoundError(f"Model Package Group {name!r} does not exist")
        return row

    def describe_model_package_group(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            doc = dict(self._group(s, req["ModelPackageGroupName"]).doc)
        doc.pop("Tags", None)
        return {k: v for k, v in doc.items() if v is not None}

    def list_model_package_groups(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            docs = [r.doc for r in s.scalars(select(ModelPackageGroupRow))]
        needle = (req.get("NameContains") or "").lower()
        docs = [d for d in docs if needle in d["ModelPackageGroupName"].lower() and within(d, req)]
        chunk, token = page(_sorted(docs, req, "ModelPackageGroupName"), req)
        keys = ("ModelPackageGroupName", "ModelPackageGroupArn", "ModelPackageGroupDescription",
                "CreationTime", "ModelPackageGroupStatus")
        out: dict[str, Any] = {
            "ModelPackageGroupSummaryList": [{k: d[k] for k in keys if d.get(k) is not None} for d in chunk]
        }
        if token:
            out["NextToken"] = token
        return out

    def delete_model_package_group(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._group(s, req["ModelPackageGroupName"])
            versions = s.scalar(select(func.count()).where(ModelPackageRow.group_name == row.name))
            if versions:
                raise ConflictError(
                    f"Model Package Group {row.name!r} still has {versions} model package version(s); "
                    "delete them first"
                )
            s.delete(row)
        return {}

    # -------------------------------------------------------------- packages
    def check_artifact(self, field: str, uri: str) -> None:
        """Raise ValidationError naming `field` unless `uri` can be read (a typo fails at
        registration, not an hour into a job)."""
        if not self.check_artifacts:
            return
        try:
            self.files.check_readable(uri)
        except ArtifactError as exc:
            raise ValidationError(f"{field}: {exc}") from exc

    def _check_artifacts(self, req: dict[str, Any]) -> None:
        spec = req.get("InferenceSpecification") or {}
        for i, c in enumerate(spec.get("Containers") or []):
            if c.get("ModelDataUrl"):
                self.check_artifact(f"InferenceSpecification.Containers[{i}].ModelDataUrl", c["ModelDataUrl"])
        if req.get("SamplePayloadUrl"):
            self.check_artifact("SamplePayloadUrl", req["SamplePayloadUrl"])

    @staticmethod
    def _check_images(containers: list[dict[str, Any]], where: str) -> None:
        for i, c in enumerate(containers):
            if c.get("Image") and (msg := validate_image(c["Image"])):
                raise ValidationError(f"{where}[{i}].Image: {msg}")

    def create_model_package(self, req: dict[str, Any]) -> dict[str, Any]:
        group_ref, name = req.get("ModelPackageGroupName"), req.get("ModelPackageName")
        if bool(group_ref) == bool(name):
            raise ValidationError(
                "Specify exactly one of ModelPackageGroupName (a versioned package) "
                "or ModelPackageName (an unversioned package)"
            )
        spec = req.get("InferenceSpecification")
        if spec:
            self._check_images(spec.get("Containers") or [], "InferenceSpecification.Containers")
        self._check_artifacts(req)
        now = _now()
        base: dict[str, Any] = {
            "ModelPackageDescription": req.get("ModelPackageDescription"),
            "CreationTime": now,
            "LastModifiedTime": now,
            "InferenceSpecification": spec,
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": bool(req.get("CertifyForMarketplace", False)),
            "CreatedBy": {},
            "Domain": req.get("Domain"),
            "Task": req.get("Task"),
            "SamplePayloadUrl": req.get("SamplePayloadUrl"),
            "CustomerMetadataProperties": req.get("CustomerMetadataProperties"),
            "MetadataProperties": req.get("MetadataProperties"),
            "ModelMetrics": req.get("ModelMetrics"),
            "AdditionalInferenceSpecifications": req.get("AdditionalInferenceSpecifications"),
            "SkipModelValidation": req.get("SkipModelValidation"),
            "SourceUri": req.get("SourceUri"),
            "Tags": req.get("Tags") or [],
            "ClientToken": req.get("ClientToken"),
        }
        if name:
            arn = self.arns.sagemaker("model-package", name)
            doc = dict(base, ModelPackageName=name, ModelPackageArn=arn,
                       ModelApprovalStatus=req.get("ModelApprovalStatus"))
            try:
                with self.store.session() as s:
                    s.add(ModelPackageRow(group_name=None, version=None, name=name, arn=arn,
                                          approval_status=doc["ModelApprovalStatus"],
                                          created_at=_dt(now), doc=doc))
            except IntegrityError as exc:
                raise ConflictError(f"Model package {name!r} already exists") from exc
            return {"ModelPackageArn": arn}
        return self._create_version(str(group_ref), req, base)

    def _create_version(self, group_ref: str, req: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        token = req.get("ClientToken")
        # Two registrations racing for the same version number: the unique (group, version)
        # constraint lets one win; the other retries with the next number.
        for _ in range(_VERSION_RETRIES):
            try:
                with self.store.session() as s:
                    try:
                        group = self._group(s, group_ref)
                    except NotFoundError as exc:
                        raise ValidationError(
                            f"ModelPackageGroupName: Model Package Group {resource_name(group_ref)!r} "
                            "does not exist; create it with CreateModelPackageGroup first"
                        ) from exc
                    if token:
                        for r in s.scalars(select(ModelPackageRow).where(ModelPackageRow.group_name == group.name)):
                            if r.doc.get("ClientToken") == token:
                                return {"ModelPackageArn": r.arn}
                    last = s.scalar(select(func.max(ModelPackageRow.version))
                                    .where(ModelPackageRow.group_name == group.name)) or 0
                    version = int(last) + 1
                    arn = self.arns.model_package(group.name, version)
                    doc = dict(base, ModelPackageName=group.name, ModelPackageGroupName=group.name,
                               ModelPackageVersion=version, ModelPackageArn=arn,
                               ModelApprovalStatus=req.get("ModelApprovalStatus") or "PendingManualApproval")
                    s.add(ModelPackageRow(group_name=group.name, version=version, name=group.name, arn=arn,
                                          approval_status=doc["ModelApprovalStatus"],
                                          created_at=_dt(base["CreationTime"]), doc=doc))
                return {"ModelPackageArn": arn}
            except IntegrityError:
                time.sleep(0.01)
        raise ConflictError(f"could not allocate a version in {group_ref!r}: too many concurrent registrations")

    def _package(self, s: Session, ref: str) -> ModelPackageRow:
        if ref.startswith("arn:"):
            row = s.scalar(select(ModelPackageRow).where(func.lower(ModelPackageRow.arn) == ref.lower()))
        elif "/" in ref:
            group, _, ver = ref.rpartition("/")
            if not ver.isdigit():
                raise ValidationError(f"ModelPackageName {ref!r}: expected <group>/<version>")
            row = s.scalar(select(ModelPackageRow).where(func.lower(ModelPackageRow.group_name) == group.lower(),
                                                         ModelPackageRow.version == int(ver)))
        else:
            row = s.scalar(select(ModelPackageRow).where(ModelPackageRow.group_name.is_(None),
                                                         func.lower(ModelPackageRow.name) == ref.lower()))
        if row is None:
            raise ValidationError(f"Model package {ref!r} does not exist")
        return row

    def get_model_package(self, ref: str) -> dict[str, Any]:
        """The stored description of a package, for services (jobs) that run it."""
        with self.store.session() as s:
            return dict(self._package(s, ref).doc)

    def describe_model_package(self, req: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_model_package(req["ModelPackageName"])
        return {k: v for k, v in doc.items() if v is not None and k not in ("Tags", "ClientToken")}

    def list_model_packages(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            q = select(ModelPackageRow)
            if req.get("ModelPackageGroupName"):
                grp = self._group(s, req["ModelPackageGroupName"])
                q = q.where(ModelPackageRow.group_name == grp.name)
            else:
                kind = req.get("ModelPackageType") or "Unversioned"
                if kind == "Unversioned":
                    q = q.where(ModelPackageRow.group_name.is_(None))
                elif kind == "Versioned":
                    q = q.where(ModelPackageRow.group_name.is_not(None))
            if req.get("ModelApprovalStatus"):
                q = q.where(ModelPackageRow.approval_status == req["ModelApprovalStatus"])
            docs = [r.doc for r in s.scalars(q)]
        needle = (req.get("NameContains") or "").lower()
        docs = [d for d in docs if needle in d["ModelPackageName"].lower() and within(d, req)]
        chunk, token = page(_sorted(docs, req, "ModelPackageName"), req)
        keys = ("ModelPackageName", "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                "ModelPackageDescription", "CreationTime", "ModelPackageStatus", "ModelApprovalStatus")
        out: dict[str, Any] = {
            "ModelPackageSummaryList": [{k: d[k] for k in keys if d.get(k) is not None} for d in chunk]
        }
        if token:
            out["NextToken"] = token
        return out

    def update_model_package(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._package(s, req["ModelPackageArn"])
            doc = dict(row.doc)
            if req.get("ModelApprovalStatus"):
                if row.group_name is None:
                    raise ConflictError("ModelApprovalStatus applies only to versioned model packages")
                doc["ModelApprovalStatus"] = req["ModelApprovalStatus"]
                row.approval_status = req["ModelApprovalStatus"]
            if req.get("ApprovalDescription") is not None:
                doc["ApprovalDescription"] = req["ApprovalDescription"]
            meta = dict(doc.get("CustomerMetadataProperties") or {})
            meta.update(req.get("CustomerMetadataProperties") or {})
            for key in req.get("CustomerMetadataPropertiesToRemove") or []:
                meta.pop(key, None)
            doc["CustomerMetadataProperties"] = meta or None
            if req.get("AdditionalInferenceSpecificationsToAdd"):
                doc["AdditionalInferenceSpecifications"] = [
                    *(doc.get("AdditionalInferenceSpecifications") or []),
                    *req["AdditionalInferenceSpecificationsToAdd"],
                ]
            if req.get("InferenceSpecification"):
                self._check_images(req["InferenceSpecification"].get("Containers") or [],
                                   "InferenceSpecification.Containers")
                doc["InferenceSpecification"] = req["InferenceSpecification"]
            if req.get("SourceUri"):
                doc["SourceUri"] = req["SourceUri"]
            doc["LastModifiedTime"] = _now()
            row.doc = doc
            return {"ModelPackageArn": row.arn}

    def delete_model_package(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            s.delete(self._package(s, req["ModelPackageName"]))
        return {}

    # ---------------------------------------------------------------- models
    def create_model(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req["ModelName"]
        containers = list(req.get("Containers") or [])
        if req.get("PrimaryContainer") and containers:
            raise ValidationError("Specify PrimaryContainer or Containers, not both")
        if not req.get("PrimaryContainer") and not containers:
            raise ValidationError("A model needs a PrimaryContainer or Containers")
        all_containers = [req["PrimaryContainer"]] if req.get("PrimaryContainer") else containers
        self._check_images(all_containers, "Containers")
        for i, c in enumerate(all_containers):
            if c.get("ModelPackageName"):
                self.get_model_package(c["ModelPackageName"])
            elif not c.get("Image"):
                raise ValidationError(f"Containers[{i}]: Image is required unless ModelPackageName is given")
            if c.get("ModelDataUrl"):
                self.check_artifact(f"Containers[{i}].ModelDataUrl", c["ModelDataUrl"])
        arn = self.arns.sagemaker("model", name)
        doc = {
            "ModelName": name,
            "ModelArn": arn,
            "PrimaryContainer": req.get("PrimaryContainer"),
            "Containers": containers or None,
            "InferenceExecutionConfig": req.get("InferenceExecutionConfig"),
            "ExecutionRoleArn": req.get("ExecutionRoleArn"),
            "VpcConfig": req.get("VpcConfig"),
            "EnableNetworkIsolation": bool(req.get("EnableNetworkIsolation", False)),
            "CreationTime": _now(),
            "Tags": req.get("Tags") or [],
        }
        try:
            with self.store.session() as s:
                s.add(ModelRow(name=name, arn=arn, created_at=_dt(doc["CreationTime"]), doc=doc))
        except IntegrityError as exc:
            raise ConflictError(f"Model {name!r} already exists") from exc
        return {"ModelArn": arn}

    def get_model(self, name_or_arn: str) -> dict[str, Any]:
        name = resource_name(name_or_arn)
        with self.store.session() as s:
            row = s.scalar(select(ModelRow).where(func.lower(ModelRow.name) == name.lower()))
            if row is None:
                raise ValidationError(f"Could not find model {name!r}")
            return dict(row.doc)

    def describe_model(self, req: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_model(req["ModelName"])
        out = {k: v for k, v in doc.items() if v is not None and k != "Tags"}
        if self.deployment_recommendation is not None:
            out["DeploymentRecommendation"] = self.deployment_recommendation(doc)
        return out

    def list_models(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            docs = [r.doc for r in s.scalars(select(ModelRow))]
        needle = (req.get("NameContains") or "").lower()
        docs = [d for d in docs if needle in d["ModelName"].lower() and within(d, req)]
        chunk, token = page(_sorted(docs, req, "ModelName"), req)
        out: dict[str, Any] = {
            "Models": [{"ModelName": d["ModelName"], "ModelArn": d["ModelArn"], "CreationTime": d["CreationTime"]}
                       for d in chunk]
        }
        if token:
            out["NextToken"] = token
        return out

    def delete_model(self, req: dict[str, Any]) -> dict[str, Any]:
        name = resource_name(req["ModelName"])
        with self.store.session() as s:
            row = s.scalar(select(ModelRow).where(func.lower(ModelRow.name) == name.lower()))
            if row is None:
                raise ValidationError(f"Could not find model {name!r}")
            s.delete(row)
        return {}


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
