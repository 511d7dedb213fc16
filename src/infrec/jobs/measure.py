"""Measuring one endpoint configuration: start it, drive traffic, sample utilisation, stop it.

Default jobs search for the highest open-loop rate the endpoint sustains, then confirm it in a
hold; Advanced jobs replay the job's own TrafficPattern with its StoppingConditions. The rules a
trial is judged by, and when a hold is sure enough, are pure and live in ``infrec.core.trial``;
how emulated sizes are run and read back is ``infrec.core.emulation``. This module does the I/O.

One trial (``_Trial.run``):

1. **Drain.** Single requests, one at a time, until one comes back near the unloaded latency: the
   endpoint has worked off whatever an earlier (overloaded) trial left queued. Then a short settle.
   Without this, the backlog of one overloaded trial fails every lower rate after it.
2. **Warm-up** (the first second) is discarded from both the rate and the latency; so is the last
   window, which holds the answers drained after the offered load stopped.
3. **Verdict** on the measured windows (``core.trial.judge``): completed ≥ 97 % of what was sent,
   errors < 1 %, latency within the limit, no growing queue.
4. **The generator is checked.** A trial whose load generator ran above ~85 % of its CPUs
   measured the generator; it is rerun with more generator processes, or the step fails saying so.

A Default step:

1. **Unloaded probe**: one user, for the unloaded latency.
2. **Capacity**: a closed loop that keeps every server slot busy with a queue behind it (checked by
   Little's law: the median latency is at least twice the unloaded one, else the users double),
   held in batches until the 95 % interval of its throughput is within ±3 % (or the cap). That
   throughput is the endpoint's capacity, measured rather than approached from below.
3. **Without a latency limit**, MaxInvocations is that capacity (read back to the full instance),
   with its interval, measured in two parts around an open-loop **hold** at 85 % of it
   (``core.trial.LATENCY_LOAD``) that gives ModelLatency and the percentiles (a hold that does not
   keep up steps down 5 % and holds again; the load it held at is ``Hold.TargetRps``).
4. **With a latency limit**, the open-loop search (``core.ratesearch``) brackets the highest rate
   that meets it, between 0 and the capacity, and the hold at that rate gives MaxInvocations.

When capacity cannot be measured (errors under saturation, a server that never queues within
``MAX_SATURATION_USERS`` users), the step falls back to the open-loop search and says why in
``Details.Capacity``.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infrec.core import serverless as sl
from infrec.core import trial as tr
from infrec.core.catalog import ServerlessPrice
from infrec.core.confidence import Interval, series_interval
from infrec.core.emulation import Emulation
from infrec.core.ratesearch import RateSearch, TrialOutcome, initial_rate_guess
from infrec.core.recommend import StepMetrics, latency_objective
from infrec.core.stats import LoadResult, WindowStats
from infrec.core.steal import cpu_times, steal_percent
from infrec.core.traffic import OpenLoop, Phase, Phases, StoppingConditions, from_sagemaker
from infrec.executors.base import EndpointHandle, EndpointSpec, EndpointStartError, Executor
from infrec.executors.pinning import control_plane_on
from infrec.jobs.model_source import ModelSource
from infrec.loadgen import LoadPlan, histogram, load_payloads, run_load
from infrec.loadgen.payloads import Payload
from infrec.loadgen.runner import generator_bound_reason, more_workers

log = logging.getLogger("infrec.measure")

PERCENTILES = ("P50", "P90", "P95", "P99")
DRAIN_MAX_S = 30.0
HOLD_STEP_DOWN = 0.95
HOLD_ATTEMPTS = 6
ARRIVAL_ENV = "INFREC_ARRIVAL"
WARMUP_ENV = "INFREC_WARMUP_SECONDS"
PAYLOAD_CHECK_S = 30.0
PAYLOAD_CHECK_MAX = 50
LEVEL_MIN_WINDOWS = 3


@dataclass
class StepMeasurement:
    metrics: StepMetrics | None
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class GeneratorBound(Exception):
    """The load generator, not the endpoint, was the limit and no more generator CPUs are free."""


class _UsageSampler:
    """Samples the endpoint's CPU (percent of its vCPUs) and memory (bytes) every half second."""

    def __init__(self, executor: Executor, handle: EndpointHandle) -> None:
        self.executor, self.handle = executor, handle
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="infrec-usage")

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                usage = self.executor.usage(self.handle)
            except Exception:
                continue
            if usage:
                cpu = sum(u.cpu_percent for u in usage) / len(usage)
                rss = sum(u.rss_bytes for u in usage) / len(usage)
                self.samples.append((time.monotonic(), cpu, rss))

    def __enter__(self) -> _UsageSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def between(self, start: float, end: float) -> tuple[float, float]:
        """(mean CPU percent, mean RSS bytes) over [start, end]."""
        chosen = [s for s in self.samples if start <= s[0] <= end] or self.samples[-3:]
        if not chosen:
            return 0.0, 0.0
        return (sum(s[1] for s in chosen) / len(chosen), sum(s[2] for s in chosen) / len(chosen))


