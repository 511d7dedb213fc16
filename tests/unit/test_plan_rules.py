"""core.plan's answers to the exact word and count: every refusal names its field as the API returns
it, the test ceiling is inclusive, default limits apply to every default candidate list, and the
plans come out stripped, indexed and in round-robin order."""

from __future__ import annotations

from typing import Any

import pytest

from infrec.core.plan import PlanError, plan_job

DEFAULT_TYPES = ["ml.c5.large"]


def endpoint(**kw: Any) -> dict[str, Any]:
    return {"EndpointConfigurations": [{"InstanceType": "ml.a"} | kw]}


def grid(*values: list[str]) -> dict[str, Any]:
    return {"EnvironmentParameterRanges": {"CategoricalParameterRanges": [
        {"Name": f"P{i}", "Value": v} for i, v in enumerate(values)]}}


ONE = ["1"]
THREE = ["1", "2", "3"]
ECP = "EndpointConfigurations[0]"
CPR = f"{ECP}.EnvironmentParameterRanges.CategoricalParameterRanges"


@pytest.mark.parametrize(("job_type", "input_config", "message"), [
    ("Bogus", {}, "JobType must be one of Default, Advanced, not 'Bogus'"),
    ("Default", [], "InputConfig must be an object"),
    ("Advanced", {}, "an Advanced job needs InputConfig.EndpointConfigurations (1 to 10 entries)"),
    ("Default", {"ResourceLimit": 3}, "InputConfig.ResourceLimit must be an object"),
    ("Default", {"ResourceLimit": {"MaxNumberOfTests": 0}},
     "ResourceLimit.MaxNumberOfTests must be a positive integer, not 0"),
    ("Default", {"ResourceLimit": {"MaxNumberOfTests": True}},
     "ResourceLimit.MaxNumberOfTests must be a positive integer, not True"),
    ("Default", {"ResourceLimit": {"MaxNumberOfTests": 2.0}},
     "ResourceLimit.MaxNumberOfTests must be a positive integer, not 2.0"),
    ("Default", {"ContainerConfig": 5}, "InputConfig.ContainerConfig must be an object"),
    ("Default", {"ContainerConfig": {"SupportedEndpointType": "Batch"}},
     "ContainerConfig.SupportedEndpointType must be RealTime or Serverless, not 'Batch'"),
    ("Default", {"ContainerConfig": {"SupportedInstanceTypes": ["ml.a", " "]}},
     "ContainerConfig.SupportedInstanceTypes holds an invalid instance type ' '"),
    ("Advanced", {"EndpointConfigurations": "x"}, "InputConfig.EndpointConfigurations must be a list"),
    ("Advanced", {"EndpointConfigurations": [{"InstanceType": "a"}] * 11},
     "InputConfig.EndpointConfigurations has 11 entries; at most 10 are allowed"),
    ("Advanced", {"EndpointConfigurations": [5]}, f"{ECP} must be an object"),
    ("Advanced", endpoint(ServerlessConfig={"MemorySizeInMB": 2048, "MaxConcurrency": 1}),
     f"{ECP}: give either InstanceType (real-time) or ServerlessConfig, not both"),
    ("Advanced", {"EndpointConfigurations": [{}]}, f"{ECP}.InstanceType (or ServerlessConfig) is required"),
    ("Advanced", endpoint(InstanceType="  "), f"{ECP}.InstanceType (or ServerlessConfig) is required"),
    ("Advanced", endpoint(InitialInstanceCount=0), f"{ECP}.InitialInstanceCount must be a positive integer, not 0"),
    ("Advanced", endpoint(InitialInstanceCount=True),
     f"{ECP}.InitialInstanceCount must be a positive integer, not True"),
    ("Advanced", endpoint(InferenceSpecificationName=""), f"{ECP}.InferenceSpecificationName must be a non-empty string"),
    ("Advanced", endpoint(InferenceSpecificationName=3), f"{ECP}.InferenceSpecificationName must be a non-empty string"),
    ("Advanced", endpoint(EnvironmentParameterRanges=[1]), f"{ECP}.EnvironmentParameterRanges must be an object"),
    ("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": "x"}),
     f"{CPR} must be a list"),
    ("Advanced", endpoint(**grid(*[ONE] * 6)), f"{ECP}: at most 5 CategoricalParameterRanges are allowed, got 6"),
    ("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": [3]}),
     f"{CPR}[0] must be an object with Name and Value"),
    ("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": [{"Value": ONE}]}),
     f"{CPR}[0].Name is required"),
    ("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": [
        {"Name": "A", "Value": ONE}, {"Name": "A", "Value": ["2"]}]}), f"{CPR}[1]: parameter 'A' is given twice"),
    ("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": [{"Name": "A", "Value": "1"}]}),
     f"{CPR}[0].Value must be a list of 1 to 3 strings"),
    ("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": [{"Name": "A", "Value": []}]}),
     f"{CPR}[0].Value must be a list of 1 to 3 strings"),
    ("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": [{"Name": "A", "Value": [1]}]}),
     f"{CPR}[0].Value must be a list of 1 to 3 strings"),
    ("Advanced", endpoint(**grid(["1", "2", "3", "4"])), f"{CPR}[0].Value has 4 values; at most 3 are allowed"),
    ("Advanced", endpoint(**grid(THREE, THREE, THREE, THREE, ["1", "2"])),
     "EndpointConfigurations expand to 162 tests (more than 100); set ResourceLimit.MaxNumberOfTests or narrow "
     "EnvironmentParameterRanges"),
])
def test_every_refusal_names_its_field(job_type: str, input_config: Any, message: str) -> None:
    with pytest.raises(PlanError) as err:
        plan_job(job_type, input_config, None, DEFAULT_TYPES)
    assert str(err.value) == message


