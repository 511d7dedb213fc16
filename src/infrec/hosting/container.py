"""What a model runs: its container (image, model data, environment), read from the registry.

A model names its container directly (PrimaryContainer / Containers) or through a model package
(`Containers[0].ModelPackageName`, what the SageMaker SDK's `ModelPackage.deploy()` creates); the
package's container then applies, with the model's environment on top, as SageMaker resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infrec.core.errors import ValidationError
from infrec.registry.model_registry import RegistryService


@dataclass(frozen=True)
class Container:
    image: str
    model_data_url: str | None
    environment: dict[str, str]


def _package_container(registry: RegistryService, package: str) -> dict[str, Any]:
    pkg = registry.get_model_package(package)
    containers = list((pkg.get("InferenceSpecification") or {}).get("Containers") or [])
    if not containers:
        raise ValidationError(f"model package {package!r} has no container to host")
    return dict(containers[0])


def model_container(registry: RegistryService, model_name: str) -> Container:
    """The one container `model_name` runs; ValidationError (SageMaker's wording) when the model is
    missing or is a multi-container pipeline, which infrec does not host."""
    model = registry.get_model(model_name)
    containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else list(model.get("Containers") or [])
    if not containers:
        raise ValidationError(f"model {model_name!r} has no container to host")
    if len(containers) > 1:
        raise ValidationError(f"model {model_name!r} has {len(containers)} containers; infrec hosts single-container "
                              "models only (register the serving container alone)")
    c = dict(containers[0])
    if c.get("ModelPackageName"):
        pkg = _package_container(registry, str(c["ModelPackageName"]))
        env = {**(pkg.get("Environment") or {}), **(c.get("Environment") or {})}
        c = {**pkg, "Environment": env}
    if not c.get("Image"):
        raise ValidationError(f"model {model_name!r}: its container has no Image")
    return Container(image=str(c["Image"]), model_data_url=c.get("ModelDataUrl"),
                     environment={str(k): str(v) for k, v in (c.get("Environment") or {}).items()})
