"""Every operation infrec implements, by the name it has on the wire, beside the method that answers
it: searching the code for `CreateEndpoint` lands on the line that names `HostingService.create_endpoint`.

Both front ends route through these tables: the AWS JSON route (`api/app.py`) and the CLI's
embedded backend (`cli/backend.py`) through `Services.handler`, the sagemaker-runtime REST route
(`api/runtime_routes.py`) through `RUNTIME`. An operation missing here is unknown to infrec, whatever its
service happens to define; tests/unit/test_operations.py checks every name against botocore's models.

The entries are the services' unbound methods, grouped by the class that owns them; the composition
root (`infrec.services.Services`) supplies the one instance of each class a process has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from infrec.genai.ai_resources import GenAIService
from infrec.hosting.endpoints import HostingService
from infrec.hosting.invoke import Invoker
from infrec.jobs.recommendation_jobs import JobService
from infrec.logs.cloudwatch import LogsService
from infrec.registry.model_registry import RegistryService
from infrec.registry.tags import TagService

Request = dict[str, Any]
Response = dict[str, Any]
S = TypeVar("S")


@dataclass(frozen=True)
class Owner(Generic[S]):
    """One service class and the operations it answers: wire name → unbound method."""

    service: type[S]
    operations: Mapping[str, Callable[[S, Request], Response]]


# SageMaker (AWS JSON 1.1, `X-Amz-Target: SageMaker.<Operation>`)

REGISTRY = Owner(RegistryService, {
    "CreateModelPackageGroup": RegistryService.create_model_package_group,
    "DescribeModelPackageGroup": RegistryService.describe_model_package_group,
    "ListModelPackageGroups": RegistryService.list_model_package_groups,
    "DeleteModelPackageGroup": RegistryService.delete_model_package_group,
    "CreateModelPackage": RegistryService.create_model_package,
    "DescribeModelPackage": RegistryService.describe_model_package,
    "ListModelPackages": RegistryService.list_model_packages,
    "UpdateModelPackage": RegistryService.update_model_package,
    "DeleteModelPackage": RegistryService.delete_model_package,
    "CreateModel": RegistryService.create_model,
    "DescribeModel": RegistryService.describe_model,
    "ListModels": RegistryService.list_models,
    "DeleteModel": RegistryService.delete_model,
})

TAGS = Owner(TagService, {
    "AddTags": TagService.add_tags,
    "DeleteTags": TagService.delete_tags,
    "ListTags": TagService.list_tags,
})

JOBS = Owner(JobService, {
    "CreateInferenceRecommendationsJob": JobService.create_inference_recommendations_job,
    "DescribeInferenceRecommendationsJob": JobService.describe_inference_recommendations_job,
    "ListInferenceRecommendationsJobs": JobService.list_inference_recommendations_jobs,
    "StopInferenceRecommendationsJob": JobService.stop_inference_recommendations_job,
    "ListInferenceRecommendationsJobSteps": JobService.list_inference_recommendations_job_steps,
    "GetScalingConfigurationRecommendation": JobService.get_scaling_configuration_recommendation,
})

HOSTING = Owner(HostingService, {
    "CreateEndpointConfig": HostingService.create_endpoint_config,
    "DescribeEndpointConfig": HostingService.describe_endpoint_config,
    "ListEndpointConfigs": HostingService.list_endpoint_configs,
    "DeleteEndpointConfig": HostingService.delete_endpoint_config,
    "CreateEndpoint": HostingService.create_endpoint,
    "DescribeEndpoint": HostingService.describe_endpoint,
    "ListEndpoints": HostingService.list_endpoints,
    "UpdateEndpoint": HostingService.update_endpoint,
    "DeleteEndpoint": HostingService.delete_endpoint,
})

GENAI = Owner(GenAIService, {
    "CreateAIWorkloadConfig": GenAIService.create_ai_workload_config,
    "DescribeAIWorkloadConfig": GenAIService.describe_ai_workload_config,
    "ListAIWorkloadConfigs": GenAIService.list_ai_workload_configs,
    "DeleteAIWorkloadConfig": GenAIService.delete_ai_workload_config,
    "CreateAIBenchmarkJob": GenAIService.create_ai_benchmark_job,
    "DescribeAIBenchmarkJob": GenAIService.describe_ai_benchmark_job,
    "ListAIBenchmarkJobs": GenAIService.list_ai_benchmark_jobs,
    "StopAIBenchmarkJob": GenAIService.stop_ai_benchmark_job,
    "DeleteAIBenchmarkJob": GenAIService.delete_ai_benchmark_job,
    "CreateAIRecommendationJob": GenAIService.create_ai_recommendation_job,
    "DescribeAIRecommendationJob": GenAIService.describe_ai_recommendation_job,
    "ListAIRecommendationJobs": GenAIService.list_ai_recommendation_jobs,
    "StopAIRecommendationJob": GenAIService.stop_ai_recommendation_job,
    "DeleteAIRecommendationJob": GenAIService.delete_ai_recommendation_job,
})

# CloudWatch Logs (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Operation>`): the reads the SageMaker
# SDK makes while it waits on a job.

LOGS = Owner(LogsService, {
    "DescribeLogGroups": LogsService.describe_log_groups,
    "DescribeLogStreams": LogsService.describe_log_streams,
    "GetLogEvents": LogsService.get_log_events,
    "FilterLogEvents": LogsService.filter_log_events,
})

# By botocore service name (api/app.py's `_Api.service`), so a name two APIs share is looked up only
# among the operations of the API the request's target names.
APIS: Mapping[str, tuple[Owner[Any], ...]] = {
    "sagemaker": (REGISTRY, TAGS, JOBS, HOSTING, GENAI),
    "logs": (LOGS,),
}

# SageMaker Runtime (REST-JSON, `POST /endpoints/{name}/...`; api/runtime_routes.py): the request is the
# endpoint's name and the raw body, with the headers as keywords, rather than one JSON document.
RUNTIME: Mapping[str, Callable[..., Any]] = {
    "InvokeEndpoint": Invoker.invoke,
    "InvokeEndpointWithResponseStream": Invoker.invoke_stream,
}


def find(operation: str, api: str = "sagemaker") -> tuple[Owner[Any], Callable[[Any, Request], Response]] | None:
    """The owner and method answering `operation` of `api` (a botocore service name); None where
    infrec does not implement it."""
    for owner in APIS.get(api, ()):
        method = owner.operations.get(operation)
        if method is not None:
            return owner, method
    return None