def test_without_any_candidate_type_the_job_cannot_be_planned() -> None:
    with pytest.raises(PlanError) as err:
        plan_job("Default", {}, [], [])
    assert str(err.value) == ("no candidate instance types: give ContainerConfig.SupportedInstanceTypes or "
                              "EndpointConfigurations")
    with pytest.raises(PlanError) as bad:
        plan_job("Default", {}, ["ml.a", 3], DEFAULT_TYPES)
    assert str(bad.value) == "the model package's SupportedRealtimeInferenceInstanceTypes holds an invalid instance type 3"
    with pytest.raises(PlanError) as bad_default:
        plan_job("Default", {}, None, [""])
    assert str(bad_default.value) == "the default instance types holds an invalid instance type ''"


def test_the_ceiling_of_tests_is_inclusive() -> None:
    hundred = {"EndpointConfigurations": [{"InstanceType": "ml.a", **grid(THREE, THREE, THREE, THREE)},   # 81
                                          {"InstanceType": "ml.b", **grid(THREE, THREE, ["1", "2"])},     # 18
                                          {"InstanceType": "ml.c"}]}                                      # 1
    assert len(plan_job("Advanced", hundred, None, DEFAULT_TYPES)) == 100
    hundred["EndpointConfigurations"].append({"InstanceType": "ml.d"})
    with pytest.raises(PlanError, match="expand to 101 tests"):
        plan_job("Advanced", hundred, None, DEFAULT_TYPES)
    assert len(plan_job("Advanced", hundred, None, DEFAULT_TYPES, max_tests_ceiling=101)) == 101


def test_default_candidates_are_limited_by_default_and_stripped() -> None:
    types = [f"ml.t{i}" for i in range(5)]
    assert [p.instance_type for p in plan_job("Default", {}, types, DEFAULT_TYPES, max_tests_default=3)] == [
        "ml.t0", "ml.t1", "ml.t2"]
    serverless = {"ContainerConfig": {"SupportedEndpointType": "Serverless"}}
    plans = plan_job("Default", serverless, None, DEFAULT_TYPES, max_tests_default=2)
    assert [(p.index, p.instance_type, p.serverless_config) for p in plans] == [
        (0, "serverless-1024mb", {"MemorySizeInMB": 1024, "MaxConcurrency": 5}),
        (1, "serverless-2048mb", {"MemorySizeInMB": 2048, "MaxConcurrency": 5})]
    stripped = plan_job("Default", {"ContainerConfig": {"SupportedInstanceTypes": [" ml.a ", "ml.a", "ml.b"]}},
                        None, DEFAULT_TYPES)
    assert [(p.index, p.instance_type) for p in stripped] == [(0, "ml.a"), (1, "ml.b")]


def test_endpoint_configurations_expand_round_robin_and_keep_their_fields() -> None:
    configs = {"EndpointConfigurations": [
        {"InstanceType": " ml.a ", "InitialInstanceCount": 2, "InferenceSpecificationName": "spec",
         **grid(["x", "y", "x"])},
        {"InstanceType": "ml.b"}],
        "ResourceLimit": {"MaxNumberOfTests": 2}}
    plans = plan_job("Advanced", configs, None, DEFAULT_TYPES)
    assert [(p.index, p.instance_type, p.instance_count, p.inference_specification_name, p.environment)
            for p in plans] == [(0, "ml.a", 2, "spec", {"P0": "x"}), (1, "ml.b", 1, None, {})]
    del configs["ResourceLimit"]
    assert [p.environment for p in plan_job("Advanced", configs, None, DEFAULT_TYPES)] == [
        {"P0": "x"}, {"P0": "y"}, {}]


def test_inclusive_limits_of_tests_and_configurations() -> None:
    assert len(plan_job("Default", {"ResourceLimit": {"MaxNumberOfTests": 1}}, ["ml.a", "ml.b"], DEFAULT_TYPES)) == 1
    ten = {"EndpointConfigurations": [{"InstanceType": f"ml.t{i}"} for i in range(10)]}
    assert [p.index for p in plan_job("Advanced", ten, None, DEFAULT_TYPES)] == list(range(10))


def test_an_empty_parameter_name_is_refused() -> None:
    with pytest.raises(PlanError) as err:
        plan_job("Advanced", endpoint(EnvironmentParameterRanges={"CategoricalParameterRanges": [
            {"Name": "", "Value": ONE}]}), None, DEFAULT_TYPES)
    assert str(err.value) == f"{CPR}[0].Name is required"
