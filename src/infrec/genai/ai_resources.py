"""The generative-AI recommender's API: AIWorkloadConfig, AIBenchmarkJob and AIRecommendationJob as
SageMaker describes them (botocore ≥ 1.42.93), stored as documents in one table
(`store.tables.AIResourceRow`).

This layer owns the rows and the rules between resources (a name in use, a missing workload config,
a spec that cannot run, a target that does not resolve). A job's state moves through
`genai.repo.AIJobRepo` (the one state machine of every job kind, `jobs.states`); running it is the
job scheduler's (`jobs.scheduler`, with `genai.ai_runner.AIJobRunner`), which this service hands each
new job and each stop to through `submit` and `cancel`.

Targets of a benchmark job: ``BenchmarkTarget.Endpoint.Identifier`` names an infrec endpoint
(hosting) or — documented extension — an entry of the operator's INFREC_EXTERNAL_ENDPOINTS file,
whose ``Url`` may be any OpenAI-compatible server: the URL never travels in the API, so a caller
cannot point infrec at an arbitrary host.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infrec.artifacts.uri import FileAccess
from infrec.core.arn import ArnBuilder, resource_name
from infrec.core.errors import NotFoundError, ResourceInUseError, ValidationError
from infrec.core.paging import page
from infrec.core.timestamps import within
from infrec.core.workload import (
    MAX_DATASET_BYTES,
    MAX_DATASET_PROMPTS,
    Prompt,
    SpecError,
    WorkloadSpec,
    parse_dataset,
    parse_workload,
)
from infrec.core.workload import with_dataset as add_dataset
from infrec.genai.repo import AIJobRepo, now
from infrec.jobs import states
from infrec.store import Store
from infrec.store.tables import AIResourceRow

WORKLOAD, BENCHMARK, RECOMMENDATION = "AIWorkloadConfig", states.AI_BENCHMARK, states.AI_RECOMMENDATION
ARN_TYPES = {WORKLOAD: "ai-workload-config", BENCHMARK: "ai-benchmark-job", RECOMMENDATION: "ai-recommendation-job"}
MAX_INLINE = 256 * 1024


def parse_inline_spec(text: str, where: str = "AIWorkloadConfigs.WorkloadSpec.Inline") -> WorkloadSpec:
    """A WorkloadSpec from inline JSON or YAML; ValidationException naming the field otherwise."""
    if len(text) > MAX_INLINE:
        raise ValidationError(f"{where}: the spec is {len(text)} characters; the limit is {MAX_INLINE}")
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValidationError(f"{where}: neither JSON nor YAML: {str(exc).splitlines()[0]}") from None
    try:
        return parse_workload(doc)
    except SpecError as exc:
        raise ValidationError(f"{where}: {exc}") from None


def load_dataset(channels: list[dict[str, Any]], files: FileAccess) -> tuple[Prompt, ...]:
    """The prompts of every DatasetConfig channel, in order (AIPerf single_turn JSONL, one S3 object
    each); ValidationException naming the channel's S3Uri and the line otherwise."""
    from infrec.artifacts.errors import ArtifactError

    prompts: list[Prompt] = []
    for i, ch in enumerate(channels):
        where = f"DatasetConfig.InputDataConfig[{i}].DataSource.S3DataSource.S3Uri"
        uri = ((ch.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
        if not uri:
            raise ValidationError(f"{where}: give the S3 URI of a JSONL file of prompts")
        if not str(uri).startswith("s3://"):
            raise ValidationError(f"{where}: {uri!r}: infrec reads datasets from s3:// objects")
        try:
            data = files.read_bytes(uri, max_bytes=MAX_DATASET_BYTES)
        except ArtifactError as exc:
            raise ValidationError(f"{where}: {exc}") from None
        try:
            prompts.extend(parse_dataset(data, where=uri))
        except SpecError as exc:
            raise ValidationError(f"{where}: {exc}") from None
    if len(prompts) > MAX_DATASET_PROMPTS:
        raise ValidationError(f"DatasetConfig.InputDataConfig: {len(prompts)} prompts in all; the limit is "
                              f"{MAX_DATASET_PROMPTS}")
    return tuple(prompts)


class GenAIService:
    """SageMaker's Create/Describe/List/Stop/Delete for the three AI resources (module doc)."""

    def __init__(self, store: Store, arns: ArnBuilder, endpoints: Any = None,
                 instance_type_ok: Callable[[str], str | None] | None = None,
                 submit: Callable[[str, str], bool] | None = None, cancel: Callable[[str, str], None] | None = None,
                 owner: Callable[[], str | None] = lambda: None, *, files: FileAccess) -> None:
        """`submit(name, kind)` queues a new job (False where this process runs no jobs); `cancel(name,
        kind)` stops one the service has moved to Stopping; `owner()` is the process that runs jobs."""
        self.store = store
        self.files = files                    # where datasets, models and results are read and written
        self.arns = arns
        self.endpoints = endpoints            # jobs.endpoints.EndpointLookup: hosting, then external
        self.instance_type_ok = instance_type_ok
        self.repos = {kind: AIJobRepo(store, kind) for kind in (BENCHMARK, RECOMMENDATION)}
        self._submit_job = submit
        self._cancel_job = cancel
        self._owner = owner

    # ------------------------------------------------------------------ rows
    @contextmanager
    def _row(self, kind: str, name: str) -> Iterator[tuple[Session, AIResourceRow]]:
        name = resource_name(name)
        with self.store.session() as s:
            row = s.scalar(select(AIResourceRow).where(AIResourceRow.kind == kind, AIResourceRow.name == name))
            if row is None:
                raise NotFoundError(f"{kind} {name!r} does not exist")
            yield s, row

    def get(self, kind: str, name: str) -> dict[str, Any]:
        with self._row(kind, name) as (_, row):
            return _doc(row)

    def _insert(self, kind: str, name: str, doc: dict[str, Any], status: str | None) -> str:
        arn = self.arns.sagemaker(ARN_TYPES[kind], name)
        doc = {**doc, f"{kind}Arn": arn, "CreationTime": now()}
        try:
            with self.store.session() as s:
                # A job is owned from its first commit: no other process adopts it.
                s.add(AIResourceRow(kind=kind, name=name, arn=arn, status=status,
                                    created_at=datetime.fromtimestamp(doc["CreationTime"], UTC), doc=doc,
                                    owner=self._owner() if status is not None else None))
        except IntegrityError:
            raise ResourceInUseError(f"{kind} {name!r} already exists") from None
        return arn

    def update(self, kind: str, name: str, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into the document (the runner's writes; the status moves only through
        `repos`); returns the new document."""
        with self._row(kind, name) as (_, row):
            doc = {**_doc(row), **{k: v for k, v in fields.items() if v is not None}}
            row.doc = doc
            return doc

    def _list(self, kind: str, req: dict[str, Any], key: str, fields: tuple[str, ...]) -> dict[str, Any]:
        with self.store.session() as s:
            docs = [_doc(r) for r in s.scalars(select(AIResourceRow).where(AIResourceRow.kind == kind))]
        needle = (req.get("NameContains") or "").lower()
        docs = [d for d in docs if needle in d[f"{kind}Name"].lower()
                and (not req.get("StatusEquals") or d.get(f"{kind}Status") == req["StatusEquals"])]
        docs = [d for d in docs if within(d, req)]
        sort = {"Name": f"{kind}Name", "Status": f"{kind}Status"}.get(req.get("SortBy") or "", "CreationTime")
        docs.sort(key=lambda d: d.get(sort) or "", reverse=(req.get("SortOrder") or "Descending") == "Descending")
        chunk, token = page(docs, req)
        out: dict[str, Any] = {key: [{k: d[k] for k in fields if d.get(k) is not None} for d in chunk]}
        if token:
            out["NextToken"] = token
        return out

    # --------------------------------------------------------- AIWorkloadConfig
    def create_ai_workload_config(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req["AIWorkloadConfigName"]
        inline = ((req.get("AIWorkloadConfigs") or {}).get("WorkloadSpec") or {}).get("Inline")
        channels = (req.get("DatasetConfig") or {}).get("InputDataConfig") or []
        if inline is None and not channels:
            raise ValidationError("AIWorkloadConfigs.WorkloadSpec.Inline: give a workload spec (JSON or YAML in "
                                  "AIPerf's terms)")
        spec = parse_inline_spec(inline) if inline is not None else WorkloadSpec()
        if spec.dataset_type and not channels:
            raise ValidationError("AIWorkloadConfigs.WorkloadSpec.Inline: custom_dataset_type needs a dataset: give "
                                  "DatasetConfig.InputDataConfig (an S3 channel of JSONL prompts)")
        if channels:
            load_dataset(channels, self.files)    # read now, so a dataset that cannot run is refused by name
        doc: dict[str, Any] = {k: req[k] for k in ("AIWorkloadConfigName", "DatasetConfig", "AIWorkloadConfigs", "Tags") if k in req}
        return {"AIWorkloadConfigArn": self._insert(WORKLOAD, name, doc, None)}

    def describe_ai_workload_config(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.get(WORKLOAD, req["AIWorkloadConfigName"])

    def list_ai_workload_configs(self, req: dict[str, Any]) -> dict[str, Any]:
        return self._list(WORKLOAD, req, "AIWorkloadConfigs", ("AIWorkloadConfigName", "AIWorkloadConfigArn",
                                                               "CreationTime"))

    def delete_ai_workload_config(self, req: dict[str, Any]) -> dict[str, Any]:
        with self._row(WORKLOAD, req["AIWorkloadConfigName"]) as (s, row):
            arn = row.arn
            s.delete(row)
        return {"AIWorkloadConfigArn": arn}

    def workload_spec(self, identifier: str, field: str = "AIWorkloadConfigIdentifier",
                      with_dataset: bool = True) -> tuple[str, WorkloadSpec]:
        """The workload's name and spec; with its dataset's prompts read from S3 (a job's start) unless
        `with_dataset` is False (a create call, which only needs to know the config exists)."""
        try:
            doc = self.get(WORKLOAD, identifier)
        except NotFoundError:
            raise ValidationError(f"{field}: AIWorkloadConfig {resource_name(identifier)!r} does not exist") from None
        inline = ((doc.get("AIWorkloadConfigs") or {}).get("WorkloadSpec") or {}).get("Inline")
        spec = parse_inline_spec(inline) if inline is not None else WorkloadSpec()
        channels = (doc.get("DatasetConfig") or {}).get("InputDataConfig") or []
        if channels and with_dataset:
            spec = add_dataset(spec, load_dataset(channels, self.files))
        return doc["AIWorkloadConfigName"], spec

    # ----------------------------------------------------------- AIBenchmarkJob
    def resolve_target(self, req: dict[str, Any]) -> str:
        """The base URL a benchmark job's target answers on (module doc)."""
        endpoint = (req.get("BenchmarkTarget") or {}).get("Endpoint")
        if not endpoint:
            raise ValidationError("BenchmarkTarget.Endpoint: name the endpoint to benchmark")
        if endpoint.get("InferenceComponents"):
            raise ValidationError("BenchmarkTarget.Endpoint.InferenceComponents: inference components are not "
                                  "supported by infrec")
        name = resource_name(endpoint["Identifier"])
        if self.endpoints is None:
            raise ValidationError(f"BenchmarkTarget.Endpoint.Identifier: no endpoint {name!r}: this infrec hosts "
                                  "no endpoints and has no INFREC_EXTERNAL_ENDPOINTS file")
        try:
            return str(self.endpoints.resolve(name).url)
        except NotFoundError:
            raise ValidationError(f"BenchmarkTarget.Endpoint.Identifier: no endpoint {name!r} (neither an infrec "
                                  "endpoint nor an INFREC_EXTERNAL_ENDPOINTS entry)") from None

    def create_ai_benchmark_job(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req["AIBenchmarkJobName"]
        wl_name, _spec = self.workload_spec(req["AIWorkloadConfigIdentifier"], with_dataset=False)
        self.resolve_target(req)
        _check_output(req["OutputConfig"]["S3OutputLocation"], "OutputConfig.S3OutputLocation")
        doc: dict[str, Any] = {k: req[k] for k in ("AIBenchmarkJobName", "BenchmarkTarget", "OutputConfig",
                                   "AIWorkloadConfigIdentifier", "RoleArn", "NetworkConfig", "Tags") if k in req}
        doc["AIBenchmarkJobStatus"] = states.wire(BENCHMARK, states.IN_PROGRESS)
        doc["AIWorkloadConfigName"] = wl_name
        arn = self._insert(BENCHMARK, name, doc, doc["AIBenchmarkJobStatus"])
        self._submit(BENCHMARK, name)
        return {"AIBenchmarkJobArn": arn}

    def describe_ai_benchmark_job(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.get(BENCHMARK, req["AIBenchmarkJobName"])

    def list_ai_benchmark_jobs(self, req: dict[str, Any]) -> dict[str, Any]:
        return self._list(BENCHMARK, req, "AIBenchmarkJobs", ("AIBenchmarkJobName", "AIBenchmarkJobArn",
                                                              "AIBenchmarkJobStatus", "CreationTime", "EndTime",
                                                              "AIWorkloadConfigName"))

    def stop_ai_benchmark_job(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"AIBenchmarkJobArn": self._stop(BENCHMARK, req["AIBenchmarkJobName"])}

    def delete_ai_benchmark_job(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"AIBenchmarkJobArn": self._delete_job(BENCHMARK, req["AIBenchmarkJobName"])}

    # ------------------------------------------------------ AIRecommendationJob
    def create_ai_recommendation_job(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req["AIRecommendationJobName"]
        wl_name, spec = self.workload_spec(req["AIWorkloadConfigIdentifier"], with_dataset=False)
        if not spec.slas.any():
            raise ValidationError("AIWorkloadConfigIdentifier: the workload spec sets no SLA (goodput: "
                                  "'time_to_first_token:<ms> inter_token_latency:<ms>'); a recommendation needs one")
        if not (req.get("ModelSource") or {}).get("S3", {}).get("S3Uri"):
            raise ValidationError("ModelSource.S3.S3Uri: name the model's location")
        out = (req.get("OutputConfig") or {}).get("S3OutputLocation")
        if not out:
            raise ValidationError("OutputConfig.S3OutputLocation: name where the results go")
        _check_output(out, "OutputConfig.S3OutputLocation")
        types = (req.get("ComputeSpec") or {}).get("InstanceTypes") or []
        if not types:
            raise ValidationError("ComputeSpec.InstanceTypes: give at least one instance type")
        for t in types:
            problem = self.instance_type_ok(t) if self.instance_type_ok else None
            if problem:
                raise ValidationError(f"ComputeSpec.InstanceTypes: {problem}")
        for key in ("AdapterSource", "OptimizeModel"):
            if req.get(key):
                raise ValidationError(f"{key}: not supported by infrec")
        doc: dict[str, Any] = {k: req[k] for k in ("AIRecommendationJobName", "ModelSource", "OutputConfig", "AIWorkloadConfigIdentifier",
                                   "PerformanceTarget", "RoleArn", "InferenceSpecification", "ComputeSpec",
                                   "Tags") if k in req}
        doc["AIRecommendationJobStatus"] = states.wire(RECOMMENDATION, states.IN_PROGRESS)
        doc["AIWorkloadConfigName"] = wl_name
        arn = self._insert(RECOMMENDATION, name, doc, doc["AIRecommendationJobStatus"])
        self._submit(RECOMMENDATION, name)
        return {"AIRecommendationJobArn": arn}

    def describe_ai_recommendation_job(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.get(RECOMMENDATION, req["AIRecommendationJobName"])

    def list_ai_recommendation_jobs(self, req: dict[str, Any]) -> dict[str, Any]:
        return self._list(RECOMMENDATION, req, "AIRecommendationJobs",
                          ("AIRecommendationJobName", "AIRecommendationJobArn", "AIRecommendationJobStatus",
                           "CreationTime", "EndTime"))

    def stop_ai_recommendation_job(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"AIRecommendationJobArn": self._stop(RECOMMENDATION, req["AIRecommendationJobName"])}

    def delete_ai_recommendation_job(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"AIRecommendationJobArn": self._delete_job(RECOMMENDATION, req["AIRecommendationJobName"])}

    # ------------------------------------------------------------------ jobs
    def _submit(self, kind: str, name: str) -> None:
        if self._submit_job is None or not self._submit_job(name, kind):
            self.repos[kind].set_status(name, states.FAILED, failure_reason="no job runner in this process: "
                                        "create jobs through `infrec serve`")

    def _stop(self, kind: str, name: str) -> str:
        with self._row(kind, name) as (_, row):
            arn, name = row.arn, row.name
        repo = self.repos[kind]
        if not repo.set_status(name, states.STOPPING) and (status := repo.status(name)) in states.TERMINAL:
            raise ValidationError(f"{kind} {name!r} is {states.wire(kind, status)}; only a job in progress can be "
                                  "stopped")
        if self._cancel_job is not None:
            self._cancel_job(name, kind)
        return arn

    def _delete_job(self, kind: str, name: str) -> str:
        with self._row(kind, name) as (s, row):
            if row.status is None or states.from_wire(kind, row.status) not in states.TERMINAL:
                raise ResourceInUseError(f"{kind} {name!r} is {row.status}; stop it before deleting it")
            arn = row.arn
            s.delete(row)
        return arn


def _doc(row: AIResourceRow) -> dict[str, Any]:
    """The resource's document, its status as the row's status column says (which every transition
    sets, while a runner's write of other fields may have started from an older document)."""
    doc = dict(row.doc)
    if row.status is not None:
        doc[f"{row.kind}Status"] = row.status
    return doc


def _check_output(uri: str, field: str) -> None:
    if not uri.startswith(("s3://", "file://")):
        raise ValidationError(f"{field}: {uri!r} must be an s3:// location (or file:// on this host)")

