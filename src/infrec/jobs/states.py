"""The one state machine of every job kind: real-time recommendation jobs (SageMaker's
CreateInferenceRecommendationsJob), AI benchmark jobs and AI recommendation jobs.

Every transition of every kind goes through `sources` (each repository's conditional UPDATE moves a
job only from a state listed there), so no code path can move a job out of a terminal state or skip
STOPPING on the way to STOPPED. The states are named once here; each API spells them its own way on
the wire (SageMaker's real-time jobs say IN_PROGRESS, its AI jobs InProgress), and `wire` /
`from_wire` are the one place that maps between the two.
"""

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

# The job kinds, named as their APIs name the resource.
REALTIME, AI_BENCHMARK, AI_RECOMMENDATION = "InferenceRecommendationsJob", "AIBenchmarkJob", "AIRecommendationJob"
KINDS = (REALTIME, AI_BENCHMARK, AI_RECOMMENDATION)

# The AI jobs' wire spelling (botocore's AIBenchmarkJobStatus / AIRecommendationJobStatus); the
# real-time jobs' wire spelling is the states' own.
_AI_WIRE = {PENDING: "Pending", IN_PROGRESS: "InProgress", COMPLETED: "Completed", FAILED: "Failed",
            STOPPING: "Stopping", STOPPED: "Stopped"}
_WIRE: dict[str, dict[str, str]] = {REALTIME: {s: s for s in _AI_WIRE}, AI_BENCHMARK: _AI_WIRE,
                                    AI_RECOMMENDATION: _AI_WIRE}
_FROM_WIRE = {kind: {w: s for s, w in spelling.items()} for kind, spelling in _WIRE.items()}


def sources(new: str) -> frozenset[str]:
    """The states from which a job may move to `new`."""
    return frozenset(s for s, targets in _ALLOWED.items() if new in targets)


def wire(kind: str, state: str) -> str:
    """`state` as the API of `kind` spells it."""
    return _WIRE[kind][state]


def from_wire(kind: str, spelled: str) -> str:
    """The state the API of `kind` spells `spelled`."""
    return _FROM_WIRE[kind][spelled]
