"""The store side of instant recommendations: each recommendation job in the store as evidence
(the model it benchmarked, resolved as the job resolved it, and its ranked recommendations), and
a model's own profile. Choosing among them is pure and lives in `infrec.core.instant`."""

from __future__ import annotations

import logging
from typing import Any

from infrec.core import instant
from infrec.core.errors import InfrecError
from infrec.jobs.model_source import resolve
from infrec.jobs.repo import JobRepo, epoch
from infrec.registry.model_registry import RegistryService

log = logging.getLogger("infrec.jobs")


class InstantRecommendations:
    """`for_model(model doc)` → DescribeModel's DeploymentRecommendation."""

    def __init__(self, repo: JobRepo, registry: RegistryService) -> None:
        self.repo = repo
        self.registry = registry

    def _size(self, url: str | None, sizes: dict[str, int | None]) -> int | None:
        """The model artifact's size in bytes; None for a folder, a prefix or anything unreadable
        (size is a preference, never a reason to fail DescribeModel)."""
        if not url:
            return None
        if url not in sizes:
            try:
                sizes[url] = self.registry.files.size(url)
            except Exception:
                sizes[url] = None
        return sizes[url]

    def profile(self, model: dict[str, Any], sizes: dict[str, int | None]) -> instant.ModelProfile | None:
        """The model's image, framework, artifact size and identity; None when it has no container."""
        containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else list(model.get("Containers") or [])
        if not containers:
            return None
        c = dict(containers[0])
        identity = {model.get("ModelName", ""), model.get("ModelArn", "")}
        framework = None
        if c.get("ModelPackageName"):
            try:
                pkg = self.registry.get_model_package(c["ModelPackageName"])
            except InfrecError:
                return None
            identity.add(pkg.get("ModelPackageArn", ""))
            spec = (pkg.get("InferenceSpecification") or {}).get("Containers") or [{}]
            framework = spec[0].get("Framework")
            c = {**spec[0], **{k: v for k, v in c.items() if k in ("Environment",)}}
        if not c.get("Image"):
            return None
        url = c.get("ModelDataUrl")
        if url:
            identity.add(url)
        return instant.ModelProfile(image=str(c["Image"]), framework=framework or c.get("Framework"),
                                    model_bytes=self._size(url, sizes), identity=frozenset(i for i in identity if i))

    def evidence(self, sizes: dict[str, int | None]) -> list[instant.Evidence]:
        out = []
        for job in self.repo.all():
            try:
                source = resolve(self.registry, job.request["InputConfig"])
            except InfrecError:
                continue  # its model or package is gone: what it benchmarked can no longer be told
            except Exception:  # an old or odd request must not break DescribeModel
                log.debug("job %s: cannot resolve its model for instant recommendations", job.name, exc_info=True)
                continue
            identity = {i for i in (source.model_name, source.model_package_arn, source.model_data_url) if i}
            if source.model_name:
                try:
                    identity.add(self.registry.get_model(source.model_name).get("ModelArn", ""))
                except InfrecError:
                    pass
            profile = instant.ModelProfile(image=source.image, framework=source.framework,
                                           model_bytes=self._size(source.model_data_url, sizes),
                                           identity=frozenset(i for i in identity if i))
            recs = tuple((job.result or {}).get("InferenceRecommendations") or [])
            out.append(instant.Evidence(job.name, job.status, epoch(job.completed_at) or 0.0, profile, recs))
        return out

    def for_model(self, model: dict[str, Any]) -> dict[str, Any]:
        sizes: dict[str, int | None] = {}
        target = self.profile(model, sizes)
        if target is None:
            return {"RecommendationStatus": "NOT_APPLICABLE", "RealTimeInferenceRecommendations": []}
        return instant.deployment_recommendation(model["ModelName"], target, self.evidence(sizes))
