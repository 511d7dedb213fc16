"""Planning a job's benchmarks from SageMaker's InputConfig."""

from __future__ import annotations

from typing import Any

import pytest

from infrec.core.errors import ValidationError
from infrec.core.plan import BenchmarkPlan, PlanError, parallel_batches, plan_job

DEFAULTS = ["ml.c5.large", "ml.m5.large", "ml.c5.xlarge"]


def ranges(**params: list[str]) -> dict[str, Any]:
    return {"CategoricalParameterRanges": [{"Name": k, "Value": v} for k, v in params.items()]}


def summary(plans: list[BenchmarkPlan]) -> list[tuple[int, str, dict[str, str]]]:
    return [(p.index, p.instance_type, p.environment) for p in plans]


# --------------------------------------------------------------------------- Default jobs

def test_default_prefers_container_supported_instance_types() -> None:
    cfg = {"ContainerConfig": {"SupportedInstanceTypes": ["ml.c6i.large", "ml.c5.large", "ml.c6i.large"]}}
    plans = plan_job("Default", cfg, ["ml.m5.xlarge"], DEFAULTS)
    assert summary(plans) == [(0, "ml.c6i.large", {}), (1, "ml.c5.large", {})]
    assert all(p.instance_count == 1 and p.inference_specification_name is None for p in plans)


def test_default_falls_back_to_package_then_default_set() -> None:
    assert [p.instance_type for p in plan_job("Default", {}, ["ml.m5.xlarge", "ml.c5.large"], DEFAULTS)] == \
        ["ml.m5.xlarge", "ml.c5.large"]
    assert [p.instance_type for p in plan_job("Default", {"ContainerConfig": {}}, [], DEFAULTS)] == DEFAULTS
    assert [p.instance_type for p in plan_job("Default", {}, None, DEFAULTS)] == DEFAULTS


def test_default_is_capped() -> None:
    many = [f"ml.c5.{n}xlarge" for n in range(2, 20)]
    assert len(plan_job("Default", {}, many, DEFAULTS)) == 10
    assert len(plan_job("Default", {}, many, DEFAULTS, max_tests_default=4)) == 4
    capped = plan_job("Default", {"ResourceLimit": {"MaxNumberOfTests": 2}}, many, DEFAULTS)
    assert [p.instance_type for p in capped] == many[:2]
    assert [p.index for p in capped] == [0, 1]


def test_default_honours_explicit_endpoint_configurations() -> None:
    cfg = {"EndpointConfigurations": [{"InstanceType": "ml.r5.large"}]}
    assert summary(plan_job("Default", cfg, ["ml.m5.xlarge"], DEFAULTS)) == [(0, "ml.r5.large", {})]


def test_no_candidates_at_all() -> None:
    with pytest.raises(PlanError, match="no candidate instance types"):
        plan_job("Default", {}, [], [])


# --------------------------------------------------------------------------- Advanced jobs

def test_advanced_expands_the_cartesian_product_in_order() -> None:
    cfg = {"EndpointConfigurations": [
        {"InstanceType": "ml.c5.large",
         "EnvironmentParameterRanges": ranges(OMP_NUM_THREADS=["1", "2"], WORKERS=["1", "2", "4"])},
        {"InstanceType": "ml.m5.large", "InferenceSpecificationName": "spec-b"},
    ]}
    plans = plan_job("Advanced", cfg, None, DEFAULTS)
    assert summary(plans) == [
        (0, "ml.c5.large", {"OMP_NUM_THREADS": "1", "WORKERS": "1"}),
        (1, "ml.c5.large", {"OMP_NUM_THREADS": "1", "WORKERS": "2"}),
        (2, "ml.c5.large", {"OMP_NUM_THREADS": "1", "WORKERS": "4"}),
        (3, "ml.c5.large", {"OMP_NUM_THREADS": "2", "WORKERS": "1"}),
        (4, "ml.c5.large", {"OMP_NUM_THREADS": "2", "WORKERS": "2"}),
        (5, "ml.c5.large", {"OMP_NUM_THREADS": "2", "WORKERS": "4"}),
        (6, "ml.m5.large", {}),
    ]
    assert plans[6].inference_specification_name == "spec-b"
    assert plans[0].inference_specification_name is None


def test_max_number_of_tests_keeps_every_instance_type() -> None:
    cfg = {"ResourceLimit": {"MaxNumberOfTests": 4, "MaxParallelOfTests": 2}, "EndpointConfigurations": [
        {"InstanceType": "ml.c5.large", "EnvironmentParameterRanges": ranges(W=["1", "2", "3"])},
        {"InstanceType": "ml.m5.large", "EnvironmentParameterRanges": ranges(W=["1", "2", "3"])},
        {"InstanceType": "ml.r5.large"},
    ]}
    plans = plan_job("Advanced", cfg, None, DEFAULTS)
    assert summary(plans) == [
        (0, "ml.c5.large", {"W": "1"}), (1, "ml.c5.large", {"W": "2"}),
        (2, "ml.m5.large", {"W": "1"}), (3, "ml.r5.large", {}),
    ]


