"""One keep-alive HTTP/1.1 client connection: raw asyncio protocol + httptools response parser.

No per-request coroutine, future or timer: the owner writes pre-built request bytes and is
called back from `on_message_complete`, which is what lets one core drive tens of thousands
of requests per second.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httptools

if TYPE_CHECKING:
    from infrec.loadgen.worker import Worker


class Connection(asyncio.Protocol):
    __slots__ = ("busy", "callback", "intended", "nbytes", "owner", "parser", "sent", "target", "transport")

    def __init__(self, owner: Worker, target: int) -> None:
        self.owner = owner
        self.target = target
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.busy = False
        self.intended = 0.0
        self.sent = 0.0
        self.nbytes = 0
        self.callback: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.owner.on_connected(self)

    def send(self, data: bytes, intended: float, sent: float, callback: Any) -> None:
        self.busy = True
        self.intended = intended
        self.sent = sent
        self.nbytes = 0
        self.callback = callback
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.owner.on_failed(self, "other")
            self.close()

    def on_body(self, body: bytes) -> None:
        self.nbytes += len(body)

    def on_message_complete(self) -> None:
        if self.busy:
            keep = self.parser.should_keep_alive()
            self.owner.on_response(self, self.parser.get_status_code(), keep)
            if not keep:
                self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.busy:
            self.owner.on_failed(self, "conn_reset")
        self.owner.on_closed(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()
