"""`infrec recommend`: check every argument, register the model if needed, run a recommendation job
with live progress (or leave it queued with --no-wait), print the ranked recommendations. The same
path serves `infrec demo`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from infrec.cli.arguments import (
    check_job_name,
    check_role_arn,
    content_types,
    local_uri,
    parse_env,
    parse_latency,
    payload_files,
    read_advanced,
    split_values,
    vpc_config,
)
from infrec.cli.backend import ENDPOINT_OPTION, Backend, BackendError, EmbeddedBackend, fail, open_backend
from infrec.cli.errors import usage
from infrec.cli.lookup import check_instance_types, check_region
from infrec.cli.output import OUTPUT_OPTION, Output, chosen, print_json, print_text
from infrec.cli.results import finish
from infrec.cli.watch import CONSOLE, watch
from infrec.config import Settings
from infrec.core.catalog import DEFAULT_CATALOG_ENV, REGION_ENV, Catalog, CatalogError

DEFAULT_ROLE = "arn:aws:iam::000000000000:role/infrec-recommender"

console = CONSOLE


@dataclass(frozen=True)
class JobSpec:
    """One CreateInferenceRecommendationsJob request, as the CLI's options give it."""

    package_arn: str
    job_name: str
    instance_types: list[str] = field(default_factory=list)
    latency: dict[str, Any] | None = None
    advanced: dict[str, Any] | None = None          # --advanced: makes the job Advanced
    duration_s: int = 3600
    role_arn: str = DEFAULT_ROLE
    vpc: dict[str, list[str]] | None = None          # InputConfig.VpcConfig (any job type)
    resource_limit: dict[str, int] | None = None     # InputConfig.ResourceLimit (any job type)
    payload_config: dict[str, Any] | None = None     # ContainerConfig.PayloadConfig, for a registered ARN

    def request(self) -> dict[str, Any]:
        input_config: dict[str, Any] = {"ModelPackageVersionArn": self.package_arn,
                                        "JobDurationInSeconds": self.duration_s}
        req: dict[str, Any] = {"JobName": self.job_name, "JobType": "Default", "RoleArn": self.role_arn,
                               "InputConfig": input_config}
        container: dict[str, Any] = {}
        if self.instance_types:
            container["SupportedInstanceTypes"] = self.instance_types
        if self.payload_config:
            container["PayloadConfig"] = self.payload_config
        if container:
            input_config["ContainerConfig"] = container
        if self.advanced:
            req["JobType"] = "Advanced"
            extra = dict(self.advanced)
            stopping = extra.pop("StoppingConditions", None)
            input_config.update(extra.pop("InputConfig", extra))
            if stopping:
                req["StoppingConditions"] = stopping
        if self.vpc:
            input_config["VpcConfig"] = self.vpc
        if self.resource_limit:
            input_config["ResourceLimit"] = {**(input_config.get("ResourceLimit") or {}), **self.resource_limit}
        if self.latency:
            req.setdefault("StoppingConditions", {}).setdefault("ModelLatencyThresholds", [self.latency])
        return req


