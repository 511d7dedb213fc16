"""Traffic shapes: SageMaker parsing, users/rate over time, clear errors for bad fields."""

from __future__ import annotations

import pytest

from infrec.core.traffic import OpenLoop, Phases, Stairs, StoppingConditions, from_sagemaker


def test_phases_grow_by_spawn_rate_within_each_phase() -> None:
    shape = from_sagemaker({"TrafficType": "PHASES", "Phases": [
        {"InitialNumberOfUsers": 1, "SpawnRate": 120, "DurationInSeconds": 3},
        {"InitialNumberOfUsers": 10, "SpawnRate": 0, "DurationInSeconds": 2}]})
    assert isinstance(shape, Phases)
    assert shape.duration_s == 5
    # SpawnRate is users per MINUTE (SageMaker's definition): 120/min = 2 per second.
    assert [shape.users_at(t) for t in (0, 0.5, 1, 2.9, 3, 4.9, 5)] == [1, 2, 3, 6, 10, 10, 0]
    assert shape.max_users() == 10
    one = from_sagemaker({"Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 120}]})
    assert [one.users_at(t) for t in (0, 59.9, 60, 119)] == [1, 1, 2, 2]


def test_stairs_add_users_per_step() -> None:
    shape = from_sagemaker({"TrafficType": "STAIRS",
                            "Stairs": {"DurationInSeconds": 9, "NumberOfSteps": 3, "UsersPerStep": 4}})
    assert isinstance(shape, Stairs)
    assert [shape.users_at(t) for t in (0, 2.9, 3, 6, 8.99, 9)] == [4, 4, 8, 12, 12, 0]


def test_default_traffic_type_is_phases() -> None:
    shape = from_sagemaker({"Phases": [{"InitialNumberOfUsers": 2, "SpawnRate": 0, "DurationInSeconds": 1}]})
    assert isinstance(shape, Phases)


@pytest.mark.parametrize(("pattern", "names"), [
    ({"TrafficType": "WAVES"}, "TrafficType"),
    ({"TrafficType": "PHASES"}, "Phases"),
    ({"TrafficType": "PHASES", "Phases": [{"SpawnRate": 1, "DurationInSeconds": 1}]},
     "Phases[0].InitialNumberOfUsers"),
    ({"TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": -1, "SpawnRate": 1, "DurationInSeconds": 1}]},
     "Phases[0].InitialNumberOfUsers"),
    ({"TrafficType": "PHASES", "Phases": [{"InitialNumberOfUsers": 1, "SpawnRate": "x", "DurationInSeconds": 1}]},
     "Phases[0].SpawnRate"),
    ({"TrafficType": "STAIRS", "Stairs": {"DurationInSeconds": 0, "NumberOfSteps": 1, "UsersPerStep": 1}},
     "Stairs.DurationInSeconds"),
    ({"TrafficType": "STAIRS"}, "Stairs"),
])
def test_bad_patterns_name_the_field(pattern: dict, names: str) -> None:
    with pytest.raises(ValueError, match=names.replace("[", r"\[").replace("]", r"\]")):
        from_sagemaker(pattern)


def test_open_loop_constant_and_stepped() -> None:
    flat = OpenLoop(rate=100, duration_s=5)
    assert flat.rate_at(0) == 100 and flat.rate_at(4.99) == 100 and flat.rate_at(5) == 0
    steps = OpenLoop(steps=[(2, 10), (3, 50)], arrival="poisson", seed=3)
    assert steps.duration_s == 5
    assert steps.rate_at(1.9) == 10 and steps.rate_at(2.0) == 50 and steps.max_rate() == 50
    with pytest.raises(ValueError, match="arrival"):
        OpenLoop(rate=1, duration_s=1, arrival="bursty")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate"):
        OpenLoop(rate=-1, duration_s=1)


def test_stopping_conditions_parse() -> None:
    c = StoppingConditions.from_sagemaker({"MaxInvocations": 600, "FlatInvocations": "Stop",
                                           "ModelLatencyThresholds": [{"Percentile": "P99",
                                                                       "ValueInMilliseconds": 50}]})
    assert c.max_invocations == 600 and c.flat_invocations == "Stop"
    assert c.latency_thresholds[0].percentile == "P99" and c.latency_thresholds[0].value_ms == 50
    assert StoppingConditions.from_sagemaker({}) == StoppingConditions()


@pytest.mark.parametrize(("raw", "field"), [
    ({"MaxInvocations": 0}, "MaxInvocations"),
    ({"FlatInvocations": "Maybe"}, "FlatInvocations"),
    ({"ModelLatencyThresholds": [{"Percentile": "P42", "ValueInMilliseconds": 1}]}, "Percentile"),
    ({"ModelLatencyThresholds": [{"Percentile": "P95"}]}, "ValueInMilliseconds"),
])
def test_bad_stopping_conditions_name_the_field(raw: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        StoppingConditions.from_sagemaker(raw)
