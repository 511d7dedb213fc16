"""GetScalingConfigurationRecommendation's math."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from infrec.core.errors import ValidationError
from infrec.core.scaling import ScalingError, capacity_bounds, cooldowns, recommend_scaling, target_value


def rec(max_invocations: int = 6000, count: int = 1, latency: int = 12, setup: int | None = 4) -> dict[str, Any]:
    metrics: dict[str, Any] = {"MaxInvocations": max_invocations, "ModelLatency": latency,
                               "CostPerHour": 0.1, "CostPerInference": 1e-7}
    if setup is not None:
        metrics["ModelSetupTime"] = setup
    return {"RecommendationId": "job/abcd1234", "Metrics": metrics,
            "EndpointConfiguration": {"EndpointName": "job-1", "VariantName": "AllTraffic",
                                      "InstanceType": "ml.c5.large", "InitialInstanceCount": count},
            "ModelConfiguration": {}}


def test_default_target_is_half_the_measured_capacity() -> None:
    out = recommend_scaling("job", rec(6000))
    policy = out["DynamicScalingConfiguration"]["ScalingPolicies"][0]["TargetTracking"]
    assert policy["MetricSpecification"] == {"Predefined": {"PredefinedMetricType":
                                                            "SageMakerVariantInvocationsPerInstance"}}
    assert policy["TargetValue"] == 3000.0
    assert out["TargetCpuUtilizationPerCore"] == 50
    assert out["Metric"] == {"InvocationsPerInstance": 6000, "ModelLatency": 12}
    assert out["RecommendationId"] == "job/abcd1234" and out["EndpointName"] == "job-1"
    assert out["InferenceRecommendationsJobName"] == "job"
    assert "ScalingPolicyObjective" not in out


def test_target_is_per_instance() -> None:
    out = recommend_scaling("job", rec(9000, count=3), target_cpu_utilization_per_core=70)
    assert out["Metric"]["InvocationsPerInstance"] == 3000
    assert out["DynamicScalingConfiguration"]["ScalingPolicies"][0]["TargetTracking"]["TargetValue"] == 2100.0
    assert out["DynamicScalingConfiguration"]["MinCapacity"] == 1
    assert out["DynamicScalingConfiguration"]["MaxCapacity"] == 5       # ceil(9000 / 2100)


def test_capacity_follows_the_objective() -> None:
    objective = {"MinInvocationsPerMinute": 4000, "MaxInvocationsPerMinute": 30000}
    out = recommend_scaling("job", rec(6000), 50, objective, endpoint_name="job-1")
    d = out["DynamicScalingConfiguration"]
    assert (d["MinCapacity"], d["MaxCapacity"]) == (2, 10)              # ceil(4000/3000), ceil(30000/3000)
    assert out["ScalingPolicyObjective"] == objective


def test_capacity_bounds_edges() -> None:
    assert capacity_bounds(100, {"MinInvocationsPerMinute": 0, "MaxInvocationsPerMinute": 0}, 1000, 1) == (1, 1)
    assert capacity_bounds(100, {"MaxInvocationsPerMinute": 250}, 1000, 1) == (1, 3)
    assert capacity_bounds(100, {"MinInvocationsPerMinute": 450}, 1000, 1) == (5, 10)
    assert capacity_bounds(100, None, 150, 4) == (1, 4)                # never below the benchmarked count
    with pytest.raises(ScalingError, match="greater than"):
        capacity_bounds(100, {"MinInvocationsPerMinute": 5, "MaxInvocationsPerMinute": 4}, 1000, 1)
    with pytest.raises(ScalingError, match="MinInvocationsPerMinute"):
        capacity_bounds(100, {"MinInvocationsPerMinute": -1}, 1000, 1)


def test_target_value_edges() -> None:
    assert target_value(1.0, 50) == 1                    # never zero
    assert target_value(999.0, 100) == 999
    with pytest.raises(ScalingError):
        target_value(0.0, 50)


def test_cooldowns() -> None:
    assert cooldowns(None) == (300, 60)
    assert cooldowns(4) == (300, 60)
    assert cooldowns(100) == (400, 200)
    assert cooldowns(5000) == (1200, 600)
    out = recommend_scaling("job", rec(setup=None))
    assert (out["DynamicScalingConfiguration"]["ScaleInCooldown"],
            out["DynamicScalingConfiguration"]["ScaleOutCooldown"]) == (300, 60)


@pytest.mark.parametrize("kwargs,match", [
    ({"target_cpu_utilization_per_core": 0}, "TargetCpuUtilizationPerCore"),
    ({"target_cpu_utilization_per_core": 101}, "TargetCpuUtilizationPerCore"),
    ({"recommendation": {"Metrics": {}, "EndpointConfiguration": {}}}, "MaxInvocations"),
])
def test_bad_input_is_named(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"job_name": "job", "recommendation": rec()} | kwargs
    with pytest.raises(ValidationError, match=match) as info:
        recommend_scaling(**args)
    assert isinstance(info.value, ValueError)


def test_output_matches_the_service_model() -> None:
    """Every member we return exists in botocore's output shape, with the right type."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("GetScalingConfigurationRecommendation").output_shape
    out = recommend_scaling("job", rec(), 60, {"MinInvocationsPerMinute": 1, "MaxInvocationsPerMinute": 9000})

    def check(value: Any, shape: Any, where: str) -> None:
        kinds = {"structure": dict, "list": list, "string": str, "integer": int, "double": float}
        assert isinstance(value, kinds[shape.type_name]), where
        if shape.type_name == "structure":
            for k, v in value.items():
                assert k in shape.members, f"{where}.{k} is not in the model"
                check(v, shape.members[k], f"{where}.{k}")
        elif shape.type_name == "list":
            for i, v in enumerate(value):
                check(v, shape.member, f"{where}[{i}]")

    check(out, shape, "GetScalingConfigurationRecommendationResponse")
