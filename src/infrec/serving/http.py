"""A minimal HTTP/1.1 server on asyncio + httptools: keep-alive, pipelining, chunked bodies.

Why not a framework: the server's own cost per request is part of every latency infrec measures,
so it does the least it can. Requests are answered synchronously inside the parser callback, one at
a time per worker, the way SageMaker's single-threaded model workers behave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httptools

REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
           406: b"Not Acceptable", 413: b"Payload Too Large", 415: b"Unsupported Media Type",
           500: b"Internal Server Error", 503: b"Service Unavailable", 504: b"Gateway Timeout"}

# (method, path, content type, accept, body) → (status, content type, body)
Handler = Callable[[bytes, bytes, "str | None", "str | None", bytes], tuple[int, str, bytes]]


def response(status: int, content_type: str, body: bytes, keep_alive: bool) -> bytes:
    head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        status, REASONS.get(status, b"Status"), content_type.encode("latin-1"), len(body))
    if not keep_alive:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


class HttpProtocol(asyncio.Protocol):
    """One connection. httptools calls the on_* methods as bytes arrive."""

    __slots__ = ("_accept", "_body", "_ctype", "_expect", "_handler", "_max_body", "_parser", "_size",
                 "_too_big", "_transport", "_url")

    def __init__(self, handler: Handler, max_body: int) -> None:
        self._handler = handler
        self._max_body = max_body
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._ctype: str | None = None
        self._accept: str | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._too_big = False
        self._expect = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {exc}".encode())

    def _fail(self, status: int, message: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(response(status, "text/plain", message, False))
            self._transport.close()

    # httptools callbacks -------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._ctype = self._accept = None
        self._body = []
        self._size = 0
        self._too_big = False
        self._expect = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        n = name.lower()
        if n == b"content-type":
            self._ctype = value.decode("latin-1")
        elif n == b"accept":
            self._accept = value.decode("latin-1")
        elif n == b"expect" and value.lower() == b"100-continue":
            self._expect = True

    def on_headers_complete(self) -> None:
        # curl and some SDKs wait for this before sending a body larger than 1 KiB.
        if self._expect and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max_body:
            self._too_big = True
            self._body = []
        elif not self._too_big:
            self._body.append(body)

    def on_message_complete(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        keep = self._parser.should_keep_alive()
        if self._too_big:
            status, ctype, payload = 413, "text/plain", b"request body larger than %d bytes" % self._max_body
        else:
            path = self._url.split(b"?", 1)[0]
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            status, ctype, payload = self._handler(self._parser.get_method(), path, self._ctype, self._accept, body)
        transport.write(response(status, ctype, payload, keep))
        if not keep:
            transport.close()
