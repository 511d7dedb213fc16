"""The hosting API: endpoint configs and endpoints as SageMaker describes them.

This layer owns the rows and the rules between resources (a name in use, a missing config, an
endpoint that is not InService); the processes behind an endpoint are the supervisor's
(`hosting.supervisor`), which this service asks to deploy, update or delete and which writes the
outcome back to the row. Status moves as SageMaker's does: Creating → InService | Failed,
InService → Updating → InService (a failed update rolls back and says why), → Deleting → gone;
SystemUpdating while a restarted server brings an endpoint back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infrec.core.arn import ArnBuilder, resource_name
from infrec.core.catalog import Catalog
from infrec.core.errors import NotFoundError, ValidationError
from infrec.core.paging import page
from infrec.core.timestamps import within
from infrec.jobs.endpoints import ExistingEndpoint
from infrec.registry.model_registry import RegistryService
from infrec.store import Store
from infrec.store.tables import EndpointConfigRow, EndpointRow

CREATING, IN_SERVICE, UPDATING, SYSTEM_UPDATING = "Creating", "InService", "Updating", "SystemUpdating"
DELETING, FAILED = "Deleting", "Failed"
BUSY = (CREATING, UPDATING, SYSTEM_UPDATING, DELETING)


class Deployer(Protocol):
    """What the service needs from the supervisor: start a transition in the background."""

    def deploy(self, name: str) -> None: ...

    def update(self, name: str, config_name: str) -> None: ...

    def delete(self, name: str) -> None: ...


def _now() -> float:
    return round(time.time(), 3)


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class HostingService:
    def __init__(self, store: Store, arns: ArnBuilder, registry: RegistryService, catalog: Catalog) -> None:
        self.store = store
        self.arns = arns
        self.registry = registry
        self.catalog = catalog
        self.deployer: Deployer | None = None

    # ------------------------------------------------------------- endpoint configs
    def create_endpoint_config(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req["EndpointConfigName"]
        arn = self.arns.sagemaker("endpoint-config", name)
        variants = list(req["ProductionVariants"])
        seen: set[str] = set()
        for i, v in enumerate(variants, 1):
            where = f"ProductionVariants.{i}"
            if v["VariantName"].lower() in seen:
                raise ValidationError(f"{where}.VariantName: {v['VariantName']!r} is used by another variant "
                                      "of this endpoint configuration")
            seen.add(v["VariantName"].lower())
            if not v.get("ModelName"):
                raise ValidationError(f"{where}.ModelName is required: infrec hosts a model per variant "
                                      "(inference components are not supported)")
            self.registry.get_model(v["ModelName"])  # "Could not find model ..."
            if v.get("ServerlessConfig"):
                raise ValidationError(f"{where}.ServerlessConfig: infrec hosts instance-based endpoints only; "
                                      "benchmark serverless settings with a recommendation job")
            if not v.get("InstanceType"):
                raise ValidationError(f"{where}.InstanceType is required for an instance-based variant")
            if not self.catalog.has(v["InstanceType"]):
                raise ValidationError(f"{where}.InstanceType: {self.catalog.unknown_message([v['InstanceType']])}")
            if not v.get("InitialInstanceCount"):
                raise ValidationError(f"{where}.InitialInstanceCount is required for an instance-based variant")
        doc = {k: v for k, v in req.items() if k not in ("Tags",)}
        doc.update(EndpointConfigArn=arn, CreationTime=_now(), Tags=req.get("Tags") or [])
        try:
            with self.store.session() as s:
                s.add(EndpointConfigRow(name=name, arn=arn, created_at=_dt(doc["CreationTime"]), doc=doc))
        except IntegrityError:
            raise ValidationError(f'Cannot create already existing endpoint configuration "{arn}".') from None
        return {"EndpointConfigArn": arn}

    def _config(self, s: Session, name: str) -> EndpointConfigRow:
        name = resource_name(name)
        row = s.scalar(select(EndpointConfigRow).where(func.lower(EndpointConfigRow.name) == name.lower()))
        if row is None:
            raise ValidationError(f'Could not find endpoint configuration "{name}".')
        return row

    def get_endpoint_config(self, name: str) -> dict[str, Any]:
        with self.store.session() as s:
            return dict(self._config(s, name).doc)

    def describe_endpoint_config(self, req: dict[str, Any]) -> dict[str, Any]:
        doc = self.get_endpoint_config(req["EndpointConfigName"])
        return {k: v for k, v in doc.items() if v is not None and k != "Tags"}

    def list_endpoint_configs(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            docs = [r.doc for r in s.scalars(select(EndpointConfigRow))]
        needle = (req.get("NameContains") or "").lower()
        docs = [d for d in docs if needle in d["EndpointConfigName"].lower() and within(d, req)]
        by_name = (req.get("SortBy") or "CreationTime") == "Name"
        docs.sort(key=lambda d: d["EndpointConfigName"] if by_name else d["CreationTime"],
                  reverse=(req.get("SortOrder") or "Descending") == "Descending")
        chunk, token = page(docs, req)
        out: dict[str, Any] = {"EndpointConfigs": [
            {k: d[k] for k in ("EndpointConfigName", "EndpointConfigArn", "CreationTime")} for d in chunk]}
        if token:
            out["NextToken"] = token
        return out

    def delete_endpoint_config(self, req: dict[str, Any]) -> dict[str, Any]:
        # As in SageMaker, an endpoint that runs keeps running: it holds its own copy of the config.
        with self.store.session() as s:
            s.delete(self._config(s, req["EndpointConfigName"]))
        return {}

    # -------------------------------------------------------------------- endpoints
    @contextmanager
    def _endpoint(self, name: str) -> Iterator[tuple[Session, EndpointRow]]:
        with self.store.session() as s:
            row = s.scalar(select(EndpointRow).where(func.lower(EndpointRow.name) == resource_name(name).lower()))
            if row is None:
                raise ValidationError(f'Could not find endpoint "{resource_name(name)}".')
            yield s, row

    def _hosting(self) -> Deployer:
        """The process that runs endpoints: only `infrec serve` does. A program that builds the services
        itself (embedded CLI, a notebook) gets a clear refusal instead of an endpoint left Creating, or a
        row deleted under processes another server runs."""
        if self.deployer is None:
            raise ValidationError("this process hosts no endpoints: create, update and delete them through "
                                  "`infrec serve` (e.g. boto3 with endpoint_url)")
        return self.deployer

    def create_endpoint(self, req: dict[str, Any]) -> dict[str, Any]:
        deployer = self._hosting()
        name = req["EndpointName"]
        arn = self.arns.sagemaker("endpoint", name)
        config = self.get_endpoint_config(req["EndpointConfigName"])
        now = _now()
        doc = {"EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config["EndpointConfigName"],
               "EndpointStatus": CREATING, "CreationTime": now, "LastModifiedTime": now,
               "Tags": req.get("Tags") or [], "Config": config, "Running": None}
        try:
            with self.store.session() as s:
                s.add(EndpointRow(name=name, arn=arn, status=CREATING, config_name=config["EndpointConfigName"],
                                  created_at=_dt(now), modified_at=_dt(now), doc=doc))
        except IntegrityError:
            raise ValidationError(f'Cannot create already existing endpoint "{arn}".') from None
        deployer.deploy(name)
        return {"EndpointArn": arn}

    def get_endpoint(self, name: str) -> dict[str, Any]:
        with self._endpoint(name) as (_, row):
            return dict(row.doc)

    def describe_endpoint(self, req: dict[str, Any]) -> dict[str, Any]:
        return describe(self.get_endpoint(req["EndpointName"]))

    def list_endpoints(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.session() as s:
            docs = [r.doc for r in s.scalars(select(EndpointRow))]
        needle = (req.get("NameContains") or "").lower()
        docs = [d for d in docs if needle in d["EndpointName"].lower()
                and (not req.get("StatusEquals") or d["EndpointStatus"] == req["StatusEquals"])]
        docs = [d for d in docs if within(d, req)]
        key = {"Name": "EndpointName", "Status": "EndpointStatus"}.get(req.get("SortBy") or "", "CreationTime")
        docs.sort(key=lambda d: d[key], reverse=(req.get("SortOrder") or "Descending") == "Descending")
        chunk, token = page(docs, req)
        out: dict[str, Any] = {"Endpoints": [
            {k: d[k] for k in ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")}
            for d in chunk]}
        if token:
            out["NextToken"] = token
        return out

    def update_endpoint(self, req: dict[str, Any]) -> dict[str, Any]:
        deployer = self._hosting()
        config = self.get_endpoint_config(req["EndpointConfigName"])
        with self._endpoint(req["EndpointName"]) as (_, row):
            if row.status != IN_SERVICE:
                raise ValidationError(f'Cannot update in-progress endpoint "{row.arn}".' if row.status in BUSY else
                                      f'Cannot update endpoint "{row.arn}" in status {row.status}; '
                                      "delete it and create it again")
            arn = row.arn
            self._set(row, UPDATING, PendingConfig=config, FailureReason=None)
        deployer.update(req["EndpointName"], config["EndpointConfigName"])
        return {"EndpointArn": arn}

    def delete_endpoint(self, req: dict[str, Any]) -> dict[str, Any]:
        deployer = self._hosting()
        with self._endpoint(req["EndpointName"]) as (_, row):
            if row.status == DELETING:
                return {}
            self._set(row, DELETING)
            name = row.name
        deployer.delete(name)
        return {}

    # ------------------------------------------------- jobs.endpoints.EndpointLookup
    def resolve(self, name: str) -> ExistingEndpoint:
        """Where a job reaches this endpoint to load-test it (InputConfig.Endpoints): its first
        variant's first instance, directly (not through the runtime router, whose hop would be
        measured too). An endpoint of several instances is measured on one of them."""
        try:
            doc = self.get_endpoint(name)
        except ValidationError:
            raise NotFoundError(f"Could not find endpoint {name!r}") from None
        variants = (doc.get("Running") or {}).get("Variants") or []
        if doc["EndpointStatus"] != IN_SERVICE or not variants or not variants[0].get("Urls"):
            raise ValidationError(f"Endpoint {name!r} is {doc['EndpointStatus']}; a job can load-test it once it "
                                  "is InService")
        v = variants[0]
        pids = v.get("Pids") or [None]
        return ExistingEndpoint(url=v["Urls"][0].rstrip("/"), instance_type=v.get("InstanceType") or None,
                                instance_count=1, pid=pids[0])

    # --------------------------------------------------- writes for the supervisor
    @staticmethod
    def _set(row: EndpointRow, status: str | None = None, **fields: Any) -> None:
        doc = dict(row.doc)
        if status is not None:
            row.status = status
            doc["EndpointStatus"] = status
        doc.update(fields)
        doc["LastModifiedTime"] = _now()
        row.modified_at = _dt(doc["LastModifiedTime"])
        row.doc = doc

    def record(self, name: str, status: str | None = None, *, owner: str | bool | None = False,
               expect: tuple[str, ...] | None = None, **fields: Any) -> bool:
        """Change an endpoint's row; False when it is gone or (with `expect`) no longer in one of
        those states, e.g. deleted while it was being created. `owner` False leaves it as it is."""
        with self.store.session() as s:
            row = s.scalar(select(EndpointRow).where(EndpointRow.name == name))
            if row is None or (expect is not None and row.status not in expect):
                return False
            if "EndpointConfigName" in fields:
                row.config_name = fields["EndpointConfigName"]
            if owner is not False:
                row.owner = owner  # type: ignore[assignment]
            self._set(row, status, **fields)
            return True

    def remove(self, name: str) -> None:
        with self.store.session() as s:
            row = s.scalar(select(EndpointRow).where(EndpointRow.name == name))
            if row is not None:
                s.delete(row)

    def rows(self) -> list[tuple[str, str, str | None]]:
        """(name, status, owner) of every endpoint."""
        with self.store.session() as s:
            return [(r.name, r.status, r.owner) for r in s.scalars(select(EndpointRow))]


def describe(doc: dict[str, Any]) -> dict[str, Any]:
    """DescribeEndpoint's answer from a row's document."""
    config = doc.get("Config") or {}
    running = {v["VariantName"]: v for v in ((doc.get("Running") or {}).get("Variants") or [])}
    variants = []
    for v in config.get("ProductionVariants") or []:
        live = running.get(v["VariantName"])
        entry: dict[str, Any] = {
            "VariantName": v["VariantName"],
            "CurrentWeight": float(v.get("InitialVariantWeight", 1.0)),
            "DesiredWeight": float(v.get("InitialVariantWeight", 1.0)),
            "DesiredInstanceCount": int(v.get("InitialInstanceCount") or 1),
            "CurrentInstanceCount": len(live["Urls"]) if live else 0,
        }
        if live:
            entry["DeployedImages"] = [{"SpecifiedImage": live["Image"], "ResolvedImage": live["Image"],
                                        "ResolutionTime": live["StartedAt"]}]
        variants.append(entry)
    out = {k: doc[k] for k in ("EndpointName", "EndpointArn", "EndpointConfigName", "EndpointStatus",
                               "CreationTime", "LastModifiedTime")}
    if variants:
        out["ProductionVariants"] = variants
    if doc.get("FailureReason"):
        out["FailureReason"] = doc["FailureReason"]
    return out
