"""What the endpoint and its host did while a step ran: the endpoint's CPU and memory, sampled in
the background, and this host's CPU counters, read around the step for the steal it ran under."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from infrec.core.steal import cpu_times
from infrec.executors.base import EndpointHandle, Executor


class Usage(Protocol):
    """What the trials read from a sampler: the endpoint's mean utilisation over a span of time."""

    def between(self, start: float, end: float) -> tuple[float, float]: ...


class UsageSampler:
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

    def __enter__(self) -> UsageSampler:
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


def host_cpu_times() -> tuple[int, ...] | None:
    """This host's CPU counters (for the steal a step was measured under); None where unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            return cpu_times(f.read())
    except OSError:
        return None
