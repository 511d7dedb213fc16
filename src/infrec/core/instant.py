"""Instant recommendations: DescribeModel's ``DeploymentRecommendation``, drawn with no load test from
the benchmarks infrec has already run (completed recommendation jobs in the store).

SageMaker answers DescribeModel with configurations it benchmarked beforehand for similar models;
infrec's "beforehand" is its own job history. How a job counts as evidence for a model
(docs/instant-recommendations.md says the same for users):

1. **Same serving stack.** The job's container image has the model's image repository (the part
   before the tag or digest); a job whose framework is known and differs from the model's known
   framework is not evidence (names normalised: ``SAGEMAKER-SCIKIT-LEARN`` = ``SKLEARN``).
2. **Similar size.** When both model artifacts' sizes are known they must be within
   ``MAX_SIZE_RATIO`` of each other; closer is better (distance = |log(size ratio)|).
3. **Ranking** of the jobs left: the very same model first (same model name, model package or
   model data), then the exact same image (tag included), then the nearest size (unknown sizes last),
   then the most recent job.

The best completed job with recommendations supplies the answer: its ranked recommendations, in its
order, one per distinct (instance type, environment), at most ``MAX_RECOMMENDATIONS``; instant
recommendations carry no instance count (SageMaker's shape has none). Status: ``COMPLETED`` with
them; else ``IN_PROGRESS`` while a similar job is still running (ask again later, as SageMaker's
documentation says); else ``NOT_APPLICABLE``. infrec never reports ``FAILED``: nothing is run for
DescribeModel, so nothing can fail.

Each RecommendationId is ``<model name>/<8 characters>``, the form the SageMaker SDK's
``deploy(inference_recommendation_id=...)`` accepts for a model's recommendations, and stable for a
given model and source recommendation. Each recommendation also says, in ``BasedOn`` (infrec's own
member; SDK parsers ignore unknown members), which job and recommendation it comes from and why
that job matched.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_SIZE_RATIO = 10.0
MAX_RECOMMENDATIONS = 5
ACTIVE = frozenset({"PENDING", "IN_PROGRESS", "STOPPING"})


@dataclass(frozen=True)
class ModelProfile:
    """What similarity is judged on. `identity`: names, ARNs and URLs that denote this very model
    (its model name, model package ARN, model data URL)."""

    image: str
    framework: str | None = None
    model_bytes: int | None = None
    identity: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Evidence:
    """One recommendation job as evidence: its model's profile, status and ranked recommendations."""

    job_name: str
    status: str
    finished_at: float
    profile: ModelProfile
    recommendations: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Match:
    evidence: Evidence
    same_model: bool
    same_image: bool
    size_distance: float  # |log(size ratio)|; inf when a size is unknown

    def key(self) -> tuple[bool, bool, float, float, str]:
        return (not self.same_model, not self.same_image, self.size_distance, -self.evidence.finished_at,
                self.evidence.job_name)

    def reason(self) -> str:
        if self.same_model:
            return "the same model"
        parts = ["the same image" if self.same_image else "the same image repository"]
        if math.isfinite(self.size_distance):
            parts.append(f"model size within {math.exp(self.size_distance):.2g}×")
        else:
            parts.append("model size unknown")
        return ", ".join(parts)


def repository(image: str) -> str:
    """The image without its tag or digest: `host:5000/team/model:1.2@sha256:…` → `host:5000/team/model`."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def normalise_framework(framework: str | None) -> str | None:
    if not framework:
        return None
    f = framework.strip().lower().replace("_", "-")
    f = f.removeprefix("sagemaker-")
    return {"scikit-learn": "sklearn", "pytorch": "pytorch", "torch": "pytorch", "tensorflow": "tensorflow",
            "tf": "tensorflow"}.get(f, f)


def match(target: ModelProfile, ev: Evidence) -> Match | None:
    """How `ev` bears on `target`, or None when it is not evidence for it (see the module doc)."""
    same_model = bool(target.identity & ev.profile.identity)
    if repository(ev.profile.image) != repository(target.image):
        return None
    fa, fb = normalise_framework(target.framework), normalise_framework(ev.profile.framework)
    if fa and fb and fa != fb:
        return None
    a, b = target.model_bytes, ev.profile.model_bytes
    distance = math.inf
    if a is not None and b is not None:
        distance = abs(math.log(max(a, 1) / max(b, 1)))
        if distance > math.log(MAX_SIZE_RATIO) and not same_model:
            return None
    if same_model:
        distance = 0.0
    return Match(ev, same_model, ev.profile.image == target.image, distance)


def recommendation_id(model_name: str, job_name: str, source_id: str) -> str:
    digest = hashlib.sha256(f"{model_name}\0{job_name}\0{source_id}".encode()).hexdigest()[:8]
    return f"{model_name}/{digest}"


def _environment(rec: Mapping[str, Any]) -> dict[str, str]:
    params = (rec.get("ModelConfiguration") or {}).get("EnvironmentParameters") or []
    return {str(p["Key"]): str(p["Value"]) for p in params if "Key" in p and "Value" in p}


def deployment_recommendation(model_name: str, target: ModelProfile, evidence: Iterable[Evidence],
                              limit: int = MAX_RECOMMENDATIONS) -> dict[str, Any]:
    """DescribeModel's DeploymentRecommendation for `model_name` from `evidence` (module doc)."""
    matches = sorted((m for ev in evidence if (m := match(target, ev)) is not None), key=Match.key)
    for m in matches:
        if m.evidence.status != "COMPLETED" or not m.evidence.recommendations:
            continue
        out: list[dict[str, Any]] = []
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for rec in m.evidence.recommendations:
            itype = (rec.get("EndpointConfiguration") or {}).get("InstanceType")
            if not itype:
                continue  # a serverless recommendation has no instance type to offer here
            env = _environment(rec)
            key = (str(itype), tuple(sorted(env.items())))
            if key in seen:
                continue
            seen.add(key)
            source_id = str(rec.get("RecommendationId") or f"{itype}-{len(out)}")
            out.append({"RecommendationId": recommendation_id(model_name, m.evidence.job_name, source_id),
                        "InstanceType": itype, "Environment": env,
                        "BasedOn": {"JobName": m.evidence.job_name, "RecommendationId": source_id,
                                    "Match": m.reason()}})
            if len(out) >= limit:
                break
        if out:
            return {"RecommendationStatus": "COMPLETED", "RealTimeInferenceRecommendations": out}
    status = "IN_PROGRESS" if any(m.evidence.status in ACTIVE for m in matches) else "NOT_APPLICABLE"
    # The list is there even when empty: the SageMaker SDK indexes it without a default.
    return {"RecommendationStatus": status, "RealTimeInferenceRecommendations": []}