def test_instance_count_and_duplicates() -> None:
    cfg = {"EndpointConfigurations": [
        {"InstanceType": "ml.c5.large", "InitialInstanceCount": 2},
        {"InstanceType": "ml.c5.large", "InitialInstanceCount": 2},
        {"InstanceType": "ml.c5.large", "EnvironmentParameterRanges": ranges(W=["1", "1"])},
    ]}
    plans = plan_job("Advanced", cfg, None, DEFAULTS)
    assert [(p.instance_type, p.instance_count, p.environment) for p in plans] == [
        ("ml.c5.large", 2, {}), ("ml.c5.large", 1, {"W": "1"})]


def test_huge_uncapped_grid_is_refused_but_a_cap_allows_it() -> None:
    grid = ranges(A=["1", "2", "3"], B=["1", "2", "3"], C=["1", "2", "3"], D=["1", "2", "3"], E=["1", "2", "3"])
    cfg: dict[str, Any] = {"EndpointConfigurations": [{"InstanceType": "ml.c5.large",
                                                        "EnvironmentParameterRanges": grid}]}
    with pytest.raises(PlanError, match=r"243 tests.*MaxNumberOfTests"):
        plan_job("Advanced", cfg, None, DEFAULTS)
    cfg["ResourceLimit"] = {"MaxNumberOfTests": 7}
    assert len(plan_job("Advanced", cfg, None, DEFAULTS)) == 7


@pytest.mark.parametrize("job_type,cfg,match", [
    ("Basic", {}, "JobType"),
    ("Advanced", {}, "EndpointConfigurations"),
    ("Advanced", {"EndpointConfigurations": "ml.c5.large"}, "must be a list"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large"}] * 11}, "at most 10"),
    ("Advanced", {"EndpointConfigurations": [{}]}, r"EndpointConfigurations\[0\].InstanceType \(or ServerlessConfig\) is required"),
    ("Advanced", {"EndpointConfigurations": ["x"]}, "must be an object"),
    ("Advanced", {"EndpointConfigurations": [{"ServerlessConfig": {"MemorySizeInMB": 1500, "MaxConcurrency": 1}}]},
     r"EndpointConfigurations\[0\].ServerlessConfig.MemorySizeInMB must be one of"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large",
                                              "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1}}]},
     "not both"),
    ("Default", {"ContainerConfig": {"SupportedEndpointType": "Batch"}}, "SupportedEndpointType"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large", "InitialInstanceCount": 0}]},
     "InitialInstanceCount"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large", "InferenceSpecificationName": ""}]},
     "InferenceSpecificationName"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large", "EnvironmentParameterRanges":
                                              {"CategoricalParameterRanges": [{"Name": "A", "Value": []}]}}]},
     r"CategoricalParameterRanges\[0\].Value"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large", "EnvironmentParameterRanges":
                                              ranges(A=["1", "2", "3", "4"])}]}, "at most 3"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large", "EnvironmentParameterRanges":
                                              ranges(A=["1"], B=["1"], C=["1"], D=["1"], E=["1"], F=["1"])}]},
     "at most 5"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large", "EnvironmentParameterRanges":
                                              {"CategoricalParameterRanges": [{"Name": "A", "Value": ["1"]},
                                                                              {"Name": "A", "Value": ["2"]}]}}]},
     "given twice"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large", "EnvironmentParameterRanges":
                                              {"CategoricalParameterRanges": [{"Value": ["1"]}]}}]}, "Name is required"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "ml.c5.large"}],
                  "ResourceLimit": {"MaxNumberOfTests": 0}}, "MaxNumberOfTests"),
    ("Default", {"ContainerConfig": {"SupportedInstanceTypes": ["ml.c5.large", ""]}}, "invalid instance type"),
])
def test_bad_input_is_named(job_type: str, cfg: dict[str, Any], match: str) -> None:
    with pytest.raises(PlanError, match=match) as info:
        plan_job(job_type, cfg, None, DEFAULTS)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ValidationError)


# --------------------------------------------------------------------------- waves

def plans_of(*cpus: int) -> list[BenchmarkPlan]:
    return [BenchmarkPlan(index=i, instance_type=f"cpu{c}") for i, c in enumerate(cpus)]


def budget(total: int):
    def fits(wave: list[BenchmarkPlan]) -> bool:
        return sum(int(p.instance_type[3:]) for p in wave) <= total
    return fits


def indices(waves: list[list[BenchmarkPlan]]) -> list[list[int]]:
    return [[p.index for p in w] for w in waves]


def test_waves_respect_max_parallel() -> None:
    assert indices(parallel_batches(plans_of(1, 1, 1, 1, 1), 2, lambda w: True)) == [[0, 1], [2, 3], [4]]
    assert indices(parallel_batches(plans_of(1, 1, 1), 1, lambda w: True)) == [[0], [1], [2]]


def test_waves_respect_resources_and_keep_order() -> None:
    waves = parallel_batches(plans_of(2, 4, 1, 2, 1), 3, budget(4))
    assert indices(waves) == [[0, 2, 4], [1], [3]]
    for w in waves:
        assert budget(4)(w) and len(w) <= 3
    assert sorted(p.index for w in waves for p in w) == [0, 1, 2, 3, 4]


def test_a_plan_too_big_alone_still_gets_a_wave() -> None:
    assert indices(parallel_batches(plans_of(8, 1, 1), 4, budget(2))) == [[0], [1, 2]]


def test_waves_edge_cases() -> None:
    assert parallel_batches([], 3, lambda w: True) == []
    with pytest.raises(PlanError, match="MaxParallelOfTests"):
        parallel_batches(plans_of(1), 0, lambda w: True)
