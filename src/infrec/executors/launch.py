"""The launch policy of a local endpoint instance: what program runs, with which command line and
which environment. Kept apart from the lifecycle (``executors.local``) because it is a security
policy, reviewed as one:

* **What runs.** A built-in image (``core.images``) runs infrec's own server with this Python. A
  user's command (a spec's ``command`` or its INFREC_COMMAND) or any other image (run as a Docker
  container) runs a caller's choice on this host, so only when the operator allowed commands
  (``infrec serve --allow-commands``). An image must be a Docker image reference, so a value can
  never become an option of ``docker run``.
* **What it inherits.** A user's command gets only COMMAND_BASE_ENV of this process's variables
  (enough to find programs and speak a locale, never the control plane's credentials); the
  built-in server all but the secret-looking ones (it runs a caller's model code: pickles,
  inference.py); the Docker CLI all of them (a credential helper may need AWS keys), while the
  container itself gets only the model's Environment.
* **What infrec sets on top.** Thread variables default to the instance's vCPUs so libraries do
  not spin more threads than the quota pays for; then the spec's Environment; then the port, the
  model folder, the image and the instance's cgroups, which are infrec's to set.
* **How it starts.** Through LAUNCHER, a tiny ``sh`` script that first joins the instance's cgroups
  and then execs the server, so no instruction of the server ever runs outside its limits.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infrec.core.images import BUILTIN_PREFIX, builtin_image, builtin_names, image_reference_problem
from infrec.executors.base import EndpointSpec, EndpointStartError, InstanceProcess

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
COMMAND_ENV = "INFREC_COMMAND"
ALLOW_COMMANDS_HINT = "--allow-commands (INFREC_ALLOW_COMMANDS=1)"
# What a user's command inherits from this process: enough to find programs and speak a locale;
# never the control plane's credentials (AWS keys, the database URL, ...). The endpoint's own
# settings (SAGEMAKER_*, SM_*, thread variables, the container's Environment) are added on top.
COMMAND_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")
# Inherited variables the built-in server never needs and that hold secrets: it runs a caller's
# model code (pickles, inference.py), which must not read the control plane's credentials.
_SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|_KEY_ID$|ACCESS_KEY|API_KEY|"
                          r"DATABASE_URL|^AWS_PROFILE$|^AWS_SHARED_CREDENTIALS_FILE$|^AWS_CONFIG_FILE$)",
                          re.IGNORECASE)
# The launcher joins the cgroups named in INFREC_CGROUP_PROCS, then becomes the server.
LAUNCHER = ('for f in $INFREC_CGROUP_PROCS; do echo $$ > "$f" || exit 97; done; '
            'unset INFREC_CGROUP_PROCS; exec "$@"')


@dataclass(frozen=True)
class LaunchPolicy:
    """The operator's choices a launch depends on: may callers run commands and images
    (``allow_commands``), the Python the built-in server runs with, and the folder an instance
    without a model gets as SM_MODEL_DIR."""

    allow_commands: bool
    python: str
    empty_model_dir: Path

    def argv(self, spec: EndpointSpec) -> tuple[list[str], bool]:
        """What to run, and whether it is a Docker container: the built-in server, a user's command
        line, or `docker run <image>`. The last two run a caller's choice on this host, so only with
        `allow_commands`."""
        refused = (f"which this infrec does not allow: the operator starts it with {ALLOW_COMMANDS_HINT} "
                   "to run commands and container images, or use a built-in image (infrec/sklearn, ...)")
        if spec.command or spec.environment.get(COMMAND_ENV):
            if not self.allow_commands:
                raise EndpointStartError(f"{COMMAND_ENV} would run a command on the infrec host, {refused}")
            if spec.command:
                return list(spec.command), False
            try:
                return shlex.split(spec.environment[COMMAND_ENV]), False
            except ValueError as exc:
                raise EndpointStartError(f"{COMMAND_ENV} is not a valid command line: {exc}") from None
        if builtin_image(spec.image):
            return [self.python, "-m", "infrec.serving"], False
        if spec.image.startswith(BUILTIN_PREFIX):
            known = ", ".join(builtin_names())
            raise EndpointStartError(f"image {spec.image!r} is not a built-in infrec image; use one of: {known}")
        if problem := image_reference_problem(spec.image):
            raise EndpointStartError(problem)
        if not self.allow_commands:
            raise EndpointStartError(f"image {spec.image!r} is not a built-in infrec image, so it would run as a "
                                     f"Docker container, {refused}")
        if not docker_reachable():
            raise EndpointStartError(
                f"image {spec.image!r} is not a built-in infrec image, so it would run as a Docker container, "
                f"but no Docker engine is reachable. Start Docker, use a built-in image (infrec/sklearn, ...), "
                f"or give a plain command line in the container's environment: {COMMAND_ENV}='my-server --flag' "
                "(it gets SAGEMAKER_BIND_TO_PORT and SM_MODEL_DIR)")
        return [spec.image], True

    def environment(self, spec: EndpointSpec, port: int, ledger_id: str, groups: list[str]) -> dict[str, str]:
        """The instance's environment (module doc: what it inherits, what infrec sets on top)."""
        command = bool(spec.command or spec.environment.get(COMMAND_ENV))
        if command:
            env = {k: v for k, v in os.environ.items()
                   if k in COMMAND_BASE_ENV or k.startswith(("SAGEMAKER_", "SM_"))}
        elif builtin_image(spec.image):
            env = {k: v for k, v in os.environ.items() if not _SECRET_NAME.search(k)}
        else:
            env = dict(os.environ)
        threads = str(max(1, math.ceil(spec.vcpus - 1e-9)))
        for var in THREAD_VARS:
            env[var] = threads
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = threads
        env.update(spec.environment)
        env.pop(COMMAND_ENV, None)
        env["SAGEMAKER_BIND_TO_PORT"] = str(port)
        env["SM_MODEL_DIR"] = str(spec.model_dir) if spec.model_dir else str(self.empty_model_dir)
        env["INFREC_IMAGE"] = spec.image
        env["INFREC_ENDPOINT"] = ledger_id
        env["INFREC_CGROUP_PROCS"] = " ".join(f"{g}/cgroup.procs" for g in groups)
        return env


def docker_argv(spec: EndpointSpec, inst: InstanceProcess) -> list[str]:
    """SageMaker local mode's way: --cpus, --memory, the port mapped to 8080, `serve`. The container
    gets only the model's Environment (never INFREC_COMMAND), the model folder read-only."""
    argv = ["docker", "run", "--rm", "--name", inst.container or "", "--cpus", f"{spec.vcpus:g}",
            "--memory", str(spec.memory_bytes), "--memory-swap", str(spec.memory_bytes),
            "--cpuset-cpus", ",".join(map(str, inst.cpu_ids)), "-p", f"127.0.0.1:{inst.port}:8080"]
    if inst.gpus:
        argv += ["--gpus", f"\"device={','.join(map(str, inst.gpus))}\""]
    for k, v in spec.environment.items():
        if k != COMMAND_ENV:
            argv += ["-e", f"{k}={v}"]
    if spec.model_dir:
        argv += ["-v", f"{spec.model_dir}:/opt/ml/model:ro"]
    return [*argv, spec.image, "serve"]


def docker_reachable() -> bool:
    """Whether a Docker engine answers (`docker version` names its server)."""
    if shutil.which("docker") is None:
        return False
    try:
        out = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0