def register_model(backend: Backend, group: str, image: str, model_url: str, payload_url: str,
                   content_types: list[str], env: dict[str, str]) -> str:
    """The ARN of a version in `group` with this image, model data and payload; registers one if none."""
    try:
        backend.call("CreateModelPackageGroup", {"ModelPackageGroupName": group,
                                                 "ModelPackageGroupDescription": "registered by infrec recommend"})
    except BackendError as exc:
        if exc.code != "ConflictException":
            raise
    versions: list[dict[str, Any]] = []
    req: dict[str, Any] = {"ModelPackageGroupName": group, "MaxResults": 100}
    for _ in range(1000):  # bounded pagination
        page = backend.call("ListModelPackages", req)
        versions.extend(page["ModelPackageSummaryList"])
        if not page.get("NextToken"):
            break
        req["NextToken"] = page["NextToken"]
    for v in versions:
        d = backend.call("DescribeModelPackage", {"ModelPackageName": v["ModelPackageArn"]})
        c = d["InferenceSpecification"]["Containers"][0]
        spec = d["InferenceSpecification"]
        if (c.get("Image"), c.get("ModelDataUrl"), c.get("Environment") or {}, d.get("SamplePayloadUrl"),
                spec.get("SupportedContentTypes") or []) == (image, model_url, env, payload_url, content_types):
            return str(d["ModelPackageArn"])
    container: dict[str, Any] = {"Image": image, "ModelDataUrl": model_url}
    if env:
        container["Environment"] = env
    out = backend.call("CreateModelPackage", {
        "ModelPackageGroupName": group,
        "InferenceSpecification": {"Containers": [container], "SupportedContentTypes": content_types,
                                   "SupportedResponseMIMETypes": ["application/json"]},
        "SamplePayloadUrl": payload_url, "ModelApprovalStatus": "PendingManualApproval",
    })
    return str(out["ModelPackageArn"])


def create_job(backend: Backend, spec: JobSpec) -> str:
    """Create the job; its ARN."""
    return str(backend.call("CreateInferenceRecommendationsJob", spec.request()).get("JobArn", ""))


def run_recommendation(backend: Backend, spec: JobSpec, progress: Console | None = None) -> dict[str, Any]:
    """Create the job and follow it to its end (a deadline of its duration and two minutes more)."""
    create_job(backend, spec)
    return watch(backend, spec.job_name, timeout_s=spec.duration_s + 120, console=progress)


def checked_catalog() -> Catalog:
    """The catalog and region this machine prices with (INFREC_CATALOG, INFREC_REGION), each checked:
    the names a job gives are looked up in it before anything is written."""
    try:
        settings = Settings.from_env()
        cat = Catalog.load(settings.catalog, settings.region) if settings.catalog else Catalog.default(settings.region)
    except CatalogError as exc:
        raise usage(f"{DEFAULT_CATALOG_ENV}: {exc}") from None
    except ValueError as exc:   # a setting of the environment; the message names it
        raise usage(str(exc)) from None
    check_region(settings.region, cat, option=REGION_ENV)
    return cat


def check_advanced_types(advanced: dict[str, Any] | None, cat: Catalog) -> None:
    """The instance types an --advanced document names, looked up like --instance-types."""
    configs = ((advanced or {}).get("InputConfig") or advanced or {}).get("EndpointConfigurations") or []
    names = [c["InstanceType"] for c in configs if isinstance(c, dict) and isinstance(c.get("InstanceType"), str)]
    check_instance_types(names, cat, option="--advanced EndpointConfigurations")


def resource_limit(max_tests: int | None, max_parallel: int | None) -> dict[str, int] | None:
    limit = {}
    if max_tests is not None:
        limit["MaxNumberOfTests"] = max_tests
    if max_parallel is not None:
        limit["MaxParallelOfTests"] = max_parallel
    return limit or None


def check_new_job_name(backend: Backend, name: str) -> None:
    """A name already taken is refused now, before the model is registered."""
    try:
        backend.call("DescribeInferenceRecommendationsJob", {"JobName": name})
    except BackendError as exc:
        if exc.code in ("ResourceNotFound", "ValidationException"):
            return
        raise
    raise usage(f"--job-name {name!r}: a job of that name exists; choose another name "
                "(or leave --job-name out for a fresh one)")


def follow_hint(name: str, endpoint_url: str | None) -> str:
    if endpoint_url:
        return f"infrec jobs watch {name} --endpoint-url {endpoint_url}"
    return f"infrec jobs resume {name}"


