"""Serverless endpoints as SageMaker defines them: configuration rules, the CPU a memory size
buys, and the price of an invocation. Pure: no I/O.

Configuration (``ProductionVariantServerlessConfig``)
    ``MemorySizeInMB`` is one of 1024, 2048, 3072, 4096, 5120, 6144 ("valid values are in 1 GB
    increments", SageMaker API reference); botocore's model only says 1024..6144, so the step is
    checked here. ``MaxConcurrency`` is 1..200. ``ProvisionedConcurrency`` exists in the shape
    but "is not supported for serverless endpoint recommendations for Inference Recommender
    jobs" (same reference), so a job that gives it is refused, as SageMaker refuses it.

CPU tied to memory
    SageMaker documents only that a serverless endpoint's compute grows with the memory chosen; it
    publishes no vCPU figure. Serverless Inference runs on AWS Lambda ("integrates with AWS
    Lambda", SageMaker developer guide), and Lambda documents that a function "has the equivalent
    of one vCPU at 1,769 MB" and that CPU is allocated in proportion to memory, up to 6 vCPUs at
    10,240 MB (Lambda developer guide, "Configure Lambda function memory"). infrec uses that
    published ratio: ``vCPU = MemorySizeInMB / 1769``, i.e. 0.58 vCPU at 1024 MB and 3.47 at
    6144 MB. It is an analogue, not a SageMaker figure; ``MB_PER_VCPU`` is the one place to change
    it.

Price
    SageMaker bills a serverless endpoint for the duration of each invocation × the memory
    configured: $0.00002 per GB-second in us-east-1 (1024 MB $0.00002/s … 6144 MB $0.00012/s;
    aws-samples/sagemaker-serverless-inference-benchmarking ``cost_constants.py``, 2022-08-16,
    MIT-0, and a 2026 AWS Price List read of ``USE1-ServerlessInf:Mem-3GB`` = $0.00006/s agree;
    docs/pricing.md). Data processed ($0.016/GB) is not counted:
    it depends on payload sizes, not on the configuration being compared.

    * ``CostPerInference`` = GB × mean seconds per invocation × price per GB-second, where GB is
      MemorySizeInMB / 1024 and the invocation's duration is its measured latency (what the
      endpoint was busy with it; AWS rounds up to the millisecond, as ``billed_seconds`` does).
    * ``CostPerHour`` (a real-time figure that has no serverless meaning) is reported as the
      cost of one hour of traffic at MaxInvocations: CostPerInference × MaxInvocations × 60. An
      idle serverless endpoint costs nothing, so this is an upper bound at the measured load.

Concurrency
    A serverless endpoint serves at most MaxConcurrency requests at once; SageMaker answers the
    excess at once with ``ThrottlingException`` (HTTP 429). infrec never offers more: a closed
    loop's users are capped at MaxConcurrency (``capped``), so the load generator never has more
    requests in flight. Where a job's TrafficPattern asks for more users than that, the excess
    users are the ones SageMaker would throttle; the windows in which that happens are counted
    as throttled (``throttled``) and are not evidence of what the configuration sustains, as a
    window with ≥ 1 % errors is not. A Default job measures the configuration at MaxConcurrency
    users (all it may serve at once; a serverless endpoint does not queue beyond it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infrec.core.catalog import InstanceType
from infrec.core.errors import ValidationError
from infrec.core.traffic import Phases, Stairs

MEMORY_SIZES_MB = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_CONCURRENCY_RANGE = (1, 200)
# Lambda's published ratio (see the module doc): the memory that buys one vCPU.
MB_PER_VCPU = 1769.0
CPU_RATIO_SOURCE = ("AWS Lambda developer guide, 'Configure Lambda function memory': one vCPU at 1,769 MB, "
                    "CPU in proportion to memory (SageMaker Serverless Inference runs on Lambda and "
                    "publishes no figure of its own)")
# USD per GB-second of configured memory, us-east-1 (see the module doc for the sources): the
# default of the pure functions here. Jobs price with the catalog's figure for their region
# (core.catalog.Catalog.serverless_price), which has the same source.
PRICE_PER_GB_SECOND = 0.00002
PRICE_SOURCE = ("aws-samples/sagemaker-serverless-inference-benchmarking cost_constants.py (2022-08-16); "
                "AWS Price List USE1-ServerlessInf:Mem-3GB = $0.00006/s (2026)")
PRICE_DATE = "2022-08-16"
# A Default job asked for serverless (SupportedEndpointType "Serverless") without
# EndpointConfigurations tries every memory size at the SageMaker Python SDK's default
# MaxConcurrency (ServerlessInferenceConfig(max_concurrency=5)).
DEFAULT_MAX_CONCURRENCY = 5


class ServerlessConfigError(ValidationError, ValueError):
    """A ServerlessConfig SageMaker would refuse; the message names the field."""


@dataclass(frozen=True)
class ServerlessConfig:
    """One serverless endpoint configuration (the members SageMaker's recommendations carry)."""

    memory_size_mb: int
    max_concurrency: int

    @property
    def memory_gb(self) -> float:
        return self.memory_size_mb / 1024.0

    @property
    def vcpus(self) -> float:
        return vcpus_for(self.memory_size_mb)

    @property
    def label(self) -> str:
        """A name for logs and failure reasons, where a real-time step names its instance type."""
        return f"serverless {self.memory_size_mb} MB × {self.max_concurrency}"

    def to_sagemaker(self) -> dict[str, int]:
        return {"MemorySizeInMB": self.memory_size_mb, "MaxConcurrency": self.max_concurrency}


def parse(config: Any, where: str = "ServerlessConfig") -> ServerlessConfig:
    """A SageMaker ServerlessConfig → ServerlessConfig, or ServerlessConfigError naming the field."""
    if not isinstance(config, Mapping):
        raise ServerlessConfigError(f"{where} must be an object with MemorySizeInMB and MaxConcurrency")
    memory = config.get("MemorySizeInMB")
    if isinstance(memory, bool) or not isinstance(memory, int):
        raise ServerlessConfigError(f"{where}.MemorySizeInMB is required (an integer, one of "
                                    f"{', '.join(map(str, MEMORY_SIZES_MB))})")
    if memory not in MEMORY_SIZES_MB:
        raise ServerlessConfigError(f"{where}.MemorySizeInMB must be one of {', '.join(map(str, MEMORY_SIZES_MB))} "
                                    f"(1 GB increments from 1024 to 6144), not {memory}")
    conc = config.get("MaxConcurrency")
    lo, hi = MAX_CONCURRENCY_RANGE
    if isinstance(conc, bool) or not isinstance(conc, int):
        raise ServerlessConfigError(f"{where}.MaxConcurrency is required (an integer from {lo} to {hi})")
    if not lo <= conc <= hi:
        raise ServerlessConfigError(f"{where}.MaxConcurrency must be from {lo} to {hi}, not {conc}")
    if config.get("ProvisionedConcurrency") is not None:
        raise ServerlessConfigError(f"{where}.ProvisionedConcurrency is not supported for serverless endpoint "
                                    "recommendations for Inference Recommender jobs")
    unknown = sorted(set(config) - {"MemorySizeInMB", "MaxConcurrency", "ProvisionedConcurrency"})
    if unknown:
        raise ServerlessConfigError(f"{where} has unknown members: {', '.join(unknown)}")
    return ServerlessConfig(memory, conc)


def vcpus_for(memory_size_mb: int) -> float:
    """The vCPUs a serverless endpoint of this memory gets: MemorySizeInMB / MB_PER_VCPU."""
    if memory_size_mb <= 0:
        raise ServerlessConfigError(f"MemorySizeInMB must be positive, not {memory_size_mb}")
    return memory_size_mb / MB_PER_VCPU


def instance_type(config: ServerlessConfig) -> InstanceType:
    """The resources one serverless worker gets, as an instance type the executor can enforce:
    memory = MemorySizeInMB, vCPUs tied to it. Its hourly price is 0: serverless is not billed
    by the hour (``cost_per_inference`` prices it)."""
    return InstanceType(name=f"serverless-{config.memory_size_mb}mb", vcpus=round(config.vcpus, 4),
                        memory_gib=config.memory_size_mb / 1024.0, price_per_hour=0.0)


def billed_seconds(latency_s: float) -> float:
    """An invocation's billed duration: its latency rounded up to the millisecond."""
    if not (latency_s >= 0) or math.isinf(latency_s):
        raise ServerlessConfigError(f"invocation duration must be a non-negative number, not {latency_s!r}")
    return math.ceil(latency_s * 1000.0 - 1e-9) / 1000.0


def cost_per_inference(memory_size_mb: int, seconds_per_inference: float,
                       price_per_gb_second: float = PRICE_PER_GB_SECOND) -> float:
    """GB × billed seconds per invocation × USD per GB-second."""
    if not (price_per_gb_second >= 0) or math.isinf(price_per_gb_second):
        raise ServerlessConfigError(f"price per GB-second must be a non-negative number, not {price_per_gb_second!r}")
    return memory_size_mb / 1024.0 * billed_seconds(seconds_per_inference) * price_per_gb_second


def cost_per_hour(cost_inference: float, max_invocations_per_minute: float) -> float:
    """The cost of one hour of traffic at MaxInvocations (see the module doc)."""
    return cost_inference * max(max_invocations_per_minute, 0.0) * 60.0


def endpoint_label(endpoint_configuration: Mapping[str, Any]) -> str:
    """What an EndpointConfiguration (step or recommendation) benchmarks, for people: its instance
    type, its serverless configuration, or the endpoint's name (an existing endpoint)."""
    if endpoint_configuration.get("InstanceType"):
        return str(endpoint_configuration["InstanceType"])
    sc = endpoint_configuration.get("ServerlessConfig")
    if isinstance(sc, Mapping):
        return f"serverless {sc.get('MemorySizeInMB')} MB × {sc.get('MaxConcurrency')}"
    return str(endpoint_configuration.get("EndpointName") or "?")


def default_configs(max_concurrency: int = DEFAULT_MAX_CONCURRENCY) -> list[ServerlessConfig]:
    """The candidates of a Default job that asks for serverless without EndpointConfigurations."""
    return [ServerlessConfig(m, max_concurrency) for m in MEMORY_SIZES_MB]


@dataclass(frozen=True)
class CappedPhases(Phases):
    """PHASES with never more than ``cap`` users at once."""

    cap: int = 1

    def users_at(self, t: float) -> int:
        return min(super().users_at(t), self.cap)

    def max_users(self) -> int:
        return min(super().max_users(), self.cap)


@dataclass(frozen=True)
class CappedStairs(Stairs):
    """STAIRS with never more than ``cap`` users at once."""

    cap: int = 1

    def users_at(self, t: float) -> int:
        return min(super().users_at(t), self.cap)

    def max_users(self) -> int:
        return min(super().max_users(), self.cap)


def capped(shape: Phases | Stairs, cap: int) -> Phases | Stairs:
    """The closed-loop shape with at most ``cap`` users in flight (MaxConcurrency)."""
    if cap < 1:
        raise ServerlessConfigError(f"MaxConcurrency must be at least 1, not {cap}")
    if isinstance(shape, Stairs):
        return CappedStairs(duration_s=shape.duration_s, steps=shape.steps, users_per_step=shape.users_per_step,
                            think_time_s=shape.think_time_s, cap=cap)
    return CappedPhases(phases=shape.phases, think_time_s=shape.think_time_s, cap=cap)


def throttled(requested_users: int, max_concurrency: int) -> int:
    """Users SageMaker would throttle when ``requested_users`` call at once (0 when within)."""
    return max(requested_users - max_concurrency, 0)
