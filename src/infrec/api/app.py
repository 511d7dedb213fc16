"""The HTTP API: AWS JSON 1.1 as SageMaker speaks it (`POST /`, `X-Amz-Target: SageMaker.<Op>`), and
on the same path the CloudWatch Logs reads the SageMaker SDK makes (`Logs_20140328.<Op>`, see
`infrec.logs`): the target's prefix picks the service model requests are validated against, the
services that answer, and the service a SigV4 signature must be scoped to.

This layer only turns the wire format into calls on the services and their errors back into the
protocol's error shape; every rule about the resources lives in the services. What any request must
pass first (Host, Origin, the web pages' login) is `guard.RequestGuard`; the body is read by
`body.parse_json_body`, which bounds depth and number size so no body can become a 500; what a caller
may make the host do (commands, images) is checked by `policy.check_request`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infrec.api.auth import AuthError, KeyStore, verify
from infrec.api.body import BodyError, parse_json_body, read_capped
from infrec.api.guard import RequestGuard
from infrec.api.policy import check_request
from infrec.api.validation import operation, validate_request
from infrec.core.errors import InfrecError, ValidationError
from infrec.services import Services

log = logging.getLogger("infrec.api")

MAX_BODY_BYTES = 2 * 1024 * 1024
CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker."


@dataclass(frozen=True)
class _Api:
    """One AWS JSON API served on `/`: its botocore model, and what its errors are called."""

    label: str
    service: str              # botocore's model name, the SigV4 scope and Services.handler's `api`
    validation_code: str      # what the service calls a request that breaks its model


APIS = {TARGET_PREFIX: _Api("SageMaker", "sagemaker", "ValidationException"),
        "Logs_20140328.": _Api("CloudWatch Logs", "logs", "InvalidParameterException")}


def error(code: str, message: str, status: int = 400) -> Response:
    body = json.dumps({"__type": code, "message": message})
    return Response(body, status_code=status, media_type=CONTENT_TYPE,
                    headers={"x-amzn-ErrorType": code})


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.timestamp()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


async def _read_body(request: Request) -> bytes | Response:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return error("ValidationException",
                     f"Request body is {int(declared)} bytes; the limit is {MAX_BODY_BYTES} bytes", 413)
    body = await read_capped(request, MAX_BODY_BYTES)
    if body is None:
        return error("ValidationException", f"Request body exceeds the limit of {MAX_BODY_BYTES} bytes", 413)
    return body


def create_app(services: Services, keys: KeyStore | None = None, *, allowed_hosts: Iterable[str] | None = None,
               port: int | None = None, on_shutdown: Callable[[], None] | None = None) -> Starlette:
    """The API and web pages. `keys`: SigV4 keys (None = no authentication). `allowed_hosts`: the
    names a Host header may carry, with `port` (a loopback bind's DNS-rebinding guard); None = any.
    `on_shutdown` runs when the server stops, before the process exits: uvicorn re-raises SIGTERM
    once it has shut down, so code after `uvicorn.run` never runs on a plain `kill`; endpoint
    processes are stopped here instead."""
    async def dispatch(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        prefix = next((p for p in APIS if target.startswith(p)), None)
        if prefix is None:
            return error("UnknownOperationException",
                         f"X-Amz-Target {target!r} does not name a SageMaker operation "
                         f"(expected '{TARGET_PREFIX}<Operation>', or 'Logs_20140328.<Operation>' for CloudWatch Logs)")
        api = APIS[prefix]
        body = await _read_body(request)
        if isinstance(body, Response):
            return body
        if keys is not None:
            try:
                verify(keys, request.method, str(request.url), dict(request.headers), body, service=api.service)
            except AuthError as exc:
                return error(exc.code, exc.message, 403)
        name = target[len(prefix):]
        op = operation(name, api.service)
        handler = services.handler(name, api.service) if op is not None else None
        if op is None or handler is None:
            why = f"is not a {api.label} operation" if op is None else "is not implemented by infrec"
            return error("UnknownOperationException", f"Operation {name!r} {why}")
        try:
            payload = parse_json_body(body)
        except BodyError as exc:
            return error("SerializationException", str(exc))
        try:
            validate_request(op, payload, services.extra_enums)
            check_request(payload, allow_commands=services.settings.allow_commands)
            result = await run_in_threadpool(handler, payload)
        except ValidationError as exc:
            code = api.validation_code if exc.code == "ValidationException" else exc.code
            return error(code, exc.message, exc.http_status)
        except InfrecError as exc:
            return error(exc.code, exc.message, exc.http_status)
        except Exception:
            log.exception("internal error in %s", name)
            return error("InternalFailure", f"infrec failed to process {name}; see the server log", 500)
        return Response(json.dumps(result, default=_json_default), media_type=CONTENT_TYPE)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    from infrec.api.runtime_routes import routes as runtime_routes
    from infrec.web.routes import routes as web_routes

    routes = [Route("/", dispatch, methods=["POST"]), Route("/healthz", health, methods=["GET"]),
              *runtime_routes(services.invoker, keys), *web_routes(services)]
    guard = Middleware(RequestGuard, keys=keys, allowed_hosts=allowed_hosts, port=port)
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    return Starlette(routes=routes, middleware=[guard], lifespan=lifespan)
