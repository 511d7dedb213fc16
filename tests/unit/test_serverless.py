"""Serverless rules (core.serverless) and their planning (core.plan): pure, no processes."""

from __future__ import annotations

import pytest

from infrec.core import serverless as sl
from infrec.core.plan import PlanError, plan_job
from infrec.core.traffic import Phase, Phases, Stairs


def test_memory_sizes_and_concurrency_are_checked_naming_the_field() -> None:
    assert sl.parse({"MemorySizeInMB": 2048, "MaxConcurrency": 5}) == sl.ServerlessConfig(2048, 5)
    for bad, field in (({"MemorySizeInMB": 1500, "MaxConcurrency": 1}, "MemorySizeInMB must be one of"),
                       ({"MemorySizeInMB": 8192, "MaxConcurrency": 1}, "MemorySizeInMB must be one of"),
                       ({"MaxConcurrency": 1}, "MemorySizeInMB is required"),
                       ({"MemorySizeInMB": 1024, "MaxConcurrency": 0}, "MaxConcurrency must be from 1 to 200"),
                       ({"MemorySizeInMB": 1024, "MaxConcurrency": 201}, "MaxConcurrency must be from 1 to 200"),
                       ({"MemorySizeInMB": 1024, "MaxConcurrency": True}, "MaxConcurrency is required"),
                       ({"MemorySizeInMB": 1024, "MaxConcurrency": 2, "ProvisionedConcurrency": 1},
                        "ProvisionedConcurrency is not supported")):
        with pytest.raises(sl.ServerlessConfigError, match=field):
            sl.parse(bad, "EndpointConfigurations[0].ServerlessConfig")


def test_cpu_grows_with_memory_at_lambdas_ratio() -> None:
    assert sl.vcpus_for(1769) == pytest.approx(1.0)
    assert sl.vcpus_for(1024) == pytest.approx(0.5789, abs=1e-4)
    assert sl.vcpus_for(6144) == pytest.approx(3.473, abs=1e-3)
    cpus = [sl.instance_type(sl.ServerlessConfig(m, 1)).vcpus for m in sl.MEMORY_SIZES_MB]
    assert cpus == sorted(cpus) and len(set(cpus)) == len(cpus)
    itype = sl.instance_type(sl.ServerlessConfig(3072, 4))
    assert itype.memory_bytes == 3072 * 1024**2 and itype.price_per_hour == 0.0


def test_price_is_gb_seconds_of_billed_duration() -> None:
    assert sl.billed_seconds(0.0123) == pytest.approx(0.013)     # rounded up to the millisecond
    assert sl.billed_seconds(0.013) == pytest.approx(0.013)
    # 2 GB × 13 ms × $0.00002 per GB-second
    assert sl.cost_per_inference(2048, 0.0123) == pytest.approx(2 * 0.013 * 0.00002)
    assert sl.cost_per_inference(6144, 1.0) == pytest.approx(0.00012)  # the README's 6144 MB = $0.00012/s
    assert sl.cost_per_hour(1e-6, 600) == pytest.approx(1e-6 * 600 * 60)
    with pytest.raises(sl.ServerlessConfigError):
        sl.cost_per_inference(1024, -1.0)


def test_capped_shapes_never_exceed_max_concurrency() -> None:
    phases = Phases(phases=(Phase(initial_users=1, spawn_rate=1.0, duration_s=10.0),))
    capped = sl.capped(phases, 3)
    assert isinstance(capped, Phases)
    assert [capped.users_at(t) for t in range(10)] == [min(1 + t, 3) for t in range(10)]
    assert capped.max_users() == 3 and capped.duration_s == phases.duration_s
    stairs = sl.capped(Stairs(duration_s=8.0, steps=4, users_per_step=2), 5)
    assert isinstance(stairs, Stairs) and [stairs.users_at(t) for t in (0, 2, 4, 6)] == [2, 4, 5, 5]
    assert sl.throttled(7, 5) == 2 and sl.throttled(3, 5) == 0


def test_plans_serverless_configurations() -> None:
    cfg = {"EndpointConfigurations": [
        {"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2}},
        {"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2}},       # a duplicate, kept once
        {"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 4}},
        {"InstanceType": "ml.c5.large"}]}
    plans = plan_job("Advanced", cfg, None, ["ml.m5.large"])
    assert [p.serverless_config for p in plans] == [{"MemorySizeInMB": 1024, "MaxConcurrency": 2},
                                                    {"MemorySizeInMB": 1024, "MaxConcurrency": 4}, None]
    assert [p.index for p in plans] == [0, 1, 2]
    default = plan_job("Default", {"ContainerConfig": {"SupportedEndpointType": "Serverless"}}, None, ["ml.m5.large"])
    assert [p.serverless_config["MemorySizeInMB"] for p in default if p.serverless_config] == list(sl.MEMORY_SIZES_MB)
    real = plan_job("Default", {"ContainerConfig": {"SupportedEndpointType": "RealTime"}}, None, ["ml.m5.large"])
    assert [(p.instance_type, p.serverless_config) for p in real] == [("ml.m5.large", None)]
    with pytest.raises(PlanError, match="ProvisionedConcurrency"):
        plan_job("Advanced", {"EndpointConfigurations": [{"ServerlessConfig": {
            "MemorySizeInMB": 1024, "MaxConcurrency": 2, "ProvisionedConcurrency": 1}}]}, None, [])


def test_endpoint_label_names_what_a_step_benchmarks() -> None:
    assert sl.endpoint_label({"InstanceType": "ml.c5.large", "EndpointName": "j-1"}) == "ml.c5.large"
    assert sl.endpoint_label({"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}) == \
        "serverless 2048 MB × 5"
    assert sl.endpoint_label({"EndpointName": "already-running", "VariantName": "AllTraffic"}) == "already-running"


def test_report_renders_serverless_and_existing_endpoint_steps() -> None:
    from infrec.report.html import job_report

    sc = {"MemorySizeInMB": 1024, "MaxConcurrency": 2}
    metrics = {"MaxInvocations": 600, "ModelLatency": 5, "CostPerInference": 1e-7, "CostPerHour": 0.0036}
    rec = {"RecommendationId": "j/1", "Metrics": metrics, "ModelConfiguration": {},
           "EndpointConfiguration": {"EndpointName": "j-1", "VariantName": "AllTraffic", "ServerlessConfig": sc}}
    steps = [dict({"EndpointConfiguration": rec["EndpointConfiguration"]},
                  Metrics=metrics, ModelConfiguration={}, StepIndex=0, Status="COMPLETED"),
             {"EndpointConfiguration": {"EndpointName": "mine", "VariantName": "AllTraffic"},
              "ExistingEndpoint": {"EndpointName": "mine"}, "ModelConfiguration": {}, "StepIndex": 1,
              "Status": "COMPLETED", "Metrics": {"MaxInvocations": 900, "ModelLatency": 3}}]
    page = job_report({"Job": {"JobName": "j", "JobType": "Advanced", "Status": "COMPLETED",
                               "InferenceRecommendations": [rec]},
                       "Result": {}, "Steps": steps})
    assert "serverless 1024 MB × 2" in page and "mine" in page
