"""Where CLI commands send their operations: the services in this process (embedded mode, the
default) or a running `infrec serve` through boto3 (`--endpoint-url`). Commands are written once
against `Backend.call`, so the CLI never grows a second implementation of any operation."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any
from urllib.parse import quote

import typer

from infrec.cli.errors import failed, usage
from infrec.config import Settings
from infrec.core.errors import InfrecError


class BackendError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Backend:
    embedded: bool = False

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def job_details(self, name: str) -> dict[str, Any] | None:
        """infrec's extra detail for a job (emulation, progress); None where only SageMaker's shapes exist."""
        return None

    def job_export(self, name: str, fmt: str) -> str:
        """A job's figures as `infrec.report.export` writes them (csv or json)."""
        raise NotImplementedError

    def job_report(self, name: str) -> str:
        """A job's report as one HTML page."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class EmbeddedBackend(Backend):
    embedded = True

    def __init__(self, run_jobs: bool = False, settings: Settings | None = None) -> None:
        """`settings`: the command's own (`infrec demo` shortens the hold); default the environment's."""
        from infrec.services import Services

        # The caller's own process: file:// confined to the state folder and the current directory
        # (or INFREC_ALLOW_FILES), commands allowed unless INFREC_ALLOW_COMMANDS=0 (see config.Settings).
        self.services = Services((settings or Settings.from_env()).confined())
        if run_jobs:
            _interrupt_on_termination()
            self.services.start_jobs(resume=False)

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """Validated against botocore's model as the API server validates, then answered by the
        method `infrec.api.operations` names for it."""
        from infrec.api.validation import operation as op_model
        from infrec.api.validation import validate_request

        op = op_model(operation)
        handler = self.services.handler(operation)
        if op is None or handler is None:
            raise BackendError("UnknownOperationException", operation)
        try:
            validate_request(op, request, self.services.extra_enums)
            return handler(request)
        except InfrecError as exc:
            raise BackendError(exc.code, exc.message) from exc

    def job_export(self, name: str, fmt: str) -> str:
        from infrec.report.export import export

        details = self.job_details(name)
        assert details is not None  # embedded mode always has them
        return export(details, fmt)

    def job_report(self, name: str) -> str:
        from infrec.report.html import job_report

        details = self.job_details(name)
        assert details is not None
        return job_report(details)

    def left_unfinished(self) -> list[str]:
        """Jobs a killed process left unfinished: said, never resumed unasked (`infrec jobs resume`)."""
        return self.services.unfinished_jobs()

    def job_details(self, name: str) -> dict[str, Any] | None:
        try:
            return self.services.jobs.job_details(name)
        except InfrecError as exc:
            raise BackendError(exc.code, exc.message) from exc

    def close(self) -> None:
        self.services.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP (a `timeout`, a CI runner, a closed terminal) take the Ctrl-C path in a
    process that runs jobs: the job is stopped, its endpoints end and the job is marked STOPPED.
    Their default action would kill this process outright and leave the endpoints running."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)


class RemoteBackend(Backend):
    """A running `infrec serve`: SageMaker's operations through boto3; a job's report and export
    through the server's web routes (/ui/jobs/<name>, /ui/jobs/<name>/export.csv|json), which
    render what the embedded commands render, from the server's own database."""

    def __init__(self, endpoint_url: str) -> None:
        import boto3

        self.endpoint_url = endpoint_url.rstrip("/")
        self.keys = (os.environ.get("AWS_ACCESS_KEY_ID", "infrec"), os.environ.get("AWS_SECRET_ACCESS_KEY", "infrec"))
        self.client = boto3.client("sagemaker", endpoint_url=endpoint_url,
                                   region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                                   aws_access_key_id=self.keys[0], aws_secret_access_key=self.keys[1])

    def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """boto3's method for `operation`, named as boto3 names it (botocore's `xform_name`)."""
        from botocore import xform_name
        from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

        try:
            out = getattr(self.client, xform_name(operation))(**request)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise BackendError(str(err.get("Code")), str(err.get("Message"))) from exc
        except ParamValidationError as exc:
            raise BackendError("ValidationException", str(exc)) from exc
        except EndpointConnectionError as exc:
            raise BackendError("ConnectionError", f"{exc}; is `infrec serve` running?") from exc
        out.pop("ResponseMetadata", None)
        return dict(out)

    def job_export(self, name: str, fmt: str) -> str:
        return self._page(f"/ui/jobs/{quote(name, safe='')}/export.{fmt}")

    def job_report(self, name: str) -> str:
        return self._page(f"/ui/jobs/{quote(name, safe='')}")

    def _page(self, path: str) -> str:
        """GET one of the server's pages, with the API's key pair as HTTP Basic credentials (what a
        server started with --auth asks of its pages); its refusal as a BackendError."""
        import base64
        import html
        import re
        import urllib.error
        import urllib.request

        token = base64.b64encode(":".join(self.keys).encode()).decode()
        req = urllib.request.Request(self.endpoint_url + path, headers={"Authorization": f"Basic {token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return str(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")
            found = re.search(r"<p>(.*?)</p>", body, flags=re.S)
            message = html.unescape(found.group(1)) if found else (body.strip() or exc.reason)
            code = "ResourceNotFound" if exc.code == 404 else f"HTTP {exc.code}"
            raise BackendError(code, message) from exc
        except urllib.error.URLError as exc:
            raise BackendError("ConnectionError", f"{exc.reason}; is `infrec serve` running at "
                                                  f"{self.endpoint_url}?") from exc


ENDPOINT_OPTION = typer.Option(None, "--endpoint-url", envvar="INFREC_ENDPOINT_URL",
                               help="Talk to a running `infrec serve` instead of working in-process.")


def open_backend(endpoint_url: str | None, run_jobs: bool = False, settings: Settings | None = None) -> Backend:
    if endpoint_url:
        return RemoteBackend(endpoint_url)
    try:
        return EmbeddedBackend(run_jobs=run_jobs, settings=settings)
    except Exception as exc:  # e.g. the database cannot be opened: say so, no traceback
        raise failed(f"{exc}; check INFREC_HOME and INFREC_DATABASE_URL") from exc


def fail(exc: BackendError) -> typer.Exit:
    """The API's refusal in the CLI's one style: a ValidationException is a bad argument (exit 2),
    anything else an action that failed (exit 1)."""
    text = f"{exc.message} ({exc.code})"
    return usage(text) if exc.code == "ValidationException" else failed(text)
