"""The one job state machine: every kind's wire spelling maps to the same states, terminal states
never move, and a resumed AI job keeps exactly the parts its plan still starts with."""

from __future__ import annotations

import pytest

from infrec.core.catalog import Catalog
from infrec.genai.ai_runner import Config, completed_prefix
from infrec.jobs import states
from infrec.jobs.lifecycle import RunStop


@pytest.mark.parametrize("kind", states.KINDS)
def test_every_kind_spells_every_state_once(kind: str) -> None:
    every = (states.PENDING, states.IN_PROGRESS, states.COMPLETED, states.FAILED, states.STOPPING, states.STOPPED)
    assert [states.from_wire(kind, states.wire(kind, s)) for s in every] == list(every)
    assert len({states.wire(kind, s) for s in every}) == len(every)


def test_wire_spellings() -> None:
    assert states.wire(states.REALTIME, states.IN_PROGRESS) == "IN_PROGRESS"
    assert states.wire(states.AI_BENCHMARK, states.IN_PROGRESS) == "InProgress"
    assert states.from_wire(states.AI_RECOMMENDATION, "Stopping") == states.STOPPING


def test_transitions() -> None:
    for end in states.TERMINAL:
        assert not any(end in states.sources(new) for new in states.ACTIVE | states.TERMINAL)
    assert states.sources(states.STOPPED) == {states.STOPPING}      # never straight to STOPPED
    assert states.sources(states.COMPLETED) == {states.IN_PROGRESS}


def test_run_stop() -> None:
    stop = RunStop()
    stop.set()
    assert stop.is_set() and not stop.interrupted
    stop = RunStop()
    stop.interrupt()
    assert stop.is_set() and stop.interrupted


def test_a_resumed_recommendation_keeps_the_completed_prefix_of_its_plan() -> None:
    itype = Catalog.default().get("ml.c5.large")
    plan = [Config(i, itype, {"X": "1"}, copies) for i, copies in enumerate((1, 2, 4))]
    done = [{"InstanceType": "ml.c5.large", "EnvironmentVariables": {"X": "1"}, "CopyCountPerInstance": c,
             "Levels": [c]} for c in (1, 2)]
    assert completed_prefix(done, plan, Config.same_as) == done
    assert completed_prefix(done[1:], plan, Config.same_as) == []   # not the plan's first part: measured again
    assert completed_prefix([], plan, Config.same_as) == []
    levels = [{"Level": 1.0}, {"Level": 2.0}]
    assert completed_prefix(levels, (1.0, 2.0, 4.0), lambda lv, d: float(d["Level"]) == lv) == levels
