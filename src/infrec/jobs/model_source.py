"""Resolving what a job benchmarks: the container (image, model data, environment), the sample
payload and content types, from a registered model package version or a model, with SageMaker's
precedence (the job's ContainerConfig overrides what the package declares)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infrec.core.errors import ValidationError
from infrec.registry.model_registry import RegistryService


@dataclass
class ModelSource:
    image: str
    model_data_url: str | None
    environment: dict[str, str]
    payload_url: str
    content_types: list[str]
    package_instance_types: list[str] = field(default_factory=list)
    model_name: str | None = None
    model_package_arn: str | None = None
    framework: str | None = None


def _containers_of_package(pkg: dict[str, Any], spec_name: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    spec = pkg.get("InferenceSpecification") or {}
    if spec_name:
        for extra in pkg.get("AdditionalInferenceSpecifications") or []:
            if extra.get("Name") == spec_name:
                return list(extra.get("Containers") or []), extra
    return list(spec.get("Containers") or []), spec


def resolve(registry: RegistryService, input_config: dict[str, Any], spec_name: str | None = None) -> ModelSource:
    package_arn = input_config.get("ModelPackageVersionArn")
    model_name = input_config.get("ModelName")
    if bool(package_arn) == bool(model_name):
        raise ValidationError("InputConfig: specify exactly one of ModelPackageVersionArn or ModelName")
    container_cfg = input_config.get("ContainerConfig") or {}
    payload_cfg = container_cfg.get("PayloadConfig") or {}
    package: dict[str, Any] | None = None
    if package_arn:
        try:
            package = registry.get_model_package(package_arn)
        except ValidationError as exc:
            raise ValidationError(f"InputConfig.ModelPackageVersionArn: {exc.message}") from exc
        if package.get("ModelPackageVersion") is None:
            raise ValidationError("InputConfig.ModelPackageVersionArn must name a versioned model package "
                                  "(<group>/<version>), not an unversioned one")
        containers, spec = _containers_of_package(package, spec_name)
        role_env: dict[str, str] = {}
    else:
        model = registry.get_model(str(model_name))
        containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else list(model.get("Containers") or [])
        spec = {}
        role_env = {}
        if containers and containers[0].get("ModelPackageName"):
            package = registry.get_model_package(containers[0]["ModelPackageName"])
            pkg_containers, spec = _containers_of_package(package, spec_name)
            if not pkg_containers:
                raise ValidationError(f"model {model_name!r} names model package "
                                      f"{containers[0]['ModelPackageName']!r}, which has no container")
            env = dict(containers[0].get("Environment") or {})
            containers = [dict(pkg_containers[0], Environment={**(pkg_containers[0].get("Environment") or {}), **env})]
    if not containers:
        raise ValidationError("the model has no container to benchmark")
    if len(containers) > 1:
        raise ValidationError("multi-container models (inference pipelines) are not supported yet; "
                              "register the serving container alone")
    c = containers[0]
    if not c.get("Image"):
        raise ValidationError("the model's container has no Image")
    payload_url = payload_cfg.get("SamplePayloadUrl") or (package or {}).get("SamplePayloadUrl")
    if not payload_url:
        raise ValidationError("no sample payload: set InputConfig.ContainerConfig.PayloadConfig.SamplePayloadUrl "
                              "or register the model package with SamplePayloadUrl")
    content_types = list(payload_cfg.get("SupportedContentTypes") or spec.get("SupportedContentTypes") or [])
    if not content_types:
        content_types = ["application/json"]
    instance_types = list(spec.get("SupportedRealtimeInferenceInstanceTypes") or [])
    return ModelSource(
        image=str(c["Image"]),
        model_data_url=c.get("ModelDataUrl"),
        environment={**role_env, **{str(k): str(v) for k, v in (c.get("Environment") or {}).items()}},
        payload_url=str(payload_url),
        content_types=content_types,
        package_instance_types=instance_types,
        model_name=model_name,
        model_package_arn=package_arn,
        framework=container_cfg.get("Framework") or c.get("Framework"),
    )