def print_queued(name: str, arn: str, endpoint_url: str | None, fmt: Output) -> None:
    """--no-wait: the job's name, and the command that follows it."""
    hint = follow_hint(name, endpoint_url)
    if fmt is Output.json:
        print_json({"JobName": name, "JobArn": arn, "Follow": hint})
    elif fmt is Output.text:
        print_text([[name]])
    elif endpoint_url:
        typer.echo(f"created job {name}; it runs on the server. Follow it with: {hint}")
    else:
        typer.echo(f"created job {name}; it waits until a process runs it: `{hint}` runs it here, "
                   "or `infrec serve` on this state folder takes it up")


def register(app: typer.Typer) -> None:
    @app.command("recommend")
    def recommend(
        model: str = typer.Argument(..., help="model.tar.gz (path or s3:// URI) or a ModelPackageVersionArn."),
        image: str = typer.Option("infrec/sklearn", help="Serving image: infrec/sklearn, infrec/onnx, …"),
        payload: str | None = typer.Option(None, help="Sample payload archive (path or s3:// URI)."),
        content_type: list[str] = typer.Option(
            None, "--content-type", help="Payload content type(s), repeat or comma-separate (default: from "
                                         "the payload files' extensions: .json → application/json, .csv → text/csv, …)."),
        instance_types: list[str] = typer.Option(None, "--instance-types", help="Candidates (repeat or comma)."),
        latency: str | None = typer.Option(None, help="Latency goal, e.g. P95:50ms."),
        advanced: Path | None = typer.Option(None, help="JSON with EndpointConfigurations, TrafficPattern, "
                                                        "ResourceLimit and StoppingConditions: an Advanced job."),
        env: list[str] = typer.Option(None, "--env", help="Container environment KEY=VALUE (repeatable)."),
        group: str = typer.Option("infrec-models", help="Model package group to register into."),
        job_name: str | None = typer.Option(None, help="Job name (default: infrec-<time>)."),
        duration: int = typer.Option(3600, min=1, help="JobDurationInSeconds: a hard deadline."),
        role_arn: str = typer.Option(DEFAULT_ROLE, "--role-arn", help="RoleArn: the IAM role the job assumes "
                                                                     "(for S3 artifacts and VPC access)."),
        vpc_subnets: list[str] = typer.Option(None, "--vpc-subnets", help="InputConfig.VpcConfig subnets "
                                                                          "(comma-separated, 1-16); the job "
                                                                          "keeps its type."),
        vpc_security_group_ids: list[str] = typer.Option(None, "--vpc-security-group-ids",
                                                         help="InputConfig.VpcConfig security groups "
                                                              "(comma-separated, 1-5)."),
        max_tests: int | None = typer.Option(None, "--max-tests", min=1,
                                             help="ResourceLimit.MaxNumberOfTests: at most this many "
                                                  "benchmarks (Default or Advanced job; default 10 for Default)."),
        max_parallel: int | None = typer.Option(None, "--max-parallel", min=1,
                                                help="ResourceLimit.MaxParallelOfTests: benchmarks at once "
                                                     "(default 1)."),
        no_wait: bool = typer.Option(False, "--no-wait", help="Create the job and return: print its name "
                                                              "and the command that follows it."),
        endpoint_url: str | None = ENDPOINT_OPTION,
        output: Output | None = OUTPUT_OPTION,
    ) -> None:
        """Find the cheapest configuration that meets the latency goal, measured on real endpoints.
        Every argument is checked before anything is registered or created."""
        fmt = chosen(output)
        progress = CONSOLE if fmt is Output.table else Console(stderr=True)
        adv = read_advanced(advanced) if advanced else None
        types = split_values(instance_types)
        cat = checked_catalog()
        check_instance_types(types, cat)
        check_advanced_types(adv, cat)
        spec = JobSpec(
            package_arn="", job_name=check_job_name(job_name) if job_name else
            time.strftime("infrec-%Y%m%d-%H%M%S-") + f"{int(time.time() * 1000) % 1000:03d}",
            instance_types=types, latency=parse_latency(latency) if latency else None, advanced=adv,
            duration_s=duration, role_arn=check_role_arn(role_arn),
            vpc=vpc_config(split_values(vpc_subnets), split_values(vpc_security_group_ids)),
            resource_limit=resource_limit(max_tests, max_parallel))
        model_spec = _model_spec(model, payload, split_values(content_type), image, parse_env(env), group,
                                 confined=endpoint_url is None)
        backend = open_backend(endpoint_url, run_jobs=not no_wait)
        try:
            if job_name:
                check_new_job_name(backend, job_name)
            left = backend.left_unfinished() if isinstance(backend, EmbeddedBackend) and not no_wait else []
            if left:
                progress.print(f"[yellow]{len(left)} earlier job(s) left unfinished by a process that ended: "
                               f"{', '.join(left[:3])}{' …' if len(left) > 3 else ''}. They do not run now; "
                               "`infrec jobs resume NAME` continues one.[/]")
            spec = model_spec.apply(backend, spec)
            if no_wait:
                print_queued(spec.job_name, create_job(backend, spec), endpoint_url, fmt)
                return
            finish(backend, run_recommendation(backend, spec, progress), fmt)
        except BackendError as exc:
            raise fail(exc) from exc
        finally:
            backend.close()


