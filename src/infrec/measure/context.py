"""What a measurement needs, gathered once: the operator's settings (`MeasureOptions`),
the job's side of a step (`StepContext`), the endpoint configuration it measures (`StepConfig`),
and — once the endpoint answers — what every load driven against it shares (`RunContext`).

One object each instead of the same dozen values passed down every call: the step, the Default
search, the replay and the serverless load all read the same context, so a value cannot drift
between them."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infrec.core import serverless as sl
from infrec.core import trial as tr
from infrec.core.catalog import ServerlessPrice
from infrec.core.emulation import Emulation
from infrec.core.stats import LoadResult, WindowStats
from infrec.core.traffic import OpenLoop, Phases, Stairs, StoppingConditions
from infrec.executors.base import Executor
from infrec.loadgen.generator import LoadgenOptions, LoadPlan, run_load
from infrec.loadgen.payloads import Payload
from infrec.measure.sampling import Usage

if TYPE_CHECKING:   # the jobs layer's type, read here only for its image, model URL and content types
    from infrec.config import Settings
    from infrec.jobs.model_source import ModelSource

log = logging.getLogger("infrec.measure")



@dataclass(frozen=True)
class MeasureOptions:
    """The measurement's settings.

    `arrival`: Poisson arrivals unless INFREC_ARRIVAL=uniform: real clients do not arrive on a
    metronome, and evenly spaced requests hide the queueing that bursts cause.

    `warmup_s`: whole seconds at the start of every trial that are measured by nobody:
    INFREC_WARMUP_SECONDS (0 to 30; default 1, core.trial.WARMUP_S). The first second of a trial
    carries connection set-up and the endpoint's cold caches; 0 is for runs whose figures nobody
    reads (behaviour tests, a smoke check), which it makes about a second shorter per trial.

    `loadgen`: the load generator's own settings (its generator-bound threshold)."""

    arrival: str = "poisson"
    warmup_s: float = tr.WARMUP_S
    loadgen: LoadgenOptions = field(default_factory=LoadgenOptions)

    @classmethod
    def from_settings(cls, settings: Settings) -> MeasureOptions:
        """What the operator set (INFREC_ARRIVAL, INFREC_WARMUP_SECONDS, INFREC_LOADGEN_MAX_BUSY), already
        parsed and checked by Settings."""
        return cls(arrival=settings.arrival, warmup_s=settings.warmup_seconds,
                   loadgen=LoadgenOptions(max_busy=settings.loadgen_max_busy))


@dataclass(frozen=True)
class StepLimits:
    """How long a step may take. `deadline`: wall clock (time.time()) by which the whole step ends
    (the job's JobDurationInSeconds); `trial_seconds`: the shortest measured part of a search trial;
    `hold_seconds`: the cap on a hold; `setup_deadline_s`: the most an endpoint's start may take
    (never past `deadline`)."""

    deadline: float
    trial_seconds: float
    hold_seconds: float
    setup_deadline_s: float = math.inf


@dataclass(frozen=True)
class StepContext:
    """The job's side of measuring one endpoint: who runs it (`executor`; for an endpoint infrec did
    not start, a monitor that only samples and checks it), the model and its sample payloads, what
    the job asks (JobType, InputConfig, StoppingConditions), the limits, and how the step reports
    progress and learns it was cancelled."""

    executor: Executor
    source: ModelSource
    payload_dir: Path
    job_type: str
    input_config: dict[str, Any]
    stopping: dict[str, Any] | None
    limits: StepLimits
    cancel: threading.Event
    on_progress: Callable[[dict[str, Any]], None]
    options: MeasureOptions = field(default_factory=MeasureOptions)


@dataclass(frozen=True)
class StepConfig:
    """The endpoint configuration one step measures: its emulated size, the environment its model
    server runs with, and — for a serverless configuration (core.serverless) — its MaxConcurrency and
    memory, whose load never has more than MaxConcurrency requests in flight, whose ModelSetupTime is
    its cold start and which is priced per GB-second (`serverless_price`, the catalog's for the
    region)."""

    emulation: Emulation
    environment: dict[str, str]
    serverless: sl.ServerlessConfig | None = None
    serverless_price: ServerlessPrice | None = None


@dataclass(frozen=True)
class RunContext:
    """What every load of one step shares once its endpoint answers: where requests go and with which
    bodies, how figures read back to the full instance, the job's latency objective (`percentile`,
    and `threshold` in ms or None), the step's cancel and deadline, progress, the utilisation
    sampler, the step's `details` (written as it goes), the generator's CPUs and the settings."""

    urls: list[str]
    payloads: list[Payload]
    content_type: str
    emulation: Emulation
    percentile: str
    threshold: float | None
    cancel: threading.Event
    deadline: float
    on_progress: Callable[[dict[str, Any]], None]
    sampler: Usage
    details: dict[str, Any]
    loadgen_cpus: list[int] | None
    options: MeasureOptions

    def load(self, shape: Phases | Stairs | OpenLoop, deadline_s: float,
             on_window: Callable[[WindowStats], None] | None = None, *, stop: threading.Event | None = None,
             stopping: StoppingConditions | None = None, workers: int = 1) -> LoadResult:
        """Drive `shape` against the endpoint on the generator's CPUs; `stop` ends it early (the
        step's cancel when not given)."""
        plan = LoadPlan(self.urls, self.payloads, shape, stopping, deadline_s=deadline_s,
                        content_type=self.content_type, workers=workers, cpu_ids=self.loadgen_cpus)
        return run_load(plan, cancel=stop or self.cancel, on_window=on_window, options=self.options.loadgen)
