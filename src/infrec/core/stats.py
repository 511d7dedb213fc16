"""Load-test results as plain data: one record per one-second window, and the run's total.

The jobs layer turns these into SageMaker metrics (MaxInvocations, ModelLatency, percentiles),
so every figure is a ready-made attribute (`p95_ms`, `throughput`, `errors`). Each window also
carries its HDR histogram, base64-encoded (HdrHistogram's standard compressed form), so windows
can be merged exactly later (`infrec.loadgen.histogram.merge_windows`); core itself does no
histogram arithmetic, keeping it free of third-party code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR_KINDS = ("http_4xx", "http_5xx", "timeout", "conn_refused", "conn_reset", "other")

STOP_COMPLETED = "Completed"
STOP_MAX_INVOCATIONS = "MaxInvocations"
STOP_LATENCY = "ModelLatencyThreshold"
STOP_FLAT = "FlatInvocations"
STOP_DEADLINE = "Deadline"
STOP_CANCELLED = "Cancelled"


@dataclass
class WindowStats:
    """What happened in one window (or a whole run): counts, throughput and latency in ms.

    Latency covers successful requests only. `users` is the closed-loop users running at the
    window's end, `target_rate` the open-loop offered rate (requests/s); the other is 0.
    """

    start_s: float = 0.0
    duration_s: float = 1.0
    requests: int = 0
    successes: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    bytes_received: int = 0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    min_ms: float = 0.0
    users: int = 0
    target_rate: float = 0.0
    generator_cpu_percent: float = 0.0
    sent: int = 0                   # requests sent in this window (by intended instant)
    histogram: str = field(default="", repr=False)

    @property
    def errors(self) -> int:
        return sum(self.errors_by_kind.values())

    @property
    def throughput(self) -> float:
        """Completed requests (successes and errors) per second."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def percentile_ms(self, name: str) -> float:
        """Latency by SageMaker's name ("P50", "P90", "P95", "P99")."""
        attr = name.lower() + "_ms"
        if not hasattr(self, attr):
            raise ValueError(f"unknown percentile {name!r}")
        return float(getattr(self, attr))

    def to_dict(self, with_histogram: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_histogram:
            d.pop("histogram")
        d.update(errors=self.errors, throughput=self.throughput)
        return d


@dataclass
class LoadResult:
    """A finished run: windows in time order, their total, why it stopped and what it cost us.

    The generator's own load, measured from the start of the traffic to its end (the shape's end
    or the stop; the drain of late answers after it is left out): `generator_cpu_percent` is its
    CPU time in percent of one CPU, summed over its `workers` processes (so up to 100 × workers;
    each window's `generator_cpu_percent` is the same measure for that window). `generator_cpus`
    is how many CPUs it could use, min(workers, the CPUs it was given or this host's), and
    `generator_busy` its CPU seconds over (traffic seconds × generator_cpus), 0..1.
    `generator_wait` is, on the busy scale, the time its processes were ready to run but waited
    for a CPU (other work on its CPUs; 0 where the kernel does not tell). `generator_bound` says
    busy + wait was above the bound (0.85, or INFREC_LOADGEN_MAX_BUSY): such a run measured the
    generator, not the endpoint, and is never evidence of capacity. `generator_affinity`
    is each worker's CPU set as the worker itself saw it after pinning.
    """

    windows: list[WindowStats]
    total: WindowStats
    stop_reason: str
    generator_cpu_percent: float = 0.0
    workers: int = 1
    closed_loop: bool = True
    notes: list[str] = field(default_factory=list)
    start_monotonic: float = 0.0  # time.monotonic() of window 0's start, to line up other records
    generator_cpus: float = 1.0
    generator_busy: float = 0.0
    generator_bound: bool = False
    generator_wait: float = 0.0
    generator_affinity: list[list[int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"windows": [w.to_dict() for w in self.windows], "total": self.total.to_dict(),
                "stop_reason": self.stop_reason, "generator_cpu_percent": self.generator_cpu_percent,
                "workers": self.workers, "closed_loop": self.closed_loop, "notes": list(self.notes),
                "generator_cpus": self.generator_cpus, "generator_busy": self.generator_busy,
                "generator_bound": self.generator_bound, "generator_wait": self.generator_wait,
                "generator_affinity": [list(a) for a in self.generator_affinity]}
