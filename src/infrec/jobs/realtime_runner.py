"""Running one recommendation job: preflight, fetch, then each planned step on a real endpoint
under real load, persisting every state change before acting on it.

A step's endpoint is always stopped in a `finally`, a stop request cancels the load within a second,
and the job's JobDurationInSeconds is a hard deadline checked between and inside steps; steps that
finished are never run again, so a resumed job picks up exactly where the crashed one stood.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrec.core import emulation, recommend
from infrec.core import serverless as sl
from infrec.core.catalog import Catalog, InstanceType
from infrec.core.emulation import Emulation
from infrec.core.errors import JobStopped, NotFoundError
from infrec.core.plan import BenchmarkPlan, parallel_batches
from infrec.executors.base import Executor
from infrec.executors.devices import accelerator_refusal
from infrec.executors.hostlock import HostLock, HostLockTimeout
from infrec.jobs import states
from infrec.jobs.endpoints import EndpointLookup
from infrec.jobs.hostwait import HostWait, hold_host
from infrec.jobs.lifecycle import RunStop, begin, conclude
from infrec.jobs.model_source import ModelSource, resolve
from infrec.jobs.repo import JobRepo, stamp
from infrec.jobs.workspace import WorkspaceError, prepare, release
from infrec.measure import MeasureOptions, StepConfig, StepContext, StepLimits, StepMeasurement, measure_step
from infrec.registry.model_registry import RegistryService

log = logging.getLogger("infrec.jobs")

DEFAULT_JOB_DURATION_S = 7200


@dataclass(frozen=True)
class RunnerOptions:
    """How jobs (and hosted endpoints) start and measure, as the operator set it (the composition root
    builds it from Settings: `services.runner_options`). `trial_seconds` is the shortest measured part
    of a rate-search trial (trials run longer when their rate needs it to hold enough requests);
    `hold_seconds` caps the confirmation hold; without `allow_emulation` instance types larger than
    the host are refused instead of emulated; `host_lock` is where the host-wide benchmark lock lives
    (executors.hostlock.default_path); `measure` the measurement's own options."""

    allow_emulation: bool = True
    trial_seconds: float = 3.0
    setup_deadline_s: float = 120.0
    hold_seconds: float = 30.0
    host_lock: str | Path | None = None
    measure: MeasureOptions = field(default_factory=MeasureOptions)


