"""Where CLI commands send their operations: the services in this process (embedded mode, the
default) or a running `infrec serve` through boto3 (`--endpoint-url`). Commands are written once
against `Backend.call`, so the CLI never grows a second implementation of any operation."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

import typer

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
    def __init__(self, endpoint_url: str) -> None:
        import boto3

        self.client = boto3.client("sagemaker", endpoint_url=endpoint_url,
                                   region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                                   aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "infrec"),
                                   aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "infrec"))

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


ENDPOINT_OPTION = typer.Option(None, "--endpoint-url", envvar="INFREC_ENDPOINT_URL",
                               help="Talk to a running `infrec serve` instead of working in-process.")


def open_backend(endpoint_url: str | None, run_jobs: bool = False, settings: Settings | None = None) -> Backend:
    if endpoint_url:
        return RemoteBackend(endpoint_url)
    try:
        return EmbeddedBackend(run_jobs=run_jobs, settings=settings)
    except Exception as exc:  # e.g. the database cannot be opened: say so, no traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def fail(exc: BackendError) -> typer.Exit:
    typer.echo(f"error: {exc.code}: {exc.message}", err=True)
    return typer.Exit(1)
