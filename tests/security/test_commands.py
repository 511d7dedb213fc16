"""Running programs on the host is the operator's decision: a caller of `infrec serve` used to run any
shell command through a model's INFREC_COMMAND (with the server's whole environment, AWS keys
included), and an Image beginning with '-' would have become an option of `docker run`."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from infrec.core.catalog import InstanceType
from infrec.executors.base import EndpointSpec, EndpointStartError
from infrec.executors.local import LocalExecutor
from tests.helpers import InfrecServer
from tests.security.conftest import api

ROLE = "arn:aws:iam::000000000000:role/infrec"
HALF_CPU = InstanceType(name="test.halfcpu", vcpus=0.5, memory_gib=0.5, price_per_hour=0.05)


def _marker_command(marker: Path) -> str:
    return f"sh -c 'touch {marker}; id; head -2 /etc/passwd'"


def test_infrec_command_is_refused_without_the_opt_in(open_server: InfrecServer, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = {"INFREC_COMMAND": _marker_command(marker)}
    requests = [
        ("CreateModel", {"ModelName": "cmd", "ExecutionRoleArn": ROLE,
                         "PrimaryContainer": {"Image": "infrec/synthetic", "Environment": env}}),
        ("CreateModelPackage", {"ModelPackageGroupName": "cmd",
                                "InferenceSpecification": {"Containers": [{"Image": "infrec/synthetic",
                                                                           "Environment": env}],
                                                           "SupportedContentTypes": ["application/json"],
                                                           "SupportedResponseMIMETypes": ["application/json"]}}),
        # A job's environment parameters become the container's environment: the same door.
        ("CreateInferenceRecommendationsJob", {
            "JobName": "cmd", "JobType": "Advanced", "RoleArn": ROLE,
            "InputConfig": {"ModelName": "anything", "EndpointConfigurations": [{
                "InstanceType": "ml.c5.large",
                "EnvironmentParameterRanges": {"CategoricalParameterRanges": [
                    {"Name": "INFREC_COMMAND", "Value": [f"touch {marker.name}"]}]}}]}}),
    ]
    for operation, body in requests:
        answer = api(open_server, operation, body)
        assert answer.status == 403, (operation, answer.text)
        err = answer.json()
        assert err["__type"] == "AccessDeniedException", operation
        assert "--allow-commands" in err["message"] and "INFREC_ALLOW_COMMANDS=1" in err["message"]
    assert not marker.exists()
    sm = open_server.client()
    assert sm.list_models()["Models"] == []
    with pytest.raises(ClientError) as exc:
        sm.describe_inference_recommendations_job(JobName="cmd")
    assert exc.value.response["Error"]["Code"] in ("ResourceNotFound", "ValidationException")


@pytest.mark.parametrize("image", ["--privileged", "-v/:/host", "ubuntu --rm", "ubuntu\t-v", "Ubuntu", "a;id",
                                   "$(id)", "ubuntu:latest --network=host"])
def test_images_must_be_image_references(open_server: InfrecServer, image: str) -> None:
    answer = api(open_server, "CreateModel", {"ModelName": "img", "ExecutionRoleArn": ROLE,
                                              "PrimaryContainer": {"Image": image}})
    assert answer.status == 400, answer.text
    err = answer.json()
    assert err["__type"] == "ValidationException" and "Image" in err["message"]
    # Whitespace already fails botocore's `[\S]+`; the rest is refused by the image reference grammar.
    if not any(c.isspace() for c in image):
        assert "not a container image reference" in err["message"]


def test_image_references_are_still_registered(open_server: InfrecServer) -> None:
    """Registering a model with a registry image is SageMaker's ordinary use; running it is what
    needs the opt-in (the executor checks that when an endpoint starts)."""
    sm = open_server.client()
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/model:1.2@sha256:" + "a" * 64
    sm.create_model(ModelName="ecr", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image})
    assert sm.describe_model(ModelName="ecr")["PrimaryContainer"]["Image"] == image


@pytest.fixture
def commands_server(tmp_path: Path) -> Iterator[InfrecServer]:
    srv = InfrecServer({"INFREC_HOME": str(tmp_path / "home")}, ["--allow-commands"])
    try:
        yield srv
    finally:
        srv.stop()


def test_the_operator_can_allow_commands(commands_server: InfrecServer) -> None:
    sm = commands_server.client()
    sm.create_model(ModelName="cmd", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "my/server", "Environment": {"INFREC_COMMAND": "my-server --port 1"}})
    assert sm.describe_model(ModelName="cmd")["PrimaryContainer"]["Environment"]["INFREC_COMMAND"]
    assert "commands allowed" in commands_server.output()
    # Image references are checked with or without the opt-in.
    answer = api(commands_server, "CreateModel", {"ModelName": "opt", "ExecutionRoleArn": ROLE,
                                                  "PrimaryContainer": {"Image": "--privileged"}})
    assert answer.status == 400 and answer.json()["__type"] == "ValidationException"


# ----------------------------------------------------------------------------- the executor itself

SERVER = textwrap.dedent("""
    import os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers()

    HTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), H).serve_forever()
