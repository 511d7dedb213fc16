"""Keep the control process off the endpoints' CPUs while they are measured.

An endpoint runs on CPUs of its own (affinity + quota), the load generator on the ones left over.
The control process — API, database, usage sampler, the merging of the generator's windows — is
a third party: left to the scheduler, its threads land on an endpoint's CPU whenever that one
looks idle for a moment, and every millisecond they take there is a millisecond the endpoint's
quota pays for but cannot use. Measured on a 2-core host, the control process took ~45 % of a
CPU during a trial and ran on the endpoint's CPU about half of the time; that noise alone moved
a step's MaxInvocations by tens of percent between runs.

`control_plane_on(cpus)` pins every thread of this process (affinity is per thread on Linux) to
`cpus` for the duration, counted so that parallel steps nest, and restores the original mask to
every thread when the last one leaves. Threads started meanwhile inherit the pinned mask and are
restored too.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_original: set[int] = set()


def _tasks() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [threading.get_native_id()]


def _set_all(cpus: set[int]) -> None:
    for tid in _tasks():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(tid, cpus)


@contextlib.contextmanager
def control_plane_on(cpus: list[int] | None) -> Iterator[None]:
    """Run the body with every thread of this process on `cpus` (no-op for None or empty)."""
    global _depth, _original
    if not cpus:
        yield
        return
    with _lock:
        if _depth == 0:
            _original = set(os.sched_getaffinity(0))
            wanted = set(cpus) & _original or _original
            _set_all(wanted)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set_all(_original)
