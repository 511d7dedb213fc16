"""Planning: a recommendation job's input → the benchmarks to run, and how to run them in waves.

A *plan* is one benchmark: one instance type × instance count × one point of the environment
parameter grid. Planning is pure so that the orchestrator can persist the whole plan before any
endpoint starts (a crash never leaves a job whose plan is unknown) and so it can be tested alone.

Default job
    Candidates come from, in order of precedence: ``InputConfig.EndpointConfigurations`` when the
    caller gave some (we honour an explicit list for either job type), else
    ``ContainerConfig.SupportedInstanceTypes``, else the model package's
    ``SupportedRealtimeInferenceInstanceTypes``, else the default set. No environment grid: a
    Default job answers "which instance type?", like SageMaker's. At most ``max_tests_default``
    plans unless ``ResourceLimit.MaxNumberOfTests`` says otherwise.

Advanced job
    ``EndpointConfigurations`` (1..10), each expanded to the cartesian product of its
    ``EnvironmentParameterRanges.CategoricalParameterRanges`` values (names in the given order, the
    last name varying fastest). ``ResourceLimit.MaxNumberOfTests`` caps the number of plans; when
    it cuts, plans are taken round-robin across endpoint configurations so that a cap never drops
    a whole instance type while another keeps all its variants. An uncapped expansion larger than
    ``max_tests_ceiling`` is refused (a typo in a grid should not start 2,000 endpoints).

Serverless
    An entry with ``ServerlessConfig`` (and no InstanceType) is a serverless plan, checked by
    ``core.serverless.parse``. A Default job whose ``ContainerConfig.SupportedEndpointType`` is
    "Serverless" and that gives no EndpointConfigurations tries every memory size
    (``core.serverless.default_configs``). SageMaker returns real-time and serverless benchmarks
    together when SupportedEndpointType is not set; infrec then benchmarks real-time types only,
    as before (a serverless sweep is six more endpoints), and says so in docs/serverless.md.

Identical plans (same instance type or serverless configuration, count, specification and
environment) are kept once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infrec.core import serverless
from infrec.core.errors import ValidationError

JOB_TYPES = ("Default", "Advanced")
MAX_ENDPOINT_CONFIGURATIONS = 10
MAX_CATEGORICAL_PARAMETERS = 5
MAX_CATEGORICAL_VALUES = 3


class PlanError(ValidationError, ValueError):
    """Bad job input. A ValueError for plain callers, a ValidationError (HTTP 400) for the API."""


@dataclass(frozen=True)
class BenchmarkPlan:
    """One benchmark to run: what to deploy and with which environment.

    ``index`` is the 0-based position in the job's plan (stable: it names the step and its
    endpoint). ``environment`` is one point of the categorical grid, ``{}`` when there is none.
    ``serverless_config`` is SageMaker's ServerlessConfig ({MemorySizeInMB, MaxConcurrency}) for
    a serverless plan, whose ``instance_type`` is then only a label (``serverless-2048mb``) and
    ``instance_count`` 1; None for a real-time plan.
    """

    index: int
    instance_type: str
    instance_count: int = 1
    inference_specification_name: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    serverless_config: dict[str, Any] | None = None

    def key(self) -> tuple[Any, ...]:
        """What makes two plans the same benchmark (the index does not)."""
        return (self.instance_type, self.instance_count, self.inference_specification_name,
                tuple(sorted(self.environment.items())), tuple(sorted((self.serverless_config or {}).items())))


def plan_job(job_type: str, input_config: Mapping[str, Any], package_instance_types: Sequence[str] | None,
             default_instance_types: Sequence[str], max_tests_default: int = 10,
             max_tests_ceiling: int = 100) -> list[BenchmarkPlan]:
    """Turn a job's ``InputConfig`` (SageMaker's RecommendationJobInputConfig) into benchmark plans.

    Raises PlanError (a ValueError and a ValidationError) naming the offending field when the
    input cannot be planned. Returned plans are indexed 0..n-1 in the order they should run.
    """
    if job_type not in JOB_TYPES:
        raise PlanError(f"JobType must be one of {', '.join(JOB_TYPES)}, not {job_type!r}")
    if not isinstance(input_config, Mapping):
        raise PlanError("InputConfig must be an object")
    limit = _max_tests(input_config)
    configs = input_config.get("EndpointConfigurations")
    if configs:
        groups = _expand_endpoint_configurations(configs)
    elif job_type == "Advanced":
        raise PlanError("an Advanced job needs InputConfig.EndpointConfigurations (1 to 10 entries)")
    elif _endpoint_type(input_config) == "Serverless":
        groups = [[_serverless_plan(c)] for c in serverless.default_configs()]
        if limit is None:
            limit = max_tests_default
    else:
        groups = [[_plain(t)] for t in _default_candidates(input_config, package_instance_types,
                                                            default_instance_types)]
        if limit is None:
            limit = max_tests_default
    groups = _dedupe(groups)
    total = sum(len(g) for g in groups)
    if limit is None and total > max_tests_ceiling:
        raise PlanError(f"EndpointConfigurations expand to {total} tests (more than {max_tests_ceiling}); "
                        "set ResourceLimit.MaxNumberOfTests or narrow EnvironmentParameterRanges")
    chosen = _round_robin(groups, limit if limit is not None else total)
    return [BenchmarkPlan(index=i, instance_type=p.instance_type, instance_count=p.instance_count,
                          inference_specification_name=p.inference_specification_name,
                          environment=dict(p.environment), serverless_config=p.serverless_config)
            for i, p in enumerate(chosen)]


def parallel_batches(plans: Sequence[BenchmarkPlan], max_parallel: int,
                     fits: Callable[[list[BenchmarkPlan]], bool]) -> list[list[BenchmarkPlan]]:
    """Group plans into waves that may run at the same time.

    A wave holds at most ``max_parallel`` plans (ResourceLimit.MaxParallelOfTests) and only plans
    for which ``fits(wave)`` holds (the executor's resource budget). Waves are built greedily in
    plan order: each wave starts with the first plan not yet placed and then takes every later
    plan that still fits, so earlier plans never wait behind later ones. A plan that does not fit
    even alone gets a wave of its own (the executor decides what to do with it, e.g. emulate it at
    a fraction, or fail the step with a reason) rather than being silently dropped.
    """
    if max_parallel < 1:
        raise PlanError(f"MaxParallelOfTests must be at least 1, not {max_parallel}")
    remaining = list(plans)
    waves: list[list[BenchmarkPlan]] = []
    while remaining:
        wave = [remaining[0]]
        rest: list[BenchmarkPlan] = []
        for plan in remaining[1:]:
            if len(wave) < max_parallel and fits([*wave, plan]):
                wave.append(plan)
            else:
                rest.append(plan)
        waves.append(wave)
        remaining = rest
    return waves


# ------------------------------------------------------------------------------------- helpers

def _plain(instance_type: str) -> BenchmarkPlan:
    return BenchmarkPlan(index=0, instance_type=instance_type)


def _max_tests(input_config: Mapping[str, Any]) -> int | None:
    limits = input_config.get("ResourceLimit") or {}
    if not isinstance(limits, Mapping):
        raise PlanError("InputConfig.ResourceLimit must be an object")
    value = limits.get("MaxNumberOfTests")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PlanError(f"ResourceLimit.MaxNumberOfTests must be a positive integer, not {value!r}")
    return value


def _endpoint_type(input_config: Mapping[str, Any]) -> str | None:
    container = input_config.get("ContainerConfig") or {}
    if not isinstance(container, Mapping):
        raise PlanError("InputConfig.ContainerConfig must be an object")
    value = container.get("SupportedEndpointType")
    if value not in (None, "RealTime", "Serverless"):
        raise PlanError(f"ContainerConfig.SupportedEndpointType must be RealTime or Serverless, not {value!r}")
    return value


def _serverless_plan(config: serverless.ServerlessConfig) -> BenchmarkPlan:
    return BenchmarkPlan(index=0, instance_type=serverless.instance_type(config).name,
                         serverless_config=config.to_sagemaker())


def _default_candidates(input_config: Mapping[str, Any], package_types: Sequence[str] | None,
                        default_types: Sequence[str]) -> list[str]:
    container = input_config.get("ContainerConfig") or {}
    for source, types in (("ContainerConfig.SupportedInstanceTypes", container.get("SupportedInstanceTypes")),
                          ("the model package's SupportedRealtimeInferenceInstanceTypes", package_types),
                          ("the default instance types", default_types)):
        if types:
            out = []
            for t in types:
                if not isinstance(t, str) or not t.strip():
                    raise PlanError(f"{source} holds an invalid instance type {t!r}")
                if t.strip() not in out:
                    out.append(t.strip())
            return out
    raise PlanError("no candidate instance types: give ContainerConfig.SupportedInstanceTypes or "
                    "EndpointConfigurations")


def _expand_endpoint_configurations(configs: Any) -> list[list[BenchmarkPlan]]:
    if not isinstance(configs, Sequence) or isinstance(configs, (str, bytes)):
        raise PlanError("InputConfig.EndpointConfigurations must be a list")
    if len(configs) > MAX_ENDPOINT_CONFIGURATIONS:
        raise PlanError(f"InputConfig.EndpointConfigurations has {len(configs)} entries; "
                        f"at most {MAX_ENDPOINT_CONFIGURATIONS} are allowed")
    return [_expand_one(i, c) for i, c in enumerate(configs)]


def _expand_one(i: int, config: Any) -> list[BenchmarkPlan]:
    where = f"EndpointConfigurations[{i}]"
    if not isinstance(config, Mapping):
        raise PlanError(f"{where} must be an object")
    itype = config.get("InstanceType")
    sconfig: dict[str, Any] | None = None
    if config.get("ServerlessConfig") is not None:
        if itype is not None:
            raise PlanError(f"{where}: give either InstanceType (real-time) or ServerlessConfig, not both")
        try:
            parsed = serverless.parse(config["ServerlessConfig"], f"{where}.ServerlessConfig")
        except serverless.ServerlessConfigError as exc:
            raise PlanError(exc.message) from None
        itype, sconfig = serverless.instance_type(parsed).name, parsed.to_sagemaker()
    if not isinstance(itype, str) or not itype.strip():
        raise PlanError(f"{where}.InstanceType (or ServerlessConfig) is required")
    count = config.get("InitialInstanceCount", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise PlanError(f"{where}.InitialInstanceCount must be a positive integer, not {count!r}")
    spec = config.get("InferenceSpecificationName")
    if spec is not None and (not isinstance(spec, str) or not spec):
        raise PlanError(f"{where}.InferenceSpecificationName must be a non-empty string")
    names, values = _grid(where, config.get("EnvironmentParameterRanges"))
    return [BenchmarkPlan(index=0, instance_type=itype.strip(), instance_count=count,
                          inference_specification_name=spec, environment=dict(zip(names, point, strict=True)),
                          serverless_config=dict(sconfig) if sconfig else None)
            for point in itertools.product(*values)]


def _grid(where: str, ranges: Any) -> tuple[list[str], list[list[str]]]:
    if not ranges:
        return [], []
    if not isinstance(ranges, Mapping):
        raise PlanError(f"{where}.EnvironmentParameterRanges must be an object")
    params = ranges.get("CategoricalParameterRanges") or []
    if not isinstance(params, Sequence) or isinstance(params, (str, bytes)):
        raise PlanError(f"{where}.EnvironmentParameterRanges.CategoricalParameterRanges must be a list")
    if len(params) > MAX_CATEGORICAL_PARAMETERS:
        raise PlanError(f"{where}: at most {MAX_CATEGORICAL_PARAMETERS} CategoricalParameterRanges are "
                        f"allowed, got {len(params)}")
    names: list[str] = []
    values: list[list[str]] = []
    for j, p in enumerate(params):
        pwhere = f"{where}.EnvironmentParameterRanges.CategoricalParameterRanges[{j}]"
        if not isinstance(p, Mapping):
            raise PlanError(f"{pwhere} must be an object with Name and Value")
        name = p.get("Name")
        if not isinstance(name, str) or not name:
            raise PlanError(f"{pwhere}.Name is required")
        if name in names:
            raise PlanError(f"{pwhere}: parameter {name!r} is given twice")
        vals = p.get("Value")
        if (not isinstance(vals, Sequence) or isinstance(vals, (str, bytes)) or not vals
                or not all(isinstance(v, str) for v in vals)):
            raise PlanError(f"{pwhere}.Value must be a list of 1 to {MAX_CATEGORICAL_VALUES} strings")
        if len(vals) > MAX_CATEGORICAL_VALUES:
            raise PlanError(f"{pwhere}.Value has {len(vals)} values; at most {MAX_CATEGORICAL_VALUES} "
                            "are allowed")
        names.append(name)
        values.append(list(dict.fromkeys(vals)))
    return names, values


def _dedupe(groups: list[list[BenchmarkPlan]]) -> list[list[BenchmarkPlan]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for g in groups:
        kept = []
        for p in g:
            if p.key() not in seen:
                seen.add(p.key())
                kept.append(p)
        if kept:
            out.append(kept)
    return out


def _round_robin(groups: list[list[BenchmarkPlan]], limit: int) -> list[BenchmarkPlan]:
    """Pick ``limit`` plans, one per group in turn, then return them in natural (group) order."""
    picked: set[tuple[int, int]] = set()
    depth = 0
    while len(picked) < limit and any(depth < len(g) for g in groups):
        for gi, g in enumerate(groups):
            if depth < len(g) and len(picked) < limit:
                picked.add((gi, depth))
        depth += 1
    return [groups[gi][pi] for gi, pi in sorted(picked)]