def _host_cpu_times() -> tuple[int, ...] | None:
    """This host's CPU counters (for the steal a step was measured under); None where unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            return cpu_times(f.read())
    except OSError:
        return None


def _latency(stats: Any, percentile: str) -> float:
    return float(getattr(stats, percentile.lower() + "_ms"))


def default_arrival() -> str:
    """Poisson arrivals unless INFREC_ARRIVAL=uniform: real clients do not arrive on a metronome,
    and evenly spaced requests hide the queueing that bursts cause."""
    value = os.environ.get(ARRIVAL_ENV, "poisson").strip().lower()
    return value if value in ("poisson", "uniform") else "poisson"


def warmup_seconds() -> float:
    """Whole seconds at the start of every trial that are measured by nobody: INFREC_WARMUP_SECONDS
    (0 to 30; default 1, core.trial.WARMUP_S). The first second of a trial carries connection set-up
    and the endpoint's cold caches; 0 is for runs whose figures nobody reads (behaviour tests, a
    smoke check), which it makes about a second shorter per trial."""
    raw = os.environ.get(WARMUP_ENV, "").strip()
    if not raw:
        return tr.WARMUP_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 30:
        log.warning("%s=%r is not a number of seconds from 0 to 30: using %g", WARMUP_ENV, raw, tr.WARMUP_S)
        return tr.WARMUP_S
    return float(math.ceil(value))   # whole one-second windows are dropped: 0.5 means 1


def measure_step(*, executor: Executor, job_name: str, index: int, source: ModelSource, environment: dict[str, str],
                 emulation: Emulation, model_dir: Path | None, payload_dir: Path, job_type: str,
                 input_config: dict[str, Any], stopping: dict[str, Any] | None, cancel: threading.Event,
                 deadline: float, trial_seconds: float, setup_deadline_s: float, hold_seconds: float,
                 on_progress: Callable[[dict[str, Any]], None],
                 serverless: sl.ServerlessConfig | None = None,
                 serverless_price: ServerlessPrice | None = None) -> StepMeasurement:
    """`serverless`: the step is a serverless configuration (core.serverless): its load never
    has more than MaxConcurrency requests in flight, ModelSetupTime is its cold start and it is
    priced per GB-second (`serverless_price`, the catalog's for the region)."""
    itype, count, scale = emulation.instance_type, emulation.count, emulation.scale
    spec = EndpointSpec(name=f"{job_name}-{index + 1}", image=source.image, model_dir=model_dir,
                        environment=environment, instance_type=itype, instance_count=count, scale=scale,
                        setup_deadline_s=max(5.0, min(setup_deadline_s, deadline - time.time())),
                        memory_limit_bytes=emulation.memory_bytes, model_data_url=source.model_data_url)
    loadgen_cpus = _loadgen_cpus(executor)
    # The control process (this one) stays on the generator's CPUs, off the endpoint's.
    with control_plane_on(loadgen_cpus):
        started = time.monotonic()
        try:
            handle = executor.start(spec, cancel=cancel)
        except EndpointStartError as exc:
            return StepMeasurement(None, f"endpoint failed to start: {exc}")
        try:
            with _health_watch(executor, handle, cancel) as step_cancel:
                return measure_on(executor, handle, source, environment, emulation, payload_dir, job_type,
                                  input_config, stopping, step_cancel, deadline, trial_seconds, hold_seconds,
                                  on_progress, loadgen_cpus, serverless=serverless,
                                  serverless_price=serverless_price, started=started)
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


def measure_on(monitor: Any, handle: Any, source: ModelSource, environment: dict[str, str],
               emulation: Emulation, payload_dir: Path, job_type: str, input_config: dict[str, Any],
               stopping: dict[str, Any] | None, cancel: threading.Event, deadline: float, trial_seconds: float,
               hold_seconds: float, on_progress: Callable[[dict[str, Any]], None],
               loadgen_cpus: list[int] | None, *, serverless: sl.ServerlessConfig | None = None,
               serverless_price: ServerlessPrice | None = None, started: float | None = None) -> StepMeasurement:
    """Measure an endpoint that answers at `handle.urls`: the same trials whether infrec started it
    (a step) or it ran already (InputConfig.Endpoints, jobs.existing). `monitor` gives
    `usage(handle)` and `health(handle)` (the executor, or a process monitor); `started` is when
    its start began (monotonic), for a serverless cold start."""
    itype, count, scale = emulation.instance_type, emulation.count, emulation.scale
    details: dict[str, Any] = {"EmulationScale": scale, "Enforcement": handle.enforcement}
    if handle.node:
        details["Node"] = dict(handle.node)  # where it ran (the Ray executor): node id and address
    if not math.isnan(handle.setup_time_s):
        details["SetupTimeSeconds"] = round(handle.setup_time_s, 3)
    if emulation.notes:
        details["EmulationNotes"] = list(emulation.notes)
    setup_s = handle.setup_time_s
    payloads = load_payloads(payload_dir, source.content_types[0], source.content_types)
    if not payloads:
        return StepMeasurement(None, "the sample payload archive holds no request bodies", details)
    if serverless is not None and started is not None:
        cold = _cold_start(handle.urls[0], payloads[0], started, min(PAYLOAD_CHECK_S, max(deadline - time.time(), 1.0)),
                           cancel)
        if cold is not None:
            setup_s = cold
            details["ColdStartSeconds"] = round(cold, 3)
    refused = _check_payloads(handle.urls[0], payloads, min(PAYLOAD_CHECK_S, max(deadline - time.time(), 1.0)),
                              cancel)
    if refused:
        return StepMeasurement(None, refused, details)
    percentile, threshold = latency_objective(stopping)
    steal_before = _host_cpu_times()
    with _UsageSampler(monitor, handle) as sampler:
        try:
            if serverless is not None and job_type == "Default":
                outcome = _serverless_load(handle.urls, payloads, source.content_types[0], emulation, serverless,
                                           percentile, threshold, cancel, deadline, hold_seconds, on_progress,
                                           sampler, details, loadgen_cpus)
            elif job_type == "Default":
                outcome = _Search(handle.urls, payloads, source.content_types[0], emulation, percentile,
                                  threshold, cancel, deadline, trial_seconds, hold_seconds, on_progress,
                                  sampler, details, loadgen_cpus, server_slots(environment, emulation)).run()
            else:
                outcome = _replay(handle.urls, payloads, source.content_types[0], emulation, input_config,
                                  stopping, percentile, threshold, cancel, deadline, on_progress, sampler,
                                  details, loadgen_cpus,
                                  max_concurrency=serverless.max_concurrency if serverless else None)
        except GeneratorBound as exc:
            return StepMeasurement(None, str(exc), details)
        finally:
            if not details.get("Node"):   # the endpoint ran on this host (not on a Ray node)
                steal = steal_percent(steal_before, _host_cpu_times())
                if steal is not None:
                    details["HostStealPercent"] = round(steal, 2)
    health = monitor.health(handle)
    if health:
        return StepMeasurement(None, f"endpoint {health}", details)
    if outcome is None:
        if cancel.is_set():
            return StepMeasurement(None, "stopped", details)
        why = details.get("NoPassReason") or "errors < 1 %, no growing queue" + (
            f", {percentile} ≤ {threshold:g} ms" if threshold is not None else "")
        return StepMeasurement(None, f"no load level met the constraints ({why})", details)
    details["ErrorRate"] = round(outcome.error_rate, 5)
    price_per_hour = itype.price_per_hour
    if serverless is not None:
        price_per_hour = _serverless_price(serverless, outcome, details, serverless_price)
    metrics = StepMetrics(
        instance_type=itype.name, instance_count=count, environment=environment,
        max_invocations=outcome.full_rps * 60.0, model_latency_ms=outcome.latency_ms,
        p50_ms=outcome.percentiles["P50"], p90_ms=outcome.percentiles["P90"],
        p95_ms=outcome.percentiles["P95"], p99_ms=outcome.percentiles["P99"],
        cpu_utilization=outcome.cpu_percent, memory_utilization=emulation.memory_utilization(outcome.rss_bytes),
        model_setup_time_s=setup_s, error_rate=outcome.error_rate,
        price_per_hour=price_per_hour, emulation_scale=scale,
    )
    return StepMeasurement(metrics, None, details)


def server_slots(environment: dict[str, str], emulation: Emulation) -> int:
    """Requests one instance serves at once, as far as infrec knows: the model server's workers
    (SAGEMAKER_MODEL_SERVER_WORKERS, else one per vCPU it gets, the executor's default). Only a
    starting point: the capacity trial doubles its users until the server queues."""
    raw = str(environment.get("SAGEMAKER_MODEL_SERVER_WORKERS", "")).strip()
    try:
        workers = int(raw) if raw else 0
    except ValueError:
        workers = 0
    return max(1, workers or math.ceil(emulation.vcpus - 1e-9))


def _loadgen_cpus(executor: Executor) -> list[int] | None:
    """The executor's CPUs for the load generator (none of its endpoints'); a bad
    INFREC_LOADGEN_CPUS raises, failing the step with the setting named, rather than unpinning."""
    return list(executor.loadgen_cpus()) or None


@dataclass
class Outcome:
    full_rps: float                  # successes per second, read back to the full instance
    latency_ms: float                # at the job's percentile
    percentiles: dict[str, float]
    error_rate: float
    cpu_percent: float
    rss_bytes: float
    mean_ms: float = math.nan        # mean latency of the successes (a serverless invocation's billed time)


@dataclass
class _TrialRun:
    verdict: tr.Verdict
    measured: list[WindowStats]
    merged: WindowStats
    result: LoadResult
    start: float
    end: float
    drain_s: float


def _plain(w: WindowStats, percentile: str) -> tr.Window:
    lat = _latency(w, percentile) if w.successes else math.nan
    return tr.Window(seconds=w.duration_s, sent=w.sent, completed=w.requests, errors=w.errors, latency_ms=lat)


class _HoldTracker:
    """The hold's batches and running latency histogram, fed each window once: the control
    process must stay light while it measures (re-merging every window every second is not)."""

    def __init__(self, percentile: str, per_batch: int) -> None:
        self.percentile, self.per_batch = percentile, per_batch
        self.hist = histogram.new_histogram()
        self.batches: list[tr.Window] = []
        self.pending: list[WindowStats] = []
        self.seen = 0

    def extend(self, measured: list[WindowStats]) -> None:
        for w in measured[self.seen:]:
            if w.histogram:
                self.hist.decode_and_add(w.histogram)
            self.pending.append(w)
            if len(self.pending) == self.per_batch:
                batch = w if self.per_batch == 1 else histogram.merge_windows(self.pending)
                self.batches.append(_plain(batch, self.percentile))
                self.pending = []
        self.seen = max(self.seen, len(measured))

    def state(self, latency_rhw: float = tr.HOLD_LATENCY_RHW) -> tr.HoldState:
        if len(self.batches) < tr.HOLD_MIN_BATCHES:
            return tr.HoldState(None, None, False)
        pct = {"P50": 50.0, "P90": 90.0, "P95": 95.0, "P99": 99.0}[self.percentile.upper()]
        overall = self.hist.get_value_at_percentile(pct) / 1000.0
        return tr.hold_state(self.batches, overall, latency_rhw=latency_rhw)


@dataclass
class _Capacity:
    """The saturated closed loop's throughput (emulated successes per second) and its interval,
    from one or more parts (runs) of it."""

    users: int
    batches: list[tr.Window]
    successes: int
    seconds: float
    spans: list[tuple[float, float]]   # monotonic (start, end) of each part, for utilisation

    @property
    def rps(self) -> float:
        return self.successes / self.seconds if self.seconds else 0.0

    @property
    def state(self) -> tr.HoldState:
        lats = [b.latency_ms for b in self.batches if not math.isnan(b.latency_ms)]
        return tr.hold_state(self.batches, sum(lats) / len(lats) if lats else 1.0, latency_rhw=math.inf)

    @property
    def interval(self) -> Interval:
        """The interval over however many batches there are (a short capacity run gives a wide one,
        never a zero-width one); a single batch has no spread to show: a point with n = 1, whose doc
        carries no bounds (Interval.to_doc)."""
        iv = self.state.throughput
        if iv is None:
            return Interval(self.rps, self.rps, self.rps, 1)
        return Interval(self.rps, min(iv.low, self.rps), max(iv.high, self.rps), iv.n, iv.level, iv.effective_n)

    def joined(self, other: _Capacity) -> _Capacity:
        return _Capacity(self.users, self.batches + other.batches, self.successes + other.successes,
                         self.seconds + other.seconds, self.spans + other.spans)


class _Search:
    """One Default step: unloaded probe, rate search, hold. Keeps the trial log in `details`."""

    def __init__(self, urls: list[str], payloads: list[Payload], content_type: str, emulation: Emulation,
                 percentile: str, threshold: float | None, cancel: threading.Event, deadline: float,
                 trial_seconds: float, hold_seconds: float, on_progress: Callable[[dict[str, Any]], None],
                 sampler: _UsageSampler, details: dict[str, Any], loadgen_cpus: list[int] | None,
                 slots: int = 1) -> None:
        self.urls, self.payloads, self.content_type = urls, payloads, content_type
        self.emulation = emulation
        self.percentile, self.threshold = percentile, threshold
        self.cancel, self.deadline = cancel, deadline
        self.min_measured_s = max(1.0, trial_seconds)
        self.hold_seconds = max(hold_seconds, self.min_measured_s)
        self.on_progress, self.sampler, self.details = on_progress, sampler, details
        self.loadgen_cpus = loadgen_cpus
        self.slots = max(1, slots)
        self.workers = 1
        self.arrival = default_arrival()
        self.warmup_s = warmup_seconds()
        self.unloaded_ms = 10.0
        self.trials: list[dict[str, Any]] = []
        self.generator_busy_max = 0.0
        self.seed = 1

    # ------------------------------------------------------------------ whole step
    def run(self) -> Outcome | None:
        probe = self._load(Phases(phases=(Phase(initial_users=1, spawn_rate=0.0, duration_s=1.5),)), 15.0)
        self.unloaded_ms = max(probe.total.p50_ms, 0.05) if probe.total.successes else 10.0
        cpus = max(self.emulation.vcpus * self.emulation.count, 0.05)
        self.details.update(UnloadedP50Ms=round(self.unloaded_ms, 3), Arrival=self.arrival)
        if self.threshold is not None:
            self.details["LatencyLimitMs"] = self.threshold
        self.details["Trials"] = self.trials
        try:
            capacity = self._capacity()
            if capacity is not None and self.threshold is None:
                return self._capacity_outcome(capacity)
            if capacity is not None:
                # The latency limit caps the rate somewhere at or below capacity: search [0, capacity].
                search = RateSearch(initial_rps=capacity.rps * 0.9, max_rps=capacity.interval.high,
                                    percentile=self.percentile)
            else:
                search = RateSearch(initial_rps=initial_rate_guess(self.unloaded_ms, cpus), max_rps=200_000.0,
                                    percentile=self.percentile)
            while (rate := search.next_rate()) is not None:
                measured = tr.trial_seconds(rate, self.min_measured_s)
                if self._out_of_time(measured):
                    break
                run = self._trial(rate, measured, "search")
                if run is None:
                    break
                v = run.verdict
                search.record(TrialOutcome(target_rps=rate, achieved_rps=v.achieved_rps, error_rate=v.error_rate,
                                           latency_ms=v.latency_ms, verdict=v.why))
            self.details["SearchEndedBy"] = "stopped" if self.cancel.is_set() else (
                search.reason or ("JobDurationInSeconds" if time.time() >= self.deadline - 1 else "time"))
            failed = [t.outcome.target_rps for t in search.trials if not t.passed and t.outcome.target_rps > search.lo]
            self.details["FailedAtInvocations"] = (self.emulation.to_full(min(failed)) * 60.0) if failed else None
            if search.lo <= 0:
                whys = sorted({t.why for t in search.trials if not t.passed})
                if whys:
                    self.details["NoPassReason"] = "every rate failed on " + ", ".join(whys)
                return None
            outcome = self._hold(search.lo)
            if outcome is None and not self.cancel.is_set():
                self.details["NoPassReason"] = (
                    f"the search passed {search.lo:,.1f} req/s in a short trial, but the confirmation hold failed "
                    f"at it and {HOLD_ATTEMPTS - 1} lower rates (see Trials)")
            return outcome
        finally:
            self.details["GeneratorBusyMax"] = round(self.generator_busy_max, 3)
            self.details["LoadgenWorkers"] = self.workers

    # ------------------------------------------------------------------ capacity
    def _capacity_part_s(self) -> float:
        """Each of the capacity's two parts: half the hold cap (15 s by default), ending earlier once
        its interval is within ±3 %. This host's speed moves ±15 % over 20-second blocks; the two
        parts, a hold apart, average over that instead of sampling one block of it."""
        return max(self.min_measured_s, self.hold_seconds / 2)

    def _capacity(self) -> _Capacity | None:
        """The saturated closed loop's first part (see the module doc), with users doubled until
        the server queues; None, with the reason in Details.Capacity, when the endpoint's capacity
        cannot be measured that way."""
        users = tr.saturating_users(self.slots, self.emulation.count)
        doc: dict[str, Any] = {}
        self.details["Capacity"] = doc
        while True:
            part = self._capacity_part(users, doubling=True)
            if part is None:
                return None
            if isinstance(part, _Capacity):
                return part
            if part == "unsaturated":
                if users >= tr.MAX_SATURATION_USERS:
                    doc.update(Users=users, Note=f"the server did not queue with {users} requests in flight "
                                                 "(median latency under twice the unloaded one); the open-loop "
                                                 "search finds the rate instead")
                    return None
                users = min(users * 2, tr.MAX_SATURATION_USERS)
                continue
            doc.update(Users=users, Note=part)
            return None

    def _capacity_part(self, users: int, doubling: bool = False) -> _Capacity | str | None:
        """One run of the saturated closed loop: a _Capacity, "unsaturated", another reason it
        does not count (a string), or None when stopped or out of time."""
        part_s = self._capacity_part_s()
        if self._out_of_time(min(part_s, 3 * self.min_measured_s)):
            if doubling:
                self.details["Capacity"]["Note"] = "no time left to measure capacity"
            return None
        # Batches of ≥ 50 requests, sized from the most the users could complete unloaded.
        per_batch = tr.batch_windows(min(users, self.slots * self.emulation.count) * 1000.0 / self.unloaded_ms)
        live = _HoldTracker("P50", per_batch)
        unsaturated: list[bool] = []

        def enough(measured: list[WindowStats]) -> bool:
            live.extend(measured)
            if doubling and len(measured) == 2 and not tr.saturated(histogram.merge_windows(measured).p50_ms,
                                                                      self.unloaded_ms):
                unsaturated.append(True)      # more users, at once: this run cannot become capacity
                return True
            # One batch more than the minimum: the run's last window is dropped afterwards.
            return len(live.batches) > tr.HOLD_MIN_BATCHES and live.state(latency_rhw=math.inf).converged

        run = self._trial(0.0, part_s, "capacity", enough=enough, users=users)
        if run is None:
            return None
        median = _latency(run.merged, "P50") if run.merged.successes else math.nan
        if run.verdict.error_rate >= tr.MAX_ERROR_RATE:
            return (f"{100 * run.verdict.error_rate:.1f} % errors with {users} requests in flight; the open-loop "
                    "search finds the rate instead")
        if unsaturated or not tr.saturated(median, self.unloaded_ms):
            return "unsaturated" if doubling else (
                f"the server stopped queueing with {users} requests in flight (median {median:.1f} ms)")
        final = _HoldTracker("P50", per_batch)
        final.extend(run.measured)
        secs = sum(w.duration_s for w in run.measured) or 1.0
        part = _Capacity(users, final.batches, run.merged.successes, secs, [(run.start, run.end)])
        doc = self.details["Capacity"]
        doc.setdefault("Parts", []).append({"Rps": round(part.rps, 3), "Seconds": round(secs, 2),
                                            "MedianLatencyMs": round(median, 3)})
        self._describe(part)
        return part

    def _describe(self, capacity: _Capacity) -> None:
        iv = capacity.interval
        self.details["Capacity"].update(
            Users=capacity.users, Seconds=round(capacity.seconds, 2), Rps=round(capacity.rps, 3),
            Batches=len(capacity.batches), Converged=capacity.state.converged,
            HalfWidthPercent=round(100 * iv.relative_half_width, 2) if iv.n >= 2 else None)

    def _capacity_outcome(self, capacity: _Capacity) -> Outcome | None:
        """MaxInvocations = the capacity, measured in two parts around the open-loop hold at
        LATENCY_LOAD of it (which gives the latency). Two parts apart in time average over the
        host's own speed changes, and a host that changed speed between them widens the interval
        instead of hiding in one contiguous run."""
        emu = self.emulation
        held = self._hold(capacity.rps * tr.LATENCY_LOAD, queue_gate=False)
        if held is None:
            if not self.cancel.is_set():
                self.details["NoPassReason"] = (
                    f"capacity measured {capacity.rps:,.1f} req/s, but an open loop at {100 * tr.LATENCY_LOAD:.0f} % "
                    f"of it and at {HOLD_ATTEMPTS - 1} lower loads did not keep up or had errors (see Trials)")
            return None
        second = self._capacity_part(capacity.users)
        if isinstance(second, _Capacity):
            capacity = capacity.joined(second)
            self._describe(capacity)
        elif isinstance(second, str):
            self.details["Capacity"]["SecondPartNote"] = second
        per_minute = 60.0 / emu.scale
        self.details["MaxInvocationsInterval"] = {**capacity.interval.scaled(per_minute).to_doc(),
                                                  "Converged": capacity.state.converged, "Source": "capacity"}
        self.details["FailedAtInvocations"] = None
        # Utilisation at MaxInvocations is the saturated runs', not the lighter latency hold's.
        samples = [self.sampler.between(a, b) for a, b in capacity.spans]
        cpu = sum(c for c, _ in samples) / len(samples)
        rss = max(r for _, r in samples)
        return replace(held, full_rps=emu.to_full(capacity.rps), cpu_percent=cpu, rss_bytes=max(rss, held.rss_bytes))

    def _out_of_time(self, seconds: float) -> bool:
        return self.cancel.is_set() or time.time() + self.warmup_s + seconds + 2.0 > self.deadline

    # ------------------------------------------------------------------ hold
    def _hold(self, rate: float, queue_gate: bool = True) -> Outcome | None:
        """Hold `rate` until its intervals are tight (or the cap); a failing hold steps down.

        `queue_gate=False` (the latency hold below a measured capacity): a rising latency alone does
        not fail the hold. The queue test exists to find, from below, the rate where an open loop
        stops keeping up; with capacity measured, a load under it keeps up by definition, and a
        latency that climbs in a 30-second hold is this host slowing down for a few seconds (its
        speed moves ±15 % over 20-second blocks), which the reported percentiles then include. Not
        keeping up (completed < 97 % of sent) and errors still fail it."""
        for attempt in range(1, HOLD_ATTEMPTS + 1):
            cap = self.hold_seconds
            if self._out_of_time(min(cap, 3 * self.min_measured_s)):
                break
            cap = min(cap, max(self.deadline - time.time() - self.warmup_s - 3.0, self.min_measured_s))
            per_batch = tr.batch_windows(rate)
            live = _HoldTracker(self.percentile, per_batch)

            def enough(measured: list[WindowStats], live: _HoldTracker = live) -> bool:
                live.extend(measured)
                # One batch more than the minimum: the run's last window is dropped afterwards.
                return len(live.batches) > tr.HOLD_MIN_BATCHES and live.state().converged

            run = self._trial(rate, cap, "hold", enough=enough)
            if run is None:
                return None
            if not run.verdict.passed and (queue_gate or run.verdict.why != "queue"):
                # A search trial is short and can pass by luck right at capacity; the hold is long
                # and says so. Step down 5 %, or — when it could not keep up — to just under what it
                # did complete, which is itself a measurement of capacity.
                lower = rate * HOLD_STEP_DOWN
                if run.verdict.why == "throughput" and run.verdict.achieved_rps > 0:
                    lower = min(lower, run.verdict.achieved_rps * tr.MIN_ACHIEVED)
                rate = lower
                continue
            # The final state over exactly the measured windows (the callback also saw the drain window).
            final = _HoldTracker(self.percentile, per_batch)
            final.extend(run.measured)
            hold = final.state()
            ended = "converged" if hold.converged else ("stopped" if self.cancel.is_set() else "cap")
            outcome = self._outcome(run, rate, hold, len(final.batches), ended, attempt)
            self.details["Hold"]["Growth"] = round(run.verdict.growth, 3)
            return outcome
        return None

    def _outcome(self, run: _TrialRun, rate: float, hold: tr.HoldState, batches: int, ended: str,
                 attempt: int) -> Outcome:
        emu = self.emulation
        merged = run.merged
        secs = sum(w.duration_s for w in run.measured) or 1.0
        rps = merged.successes / secs
        lat = _latency(merged, self.percentile)
        per_minute = 60.0 / emu.scale
        tput = hold.throughput or Interval(rps, rps, rps, 1)
        self.details["MaxInvocationsInterval"] = {**tput.scaled(per_minute).to_doc(), "Windows": len(run.measured),
                                                  "Converged": hold.converged}
        if hold.latency is not None:
            self.details["ModelLatencyInterval"] = hold.latency.to_doc()
        self.details["Hold"] = {"TargetRps": round(rate, 3), "Seconds": round(secs, 2), "Batches": batches,
                                "EndedBy": ended, "Attempt": attempt,
                                "ThroughputHalfWidthPercent": round(100 * tput.relative_half_width, 2),
                                "LatencyHalfWidthPercent": (round(100 * hold.latency.relative_half_width, 2)
                                                            if hold.latency else None)}
        cpu, rss = self.sampler.between(run.start, run.end)
        return Outcome(full_rps=emu.to_full(rps), latency_ms=lat,
                       percentiles={p: _latency(merged, p) for p in PERCENTILES},
                       error_rate=run.verdict.error_rate, cpu_percent=cpu, rss_bytes=rss)

    # ------------------------------------------------------------------ one trial
    def _trial(self, rate: float, measured_s: float, phase: str,
               enough: Callable[[list[WindowStats]], bool] | None = None,
               users: int | None = None) -> _TrialRun | None:
        """Drain, then offer `rate` (or, given `users`, a closed loop of that many) for warm-up +
        `measured_s` (+ the drain window, discarded). Reruns with more generator processes when the
        generator was the limit."""
        while True:
            drain_s = _drain(self.urls, self.payloads[0], self.content_type, self.unloaded_ms,
                             min(DRAIN_MAX_S, max(self.deadline - time.time(), 1.0)), self.cancel)
            if self.cancel.is_set():
                return None
            run = self._offer(rate, measured_s, phase, enough, drain_s, users)
            if run is None:
                return None
            res = run.result
            self.generator_busy_max = max(self.generator_busy_max, res.generator_busy)
            if not res.generator_bound:
                return run
            self._log(rate, run, phase, verdict="generator", users=users)
            more = more_workers(res, self.loadgen_cpus)
            if more is None:
                raise GeneratorBound(generator_bound_reason(res))
            self.workers = more

    def _offer(self, rate: float, measured_s: float, phase: str,
               enough: Callable[[list[WindowStats]], bool] | None, drain_s: float,
               users: int | None = None) -> _TrialRun | None:
        warm = math.ceil(self.warmup_s)
        whole = warm + math.ceil(measured_s) + 1         # + the drain window, discarded
        stop = threading.Event()
        seen: list[WindowStats] = []
        why_stopped: list[str] = []

        def on_window(w: WindowStats) -> None:
            seen.append(w)
            self.on_progress({"Phase": phase, "TargetRate": rate or None, "Users": users, "Rate": w.throughput,
                              "P95Ms": w.p95_ms, "Errors": w.errors})
            if self.cancel.is_set():
                why_stopped.append("stopped")
                stop.set()
                return
            measured = seen[warm:]
            if len(measured) >= 2:
                failing = tr.clear_failure([_plain(m, self.percentile) for m in measured], self.threshold,
                                           self.unloaded_ms)
                if failing:
                    why_stopped.append(failing)
                    stop.set()
                    return
            if enough is not None and measured and enough(measured):
                why_stopped.append("enough")
                stop.set()

        self.seed += 1
        start = time.monotonic()
        shape: OpenLoop | Phases
        if users:
            shape = Phases(phases=(Phase(initial_users=users, spawn_rate=0.0, duration_s=float(whole)),))
        else:
            shape = OpenLoop(rate=rate, duration_s=float(whole), arrival=self.arrival,  # type: ignore[arg-type]
                             seed=self.seed)
        res = self._load(shape, whole + 15.0, stop=stop, on_window=on_window)
        end = time.monotonic()
        if self.cancel.is_set():
            return None
        windows = res.windows
        # Drop the warm-up, and the last window: it holds the answers drained after sending stopped.
        measured = windows[warm:-1] if len(windows) > warm + 1 else windows[-1:]
        if not measured:
            measured = windows
        plain = [_plain(w, self.percentile) for w in measured]
        merged = histogram.merge_windows(measured)
        # The queue test compares the last third with the middle third: the first third belongs to
        # the queue's own settling from the drained start (long near saturation), not to a trend.
        n = len(measured)
        cut1, cut2 = (n // 3, 2 * n // 3) if n >= 3 else (0, max(1, n // 2))
        first = _latency(histogram.merge_windows(measured[cut1:cut2]), self.percentile) if n >= 2 else math.nan
        second = _latency(histogram.merge_windows(measured[cut2:]), self.percentile) if n >= 2 else math.nan
        verdict = tr.judge(plain, _latency(merged, self.percentile) if merged.successes else math.nan,
                           first, second, self.unloaded_ms, self.threshold)
        if why_stopped and why_stopped[0] not in ("enough", "stopped") and verdict.passed:
            # Cut short as a clear failure: the windows seen say so even if the rest would not.
            verdict = replace(verdict, passed=False, why=why_stopped[0])
        run = _TrialRun(verdict, measured, merged, res, start, end, drain_s)
        if not res.generator_bound:
            self._log(rate, run, phase, users=users)
        return run

    def _load(self, shape: Any, deadline_s: float, stop: threading.Event | None = None,
              on_window: Callable[[WindowStats], None] | None = None) -> LoadResult:
        return run_load(LoadPlan(self.urls, self.payloads, shape, None, deadline_s=deadline_s,
                                 content_type=self.content_type, workers=self.workers, cpu_ids=self.loadgen_cpus),
                        cancel=stop or self.cancel, on_window=on_window)

    def _log(self, rate: float, run: _TrialRun, phase: str, verdict: str | None = None,
             users: int | None = None) -> None:
        v = run.verdict
        secs = sum(w.duration_s for w in run.measured) or 1.0
        sent = sum(_plain(w, self.percentile).sent for w in run.measured)
        self.trials.append({
            "Phase": phase, "TargetRps": round(rate, 2) if not users else None, "Users": users,
            "SentRps": round(sent / secs, 2),
            "AchievedRps": round(v.achieved_rps, 2), "ErrorRate": round(v.error_rate, 4),
            f"{self.percentile}Ms": round(v.latency_ms, 3) if not math.isnan(v.latency_ms) else None,
            "Growth": round(v.growth, 3), "Seconds": round(secs, 2), "DrainSeconds": round(run.drain_s, 2),
            "GeneratorBusy": round(run.result.generator_busy, 3),
            "Verdict": verdict or ("pass" if v.passed else v.why),
            **_trial_figures(run, self.emulation, self.sampler)})


def _trial_figures(run: _TrialRun, emulation: Emulation, sampler: _UsageSampler) -> dict[str, Any]:
    """What the report plots per trial: the rate read back to the full instance (per minute, as
    MaxInvocations), P50/P95/P99 of the measured windows, and the endpoint's CPU and memory
    utilisation over the trial — so latency and utilisation can be drawn against load — and when it
    ran (wall clock), for the report's timeline of the steps."""
    cpu, rss = sampler.between(run.start, run.end)
    lat = {p: _latency(run.merged, p) for p in ("P50", "P95", "P99")} if run.merged.successes else {}
    started = time.time() - (time.monotonic() - run.start)
    return {"StartedAt": round(started, 3), "WallSeconds": round(run.end - run.start, 3),
            "InvocationsPerMinute": round(emulation.to_full(run.verdict.achieved_rps) * 60.0, 1),
            "LatencyMs": {p: round(x, 3) for p, x in lat.items() if not math.isnan(x)},
            "CpuUtilization": round(cpu, 1), "MemoryUtilization": round(emulation.memory_utilization(rss), 2)}


def _check_payloads(url: str, payloads: list[Payload], limit_s: float, cancel: threading.Event) -> str | None:
    """Send each payload once (the first PAYLOAD_CHECK_MAX), one at a time, before any load: a
    model that refuses its own sample payloads (a content type it does not read, a malformed body)
    fails the step in seconds, naming the file, its content type and the endpoint's answer —
    instead of a search where every rate "fails" and nothing says why. A failed payload is tried
    once more, so one transient error does not end the step. Returns the reason, or None."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/invocations"
    end = time.monotonic() + limit_s
    failed: list[str] = []
    checked = 0
    for p in payloads[:PAYLOAD_CHECK_MAX]:
        why: str | None = None
        for _attempt in range(2):
            if cancel.is_set() or time.monotonic() >= end:
                return None
            why = _send_once(parts.hostname or "127.0.0.1", parts.port or 80, path, p, end - time.monotonic())
            if why is None:
                break
        checked += 1
        if why is not None:
            failed.append(f"{p.name or '(unnamed)'} ({p.content_type}): {why}")
    if not failed:
        return None
    shown = "; ".join(failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
    return (f"{len(failed)} of {checked} sample payloads were refused by the endpoint before any load was "
            f"offered: {shown}. Check SupportedContentTypes and the payload files against what the model "
            "server accepts")


def _send_once(host: str, port: int, path: str, payload: Payload, timeout_s: float) -> str | None:
    """One POST; None when it succeeded (2xx), else what the endpoint answered (status and the
    start of its body) or why the request failed."""
    conn = http.client.HTTPConnection(host, port, timeout=max(0.5, min(timeout_s, 15.0)))
    try:
        conn.request("POST", path, body=payload.body, headers={"Content-Type": payload.content_type,
                                                                  "Accept": "*/*"})
        resp = conn.getresponse()
        body = resp.read(2048)
        if 200 <= resp.status < 300:
            return None
        text = body.decode("utf-8", "replace").strip().replace("\n", " ")
        return f"HTTP {resp.status} {text[:200]!r}"
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer ({type(exc).__name__}: {exc})"
    finally:
        conn.close()


def _drain(urls: list[str], payload: Payload, content_type: str, unloaded_ms: float, limit_s: float,
           cancel: threading.Event) -> float:
    """Send single requests to every instance until each answers within 3× its unloaded latency
    (+5 ms): whatever an earlier trial queued has been served. Returns the seconds it took."""
    start = time.monotonic()
    end = start + limit_s
    ok_ms = max(3.0 * unloaded_ms, unloaded_ms + 5.0)
    body = payload.body
    ctype = payload.content_type or content_type
    for url in urls:
        parts = urlsplit(url)
        path = parts.path.rstrip("/") + "/invocations"
        while time.monotonic() < end and not cancel.is_set():
            t0 = time.monotonic()
            try:
                conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                                  timeout=max(0.5, end - t0))
                try:
                    conn.request("POST", path, body=body, headers={"Content-Type": ctype})
                    conn.getresponse().read()
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
                continue
            if (time.monotonic() - t0) * 1000.0 <= ok_ms:
                break
    if not cancel.is_set():
        time.sleep(tr.SETTLE_S)
    return time.monotonic() - start


def _replay(urls: list[str], payloads: list[Payload], content_type: str, emulation: Emulation,
            input_config: dict[str, Any], stopping: dict[str, Any] | None, percentile: str,
            threshold: float | None, cancel: threading.Event, deadline: float,
            on_progress: Callable[[dict[str, Any]], None], sampler: _UsageSampler, details: dict[str, Any],
            loadgen_cpus: list[int] | None, max_concurrency: int | None = None) -> Outcome | None:
    """Replay the job's TrafficPattern. `max_concurrency` (serverless): never more users than
    that in flight; windows whose pattern asks for more are throttled (core.serverless)."""
    pattern = input_config.get("TrafficPattern") or {
        "TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 30}]}
    full_shape = from_sagemaker(pattern)
    shape = emulation.shape(full_shape)
    if max_concurrency is not None:
        shape = sl.capped(shape, emulation.users(max_concurrency))
    conditions = emulation.stopping(StoppingConditions.from_sagemaker(stopping) if stopping else None)
    remaining = max(deadline - time.time(), 1.0)
    t0 = time.monotonic()
    res = run_load(LoadPlan(urls, payloads, shape, conditions, deadline_s=min(shape.duration_s + 30, remaining),
                            content_type=content_type, cpu_ids=loadgen_cpus), cancel=cancel,
                   on_window=lambda w: on_progress({"Users": getattr(w, "users", None), "Rate": w.throughput,
                                                    "P95Ms": w.p95_ms, "Errors": w.errors}))
    details["StopReason"] = res.stop_reason
    details["GeneratorBusyMax"] = round(res.generator_busy, 3)
    if emulation.emulated:
        details["UsersRun"] = {"Full": full_shape.max_users(), "Emulated": shape.max_users()}
    if res.generator_bound:
        raise GeneratorBound(generator_bound_reason(res))
    windows = res.windows
    best: tuple[float, Outcome, list[float]] | None = None
    throttled = [max_concurrency is not None and
                 sl.throttled(full_shape.users_at(w.start_s + w.duration_s / 2), max_concurrency) > 0 for w in windows]
    if max_concurrency is not None:
        details["Throttling"] = {"MaxConcurrency": max_concurrency, "PeakUsers": full_shape.max_users(),
                                 "ThrottledWindows": sum(throttled), "Windows": len(windows)}
    # MaxInvocations is a *sustained* rate: for each user level the pattern holds for at least
    # LEVEL_MIN_WINDOWS windows, the mean over the level's windows (its first dropped: users were
    # still arriving), the best level winning. The maximum of short groups within one level would
    # report the luckiest few seconds of a steady load — above what the level sustains whenever the
    # host's speed wanders (on a 2-vCPU VM, ±15 % from second to second). A pattern that changes
    # users faster than that (a ramp) is read in sliding groups of LEVEL_MIN_WINDOWS windows.
    full_rates = []
    for w in windows:
        mid = w.start_s + w.duration_s / 2
        run_users = w.users or shape.users_at(mid)
        full_rates.append(emulation.closed_loop_to_full(w.successes / w.duration_s if w.duration_s else 0.0,
                                                        shape_users(full_shape, mid, max_concurrency), run_users))
    for lo, hi in replay_groups([w.users or shape.users_at(w.start_s + w.duration_s / 2) for w in windows]):
        group = windows[lo:hi]
        if any(throttled[lo:hi]):
            continue  # SageMaker would have throttled the users over MaxConcurrency: ≥ 1 % errors
        reqs = sum(w.requests for w in group)
        if not reqs:
            continue
        errors = sum(w.errors for w in group)
        secs = sum(w.duration_s for w in group)
        err_rate = errors / reqs
        merged = histogram.merge_windows(group)
        lat = _latency(merged, percentile)
        if err_rate >= 0.01 or (threshold is not None and lat > threshold):
            continue
        rates = full_rates[lo:hi]
        rps_full = sum(r * w.duration_s for r, w in zip(rates, group, strict=True)) / secs
        if best is None or rps_full > best[0]:
            cpu, rss = sampler.between(t0 + lo, t0 + hi)
            pcts = {p: _latency(merged, p) for p in PERCENTILES}
            best = (rps_full, Outcome(rps_full, lat, pcts, err_rate, cpu, rss, mean_ms=merged.mean_ms), rates)
    if best is None:
        if max_concurrency is not None and windows and all(throttled):
            details["NoPassReason"] = (f"the TrafficPattern asks for more than MaxConcurrency={max_concurrency} "
                                       "requests at once in every window; SageMaker would throttle the excess "
                                       "(ThrottlingException)")
        return None
    rates = best[2]
    if len(rates) >= 2:
        interval = series_interval(rates, center=best[0]).scaled(60.0)
        details["MaxInvocationsInterval"] = {**interval.to_doc(), "Windows": len(rates),
                                             "Converged": interval.relative_half_width <= tr.HOLD_THROUGHPUT_RHW}
    return best[1]


def replay_groups(users: list[int], min_windows: int = 0) -> list[tuple[int, int]]:
    """[lo, hi) window ranges a replayed pattern is read in (see `_replay`): each run of windows at
    one user count that is at least `min_windows` long, less its first window; where the count
    changes faster, sliding groups of `min_windows` windows."""
    need = min_windows or LEVEL_MIN_WINDOWS
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(users):
        j = i
        while j < len(users) and users[j] == users[i]:
            j += 1
        if j - i >= need:
            out.append((i + 1, j))
        else:
            out.extend((max(0, k - need + 1), k + 1) for k in range(i, j))
        i = j
    return out


def shape_users(shape: Any, t: float, cap: int | None) -> int:
    """Users the full-size pattern runs at `t`, at most `cap` (serverless MaxConcurrency)."""
    users = int(shape.users_at(t))
    return users if cap is None else min(users, cap)


def _cold_start(url: str, payload: Payload, started: float, limit_s: float, cancel: threading.Event) -> float | None:
    """Seconds from the start of a fresh endpoint to its first successful answer to a request
    (SageMaker's serverless ModelSetupTime: launching compute, loading the model, answering);
    None when no request succeeded within `limit_s` (the payload check then says why)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/invocations"
    end = time.monotonic() + limit_s
    while time.monotonic() < end and not cancel.is_set():
        if _send_once(parts.hostname or "127.0.0.1", parts.port or 80, path, payload, end - time.monotonic()) is None:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def _serverless_load(urls: list[str], payloads: list[Payload], content_type: str, emulation: Emulation,
                     config: sl.ServerlessConfig, percentile: str, threshold: float | None, cancel: threading.Event,
                     deadline: float, hold_seconds: float, on_progress: Callable[[dict[str, Any]], None],
                     sampler: _UsageSampler, details: dict[str, Any], loadgen_cpus: list[int] | None) -> Outcome | None:
    """A serverless Default step: a closed loop of MaxConcurrency users (all the requests the
    endpoint may serve at once; never more in flight) held for the hold time; its throughput is
    MaxInvocations. With a latency threshold the concurrency halves until the latency meets it:
    fewer requests at once is what a client keeps under the limit with."""
    users = config.max_concurrency
    trials: list[dict[str, Any]] = []
    details["Trials"] = trials
    warm = math.ceil(warmup_seconds())
    measured_s = max(hold_seconds, 3.0)
    while not cancel.is_set():
        whole = warm + math.ceil(measured_s) + 1
        if time.time() + whole + 3.0 > deadline:
            details["NoPassReason"] = "no time left before JobDurationInSeconds"
            return None
        run_users = emulation.users(users)
        shape = Phases(phases=(Phase(initial_users=run_users, spawn_rate=0.0, duration_s=float(whole)),))
        start = time.monotonic()
        def window(w: WindowStats, users: int = users) -> None:
            on_progress({"Phase": "serverless", "Users": users, "Rate": w.throughput, "P95Ms": w.p95_ms,
                         "Errors": w.errors})

        res = run_load(LoadPlan(urls, payloads, shape, None, deadline_s=whole + 15.0, content_type=content_type,
                                cpu_ids=loadgen_cpus), cancel=cancel, on_window=window)
        end = time.monotonic()
        if res.generator_bound:
            raise GeneratorBound(generator_bound_reason(res))
        windows = res.windows
        measured = windows[warm:-1] if len(windows) > warm + 1 else windows
        if cancel.is_set() or not measured:
            return None
        merged = histogram.merge_windows(measured)
        secs = sum(w.duration_s for w in measured) or 1.0
        err = merged.errors / merged.requests if merged.requests else 1.0
        lat = _latency(merged, percentile) if merged.successes else math.nan
        ok = merged.successes > 0 and err < tr.MAX_ERROR_RATE and (threshold is None or lat <= threshold)
        trials.append({"Users": users, "UsersRun": run_users, "AchievedRps": round(merged.successes / secs, 2),
                       "ErrorRate": round(err, 4), f"{percentile}Ms": None if math.isnan(lat) else round(lat, 3),
                       "Seconds": round(secs, 2), "Verdict": "pass" if ok else ("errors" if err >= tr.MAX_ERROR_RATE
                                                                                  else "latency")})
        if ok:
            rps = emulation.closed_loop_to_full(merged.successes / secs, users, run_users)
            cpu, rss = sampler.between(start, end)
            details["Concurrency"] = {"MaxConcurrency": config.max_concurrency, "Users": users}
            return Outcome(full_rps=rps, latency_ms=lat, percentiles={p: _latency(merged, p) for p in PERCENTILES},
                           error_rate=err, cpu_percent=cpu, rss_bytes=rss, mean_ms=merged.mean_ms)
        if users == 1:
            break
        users = max(1, users // 2)
    if not cancel.is_set():
        details["NoPassReason"] = "no concurrency up to MaxConcurrency met " + (
            f"{percentile} ≤ {threshold:g} ms with errors < 1 %" if threshold is not None else "errors < 1 %")
    return None


def _serverless_price(config: sl.ServerlessConfig, outcome: Outcome, details: dict[str, Any],
                      price: ServerlessPrice | None) -> float:
    """The hour figure that makes CostPerInference = GB × billed seconds × price per GB-second
    (core.serverless), with the inputs written to Details for whoever checks the bill."""
    seconds = (outcome.mean_ms if not math.isnan(outcome.mean_ms) else outcome.percentiles["P50"]) / 1000.0
    per_gb_s = price.usd_per_gb_second if price else sl.PRICE_PER_GB_SECOND
    per_inference = sl.cost_per_inference(config.memory_size_mb, seconds, per_gb_s)
    details["ServerlessCost"] = {"MemoryGB": config.memory_gb, "BilledSecondsPerInference": sl.billed_seconds(seconds),
                                 "PricePerGBSecond": per_gb_s, "CostPerInference": per_inference,
                                 "Region": price.region if price else None,
                                 "PriceSource": price.source if price else sl.PRICE_SOURCE,
                                 "PriceDate": price.date if price else sl.PRICE_DATE,
                                 "VCpus": round(config.vcpus, 3), "VCpuSource": sl.CPU_RATIO_SOURCE}
    return sl.cost_per_hour(per_inference, outcome.full_rps * 60.0)
