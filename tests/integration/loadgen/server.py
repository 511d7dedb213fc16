"""A small HTTP server with a known service time, for load-generator tests and the benchmark.

POST /invocations answers after a delay taken in turn from --delays-ms (cycled by arrival
order), or with --status. --serial handles one request at a time (a server with one slot,
whose throughput cannot grow with users). --stall-every N --stall-ms M freezes the whole
process for M ms on every Nth request (a GC-like pause that also delays every queued request).
GET /stats returns JSON: requests seen and (arrival monotonic time, in-flight count) samples.

Run: python server.py --port 8123 --delays-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httptools


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.delays = [float(x) / 1000.0 for x in args.delays_ms.split(",")]
        self.status = args.status
        self.serial = args.serial
        self.stall_every = args.stall_every
        self.stall_s = args.stall_ms / 1000.0
        self.count = 0
        self.inflight = 0
        self.samples: list[tuple[float, int]] = []
        self.lock = asyncio.Lock()


class HttpProtocol(asyncio.Protocol):
    """One connection of a minimal HTTP/1.1 server: httptools parses, the subclass answers in
    `on_message_complete` (the path is in `self.url`); a request that does not parse closes the
    connection. The benchmark's server builds on it too."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class Handler(HttpProtocol):
    def __init__(self, state: State) -> None:
        self.state = state
        super().__init__()

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        if method == b"GET" and self.url.startswith(b"/stats"):
            body = json.dumps({"requests": self.state.count, "samples": self.state.samples}).encode()
            self._reply(200, body)
            return
        st = self.state
        st.count += 1
        n = st.count
        if st.stall_every and n % st.stall_every == 0:
            time.sleep(st.stall_s)  # freezes everything, on purpose
        delay = st.delays[(n - 1) % len(st.delays)]
        st.inflight += 1
        st.samples.append((time.monotonic(), st.inflight))
        if delay <= 0 and not st.serial:
            st.inflight -= 1
            self._reply(st.status, b"ok")
            return
        asyncio.get_running_loop().create_task(self._later(delay))

    async def _later(self, delay: float) -> None:
        st = self.state
        try:
            if st.serial:
                async with st.lock:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(delay)
        finally:
            st.inflight -= 1
        self._reply(st.status, b"ok")

    def _reply(self, status: int, body: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(b"HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(body), body))


async def main(args: argparse.Namespace) -> None:
    state = State(args)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Handler(state), "127.0.0.1", args.port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--delays-ms", default="0")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--serial", action="store_true")
    p.add_argument("--stall-every", type=int, default=0)
    p.add_argument("--stall-ms", type=float, default=0.0)
    p.add_argument("--uvloop", action="store_true")
    a = p.parse_args()
    if a.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(main(a))