""")


def _spec(name: str, image: str = "infrec/synthetic", **env: str) -> EndpointSpec:
    return EndpointSpec(name=name, image=image, model_dir=None, environment=dict(env), instance_type=HALF_CPU,
                        setup_deadline_s=30.0)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


@pytest.fixture
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What a control plane's environment holds and no endpoint may see."""
    secrets = {"AWS_ACCESS_KEY_ID": "AKIAHOSTKEY", "AWS_SECRET_ACCESS_KEY": "host-secret",
               "AWS_SESSION_TOKEN": "host-token", "INFREC_DATABASE_URL": "postgresql://u:pw@db/infrec",
               "GITHUB_TOKEN": "ghp_x", "MY_SERVICE_PASSWORD": "pw"}
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    return secrets


def test_executor_refuses_commands_and_images_unless_allowed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ex = LocalExecutor(tmp_path / "state", enforcement="affinity")  # the default: not allowed
    with pytest.raises(EndpointStartError, match="--allow-commands"):
        ex.start(_spec("cmd", INFREC_COMMAND=_marker_command(marker)))
    with pytest.raises(EndpointStartError, match=r"Docker container.*--allow-commands"):
        ex.start(_spec("docker", image="123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"))
    allowed = LocalExecutor(tmp_path / "state2", enforcement="affinity", allow_commands=True)
    with pytest.raises(EndpointStartError, match="not a container image reference"):
        allowed.start(_spec("opt", image="--privileged"))
    assert not marker.exists()
    assert ex.ledger.entries() == [] and allowed.ledger.entries() == []


def test_a_command_gets_a_minimal_environment(tmp_path: Path, secrets_in_environment: dict[str, str]) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    ex = LocalExecutor(tmp_path / "state", enforcement="affinity", allow_commands=True)
    h = ex.start(_spec("cmd", image="my/server", INFREC_COMMAND=f"{sys.executable} {script}",
                       MODEL_SETTING="mine", SAGEMAKER_PROGRAM="x.py"))
    try:
        env = _environ(h.instances[0].pid)
    finally:
        ex.stop(h)
    for name in secrets_in_environment:
        assert name not in env, name
    assert env["PATH"] == os.environ["PATH"]
    assert env["MODEL_SETTING"] == "mine" and env["SAGEMAKER_PROGRAM"] == "x.py"  # the caller's own values
    assert env["SAGEMAKER_BIND_TO_PORT"] == str(h.instances[0].port) and env["OMP_NUM_THREADS"] == "1"
    assert "INFREC_COMMAND" not in env
    # The instance's GPUs (none for this CPU type) are infrec's to set, like its port and threads.
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    allowed = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "MODEL_SETTING",
               "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"}
    unexpected = {k for k in env if k not in allowed and not k.startswith(("SAGEMAKER_", "SM_", "INFREC_"))
                  and not k.endswith("_NUM_THREADS")}
    assert unexpected <= {"PWD", "OLDPWD", "SHLVL", "_"}, unexpected  # what sh itself may add


def test_the_builtin_server_gets_no_secrets(tmp_path: Path, secrets_in_environment: dict[str, str]) -> None:
    """The built-in server runs the caller's model code (pickles, inference.py)."""
    ex = LocalExecutor(tmp_path / "state", enforcement="affinity")
    h = ex.start(_spec("builtin"))
    try:
        env = _environ(h.instances[0].pid)
    finally:
        ex.stop(h)
    for name in secrets_in_environment:
        assert name not in env, name
    assert env["INFREC_IMAGE"] == "infrec/synthetic" and "PATH" in env


def test_a_job_does_not_run_a_registered_image_without_the_opt_in(open_server: InfrecServer,
                                                                   allowed_dir: Path) -> None:
    """Registering a registry image is allowed; running it is not: the job's step fails at once,
    naming the setting, and no process (no `docker run`) is started for it."""
    import time

    payload = allowed_dir / "payload-cmd.json"
    payload.write_text('{"x": 1}')
    sm = open_server.client()
    sm.create_model_package_group(ModelPackageGroupName="image-job")
    arn = sm.create_model_package(
        ModelPackageGroupName="image-job", SamplePayloadUrl=payload.as_uri(),
        InferenceSpecification={"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/m:1"}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]
    sm.create_inference_recommendations_job(
        JobName="image-job", JobType="Default", RoleArn=ROLE,
        InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": 300,
                     "ContainerConfig": {"SupportedInstanceTypes": ["ml.c5.large"]}})
    deadline = time.monotonic() + 120
    while (job := sm.describe_inference_recommendations_job(JobName="image-job"))["Status"] not in (
            "COMPLETED", "FAILED", "STOPPED"):
        assert time.monotonic() < deadline, job["Status"]
        time.sleep(0.5)
    assert job["Status"] == "FAILED"
    steps = sm.list_inference_recommendations_job_steps(JobName="image-job")["Steps"]
    reasons = " ".join([job.get("FailureReason", "")] + [s.get("FailureReason", "") for s in steps])
    assert "--allow-commands" in reasons and "Docker container" in reasons, reasons
