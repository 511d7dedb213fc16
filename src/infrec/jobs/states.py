"""The job and step state machine. Every transition is checked here so no code path can move a job
from a terminal state or skip STOPPING on the way to STOPPED."""

from __future__ import annotations

PENDING, IN_PROGRESS, COMPLETED, FAILED, STOPPING, STOPPED = (
    "PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPING", "STOPPED")
TERMINAL = frozenset({COMPLETED, FAILED, STOPPED})
ACTIVE = frozenset({PENDING, IN_PROGRESS, STOPPING})

_ALLOWED: dict[str, frozenset[str]] = {
    PENDING: frozenset({IN_PROGRESS, FAILED, STOPPING}),
    IN_PROGRESS: frozenset({COMPLETED, FAILED, STOPPING}),
    STOPPING: frozenset({STOPPED, FAILED}),
}


def sources(new: str) -> frozenset[str]:
    """The states from which a job may move to `new`."""
    return frozenset(s for s, targets in _ALLOWED.items() if new in targets)


def can_move(current: str, new: str) -> bool:
    return new in _ALLOWED.get(current, frozenset())
