"""The SageMaker Python SDK, unchanged and with its defaults, against a real `infrec serve`.

The SDK pins versions the project's own venv does not share (attrs<26, packaging<25, protobuf<7,
pandas), so it gets a venv of its own, made once from the package index and kept under `.venv/`
(`SDK_VENV`); its scripts run there as subprocesses, like a user's notebook would, and talk to
the server over HTTP only. `sdk.run(script)` runs a script with `session` (a sagemaker.Session on
boto3 clients pointed at the server; the logs client the SDK makes itself finds the server through
AWS_ENDPOINT_URL_CLOUDWATCH_LOGS), `ROLE`, `URL` and `EXAMPLE` (the bundled example model's URLs) defined,
and returns what the script passed to `result(...)`.

To add a step (deploy, predict, delete), add a test to this module that takes the module-scoped
`sdk` fixture (one server for the module) and, if it needs a finished right_size, `right_sized`.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infrec.examples import ExampleModel, create_example
from tests.helpers import REPO, InfrecServer
from tests.integration.jobs.conftest import job_env

SDK_VERSION = "2.257.7"
SDK_VENV = REPO / ".venv" / f"sdk-sagemaker-{SDK_VERSION}"
INSTALL_DEADLINE_S = 600
ROLE = "arn:aws:iam::000000000000:role/infrec"
RESULT_MARK = "@@RESULT@@ "

PREAMBLE = """
import json, os, sys
import boto3
import sagemaker
from sagemaker.session import Session

URL = os.environ["INFREC_URL"]
ROLE = os.environ["INFREC_ROLE"]
EXAMPLE = json.loads(os.environ["INFREC_EXAMPLE"])
_boto = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
session = Session(boto_session=_boto, sagemaker_client=_boto.client("sagemaker", endpoint_url=URL),
                  sagemaker_runtime_client=_boto.client("sagemaker-runtime", endpoint_url=URL))


def result(value):
    print(RESULT_MARK + json.dumps(value, default=str), flush=True)
""".replace("RESULT_MARK", repr(RESULT_MARK))


def sdk_python() -> Path:
    """The SDK venv's interpreter, made on first use (under a lock: parallel sessions share it)."""
    python = SDK_VENV / "bin" / "python"
    stamp = SDK_VENV / ".installed"
    if stamp.exists():
        return python
    SDK_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(SDK_VENV.parent / f".sdk-sagemaker-{SDK_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            for cmd in ([sys.executable, "-m", "venv", "--clear", str(SDK_VENV)],
                        [str(python), "-m", "pip", "install", "-q", f"sagemaker=={SDK_VERSION}"]):
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_DEADLINE_S)
                if done.returncode != 0:
                    pytest.fail(f"could not install the SageMaker SDK {SDK_VERSION}: {' '.join(cmd)}:\n"
                                f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
            stamp.write_text(SDK_VERSION)
    return python


@dataclass
class Sdk:
    server: InfrecServer
    python: Path
    example: ExampleModel
    home: Path

    def run(self, script: str, timeout_s: float = 240.0) -> tuple[Any, str]:
        """Run `script` in the SDK's venv; (what it passed to result(), its whole output)."""
        return self.finish(self.start(script), timeout_s)

    def start(self, script: str) -> subprocess.Popen[str]:
        """Start `script` in the SDK's venv without waiting (`finish` collects it), so a test can
        watch the server while the SDK works or sleeps."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "INFREC_URL": self.server.url, "INFREC_ROLE": ROLE,
            "INFREC_EXAMPLE": json.dumps({"model_data_url": self.example.model_data_url,
                                          "payload_url": self.example.payload_url, "image": self.example.image,
                                          "framework": self.example.framework,
                                          "framework_version": self.example.framework_version}),
            # Clients the SDK makes itself (logs) find the server the way botocore documents:
            # AWS_ENDPOINT_URL_<service id, upper case, spaces as underscores>.
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": self.server.url, "AWS_ENDPOINT_URL_SAGEMAKER": self.server.url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.server.url, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "SAGEMAKER_SUPPRESS_V2_WARNING": "1", "PYTHONUNBUFFERED": "1",
        })
        code = PREAMBLE + textwrap.dedent(script)
        return subprocess.Popen([str(self.python), "-c", code], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.home)

    def finish(self, proc: subprocess.Popen[str], timeout_s: float) -> tuple[Any, str]:
        """Wait for a started script; (what it passed to result(), its whole output)."""
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            raise AssertionError(f"SDK script ran past {timeout_s:.0f} s:\n{(stdout + stderr)[-4000:]}") from None
        out = stdout + stderr
        if proc.returncode != 0:
            raise AssertionError(f"SDK script failed ({proc.returncode}):\n{out[-6000:]}\n"
                                 f"server log:\n{self.server.output()[-3000:]}")
        # The SDK prints progress marks without a newline ("-!" while it waits for an endpoint), so
        # the result's mark may follow them on the same line.
        marked = [line.split(RESULT_MARK, 1)[1] for line in stdout.splitlines() if RESULT_MARK in line]
        return (json.loads(marked[-1]) if marked else None), out


def open_gate() -> None:
    """Tell `scripts/test.sh` that this module's measuring is over: what is left of it is the SDK's
    fixed sleeps (60 s between log polls in right_size, 30 s before deploy's first poll), which the
    rest of the suite may overlap. The file is named by INFREC_TEST_GATE; nothing to do without it.
    (`scripts/test.sh` also writes it when this pytest ends, whatever happened.)"""
    gate = os.environ.get("INFREC_TEST_GATE")
    if gate:
        Path(gate).touch()


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    """One `infrec serve` for the module (short trials, a host lock of its own) and the SDK venv."""
    python = sdk_python()
    base = tmp_path_factory.mktemp("sdk")
    home = base / "home"
    example = create_example(base / "example")
    server = InfrecServer(job_env(home))
    try:
        yield Sdk(server, python, example, base)
    finally:
        server.stop()
