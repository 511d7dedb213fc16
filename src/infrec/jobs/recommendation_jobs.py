"""Recommendation jobs as SageMaker exposes them: create, describe, list, stop, steps, scaling advice.

The service validates and persists; the scheduler runs. Creating a job writes the job and all its
planned steps in one transaction before anything starts, so a crash can never leave a job whose
plan is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from infrec.core import recommend, scaling
from infrec.core.arn import ArnBuilder
from infrec.core.catalog import Catalog, PriceUnavailable
from infrec.core.errors import NotFoundError, ResourceInUseError, ValidationError
from infrec.core.paging import page
from infrec.core.plan import plan_job
from infrec.core.timestamps import within
from infrec.jobs import states
from infrec.jobs.endpoints import EndpointLookup
from infrec.jobs.model_source import resolve
from infrec.jobs.repo import JobRepo, epoch, now_dt
from infrec.registry.model_registry import RegistryService
from infrec.store import Store
from infrec.store.tables import JobRow, JobStepRow

DEFAULT_INSTANCE_TYPES = ["ml.c5.large", "ml.m5.large", "ml.c6i.large", "ml.c5.xlarge"]


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class JobService:
    def __init__(self, store: Store, arns: ArnBuilder, registry: RegistryService,
                 catalog: Catalog, submit: Callable[[str], object],
                 cancel: Callable[[str], None], owner: Callable[[], str | None] = lambda: None,
                 endpoints: EndpointLookup | None = None) -> None:
        """`endpoints` resolves InputConfig.Endpoints (existing endpoints to load-test); without it
        every such name is unknown."""
        self.store = store
        self.repo = JobRepo(store)
        self.arns = arns
        self.registry = registry
        self.catalog = catalog
        self._submit = submit
        self._cancel = cancel
        self._owner = owner
        self.endpoints = endpoints

    # ---------------------------------------------------------------- create
    def create_inference_recommendations_job(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req["JobName"]
        job_type = req["JobType"]
        input_config = req["InputConfig"]
        existing = self._existing_endpoint(input_config)
        if job_type == "Advanced" and not input_config.get("EndpointConfigurations") and existing is None:
            raise ValidationError("an Advanced job needs InputConfig.EndpointConfigurations (or InputConfig.Endpoints)")
        source = resolve(self.registry, input_config)
        plans = [] if job_type == "Advanced" and not input_config.get("EndpointConfigurations") else \
            plan_job(job_type, input_config, source.package_instance_types,
                     self.catalog.offered(DEFAULT_INSTANCE_TYPES))  # only types offered in the region
        unknown = sorted({p.instance_type for p in plans
                          if p.serverless_config is None and not self.catalog.has(p.instance_type)})
        if unknown:
            raise ValidationError(self.catalog.unknown_message(unknown))
        if any(p.serverless_config is not None for p in plans):
            try:
                self.catalog.serverless_price()   # priced for the region, or refused now, not after the run
            except PriceUnavailable as exc:
                raise ValidationError(f"ServerlessConfig: {exc}") from None
        arn = self.arns.sagemaker("inference-recommendations-job", name)
        now = now_dt()
        job = JobRow(name=name, arn=arn, job_type=job_type, status=states.PENDING,
                     model_name=source.model_name, model_package_arn=source.model_package_arn,
                     created_at=now, modified_at=now, request=req, result={},
                     owner=self._owner())  # owned from its first commit: no other process adopts it
        steps = []
        for plan in plans:
            env_params = [{"Key": k, "ValueType": "String", "Value": v} for k, v in sorted(plan.environment.items())]
            model_cfg: dict[str, Any] = {"EnvironmentParameters": env_params}
            if plan.inference_specification_name:
                model_cfg["InferenceSpecificationName"] = plan.inference_specification_name
            endpoint: dict[str, Any] = {"EndpointName": f"{name}-{plan.index + 1}"[:63], "VariantName": "AllTraffic"}
            if plan.serverless_config is not None:
                endpoint["ServerlessConfig"] = dict(plan.serverless_config)
            else:
                endpoint.update(InstanceType=plan.instance_type, InitialInstanceCount=plan.instance_count)
            doc = {"EndpointConfiguration": endpoint, "ModelConfiguration": model_cfg}
            steps.append(JobStepRow(job_name=name, step_index=plan.index, status=states.PENDING, doc=doc))
        if existing is not None:
            # The existing endpoint is measured as one more step (after the planned ones), without
            # deploying anything; its figures become EndpointPerformances, not a recommendation.
            doc = {"ExistingEndpoint": {"EndpointName": existing},
                   "EndpointConfiguration": {"EndpointName": existing, "VariantName": "AllTraffic"},
                   "ModelConfiguration": {}}
            steps.append(JobStepRow(job_name=name, step_index=len(plans), status=states.PENDING, doc=doc))
        try:
            with self.store.session() as s:
                s.add(job)
                s.flush()
                s.add_all(steps)
        except IntegrityError as exc:
            raise ResourceInUseError(f"Inference recommendations job {name!r} already exists") from exc
        self._submit(name)
        return {"JobArn": arn}

    def _existing_endpoint(self, input_config: dict[str, Any]) -> str | None:
        """The name in InputConfig.Endpoints (at most one, as SageMaker allows), checked to exist
        now, so a missing endpoint is refused at create as SageMaker refuses it."""
        entries = input_config.get("Endpoints") or []
        if not entries:
            return None
        if len(entries) > 1:
            raise ValidationError("InputConfig.Endpoints: only one existing endpoint per job is supported")
        endpoint_name = (entries[0] or {}).get("EndpointName")
        if not endpoint_name:
            raise ValidationError("InputConfig.Endpoints[0].EndpointName is required")
        if self.endpoints is None:
            raise ValidationError(f"Could not find endpoint \"{endpoint_name}\".")
        try:
            self.endpoints.resolve(endpoint_name)
        except NotFoundError:
            raise ValidationError(f"Could not find endpoint \"{endpoint_name}\".") from None
        return str(endpoint_name)

    # -------------------------------------------------------------- describe
    def describe_inference_recommendations_job(self, req: dict[str, Any]) -> dict[str, Any]:
        row = self.repo.get(req["JobName"])
        return self._describe(row)

    def _describe(self, row: JobRow) -> dict[str, Any]:
        out = {
            "JobName": row.name,
            "JobDescription": row.request.get("JobDescription"),
            "JobType": row.job_type,
            "JobArn": row.arn,
            "RoleArn": row.request["RoleArn"],
            "Status": row.status,
            "CreationTime": epoch(row.created_at),
            "CompletionTime": epoch(row.completed_at),
            "LastModifiedTime": epoch(row.modified_at),
            "FailureReason": row.failure_reason,
            "InputConfig": row.request["InputConfig"],
            "StoppingConditions": row.request.get("StoppingConditions"),
            "InferenceRecommendations": (row.result or {}).get("InferenceRecommendations"),
            "EndpointPerformances": (row.result or {}).get("EndpointPerformances"),
        }
        return _drop_none(out)

    def job_details(self, name: str) -> dict[str, Any]:
        """Everything infrec knows about a job, including what SageMaker's shapes have no field for
        (emulation scale, enforcement, VPC report, live progress): for the CLI, report and web page."""
        row = self.repo.get(name)
        return {
            "Job": self._describe(row),
            "Result": row.result or {},
            "Steps": [dict(s.doc, StepIndex=s.step_index, Status=s.status, EmulationScale=s.emulation_scale,
                           StartedAt=epoch(s.started_at), EndedAt=epoch(s.ended_at))
                      for s in self.repo.steps(row.name)],
        }

    def list_inference_recommendations_jobs(self, req: dict[str, Any]) -> dict[str, Any]:
        rows = self.repo.all()
        needle = (req.get("NameContains") or "").lower()

        def keep(r: JobRow) -> bool:
            times = {"CreationTime": epoch(r.created_at) or 0, "LastModifiedTime": epoch(r.modified_at) or 0}
            checks = [
                needle in r.name.lower(),
                req.get("StatusEquals") in (None, r.status),
                req.get("ModelNameEquals") in (None, r.model_name),
                req.get("ModelPackageVersionArnEquals") in (None, r.model_package_arn),
                within(times, req),
            ]
            return all(checks)

        rows = [r for r in rows if keep(r)]
        by = req.get("SortBy") or "CreationTime"
        key: Callable[[JobRow], Any] = {
            "Name": lambda r: r.name, "Status": lambda r: (r.status, r.name),
        }.get(by, lambda r: (epoch(r.created_at), r.name))
        rows.sort(key=key, reverse=(req.get("SortOrder") or "Descending") == "Descending")
        chunk, token = page(rows, req)
        jobs = [_drop_none({
            "JobName": r.name, "JobDescription": r.request.get("JobDescription") or "", "JobType": r.job_type,
            "JobArn": r.arn, "Status": r.status, "CreationTime": epoch(r.created_at),
            "CompletionTime": epoch(r.completed_at), "RoleArn": r.request["RoleArn"],
            "LastModifiedTime": epoch(r.modified_at), "FailureReason": r.failure_reason,
            "ModelName": r.model_name, "ModelPackageVersionArn": r.model_package_arn,
            "SamplePayloadUrl": (r.result or {}).get("SamplePayloadUrl"),
        }) for r in chunk]
        out: dict[str, Any] = {"InferenceRecommendationsJobs": jobs}
        if token:
            out["NextToken"] = token
        return out

    # ------------------------------------------------------------------ stop
    def stop_inference_recommendations_job(self, req: dict[str, Any]) -> dict[str, Any]:
        row = self.repo.get(req["JobName"])
        name = row.name
        if row.status in states.TERMINAL:
            raise ValidationError(f"job {name!r} is already {row.status}")
        self.repo.set_status(name, states.STOPPING)
        self._cancel(name)
        return {}

    # ----------------------------------------------------------------- steps
    def list_inference_recommendations_job_steps(self, req: dict[str, Any]) -> dict[str, Any]:
        name = self.repo.get(req["JobName"]).name
        steps = [s for s in self.repo.steps(name) if req.get("Status") in (None, s.status)]
        if req.get("StepType") not in (None, "BENCHMARK"):
            steps = []
        chunk, token = page(steps, req)
        keys = ("Metrics", "EndpointMetrics", "EndpointConfiguration", "ModelConfiguration", "FailureReason",
                "InvocationEndTime", "InvocationStartTime")
        out: dict[str, Any] = {"Steps": [
            {"StepType": "BENCHMARK", "JobName": name, "Status": s.status,
             "InferenceBenchmark": {k: s.doc[k] for k in keys if s.doc.get(k) is not None}}
            for s in chunk]}
        if token:
            out["NextToken"] = token
        return out

    # --------------------------------------------------------------- scaling
    def get_scaling_configuration_recommendation(self, req: dict[str, Any]) -> dict[str, Any]:
        row = self.repo.get(req["InferenceRecommendationsJobName"])
        name = row.name
        if row.status != states.COMPLETED:
            raise ValidationError(f"job {name!r} is {row.status}; scaling advice needs a COMPLETED job")
        recs = (row.result or {}).get("InferenceRecommendations") or []
        rec_id, endpoint = req.get("RecommendationId"), req.get("EndpointName")
        if bool(rec_id) == bool(endpoint):
            raise ValidationError("specify exactly one of RecommendationId or EndpointName")
        chosen = next((r for r in recs if (rec_id and r.get("RecommendationId") == rec_id) or
                       (endpoint and r["EndpointConfiguration"].get("EndpointName") == endpoint)), None)
        if chosen is None:
            raise NotFoundError(f"job {name!r} has no recommendation {rec_id or endpoint!r}")
        if chosen["EndpointConfiguration"].get("ServerlessConfig"):
            raise ValidationError(f"recommendation {chosen['RecommendationId']!r} is serverless: a serverless endpoint "
                                  "scales itself up to MaxConcurrency and takes no scaling policy")
        return scaling.recommend_scaling(
            job_name=name, recommendation=chosen,
            target_cpu_utilization_per_core=req.get("TargetCpuUtilizationPerCore"),
            objective=req.get("ScalingPolicyObjective"), endpoint_name=endpoint,
        )


__all__ = ["JobService", "recommend"]