class JobRunner:
    """Runs real-time recommendation jobs against an executor (the kind's `jobs.lifecycle.KindRunner`;
    `jobs.scheduler` queues them and signals their stop). One instance per control process."""

    def __init__(self, home: Path, repo: JobRepo, registry: RegistryService, catalog: Catalog,
                 executor: Executor, options: RunnerOptions | None = None,
                 preflight: Callable[[dict[str, Any], ModelSource, int], dict[str, Any]] | None = None,
                 endpoints: EndpointLookup | None = None) -> None:
        """`endpoints` resolves the existing endpoint of a job with InputConfig.Endpoints."""
        self.home = home
        self.repo = repo
        self.registry = registry
        self.catalog = catalog
        self.executor = executor
        self.options = options or RunnerOptions()
        self.preflight = preflight
        self.endpoints = endpoints
    # ------------------------------------------------------------------ job
    def run(self, name: str, stop: RunStop) -> None:
        """Run the job until it ends or `stop` is set (interrupted: it stays resumable)."""
        try:
            if begin(self.repo, name):
                self._run(name, stop)
        except Exception as exc:  # never let a job die silently: it ends FAILED with the reason
            log.exception("job %s failed", name)
            self._finish_failed(name, f"infrec internal error: {type(exc).__name__}: {exc}")
        finally:
            self._release(name)

    def _release(self, name: str) -> None:
        """An ended job's extracted artifacts go (workspace.release); an interrupted one keeps them
        for its resume."""
        try:
            if self.repo.get(name).status in states.TERMINAL:
                freed = release(self.home, name)
                if freed:
                    log.info("job %s: removed its working folder (%.1f MiB)", name, freed / 2**20)
        except Exception:  # cleaning up must never turn an ended job into an error
            log.exception("job %s: could not remove its working folder", name)

    def _finish_failed(self, name: str, reason: str) -> None:
        """End the job FAILED with its unfinished steps, unless a stop got there first."""
        if self.repo.set_status(name, states.FAILED, failure_reason=reason):
            for step in self.repo.steps(name):
                if step.status in (states.PENDING, states.IN_PROGRESS):
                    self.repo.update_step(name, step.step_index, status=states.FAILED, Progress=None,
                                          FailureReason=step.doc.get("FailureReason") or reason[:1024])
        elif self.repo.get(name).status == states.STOPPING:
            self.repo.finish_stop(name)

    def _run(self, name: str, cancel: RunStop) -> None:
        row = self.repo.get(name)
        req = row.request
        input_config = req["InputConfig"]
        created = row.created_at.timestamp() if row.created_at.tzinfo else \
            row.created_at.replace(tzinfo=__import__("datetime").UTC).timestamp()
        deadline = created + float(input_config.get("JobDurationInSeconds") or DEFAULT_JOB_DURATION_S)
        source = resolve(self.registry, input_config)
        max_parallel = int((input_config.get("ResourceLimit") or {}).get("MaxParallelOfTests") or 1)
        steps = self.repo.steps(name)

        # 1. VPC preflight before anything starts (and again on resume: the network may have changed).
        if input_config.get("VpcConfig") and self.preflight is not None:
            instances = max_parallel * max(int(s.doc["EndpointConfiguration"].get("InitialInstanceCount") or 1)
                                           for s in steps)
            report = self.preflight(req, source, instances)
            self.repo.update_result(name, VpcPreflight=report)
            if not report.get("ok", False):
                for s in steps:
                    self.repo.update_step(name, s.step_index, status=states.FAILED,
                                          FailureReason="VPC preflight failed; no endpoint was started")
                conclude(self.repo, name, states.FAILED, str(report.get("failure_reason")))
                return

        # 2. Artifacts, once per job.
        try:
            model_dir, payload_dir = prepare(self.home, name, source.model_data_url, source.payload_url,
                                             self.registry.files)
        except WorkspaceError as exc:
            self._finish_failed(name, f"cannot fetch the job's artifacts: {exc}")
            return
        self.repo.update_result(name, SamplePayloadUrl=source.payload_url)

        # 3. Steps: those not finished yet, in waves that fit the host.
        todo = [s for s in steps if s.status in (states.PENDING, states.IN_PROGRESS)]
        for s in todo:
            if s.status == states.IN_PROGRESS:  # the previous run died inside it: run it again, whole
                self.repo.update_step(name, s.step_index, status=states.PENDING, Progress=None)
        # No figure from the wrong hardware: accelerated types whose devices are not here fail at once,
        # before the job waits for the host.
        devices = self.executor.devices()
        existing = [s for s in todo if s.doc.get("ExistingEndpoint")]
        todo = [s for s in todo if not s.doc.get("ExistingEndpoint")]
        for s in list(todo):
            ec = s.doc["EndpointConfiguration"]
            if ec.get("ServerlessConfig") or not self.catalog.has(ec["InstanceType"]):
                continue  # the step itself fails with the catalog's message
            refusal = accelerator_refusal(self.catalog.get(ec["InstanceType"]), devices,
                                          int(ec.get("InitialInstanceCount") or 1))
            if refusal:
                log.info("job %s step %d refused: %s", name, s.step_index + 1, refusal)
                self.repo.update_step(name, s.step_index, status=states.FAILED, ended=True, Progress=None,
                                      FailureReason=refusal[:1024])
                todo.remove(s)
        by_index = {s.step_index: s for s in todo}

        # One benchmark at a time per host: hold the host-wide lock around the waves; while another
        # process holds it, say whom the job waits for on its steps (Progress.Waiting) and the job.
        def show(message: str | None) -> None:
            for s in todo:
                self.repo.update_step(name, s.step_index, Progress={"Waiting": message} if message else None)

        host: HostLock | None = None
        if (todo or existing) and not cancel.is_set():
            try:
                host = hold_host(HostWait(name, deadline, cancel,
                                          lambda doc: self.repo.update_result(name, HostLock=doc), show),
                                 HostLock(self.options.host_lock))
            except JobStopped:
                pass
            except HostLockTimeout as exc:
                reason = f"not run: JobDurationInSeconds was reached while waiting for the host: {exc.who}"
                log.warning("job %s: %s", name, reason)
                self.repo.update_result(name, HostLock={"TimedOut": reason})
                for s in todo + existing:
                    self.repo.update_step(name, s.step_index, status=states.FAILED, ended=True, Progress=None,
                                          FailureReason=reason[:1024])
        held = host is not None
        try:
            for batch in self._waves(todo, max_parallel) if held else []:
                if cancel.is_set() or time.time() >= deadline:
                    break
                wave = [by_index[p.index] for p in batch]
                threads = [threading.Thread(target=self._run_step_safe,
                                            args=(name, s.step_index, s.doc, source, model_dir, payload_dir,
                                                  cancel, deadline), daemon=True) for s in wave]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            # The existing endpoint alone (nothing else of the job's loads the host meanwhile).
            for s in existing if held else []:
                if cancel.is_set() or time.time() >= deadline:
                    break
                self._run_existing_safe(name, s.step_index, s.doc, source, payload_dir, cancel, deadline)
        finally:
            if host is not None:
                host.release(name)

        # 4. The outcome.
        if cancel.interrupted:
            for s in self.repo.steps(name):
                if s.status == states.IN_PROGRESS:
                    self.repo.update_step(name, s.step_index, status=states.PENDING, Progress=None)
            return
        row = self.repo.get(name)
        if row.status == states.STOPPING or cancel.is_set():
            conclude(self.repo, name, states.STOPPED)
            return
        timed_out = time.time() >= deadline
        if timed_out:
            for s in self.repo.steps(name):
                if s.status in (states.PENDING, states.IN_PROGRESS):
                    self.repo.update_step(name, s.step_index, status=states.FAILED,
                                          FailureReason="not run: the job reached JobDurationInSeconds")
        self._recommend(name, row.request)
        done = [s for s in self.repo.steps(name) if s.status == states.COMPLETED]
        if not done:
            reasons = "; ".join(f"step {s.step_index + 1} ({_label(s.doc)}): "
                                f"{s.doc.get('FailureReason', 'failed')}" for s in self.repo.steps(name))
            conclude(self.repo, name, states.FAILED, f"no benchmark succeeded: {reasons}")
        else:
            if timed_out and len(done) < len(self.repo.steps(name)):
                self.repo.update_result(name, Note="JobDurationInSeconds reached: some steps did not run")
            conclude(self.repo, name, states.COMPLETED)

    # ----------------------------------------------------------------- waves
    def emulation_for(self, itype: InstanceType, count: int, environment: dict[str, str] | None = None) -> Emulation:
        """How `count` instances of `itype` run on this executor's host (core.emulation's one policy);
        an executor whose machines differ (Ray) sizes each type against the nodes offering it."""
        cpus, mem_gib = self.executor.capacity_for(itype)
        return emulation.plan(itype, count, cpus, int(mem_gib * 1024**3), environment,
                              allow_emulation=self.options.allow_emulation)

    def instance_type(self, doc: dict[str, Any]) -> InstanceType:
        """What the step's endpoint gets: its catalog type, or for a serverless step the memory
        and the vCPUs tied to it (core.serverless)."""
        ec = doc["EndpointConfiguration"]
        if ec.get("ServerlessConfig"):
            return sl.instance_type(sl.parse(ec["ServerlessConfig"]))
        return self.catalog.get(ec["InstanceType"])

    def _cost(self, doc: dict[str, Any]) -> tuple[float, float]:
        """(vCPUs, memory GiB) the step's endpoint will hold at its emulation."""
        ec = doc["EndpointConfiguration"]
        itype = self.instance_type(doc)
        count = int(ec.get("InitialInstanceCount") or 1)
        try:
            emu = self.emulation_for(itype, count)
        except ValueError:
            return float("inf"), float("inf")
        return emu.vcpus * count, emu.memory_bytes * count / 1024**3

    def _waves(self, steps: list[Any], max_parallel: int) -> list[list[BenchmarkPlan]]:
        """Steps that may run side by side: at most MaxParallelOfTests, and only while their vCPUs
        (at the emulation scale each will get) fit the executor's budget together."""
        cpus, mem_gib = self.executor.capacity()
        plans = [BenchmarkPlan(index=s.step_index, instance_type=_label(s.doc),
                               instance_count=int(s.doc["EndpointConfiguration"].get("InitialInstanceCount") or 1))
                 for s in steps]
        cost = {s.step_index: self._cost(s.doc) for s in steps}
        return parallel_batches(plans, max_parallel,
                                lambda wave: (sum(cost[p.index][0] for p in wave) <= cpus + 1e-9
                                              and sum(cost[p.index][1] for p in wave) <= mem_gib + 1e-9))

    # ------------------------------------------------------------------ step
    def _progress_writer(self, name: str, index: int) -> Callable[[dict[str, Any]], None]:
        """A step's live progress, written at most once a second (the dashboard polls it)."""
        last = [0.0]

        def progress(p: dict[str, Any]) -> None:
            now = time.monotonic()
            if now - last[0] >= 1.0:
                last[0] = now
                self.repo.update_step(name, index, Progress=p)

        return progress

    def _run_step_safe(self, name: str, index: int, doc: dict[str, Any], source: ModelSource,
                       model_dir: Path | None, payload_dir: Path, cancel: RunStop,
                       deadline: float) -> None:
        try:
            self._run_step(name, index, doc, source, model_dir, payload_dir, cancel, deadline)
        except Exception as exc:
            log.exception("step %s/%d failed", name, index)
            self.repo.update_step(name, index, status=states.FAILED, ended=True, Progress=None,
                                  FailureReason=f"{type(exc).__name__}: {exc}"[:1024])

    def _run_step(self, name: str, index: int, doc: dict[str, Any], source: ModelSource,
                  model_dir: Path | None, payload_dir: Path, cancel: RunStop, deadline: float) -> None:
        ec = doc["EndpointConfiguration"]
        itype = self.instance_type(doc)
        config = sl.parse(ec["ServerlessConfig"]) if ec.get("ServerlessConfig") else None
        count = int(ec.get("InitialInstanceCount") or 1)
        env = dict(source.environment)
        for p in doc["ModelConfiguration"].get("EnvironmentParameters") or []:
            env[p["Key"]] = p["Value"]
        try:
            emu = self.emulation_for(itype, count, env)
        except ValueError as exc:
            self.repo.update_step(name, index, status=states.FAILED, ended=True, FailureReason=str(exc)[:1024])
            return
        scale = emu.scale
        spec_name = doc["ModelConfiguration"].get("InferenceSpecificationName")
        if spec_name:
            alt = resolve(self.registry, self.repo.get(name).request["InputConfig"], spec_name)
            source = alt
        self.repo.update_step(name, index, status=states.IN_PROGRESS, started=True, scale=scale,
                              InvocationStartTime=stamp(), FailureReason=None)
        req = self.repo.get(name).request
        progress = self._progress_writer(name, index)

        ctx = StepContext(executor=self.executor, source=source, payload_dir=payload_dir, job_type=req["JobType"],
                          input_config=req["InputConfig"], stopping=req.get("StoppingConditions"),
                          limits=StepLimits(deadline, self.options.trial_seconds, self.options.hold_seconds,
                                            self.options.setup_deadline_s),
                          cancel=cancel, on_progress=progress, options=self.options.measure)
        price = self.catalog.serverless_price() if config is not None else None
        result: StepMeasurement = measure_step(ctx, StepConfig(emu, env, config, price), name, index, model_dir)
        if cancel.interrupted:
            self.repo.update_step(name, index, status=states.PENDING, Progress=None)
            return
        if cancel.is_set() and result.metrics is None:
            self.repo.update_step(name, index, status=states.STOPPED, ended=True, Progress=None,
                                  InvocationEndTime=stamp())
            return
        fields: dict[str, Any] = {"InvocationEndTime": stamp(), "Progress": None, "Details": result.details}
        if result.metrics is None:
            self.repo.update_step(name, index, status=states.FAILED, ended=True,
                                  FailureReason=(result.failure_reason or "failed")[:1024], **fields)
            return
        metrics = recommend.sagemaker_metrics(result.metrics)
        fields["Details"] = {**result.details, **recommend.extended_metrics(result.metrics),
                             **itype.price_record()}  # the price's region, source and date
        self.repo.update_step(name, index, status=states.COMPLETED, ended=True, Metrics=metrics,
                              EndpointMetrics={"MaxInvocations": metrics["MaxInvocations"],
                                               "ModelLatency": metrics["ModelLatency"]}, **fields)

    # ------------------------------------------------------- recommendations
    def _recommend(self, name: str, req: dict[str, Any]) -> None:
        steps = [s for s in self.repo.steps(name) if s.status == states.COMPLETED]
        recs = recommend.rank_steps(name, [s.doc for s in steps if not s.doc.get("ExistingEndpoint")],
                                    req.get("StoppingConditions"))
        performances = [{"EndpointInfo": {"EndpointName": s.doc["ExistingEndpoint"]["EndpointName"]},
                         "Metrics": dict(s.doc["EndpointMetrics"])}
                        for s in steps if s.doc.get("ExistingEndpoint") and s.doc.get("EndpointMetrics")]
        self.repo.update_result(name, InferenceRecommendations=recs)
        if performances:
            self.repo.update_result(name, EndpointPerformances=performances)

    # ------------------------------------------------------ existing endpoint
    def _run_existing_safe(self, name: str, index: int, doc: dict[str, Any], source: ModelSource,
                           payload_dir: Path, cancel: RunStop, deadline: float) -> None:
        try:
            self._run_existing(name, index, doc, source, payload_dir, cancel, deadline)
        except Exception as exc:
            log.exception("step %s/%d (existing endpoint) failed", name, index)
            self.repo.update_step(name, index, status=states.FAILED, ended=True, Progress=None,
                                  FailureReason=f"{type(exc).__name__}: {exc}"[:1024])

    def _run_existing(self, name: str, index: int, doc: dict[str, Any], source: ModelSource,
                      payload_dir: Path, cancel: RunStop, deadline: float) -> None:
        """Load-test the job's existing endpoint (InputConfig.Endpoints) without deploying
        anything; resolved again now, since it may have moved or gone since the job was created."""
        from infrec.jobs.existing import measure_existing

        endpoint_name = doc["ExistingEndpoint"]["EndpointName"]
        self.repo.update_step(name, index, status=states.IN_PROGRESS, started=True, InvocationStartTime=stamp(),
                              FailureReason=None)
        try:
            if self.endpoints is None:
                raise NotFoundError(f"Could not find endpoint {endpoint_name!r}")
            endpoint = self.endpoints.resolve(endpoint_name)
        except NotFoundError as exc:
            self.repo.update_step(name, index, status=states.FAILED, ended=True, InvocationEndTime=stamp(),
                                  FailureReason=f"existing endpoint: {exc.message}"[:1024])
            return
        req = self.repo.get(name).request
        progress = self._progress_writer(name, index)

        ctx = StepContext(executor=self.executor, source=source, payload_dir=payload_dir, job_type=req["JobType"],
                          input_config=req["InputConfig"], stopping=req.get("StoppingConditions"),
                          limits=StepLimits(deadline, self.options.trial_seconds, self.options.hold_seconds),
                          cancel=cancel, on_progress=progress, options=self.options.measure)
        result, priced = measure_existing(ctx, endpoint_name, endpoint, self.catalog)
        if cancel.interrupted:
            self.repo.update_step(name, index, status=states.PENDING, Progress=None)
            return
        fields: dict[str, Any] = {"InvocationEndTime": stamp(), "Progress": None, "Details": result.details}
        if result.metrics is None:
            status = states.STOPPED if cancel.is_set() else states.FAILED
            self.repo.update_step(name, index, status=status, ended=True,
                                  FailureReason=(result.failure_reason or "failed")[:1024], **fields)
            return
        metrics = recommend.sagemaker_metrics(result.metrics)
        if not priced:  # no instance type known: no price to show
            metrics.pop("CostPerHour", None)
            metrics.pop("CostPerInference", None)
        if endpoint.pid is None:  # nothing sampled: omitted, not zero
            metrics.pop("CpuUtilization", None)
            metrics.pop("MemoryUtilization", None)
        ec = dict(doc["EndpointConfiguration"])
        if priced and endpoint.instance_type:
            ec.update(InstanceType=endpoint.instance_type, InitialInstanceCount=endpoint.instance_count)
        fields["Details"] = {**result.details, **recommend.extended_metrics(result.metrics)}
        self.repo.update_step(name, index, status=states.COMPLETED, ended=True, Metrics=metrics,
                              EndpointConfiguration=ec,
                              EndpointMetrics={"MaxInvocations": metrics["MaxInvocations"],
                                               "ModelLatency": metrics["ModelLatency"]}, **fields)


def _label(doc: dict[str, Any]) -> str:
    """What a step is, in a failure reason: its instance type, serverless configuration or endpoint."""
    ec = doc.get("EndpointConfiguration") or {}
    if doc.get("ExistingEndpoint"):
        return f"existing endpoint {doc['ExistingEndpoint'].get('EndpointName')}"
    if ec.get("ServerlessConfig"):
        sc = ec["ServerlessConfig"]
        return f"serverless {sc.get('MemorySizeInMB')} MB × {sc.get('MaxConcurrency')}"
    return str(ec.get("InstanceType"))
