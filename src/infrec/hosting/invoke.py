"""InvokeEndpoint: one request to one instance of a running endpoint, chosen as SageMaker chooses.

A variant is picked by weight (or named by TargetVariant), an instance of it round-robin; the body
goes to the container's `POST /invocations` unchanged with Content-Type, Accept and custom
attributes, over a kept-alive connection per thread and instance. A container's non-2xx answer is
SageMaker's ModelError (424) with the original status and message; a container that cannot be
reached, or that answers past the deadline, is too, as SageMaker reports a model that died.
"""

from __future__ import annotations

import http.client
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from infrec.core.errors import InfrecError, ValidationError
from infrec.hosting.endpoints import IN_SERVICE, HostingService
from infrec.hosting.supervisor import Supervisor, Variant

INVOKE_TIMEOUT_S = 60.0   # SageMaker's real-time invocation timeout
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # SageMaker's real-time payload limit
STREAM_CHUNK = 64 * 1024


class ModelError(InfrecError):
    """The container answered with an error (or not at all); SageMaker's 424 ModelError."""

    code = "ModelError"
    http_status = 424

    def __init__(self, message: str, original_status: int | None, original_message: str, log_stream: str) -> None:
        super().__init__(message)
        self.fields: dict[str, Any] = {"OriginalMessage": original_message[:4096], "LogStreamArn": log_stream}
        if original_status is not None:
            self.fields["OriginalStatusCode"] = original_status


class RuntimeValidationError(ValidationError):
    """The runtime API's spelling of a validation error (sagemaker-runtime says ValidationError)."""

    code = "ValidationError"


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str
    variant: str
    custom_attributes: str | None


_local = threading.local()


def _connection(url: str) -> http.client.HTTPConnection:
    pool: dict[str, http.client.HTTPConnection] = getattr(_local, "pool", None) or {}
    _local.pool = pool
    conn = pool.get(url)
    if conn is None:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=INVOKE_TIMEOUT_S)
        pool[url] = conn
    return conn


def _drop(url: str) -> None:
    pool = getattr(_local, "pool", {})
    conn = pool.pop(url, None)
    if conn is not None:
        conn.close()


class Invoker:
    def __init__(self, service: HostingService, supervisor: Supervisor) -> None:
        self.service = service
        self.supervisor = supervisor

    def _variant(self, name: str, target: str | None) -> Variant:
        variants = self.supervisor.variants(name)
        if not variants:
            account = self.service.arns.account_id
            try:
                status = self.service.get_endpoint(name)["EndpointStatus"]
            except ValidationError:
                raise RuntimeValidationError(f"Endpoint {name} of account {account} not found.") from None
            if status == IN_SERVICE:  # in service on another server sharing the database
                raise RuntimeValidationError(f"Endpoint {name} of account {account} is served by another "
                                             "infrec server; send the request to that server")
            raise RuntimeValidationError(f"Endpoint {name} of account {account} is {status}; it takes "
                                         "requests once it is InService")
        if target:
            for v in variants:
                if v.name == target:
                    return v
            raise RuntimeValidationError(f"Endpoint {name} has no production variant named {target!r}")
        weights = [max(v.weight, 0.0) for v in variants]
        if sum(weights) <= 0:
            return variants[0]
        return random.choices(variants, weights=weights)[0]

    def _send(self, name: str, body: bytes, headers: dict[str, str],
              target: str | None) -> tuple[Variant, str, http.client.HTTPResponse]:
        v = self._variant(name, target)
        url = v.next_url()
        path = urlsplit(url).path.rstrip("/") + "/invocations"
        for attempt in (1, 2):  # a kept-alive connection the container closed is retried once
            conn = _connection(url)
            try:
                conn.request("POST", path, body=body, headers=headers)
                return v, url, conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                _drop(url)
                if attempt == 2:
                    raise self._unreachable(name, v, exc) from None
            except OSError as exc:
                _drop(url)
                raise self._unreachable(name, v, exc) from None
        raise AssertionError("unreachable")

    def _unreachable(self, name: str, v: Variant, exc: BaseException) -> ModelError:
        what = "timed out" if isinstance(exc, TimeoutError) else f"could not be reached ({exc})"
        return ModelError(f"Received server error (0) from {v.name} with message \"The model container {what}\". "
                          f"See the infrec server log for endpoint {name}.", None, str(exc), self._log(name))

    def _refused(self, name: str, v: Variant, status: int, text: str) -> ModelError:
        """The container answered with an error status: SageMaker's wording of it."""
        kind = "client" if status < 500 else "server"
        return ModelError(f"Received {kind} error ({status}) from {v.name} with message \"{text[:1024]}\". "
                          f"See the infrec server log for endpoint {name}.", status, text, self._log(name))

    def _log(self, name: str) -> str:
        return (f"arn:aws:logs:{self.service.arns.region}:{self.service.arns.account_id}:log-group:"
                f"/aws/sagemaker/Endpoints/{name}")

    @staticmethod
    def _headers(content_type: str | None, accept: str | None, custom: str | None, length: int) -> dict[str, str]:
        h = {"Content-Type": content_type or "application/octet-stream", "Content-Length": str(length)}
        if accept:
            h["Accept"] = accept
        if custom:
            h["X-Amzn-SageMaker-Custom-Attributes"] = custom
        return h

    def invoke(self, name: str, body: bytes, *, content_type: str | None, accept: str | None,
               custom_attributes: str | None, target_variant: str | None) -> Answer:
        v, url, resp = self._send(name, body, self._headers(content_type, accept, custom_attributes, len(body)),
                                  target_variant)
        try:
            data = resp.read(MAX_RESPONSE_BYTES + 1)
        except OSError as exc:
            _drop(url)
            raise self._unreachable(name, v, exc) from None
        if len(data) > MAX_RESPONSE_BYTES:
            _drop(url)
            raise ModelError(f"The model's response for endpoint {name} exceeds {MAX_RESPONSE_BYTES} bytes",
                             resp.status, "response too large", self._log(name))
        if resp.will_close:
            _drop(url)
        if not 200 <= resp.status < 300:
            raise self._refused(name, v, resp.status, data.decode("utf-8", "replace"))
        return Answer(resp.status, data, resp.getheader("Content-Type") or "application/octet-stream", v.name,
                      resp.getheader("X-Amzn-SageMaker-Custom-Attributes"))

    def invoke_stream(self, name: str, body: bytes, *, content_type: str | None, accept: str | None,
                      custom_attributes: str | None,
                      target_variant: str | None) -> tuple[Answer, Iterator[bytes]]:
        """The container's answer as it arrives, in parts (for InvokeEndpointWithResponseStream).
        Errors before the first byte are raised here; the iterator yields the body's parts."""
        v, url, resp = self._send(name, body, self._headers(content_type, accept, custom_attributes, len(body)),
                                  target_variant)
        if not 200 <= resp.status < 300:
            text = resp.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
            _drop(url)
            raise self._refused(name, v, resp.status, text)

        def parts() -> Iterator[bytes]:
            try:
                while chunk := resp.read1(STREAM_CHUNK):
                    yield chunk
            finally:
                _drop(url)  # the connection is this stream's; never reused half-read

        answer = Answer(resp.status, b"", resp.getheader("Content-Type") or "application/octet-stream", v.name,
                        resp.getheader("X-Amzn-SageMaker-Custom-Attributes"))
        return answer, parts()
