"""A worker's per-window send counts add up to every request it sent, even when sends run late.

On a busy 2-core host the open-loop scheduler can make a send after its intended second was
already reported (a response past the boundary closes the window first); that send must land in
the open window, not vanish from `sent` while its answer is counted (CI saw 579 sent, 580 answered).
"""

from __future__ import annotations

from typing import Any

from infrec.core.traffic import OpenLoop
from infrec.loadgen.worker import Worker, WorkerConfig


class _Out:
    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []

    def put(self, item: Any) -> None:
        self.items.append(item)


class _NeverStop:
    def is_set(self) -> bool:
        return False


def _worker() -> tuple[Worker, _Out]:
    cfg = WorkerConfig(index=0, count=1, targets=[("127.0.0.1", 9)], requests=[[b"x"]],
                       shape=OpenLoop(rate=10.0, duration_s=3.0), timeout_s=5.0, deadline_s=10.0,
                       random_order=False, seed=1, max_connections=0)
    out = _Out()
    w = Worker(cfg, out, _NeverStop(), lambda: 0.0)
    w.t0 = 100.0
    return w, out


def _sent(out: _Out) -> list[int]:
    return [item[11] for item in out.items if item[0] == "win"]


def test_a_late_send_counts_in_the_open_window() -> None:
    w, out = _worker()
    w.submit(100.2, None)                          # on time, window 0
    w._count(101.3, True, None, 10, 1000)          # its answer, after the boundary: window 0 closes
    w.submit(100.9, None)                          # due in window 0, made late: window 0 is gone
    w._count(101.4, True, None, 10, 1000)
    w.stopping = True
    w._flush(1.0)
    sent = _sent(out)
    assert sum(sent) == 2                          # both sends are in the total
    assert sent == [1, 1]


def test_sends_ahead_of_the_window_wait_for_their_own() -> None:
    w, out = _worker()
    w.submit(100.5, None)
    w.submit(101.5, None)                          # due next second: not counted in window 0
    w._count(101.2, True, None, 10, 1000)
    w._count(102.1, True, None, 10, 1000)
    assert _sent(out) == [1, 1]
