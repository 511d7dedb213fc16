"""`infrec/llmsim`: an OpenAI-compatible LLM server whose timing is known exactly.

It is the metric truth for the token-aware load generator: every figure it produces (time to
first token, inter-token latency, tokens per second) is set by the environment, so a measurement
can be compared against the truth rather than against another tool. It generates no text worth
reading — token k of an answer is the word ``tok<k>`` — and spends almost no CPU, so it answers
on time under any concurrency the host can drive.

Timing (all from the moment the request's body has been read and a slot is free):

- the first token is sent at ``INFREC_LLMSIM_TTFT_MS`` (+ ``INFREC_LLMSIM_PREFILL_US_PER_TOKEN`` per
  input token), token k at ``ttft + k * INFREC_LLMSIM_ITL_MS``: the schedule is absolute, so timer
  jitter never accumulates and the mean inter-token latency is exact;
- ``INFREC_LLMSIM_MAX_CONCURRENCY`` (0 = unlimited) slots decode at once; requests beyond them
  queue (their TTFT grows), which is what makes a concurrency search find a knee;
- an answer has ``max_tokens`` (or ``max_completion_tokens``) tokens, else
  ``INFREC_LLMSIM_OUTPUT_TOKENS``; an input token is a whitespace-separated word.

Routes: ``POST /v1/chat/completions``, ``POST /v1/completions``, ``POST /invocations`` (chat when
the body has ``messages``, else completion: SageMaker's LLM containers take OpenAI bodies there),
``GET /ping``, ``GET /health``, ``GET /v1/models``. Streaming (``"stream": true``) answers in
server-sent events, one token per event, with a ``usage`` event when
``stream_options.include_usage`` is set, then ``data: [DONE]``.

Run: ``python -m infrec.serving.llmsim [--port N] [--host H]`` (port defaults to
``SAGEMAKER_BIND_TO_PORT``, then 8080), or as the built-in image ``infrec/llmsim`` on an endpoint.
Only the standard library (and uvloop when present): an endpoint process starts in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_BODY = 8 * 1024 * 1024
MAX_HEADER = 64 * 1024
MODEL_NAME = "infrec-llmsim"


@dataclass(frozen=True)
class SimSettings:
    """The server's timing and size, from INFREC_LLMSIM_* variables."""

    ttft_ms: float = 50.0
    itl_ms: float = 10.0
    output_tokens: int = 64
    max_concurrency: int = 0
    prefill_us_per_token: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SimSettings:
        e = os.environ if env is None else env

        def num(key: str, default: float, integer: bool = False) -> float:
            raw = e.get(key, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{key}={raw!r} is not a number") from None
            if value < 0 or (integer and value != int(value)):
                raise ValueError(f"{key}={raw!r} must be a non-negative {'whole ' if integer else ''}number")
            return value

        return cls(ttft_ms=num("INFREC_LLMSIM_TTFT_MS", cls.ttft_ms),
                   itl_ms=num("INFREC_LLMSIM_ITL_MS", cls.itl_ms),
                   output_tokens=max(1, int(num("INFREC_LLMSIM_OUTPUT_TOKENS", cls.output_tokens, True))),
                   max_concurrency=int(num("INFREC_LLMSIM_MAX_CONCURRENCY", cls.max_concurrency, True)),
                   prefill_us_per_token=num("INFREC_LLMSIM_PREFILL_US_PER_TOKEN", cls.prefill_us_per_token))


def _prompt_words(body: dict[str, Any]) -> int:
    """Input tokens: whitespace-separated words of the prompt or of every message's content."""
    if isinstance(body.get("messages"), list):
        words = 0
        for m in body["messages"]:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, str):
                words += len(content.split())
            elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
                words += sum(len(str(p.get("text", "")).split()) for p in content if isinstance(p, dict))
        return words
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        return sum(len(p.split()) if isinstance(p, str) else 1 for p in prompt)
    return len(str(prompt).split())


class _BadRequest(Exception):
    pass