@dataclass(frozen=True)
class ModelSpec:
    """The model to benchmark: a registered ModelPackageVersionArn, or files to register first."""

    model: str
    payload_url: str | None
    content_types: list[str]
    image: str
    environment: dict[str, str]
    group: str

    def apply(self, backend: Backend, spec: JobSpec) -> JobSpec:
        """`spec` with the package ARN (registering the model when it is a file) and, for an ARN given
        with --payload or --content-type, the job's own PayloadConfig."""
        from dataclasses import replace

        if self.model.startswith("arn:"):
            payload_config: dict[str, Any] = {}
            if self.payload_url:
                payload_config["SamplePayloadUrl"] = self.payload_url
            if self.content_types:
                payload_config["SupportedContentTypes"] = self.content_types
            return replace(spec, package_arn=self.model, payload_config=payload_config or None)
        assert self.payload_url is not None
        arn = register_model(backend, self.group, self.image, self.model, self.payload_url, self.content_types,
                             self.environment)
        return replace(spec, package_arn=arn)


def _check_readable(uris: dict[str, str | None]) -> None:
    """Embedded, the model and payload files must lie in a folder infrec may read (the state folder,
    the current directory, INFREC_ALLOW_FILES): checked as registration checks them, before the
    package group is created or the payload archive is opened."""
    from infrec.artifacts.errors import ArtifactError
    from infrec.artifacts.uri import FileAccess

    try:
        access = FileAccess.from_settings(Settings.from_env().confined())
    except ValueError as exc:
        raise usage(str(exc)) from None
    for option, uri in uris.items():
        if uri and uri.startswith("file://"):
            try:
                access.check_readable(uri)
            except ArtifactError as exc:
                raise usage(f"{option}: {exc}") from None


def _model_spec(model: str, payload: str | None, given_types: list[str], image: str, environment: dict[str, str],
                group: str, *, confined: bool) -> ModelSpec:
    """The model and payload checked: files exist (where infrec may read them, when `confined`), the
    payload is an archive, and the content types are given or read from its files' extensions
    (notes on standard error where they disagree)."""
    if not model.startswith("arn:") and not payload:
        raise usage("--payload is required when MODEL is a file (the sample request bodies, as a tar.gz)")
    model_url = model if model.startswith("arn:") else local_uri(model, "MODEL")
    payload_url = local_uri(payload, "--payload") if payload else None
    if confined:
        _check_readable({"MODEL": model_url, "--payload": payload_url})
    files = payload_files(Path(payload).expanduser()) if payload and "://" not in payload else None
    types, notes = content_types(given_types, files)
    if model.startswith("arn:") and not given_types and files is None:
        types = []   # the package's own SupportedContentTypes stand
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    return ModelSpec(model_url, payload_url, types, image, environment, group)

