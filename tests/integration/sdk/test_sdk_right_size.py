"""ModelPackage.right_size() of the SageMaker Python SDK 2.257.7 with its default log level
("Verbose"): the SDK tails the job's execution log through CloudWatch Logs GetLogEvents on the same
server, polls until the job ends and returns the recommendations.

The SDK sleeps a fixed 60 s between polls of the log (`_display_inference_recommendations_job_steps_status`,
not configurable through right_size), so this test takes about a minute whatever the job's length;
the job itself (one instance type, the example model, short trials) takes well under that.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.sdk.conftest import Sdk, open_gate

JOB = "sdk-right-size"

RIGHT_SIZE = f"""
from sagemaker import ModelPackage

sm = session.sagemaker_client
sm.create_model_package_group(ModelPackageGroupName="sdk-example")
arn = sm.create_model_package(
    ModelPackageGroupName="sdk-example", ModelApprovalStatus="PendingManualApproval",
    InferenceSpecification={{
        "Containers": [{{"Image": EXAMPLE["image"], "ModelDataUrl": EXAMPLE["model_data_url"],
                        "Framework": "SKLEARN"}}],
        "SupportedContentTypes": ["text/csv", "application/json"], "SupportedResponseMIMETypes": ["application/json"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.c5.large"]}},
    SamplePayloadUrl=EXAMPLE["payload_url"])["ModelPackageArn"]

model = ModelPackage(role=ROLE, model_package_arn=arn, sagemaker_session=session)
model.right_size(job_name="{JOB}", sample_payload_url=EXAMPLE["payload_url"],
                 supported_content_types=["text/csv", "application/json"], supported_instance_types=["ml.c5.large"],
                 framework="SAGEMAKER-SCIKIT-LEARN", job_duration_in_seconds=600)
result({{"package_arn": arn, "recommendations": model.inference_recommendations,
        "job": model.inference_recommender_job_results}})
"""


@pytest.fixture(scope="module")
def right_sized(sdk: Sdk) -> tuple[dict[str, Any], str]:
    """right_size() once for the module: (what the script returned, its output). Once the job has
    ended, the rest of the suite may go on beside the SDK's remaining sleep (`open_gate`)."""
    proc = sdk.start(RIGHT_SIZE)
    sm, end = sdk.server.client(), time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < end:
        try:
            if sm.describe_inference_recommendations_job(JobName=JOB)["Status"] in ("COMPLETED", "FAILED", "STOPPED"):
                break
        except sm.exceptions.ResourceNotFound:
            pass                                     # the script has not created it yet
        time.sleep(0.5)
    open_gate()
    value, out = sdk.finish(proc, timeout_s=max(10.0, end - time.monotonic()))
    return value, out


@pytest.mark.timeout(600)
def test_right_size_with_default_log_level(sdk: Sdk, right_sized: tuple[dict[str, Any], str]) -> None:
    value, out = right_sized
    print(out)  # shown when an assertion fails
    job = value["job"]
    assert job["Status"] == "COMPLETED", job.get("FailureReason")
    recs = value["recommendations"]
    assert recs and recs[0]["EndpointConfiguration"]["InstanceType"] == "ml.c5.large"
    m = recs[0]["Metrics"]
    assert m["MaxInvocations"] > 0
    # One ml.c5.large at the catalog's price; CostPerInference follows from it and MaxInvocations.
    from infrec.core.catalog import Catalog
    assert m["CostPerHour"] == pytest.approx(round(Catalog.default().get("ml.c5.large").price_per_hour, 6)), m
    assert m["CostPerInference"] == pytest.approx(m["CostPerHour"] / (m["MaxInvocations"] * 60), rel=1e-3), m
    # What the SDK printed is what GetLogEvents returned: the job's own lines, steps and trials named.
    assert f"Retrieved logStream: {JOB}/execution from logGroup: /aws/sagemaker/InferenceRecommendationsJobs" in out
    assert f"Inference recommendations job {JOB} created: Default job" in out
    assert "Step 1/1 started: ml.c5.large × 1" in out
    assert "Step 1/1: endpoint in service after" in out
    assert "Step 1/1: trial 1 (" in out
    assert "Step 1/1 completed: MaxInvocations" in out
    assert "Recommendation 1: ml.c5.large × 1" in out and recs[0]["RecommendationId"] in out
    assert f"Job {JOB} COMPLETED with 1 recommendation(s)" in out
    # Each line once: the forward token moved on, and came back unchanged once nothing was new.
    assert out.count("Step 1/1 started") == 1 and out.count(f"Job {JOB} COMPLETED") == 1
    assert "UnknownOperationException" not in out and "Waiting for cloudwatch stream" not in out


def test_list_tags_on_the_job(sdk: Sdk, right_sized: tuple[dict[str, Any], str]) -> None:
    value, _ = sdk.run(f"""
        arn = session.sagemaker_client.describe_inference_recommendations_job(JobName="{JOB}")["JobArn"]
        result(session.list_tags(arn))
    """)
    assert {"Key": "ClientType", "Value": "PythonSDK-RightSize"} in value


DEPLOY = """
from sagemaker import ModelPackage
from sagemaker.deserializers import JSONDeserializer
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer

model = ModelPackage(role=ROLE, model_package_arn=ARN, sagemaker_session=session, predictor_cls=Predictor)
predictor = model.deploy(inference_recommendation_id=REC_ID, endpoint_name="sdk-endpoint",
                         serializer=CSVSerializer(), deserializer=JSONDeserializer())
sm = session.sagemaker_client
described = sm.describe_endpoint(EndpointName="sdk-endpoint")
config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
prediction = predictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
approval = sm.describe_model_package(ModelPackageName=ARN)["ModelApprovalStatus"]
predictor.delete_endpoint()
left = {e["EndpointName"]: e["EndpointStatus"] for e in sm.list_endpoints()["Endpoints"]}
result({"status": described["EndpointStatus"], "variants": config["ProductionVariants"],
        "prediction": prediction, "approval": approval, "left": left})
"""


def test_deploy_the_recommendation_predict_and_delete(sdk: Sdk, right_sized: tuple[dict[str, Any], str]) -> None:
    """ModelPackage.deploy(inference_recommendation_id=...) with the SDK's defaults: it reads the
    recommendation from the job, approves the package, creates the model, config and endpoint on
    infrec's hosting, waits for InService; Predictor.predict goes through InvokeEndpoint to the real
    model server; delete_endpoint removes it and its processes."""
    from tests.integration.jobs.conftest import wait_no_endpoints

    value, _ = right_sized
    rec = value["recommendations"][0]
    script = f"ARN = {value['package_arn']!r}\nREC_ID = {rec['RecommendationId']!r}\n" + DEPLOY
    out, log = sdk.run(script, timeout_s=180)
    print(log)
    assert out["status"] == "InService"
    variant = out["variants"][0]
    assert variant["InstanceType"] == rec["EndpointConfiguration"]["InstanceType"]
    assert variant["InitialInstanceCount"] == rec["EndpointConfiguration"]["InitialInstanceCount"]
    assert out["approval"] == "Approved"
    # The example is a forest trained on iris: the first row is iris's first sample (setosa, class 0),
    # the second its 146th (virginica, class 2), both fitted exactly by the trained forest.
    assert out["prediction"] == [0, 2], out["prediction"]
    assert out["left"] in ({}, {"sdk-endpoint": "Deleting"})  # deleted in the background, as in SageMaker
    assert wait_no_endpoints(Path(sdk.server.env["INFREC_HOME"])) == []
    sm = sdk.server.client()
    end = time.monotonic() + 30
    while sm.list_endpoints()["Endpoints"] and time.monotonic() < end:
        time.sleep(0.2)
    assert sm.list_endpoints()["Endpoints"] == []