def _output_tokens(body: dict[str, Any], default: int) -> int:
    for key in ("max_completion_tokens", "max_tokens", "max_new_tokens"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _BadRequest(f"{key} must be a positive integer")
            return value
    return default


class SimServer:
    """One asyncio server; each connection is a keep-alive HTTP/1.1 loop."""

    def __init__(self, settings: SimSettings) -> None:
        self.s = settings
        self.slots = asyncio.Semaphore(settings.max_concurrency) if settings.max_concurrency else None
        self.counter = 0
        self.active = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    await self._send_json(writer, 400, {"error": {"message": "bad request line"}}, False)
                    return
                method, target, _version = parts
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    await self._send_json(writer, 413, {"error": {"message": "body too large"}}, False)
                    return
                raw = await reader.readexactly(length) if length else b""
                keep = headers.get("connection", "").lower() != "close"
                keep = await self.route(method, target.split("?", 1)[0], raw, writer, keep)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def route(self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter, keep: bool) -> bool:
        if method == "GET" and path in ("/ping", "/health", "/healthz"):
            await self._send_json(writer, 200, {"status": "ok"}, keep)
            return keep
        if method == "GET" and path == "/v1/models":
            await self._send_json(writer, 200, {"object": "list", "data": [
                {"id": MODEL_NAME, "object": "model", "owned_by": "infrec"}]}, keep)
            return keep
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions", "/invocations"):
            await self._send_json(writer, 404, {"error": {"message": f"no route {method} {path}"}}, keep)
            return keep
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise _BadRequest("the body must be a JSON object")
            chat = path == "/v1/chat/completions" or (path == "/invocations" and "messages" in body)
            n_out = _output_tokens(body, self.s.output_tokens)
            n_in = _prompt_words(body)
        except (ValueError, _BadRequest) as exc:
            await self._send_json(writer, 400, {"error": {"message": str(exc), "type": "invalid_request_error"}},
                                  keep)
            return keep
        stream = bool(body.get("stream"))
        usage_opt = body.get("stream_options")
        include_usage = isinstance(usage_opt, dict) and bool(usage_opt.get("include_usage"))
        if self.slots is not None:
            await self.slots.acquire()
        try:
            self.active += 1
            return await self._generate(writer, keep, chat, stream, include_usage, n_in, n_out)
        finally:
            self.active -= 1
            if self.slots is not None:
                self.slots.release()

    async def _generate(self, writer: asyncio.StreamWriter, keep: bool, chat: bool, stream: bool,
                        include_usage: bool, n_in: int, n_out: int) -> bool:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first = start + (self.s.ttft_ms + self.s.prefill_us_per_token * n_in / 1000.0) / 1000.0
        itl = self.s.itl_ms / 1000.0
        self.counter += 1
        rid = f"{'chatcmpl' if chat else 'cmpl'}-{os.getpid()}-{self.counter}"
        created = int(time.time())
        obj = "chat.completion" if chat else "text_completion"
        usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
        if not stream:
            await _sleep_until(loop, first + (n_out - 1) * itl)
            text = " ".join(f"tok{k}" for k in range(n_out))
            choice: dict[str, Any] = ({"index": 0, "message": {"role": "assistant", "content": text},
                                       "finish_reason": "length"} if chat else
                                      {"index": 0, "text": text, "finish_reason": "length"})
            await self._send_json(writer, 200, {"id": rid, "object": obj, "created": created, "model": MODEL_NAME,
                                                "choices": [choice], "usage": usage}, keep)
            return keep
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Transfer-Encoding: chunked\r\n" + (b"" if keep else b"Connection: close\r\n") + b"\r\n")
        chunk_obj = "chat.completion.chunk" if chat else "text_completion"
        for k in range(n_out):
            await _sleep_until(loop, first + k * itl)
            piece = f"tok{k}" if k == 0 else f" tok{k}"
            last = k == n_out - 1
            if chat:
                delta: dict[str, Any] = {"content": piece}
                if k == 0:
                    delta["role"] = "assistant"
                ch: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": "length" if last else None}
            else:
                ch = {"index": 0, "text": piece, "finish_reason": "length" if last else None}
            event = {"id": rid, "object": chunk_obj, "created": created, "model": MODEL_NAME, "choices": [ch]}
            _write_event(writer, json.dumps(event, separators=(",", ":")))
            await writer.drain()
        if include_usage:
            _write_event(writer, json.dumps({"id": rid, "object": chunk_obj, "created": created, "model": MODEL_NAME,
                                             "choices": [], "usage": usage}, separators=(",", ":")))
        _write_event(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return keep

    @staticmethod
    async def _send_json(writer: asyncio.StreamWriter, status: int, doc: dict[str, Any], keep: bool) -> None:
        data = json.dumps(doc).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}.get(status, "Error")
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\n{'' if keep else 'Connection: close' + chr(13) + chr(10)}"
                     "\r\n".encode("latin-1") + data)
        await writer.drain()


def _write_event(writer: asyncio.StreamWriter, data: str) -> None:
    payload = f"data: {data}\n\n".encode()
    writer.write(f"{len(payload):x}\r\n".encode("ascii") + payload + b"\r\n")


async def _sleep_until(loop: asyncio.AbstractEventLoop, due: float) -> None:
    gap = due - loop.time()
    if gap > 0:
        await asyncio.sleep(gap)


async def serve(host: str, port: int, settings: SimSettings, ready: Any = None) -> None:
    """Serve until SIGTERM/SIGINT (or cancellation)."""
    sim = SimServer(settings)
    server = await asyncio.start_server(sim.handle, host, port, limit=MAX_HEADER, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready(server.sockets[0].getsockname()[1])
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrec.serving.llmsim", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("INFREC_LLMSIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080") or 8080))
    args = parser.parse_args(argv)
    try:
        settings = SimSettings.from_env()
    except ValueError as exc:
        print(f"infrec.serving.llmsim: {exc}", file=sys.stderr)
        return 2
    loop: asyncio.AbstractEventLoop
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency
        loop = asyncio.new_event_loop()
    print(f"llmsim listening on {args.host}:{args.port} ttft_ms={settings.ttft_ms} itl_ms={settings.itl_ms} "
          f"output_tokens={settings.output_tokens} max_concurrency={settings.max_concurrency}", flush=True)
    try:
        loop.run_until_complete(serve(args.host, args.port, settings))
    except OSError as exc:
        print(f"infrec.serving.llmsim: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
