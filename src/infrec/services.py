"""The composition root: one place that builds the services from settings, shared by the API server,
the CLI's embedded mode and the tests, so there is never a second way to wire them."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from infrec.api import operations
from infrec.artifacts.uri import FileAccess
from infrec.config import Settings
from infrec.core.arn import ArnBuilder
from infrec.core.catalog import Catalog, InstanceType
from infrec.executors.base import Executor
from infrec.genai.ai_resources import GenAIService
from infrec.hosting.endpoints import HostingService
from infrec.jobs import states
from infrec.jobs.endpoints import default_lookup
from infrec.jobs.hostfit import Fit
from infrec.jobs.hostfit import host_fits as fits_on
from infrec.jobs.instant import InstantRecommendations
from infrec.jobs.joblog import JobLogSource
from infrec.jobs.lifecycle import JobStateRepo, Kind
from infrec.jobs.realtime_runner import JobRunner, RunnerOptions
from infrec.jobs.recommendation_jobs import JobService
from infrec.jobs.scheduler import Scheduler, owner_alive
from infrec.logs.cloudwatch import LogsService
from infrec.measure import MeasureOptions
from infrec.registry.model_registry import RegistryService
from infrec.registry.tags import TagService
from infrec.store import Store

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def runner_options(settings: Settings) -> RunnerOptions:
    """How jobs (and hosted endpoints) measure and start, from the settings."""
    return RunnerOptions(allow_emulation=settings.allow_emulation, trial_seconds=settings.trial_seconds,
                         setup_deadline_s=settings.setup_deadline_s, hold_seconds=settings.hold_seconds,
                         host_lock=settings.host_lock, measure=MeasureOptions.from_settings(settings))


def host_fits(types: Iterable[InstanceType], settings: Settings) -> dict[str, Fit]:
    """What this host's local executor will do with each type (jobs.hostfit), asked of an executor
    made in a scratch folder: nothing is started, and a Ray cluster's nodes are sized when a job runs."""
    from infrec.executors.local import LocalExecutor

    with tempfile.TemporaryDirectory(prefix="infrec-capacity-") as scratch:
        executor = LocalExecutor(Path(scratch), devices=settings.host_devices, loadgen_cpus=settings.loadgen_cpus)
        return fits_on(types, executor, settings.allow_emulation)


def catalog_for(settings: Settings) -> Catalog:
    """The operator's catalog file (INFREC_CATALOG) or the packaged one, priced for the settings' region."""
    if settings.catalog is not None:
        return Catalog.load(settings.catalog, settings.region)
    return Catalog.default(settings.region)


def _vpc_preflight(settings: Settings) -> Callable[[dict[str, Any], Any, int], dict[str, Any]]:
    """Adapter from a job request to the VPC preflight, returning the report as data."""

    def run(req: dict[str, Any], source: Any, instances: int) -> dict[str, Any]:
        from infrec.vpc import preflight

        labels = {u: what for u, what in ((source.payload_url, "sample payload"),
                                          (source.model_data_url, "model data")) if u}
        report = preflight(req["InputConfig"]["VpcConfig"], role_arn=req["RoleArn"], s3_urls=list(labels),
                           instances_at_once=instances, labels=labels)
        out = report.to_dict()
        out["ok"] = report.ok
        out["failure_reason"] = report.failure_reason(max_len=1024)
        return out

    return run


def _instance_type_problem(catalog: Catalog) -> Callable[[str], str | None]:
    def check(name: str) -> str | None:
        try:
            catalog.get(name)
        except Exception as exc:
            return str(exc)
        return None

    return check


