"""The sagemaker-runtime protocol (REST-JSON): `POST /endpoints/{name}/invocations` and
`/invocations-response-stream`, on the same server as the SageMaker API, so
`boto3.client("sagemaker-runtime", endpoint_url=...)` and the SDK's Predictor work unchanged.

Only the wire format lives here; choosing an instance and talking to it is `hosting.invoke.Invoker`.
Errors take the runtime's shape: `x-amzn-ErrorType` and a JSON body with `message` (and ModelError's
original status and message), never a 500 for a caller's mistake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from infrec.api.auth import AuthError, KeyStore, verify
from infrec.api.body import read_capped
from infrec.api.operations import RUNTIME
from infrec.core.errors import InfrecError
from infrec.hosting import eventstream
from infrec.hosting.invoke import Answer, Invoker, ModelError

log = logging.getLogger("infrec.api.runtime_routes")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # SageMaker's real-time request limit
# botocore's own pattern for EndpointName.
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _error(code: str, message: str, status: int, extra: dict[str, Any] | None = None) -> Response:
    body = {"message": message, **(extra or {})}
    return Response(json.dumps(body), status_code=status, media_type="application/json",
                    headers={"x-amzn-ErrorType": code})


def _name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= 63 or not set(name) <= NAME_CHARS or name[0] == "-" or name[-1] == "-":
        return (f"1 validation error detected: Value '{name[:80]}' at 'endpointName' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*")
    return None


async def _body(request: Request) -> bytes | Response:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        return _error("ValidationError", f"Request body is {declared} bytes; the limit is {MAX_PAYLOAD_BYTES}", 413)
    body = await read_capped(request, MAX_PAYLOAD_BYTES)
    if body is None:
        return _error("ValidationError", f"Request body exceeds the limit of {MAX_PAYLOAD_BYTES} bytes", 413)
    return body


def routes(invoker: Callable[[], Invoker | None], keys: KeyStore | None) -> list[Route]:
    """`invoker` returns None while no server-side hosting runs (e.g. tests of the API alone)."""

    async def prepare(request: Request) -> tuple[Invoker, str, bytes] | Response:
        name = request.path_params["name"]
        body = await _body(request)
        if isinstance(body, Response):
            return body
        if keys is not None:
            try:
                verify(keys, request.method, str(request.url), dict(request.headers), body, required=("host",))
            except AuthError as exc:
                return _error(exc.code, exc.message, 403)
        if problem := _name_problem(name):
            return _error("ValidationError", problem, 400)
        inv = invoker()
        if inv is None:
            return _error("ValidationError", "this infrec process hosts no endpoints (start `infrec serve`)", 400)
        return inv, name, body

    async def call(request: Request, operation: str, accept_header: str) -> tuple[Any, str] | Response:
        """Check the request, then run the invoker's method for `operation` (`operations.RUNTIME`)
        in a worker thread with the request's headers; its result and the endpoint's name, or the
        error in the runtime's shape."""
        ready = await prepare(request)
        if isinstance(ready, Response):
            return ready
        inv, name, body = ready
        h = request.headers
        try:
            result = await run_in_threadpool(
                RUNTIME[operation], inv, name, body, content_type=h.get("content-type"),
                accept=h.get(accept_header), custom_attributes=h.get("x-amzn-sagemaker-custom-attributes"),
                target_variant=h.get("x-amzn-sagemaker-target-variant"))
        except ModelError as exc:
            return _error(exc.code, exc.message, exc.http_status, exc.fields)
        except InfrecError as exc:
            return _error(exc.code, exc.message, exc.http_status)
        except Exception:
            log.exception("%s %s failed", operation, name)
            return _error("InternalFailure", f"infrec failed to process {operation}; see the server log", 500)
        return result, name

    def answer_headers(answer: Answer, **extra: str) -> dict[str, str]:
        headers = {"x-Amzn-Invoked-Production-Variant": answer.variant, **extra}
        if answer.custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = answer.custom_attributes
        return headers

    async def invoke(request: Request) -> Response:
        done = await call(request, "InvokeEndpoint", "accept")
        if isinstance(done, Response):
            return done
        answer: Answer = done[0]
        return Response(answer.body, status_code=200, media_type=answer.content_type, headers=answer_headers(answer))

    async def invoke_stream(request: Request) -> Response:
        done = await call(request, "InvokeEndpointWithResponseStream", "x-amzn-sagemaker-accept")
        if isinstance(done, Response):
            return done
        (answer, parts), _ = done

        async def frames() -> AsyncIterator[bytes]:
            try:
                async for part in iterate_in_threadpool(parts):
                    yield eventstream.event("PayloadPart", part)
            except OSError as exc:  # the container went away mid-answer
                payload = json.dumps({"Message": f"the model container stopped answering: {exc}",
                                      "ErrorCode": "ModelStreamError"}).encode()
                yield eventstream.exception("ModelStreamError", payload)

        headers = answer_headers(answer, **{"X-Amzn-SageMaker-Content-Type": answer.content_type})
        return StreamingResponse(frames(), media_type="application/vnd.amazon.eventstream", headers=headers)

    return [Route("/endpoints/{name}/invocations", invoke, methods=["POST"]),
            Route("/endpoints/{name}/invocations-response-stream", invoke_stream, methods=["POST"])]
