"""One step's lifecycle: start the endpoint, measure it, stop it — and the measurement itself,
shared with endpoints infrec did not start (`measure_on`, for jobs.existing).

A step checks what must hold before any load (the sample payloads are taken; a serverless
endpoint's cold start is timed), then dispatches by what the job asks: the Default search
(`search`), the serverless Default load (`serverless`) or the Advanced replay (`replay`). It
samples the endpoint's utilisation and the host's steal throughout, and turns the outcome into
SageMaker's metrics."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from infrec.core.recommend import StepMetrics, latency_objective
from infrec.core.steal import steal_percent
from infrec.executors.base import EndpointHandle, EndpointSpec, EndpointStartError, Executor
from infrec.executors.pinning import control_plane_on
from infrec.loadgen import load_payloads
from infrec.measure.context import RunContext, StepConfig, StepContext
from infrec.measure.outcome import GeneratorBound, Outcome, StepMeasurement
from infrec.measure.probes import PAYLOAD_CHECK_S, check_payloads, cold_start
from infrec.measure.replay import replay
from infrec.measure.sampling import UsageSampler, host_cpu_times
from infrec.measure.search import Search, server_slots
from infrec.measure.serverless import serverless_load, serverless_price


def measure_step(ctx: StepContext, config: StepConfig, job_name: str, index: int,
                 model_dir: Path | None = None) -> StepMeasurement:
    """Start step `index` of job `job_name` — the endpoint for `config`, its model from `model_dir`
    (or the source's model data URL) — measure it, and stop it whatever happens in between."""
    executor, limits, emulation = ctx.executor, ctx.limits, config.emulation
    spec = EndpointSpec(name=f"{job_name}-{index + 1}", image=ctx.source.image, model_dir=model_dir,
                        environment=config.environment, instance_type=emulation.instance_type,
                        instance_count=emulation.count, scale=emulation.scale,
                        setup_deadline_s=max(5.0, min(limits.setup_deadline_s, limits.deadline - time.time())),
                        memory_limit_bytes=emulation.memory_bytes, model_data_url=ctx.source.model_data_url)
    loadgen_cpus = _loadgen_cpus(executor)
    # The control process (this one) stays on the generator's CPUs, off the endpoint's.
    with control_plane_on(loadgen_cpus):
        started = time.monotonic()
        try:
            handle = executor.start(spec, cancel=ctx.cancel)
        except EndpointStartError as exc:
            return StepMeasurement(None, f"endpoint failed to start: {exc}")
        try:
            with _health_watch(executor, handle, ctx.cancel) as step_cancel:
                return measure_on(replace(ctx, cancel=step_cancel), config, handle, loadgen_cpus, started=started)
        finally:
            executor.stop(handle)


@contextlib.contextmanager
def _health_watch(executor: Executor, handle: EndpointHandle, cancel: threading.Event) -> Iterator[threading.Event]:
    """The step's own cancel: set by the job's, and — for an executor whose endpoints can vanish
    with a machine (`health_poll_s`, the Ray executor) — as soon as `health` reports a problem, so a
    lost node ends its step within seconds (measure_on then fails it with health's reason) instead
    of load-testing a dead address until the search gives up."""
    every = executor.health_poll_s
    if not every:
        yield cancel
        return
    step = threading.Event()
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            if cancel.wait(every):
                step.set()
                return
            try:
                if executor.health(handle):
                    step.set()
                    return
            except Exception:
                continue

    thread = threading.Thread(target=loop, daemon=True, name="infrec-health")
    thread.start()
    try:
        yield step
    finally:
        done.set()
        thread.join(timeout=every + 10.0)


def measure_on(ctx: StepContext, config: StepConfig, handle: EndpointHandle, loadgen_cpus: list[int] | None,
               started: float | None = None) -> StepMeasurement:
    """Measure an endpoint that answers at `handle.urls`: the same trials whether infrec started it
    (a step) or it ran already (InputConfig.Endpoints, jobs.existing). `ctx.executor` gives
    `usage(handle)` and `health(handle)` (the executor, or a process monitor); `started` is when
    its start began (monotonic), for a serverless cold start."""
    details = _first_details(handle, config)
    payloads = load_payloads(ctx.payload_dir, ctx.source.content_types[0], ctx.source.content_types)
    if not payloads:
        return StepMeasurement(None, "the sample payload archive holds no request bodies", details)
    setup_s = handle.setup_time_s
    if config.serverless is not None and started is not None:
        cold = cold_start(handle.urls[0], payloads[0], started, _probe_limit(ctx), ctx.cancel)
        if cold is not None:
            setup_s = cold
            details["ColdStartSeconds"] = round(cold, 3)
    refused = check_payloads(handle.urls[0], payloads, _probe_limit(ctx), ctx.cancel)
    if refused:
        return StepMeasurement(None, refused, details)
    percentile, threshold = latency_objective(ctx.stopping)
    steal_before = host_cpu_times()
    with UsageSampler(ctx.executor, handle) as sampler:
        run = RunContext(urls=handle.urls, payloads=payloads, content_type=ctx.source.content_types[0],
                         emulation=config.emulation, percentile=percentile, threshold=threshold, cancel=ctx.cancel,
                         deadline=ctx.limits.deadline, on_progress=ctx.on_progress, sampler=sampler,
                         details=details, loadgen_cpus=loadgen_cpus, options=ctx.options)
        try:
            outcome = _dispatch(ctx, config, run)
        except GeneratorBound as exc:
            return StepMeasurement(None, str(exc), details)
        finally:
            if not details.get("Node"):   # the endpoint ran on this host (not on a Ray node)
                steal = steal_percent(steal_before, host_cpu_times())
                if steal is not None:
                    details["HostStealPercent"] = round(steal, 2)
    health = ctx.executor.health(handle)
    if health:
        return StepMeasurement(None, f"endpoint {health}", details)
    if outcome is None:
        if ctx.cancel.is_set():
            return StepMeasurement(None, "stopped", details)
        why = details.get("NoPassReason") or "errors < 1 %, no growing queue" + (
            f", {percentile} ≤ {threshold:g} ms" if threshold is not None else "")
        return StepMeasurement(None, f"no load level met the constraints ({why})", details)
    return StepMeasurement(_metrics(config, outcome, setup_s, details), None, details)


def _first_details(handle: EndpointHandle, config: StepConfig) -> dict[str, Any]:
    """What a step records of its endpoint before any load: scale, enforcement, node, setup time."""
    emulation = config.emulation
    details: dict[str, Any] = {"EmulationScale": emulation.scale, "Enforcement": handle.enforcement}
    if handle.node:
        details["Node"] = dict(handle.node)  # where it ran (the Ray executor): node id and address
    if not math.isnan(handle.setup_time_s):
        details["SetupTimeSeconds"] = round(handle.setup_time_s, 3)
    if emulation.notes:
        details["EmulationNotes"] = list(emulation.notes)
    return details


def _probe_limit(ctx: StepContext) -> float:
    """How long a probe before the load may take: PAYLOAD_CHECK_S, less when the step's time is short."""
    return min(PAYLOAD_CHECK_S, max(ctx.limits.deadline - time.time(), 1.0))


def _dispatch(ctx: StepContext, config: StepConfig, run: RunContext) -> Outcome | None:
    """The load the job asks for: the serverless or the Default search for a Default job, the
    TrafficPattern's replay for an Advanced one."""
    limits, serverless = ctx.limits, config.serverless
    if serverless is not None and ctx.job_type == "Default":
        return serverless_load(run, serverless, limits.hold_seconds)
    if ctx.job_type == "Default":
        slots = server_slots(config.environment, config.emulation)
        return Search(run, limits.trial_seconds, limits.hold_seconds, slots).run()
    return replay(run, ctx.input_config, ctx.stopping,
                  max_concurrency=serverless.max_concurrency if serverless else None)


def _metrics(config: StepConfig, outcome: Outcome, setup_s: float, details: dict[str, Any]) -> StepMetrics:
    """SageMaker's metrics for the outcome: figures for the full instance, priced by the hour (a
    serverless configuration by the GB-second, read back to an hour)."""
    emulation = config.emulation
    itype = emulation.instance_type
    details["ErrorRate"] = round(outcome.error_rate, 5)
    price_per_hour = itype.price_per_hour
    if config.serverless is not None:
        price_per_hour = serverless_price(config.serverless, outcome, details, config.serverless_price)
    return StepMetrics(
        instance_type=itype.name, instance_count=emulation.count, environment=config.environment,
        max_invocations=outcome.full_rps * 60.0, model_latency_ms=outcome.latency_ms,
        p50_ms=outcome.percentiles["P50"], p90_ms=outcome.percentiles["P90"],
        p95_ms=outcome.percentiles["P95"], p99_ms=outcome.percentiles["P99"],
        cpu_utilization=outcome.cpu_percent, memory_utilization=emulation.memory_utilization(outcome.rss_bytes),
        model_setup_time_s=setup_s, error_rate=outcome.error_rate,
        price_per_hour=price_per_hour, emulation_scale=emulation.scale,
    )


def _loadgen_cpus(executor: Executor) -> list[int] | None:
    """The executor's CPUs for the load generator (none of its endpoints'); a bad
    INFREC_LOADGEN_CPUS raises, failing the step with the setting named, rather than unpinning."""
    return list(executor.loadgen_cpus()) or None
