"""Instant recommendations (core.instant): which past jobs count as evidence for a model, and which wins."""

from __future__ import annotations

from typing import Any

from infrec.core.instant import (
    Evidence,
    ModelProfile,
    deployment_recommendation,
    normalise_framework,
    repository,
)

MB = 1024 * 1024


def _rec(itype: str, rid: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return {"RecommendationId": rid, "EndpointConfiguration": {"InstanceType": itype, "InitialInstanceCount": 1},
            "ModelConfiguration": {"EnvironmentParameters": [{"Key": k, "ValueType": "String", "Value": v}
                                                             for k, v in (env or {}).items()]}}


def _job(name: str, image: str, size: int | None, *recs: dict[str, Any], status: str = "COMPLETED",
         framework: str | None = None, finished: float = 100.0, identity: frozenset[str] = frozenset()) -> Evidence:
    return Evidence(name, status, finished, ModelProfile(image, framework, size, identity), tuple(recs))


def _types(out: dict[str, Any]) -> list[str]:
    return [r["InstanceType"] for r in out["RealTimeInferenceRecommendations"]]


def test_nearest_size_on_the_same_image_wins() -> None:
    target = ModelProfile("reg/team/xgb:2", "XGBOOST", 10 * MB)
    jobs = [_job("small", "reg/team/xgb:2", 1 * MB, _rec("ml.c5.large", "small/aaaaaaaa")),
            _job("close", "reg/team/xgb:1", 12 * MB, _rec("ml.m5.xlarge", "close/bbbbbbbb")),
            _job("far", "reg/team/xgb:2", 500 * MB, _rec("ml.c5.4xlarge", "far/cccccccc"))]
    out = deployment_recommendation("m", target, jobs)
    # "far" is beyond 10×; "small" (exact image) outranks "close" (same repository, other tag).
    assert out["RecommendationStatus"] == "COMPLETED" and _types(out) == ["ml.c5.large"]
    basis = out["RealTimeInferenceRecommendations"][0]["BasedOn"]
    assert basis["JobName"] == "small" and "within" in basis["Match"]
    out2 = deployment_recommendation("m", ModelProfile("reg/team/xgb:3", "XGBOOST", 10 * MB), jobs)
    assert _types(out2) == ["ml.m5.xlarge"]  # no exact image: the nearest size


def test_the_same_model_first_and_recency_breaks_ties() -> None:
    target = ModelProfile("img", None, None, frozenset({"arn:pkg/1"}))
    jobs = [_job("newer", "img", None, _rec("ml.c5.xlarge", "n/11111111"), finished=200),
            _job("older", "img", None, _rec("ml.c5.large", "o/22222222"), finished=100),
            _job("mine", "img", None, _rec("ml.m5.large", "x/33333333"), finished=50,
                 identity=frozenset({"arn:pkg/1"}))]
    assert _types(deployment_recommendation("m", target, jobs)) == ["ml.m5.large"]
    assert _types(deployment_recommendation("m", ModelProfile("img"), jobs[:2])) == ["ml.c5.xlarge"]


def test_framework_mismatch_and_other_images_are_not_evidence() -> None:
    jobs = [_job("torch", "img", None, _rec("ml.g5.xlarge", "t/11111111"), framework="PYTORCH"),
            _job("other", "other-img", None, _rec("ml.c5.large", "o/22222222"))]
    out = deployment_recommendation("m", ModelProfile("img", "SAGEMAKER-SCIKIT-LEARN"), jobs)
    assert out == {"RecommendationStatus": "NOT_APPLICABLE", "RealTimeInferenceRecommendations": []}
    assert normalise_framework("SAGEMAKER-SCIKIT-LEARN") == normalise_framework("sklearn") == "sklearn"


def test_in_progress_when_only_a_running_job_matches() -> None:
    jobs = [_job("running", "img", None, status="IN_PROGRESS"), _job("failed", "img", None, status="FAILED")]
    out = deployment_recommendation("m", ModelProfile("img"), jobs)
    assert out == {"RecommendationStatus": "IN_PROGRESS", "RealTimeInferenceRecommendations": []}
    assert deployment_recommendation("m", ModelProfile("img"), jobs[1:])["RecommendationStatus"] == "NOT_APPLICABLE"


def test_distinct_configurations_stable_ids_in_the_sdk_form() -> None:
    job = _job("j", "img", None, _rec("ml.c5.large", "j/1", {"OMP_NUM_THREADS": "1"}),
               _rec("ml.c5.large", "j/2", {"OMP_NUM_THREADS": "1"}), _rec("ml.c5.large", "j/3"),
               {"RecommendationId": "j/4", "EndpointConfiguration": {"ServerlessConfig": {"MemorySizeInMB": 2048}}})
    out = deployment_recommendation("my-model", ModelProfile("img"), [job])
    recs = out["RealTimeInferenceRecommendations"]
    assert [(r["InstanceType"], r["Environment"]) for r in recs] == [
        ("ml.c5.large", {"OMP_NUM_THREADS": "1"}), ("ml.c5.large", {})]
    import re

    # The SDK's deploy(inference_recommendation_id=...) accepts exactly "<name>/<8 word characters>".
    assert all(re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}/\w{8}", r["RecommendationId"]) for r in recs)
    assert recs == deployment_recommendation("my-model", ModelProfile("img"), [job])["RealTimeInferenceRecommendations"]


def test_repository() -> None:
    assert repository("host:5000/team/model:1.2@sha256:abc") == "host:5000/team/model"
    assert repository("host:5000/team/model") == "host:5000/team/model"
    assert repository("infrec/sklearn:latest") == "infrec/sklearn"