class Services:
    """Everything a front end talks to. Which method answers an operation is the table in
    `infrec.api.operations`; this class holds the one instance of each service that answers."""

    def __init__(self, settings: Settings, *, check_artifacts: bool = True) -> None:
        self.settings = settings
        settings.ensure_home()
        # One rule for every artifact read: the registry's check, a job's download (jobs/workspace)
        # and a hosted endpoint's model all go through this object (the registry carries it).
        self.files = FileAccess.from_settings(settings)
        self.arns = ArnBuilder(settings.region, settings.account_id)
        self.store = Store(settings.database_url)
        self.registry = RegistryService(self.store, self.arns, self.files, check_artifacts=check_artifacts)
        self.catalog = catalog_for(settings)
        self.extra_enums = {"ProductionVariantInstanceType": frozenset(self.catalog.names())}
        self._scheduler: Scheduler | None = None
        self._executor: Executor | None = None
        self.hosting = HostingService(self.store, self.arns, self.registry, self.catalog)
        self._supervisor: Any | None = None
        self._invoker: Any | None = None
        # InputConfig.Endpoints: infrec's own endpoints (hosting, as a jobs.endpoints.EndpointLookup)
        # first, then the operator's external ones (INFREC_EXTERNAL_ENDPOINTS).
        self.endpoint_lookup = default_lookup(self.hosting, settings.external_endpoints)
        self.jobs = JobService(self.store, self.arns, self.registry, catalog=self.catalog,
                               submit=self._submit, cancel=self._cancel,
                               owner=lambda: self._scheduler.owner if self._scheduler else None,
                               endpoints=self.endpoint_lookup)
        self.extra_enums["AIRecommendationInstanceType"] = self.extra_enums["ProductionVariantInstanceType"]
        self.genai = GenAIService(self.store, self.arns, self.endpoint_lookup, _instance_type_problem(self.catalog),
                                  submit=self._submit, cancel=self._cancel,
                                  owner=lambda: self._scheduler.owner if self._scheduler else None, files=self.files)
        self.tags = TagService(self.store)
        # CloudWatch Logs: the jobs' execution logs, rendered from their rows (infrec.jobs.joblog).
        self.logs = LogsService(self.arns)
        self.logs.register(JobLogSource(self.jobs.repo))
        self._answering: dict[type, object] = {
            RegistryService: self.registry, TagService: self.tags, JobService: self.jobs,
            HostingService: self.hosting, GenAIService: self.genai, LogsService: self.logs}
        self.registry.deployment_recommendation = InstantRecommendations(self.jobs.repo, self.registry).for_model

    def executor(self) -> Any:
        """The one executor of this process: jobs and hosted endpoints share its budget of CPUs and
        memory, so a hosted endpoint never runs on a CPU a benchmark was given."""
        if self._executor is None and self.settings.executor == "ray":
            from infrec.executors.ray import RayExecutor  # endpoints on a Ray cluster's nodes (docs/ray.md)

            self._executor = RayExecutor(self.settings.ray_address or "auto", state_dir=self.settings.home / "run",
                                         allow_commands=self.settings.allow_commands,
                                         autoscaler_wait_s=self.settings.ray_autoscaler_wait_s,
                                         files=self.files.anywhere())
        if self._executor is None:
            from infrec.executors.local import LocalExecutor

            self._executor = LocalExecutor(state_dir=self.settings.home / "run",
                                           allow_commands=self.settings.allow_commands,
                                           devices=self.settings.host_devices,
                                           loadgen_cpus=self.settings.loadgen_cpus)
        return self._executor

    # --------------------------------------------------------------- hosting
    def start_hosting(self) -> None:
        """Run endpoints in this process (`infrec serve`): bring back those a previous run left, then
        deploy, update and delete as asked. Read-only commands never call this."""
        if self._supervisor is None:
            from infrec.hosting.invoke import Invoker
            from infrec.hosting.supervisor import Supervisor
            from infrec.jobs.scheduler import this_owner

            self.executor().reap_orphans()  # what a killed server left, before anything new starts
            opts = runner_options(self.settings)
            self._supervisor = Supervisor(self.hosting, self.executor(), self.settings.home, this_owner(),
                                          allow_emulation=opts.allow_emulation,
                                          setup_deadline_s=opts.setup_deadline_s)
            self._supervisor.start()
            self._invoker = Invoker(self.hosting, self._supervisor)

    def invoker(self) -> Any | None:
        """The runtime API's way to an endpoint; None where this process hosts none."""
        return self._invoker

    # ------------------------------------------------------------------ jobs
    def start_jobs(self, *, resume: bool = True, options: RunnerOptions | None = None,
                   executor: Executor | None = None) -> Scheduler:
        """Run jobs in this process: the API server and the CLI's embedded mode call this; read-only
        commands do not, so they never take over another process's jobs."""
        if self._scheduler is None:
            if executor is None:
                executor = self.executor()
            from infrec.genai.ai_runner import AIJobRunner

            runner = JobRunner(self.settings.home, self.jobs.repo, self.registry, self.catalog, executor,
                               options or runner_options(self.settings), preflight=_vpc_preflight(self.settings),
                               endpoints=self.endpoint_lookup)
            kinds = {states.REALTIME: Kind(self.jobs.repo, runner)}
            for kind, repo in self.genai.repos.items():
                kinds[kind] = Kind(repo, AIJobRunner(self.genai, repo, self.catalog, executor, self.settings.home,
                                                     options or runner_options(self.settings)))
            self._scheduler = Scheduler(kinds, executor)
            self._scheduler.start(resume=resume)
        return self._scheduler

    def _submit(self, name: str, kind: str = states.REALTIME) -> bool:
        if self._scheduler is None:
            return False
        self._scheduler.submit(name, kind)
        return True

    def resume_job(self, name: str) -> str | None:
        """Run again, in this process, a job a killed process left unfinished (`infrec jobs resume`);
        None when queued, else why not. Nothing resumes old jobs unasked."""
        return self.start_jobs(resume=False).resume(self.jobs.repo.get(name).name)

    def unfinished_jobs(self) -> list[str]:
        """Jobs a killed process left unfinished, oldest first (said, never resumed unasked)."""
        return self.start_jobs(resume=False).orphans()

    def _cancel(self, name: str, kind: str = states.REALTIME) -> None:
        if self._scheduler is not None:
            self._scheduler.cancel(name, kind)
            return
        # No runner here: if no live process owns the job either, nothing runs it; end it now.
        repo: JobStateRepo = self.jobs.repo if kind == states.REALTIME else self.genai.repos[kind]
        if not owner_alive(repo.owner(name)):
            repo.finish_stop(name)

    def handler(self, operation: str, api: str = "sagemaker") -> Handler | None:
        """The method answering `operation` (as `infrec.api.operations` lists it), bound to this
        process's instance of its service; None where infrec does not implement it. `api`: whose
        operation it is (`sagemaker`, or `logs` for CloudWatch Logs), so a name two APIs share never
        reaches the wrong service."""
        found = operations.find(operation, api)
        if found is None:
            return None
        owner, method = found
        return partial(method, self._answering[owner.service])

    def close(self) -> None:
        # Jobs first: a job measuring a hosted endpoint stops (and stays resumable) before its
        # target goes, so no part of it is recorded as measured against a vanishing endpoint.
        if self._scheduler is not None:
            self._scheduler.shutdown()
            self._scheduler = None
        if self._supervisor is not None:
            self._supervisor.shutdown()
            self._supervisor = None
            self._invoker = None
        self.store.close()
