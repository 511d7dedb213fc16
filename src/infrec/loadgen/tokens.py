"""The token-aware side of the generator engine: OpenAI-compatible answers, parsed as they arrive.

`TokenConnection` is the engine's keep-alive connection that also reads the answer's body: for a
streamed answer (server-sent events) it stamps the arrival of every event that carries text, for
a whole answer it parses the JSON at the end. `TokenWorker` is the engine's worker with one more
record per successful request — time to first token (TTFT), inter-token latency (ITL), input and
output tokens, and whether the request met every SLA (goodput) — folded into per-window
histograms and counters that travel as extra fields of the window frame (`window_extra`).

Definitions (AIPerf's, so figures compare):

- TTFT: from the send (or, open loop and late, the intended instant) to the first event carrying
  output text. Measured on streamed answers only.
- ITL of a request: (last text event − first text event) / (output tokens − 1); a server that
  sends several tokens per event is counted by tokens, not events.
- Output tokens: the model's tokenizer over the text when the run has one, else the server's
  ``usage.completion_tokens``, else the number of text events. Input tokens: ``usage.prompt_tokens``,
  else the count the prompt was built with.
- E2E latency is the engine's own request latency (the whole answer).

Nothing here is imported in a worker after the fork (the engine's rule): `json` and the
histograms are imported by the parent, and the tokenizer, if any, is built before the fork.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from infrec.loadgen import histogram
from infrec.loadgen.connection import Connection
from infrec.loadgen.worker import SEND_SLOP_S, Worker

_EVENT_SEP = b"\n\n"


@dataclass(frozen=True)
class TokenOptions:
    """What a token worker needs besides the engine's config. SLAs are None when not set."""

    stream: bool
    input_tokens: tuple[int, ...]           # per payload, as built
    ttft_sla_ms: float | None = None
    itl_sla_ms: float | None = None
    e2e_sla_ms: float | None = None
    tokenizer: Callable[[str], int] | None = None
    max_requests: int | None = None          # over all workers (AIPerf's request_count)


class TokenConnection(Connection):
    """A connection that keeps what the answer says about tokens (see the module doc)."""

    __slots__ = ("buf", "events", "first_at", "last_at", "parts", "payload", "usage_in", "usage_out")

    def __init__(self, owner: Any, target: int) -> None:
        super().__init__(owner, target)
        self.payload = 0
        self._reset()

    @property
    def worker(self) -> TokenWorker:
        return cast("TokenWorker", self.owner)

    def _reset(self) -> None:
        self.buf = b""
        self.events = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.parts: list[str] = []
        self.usage_in = -1
        self.usage_out = -1

    def send(self, data: bytes, intended: float, sent: float, callback: Any) -> None:
        self._reset()
        super().send(data, intended, sent, callback)

    def on_body(self, body: bytes) -> None:
        self.nbytes += len(body)
        if not self.worker.opts.stream:
            self.buf += body
            return
        now = time.monotonic()
        self.buf += body
        while True:
            cut = self.buf.find(_EVENT_SEP)
            if cut < 0:
                # Some servers end events with \r\n\r\n; normalise only when needed.
                if b"\r\n\r\n" in self.buf:
                    self.buf = self.buf.replace(b"\r\n", b"\n")
                    continue
                return
            event, self.buf = self.buf[:cut], self.buf[cut + 2:]
            for line in event.split(b"\n"):
                if line.startswith(b"data:"):
                    self._data(line[5:].strip(), now)

    def _data(self, data: bytes, now: float) -> None:
        if not data or data == b"[DONE]":
            return
        try:
            doc = json.loads(data)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        text = _text_of(doc, delta=True)
        if text:
            if not self.events:
                self.first_at = now
            self.last_at = now
            self.events += 1
            if self.worker.opts.tokenizer is not None:
                self.parts.append(text)
        self.take_usage(doc)

    def take_usage(self, doc: dict[str, Any]) -> None:
        usage = doc.get("usage")
        if isinstance(usage, dict):
            out, inp = usage.get("completion_tokens"), usage.get("prompt_tokens")
            if isinstance(out, int):
                self.usage_out = out
            if isinstance(inp, int):
                self.usage_in = inp

    def on_message_complete(self) -> None:
        if self.busy and self.parser.get_status_code() < 400:
            self.worker.note_answer(self)
        super().on_message_complete()


def _text_of(doc: dict[str, Any], delta: bool) -> str:
    choices = doc.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    c = choices[0]
    part = c.get("delta" if delta else "message")
    if isinstance(part, dict):
        content = part.get("content")
        if isinstance(content, str):
            return content
    text = c.get("text")
    return text if isinstance(text, str) else ""


class TokenWorker(Worker):
    """The engine's worker, recording token metrics per successful request (module doc)."""

    connection_class = TokenConnection

    def __init__(self, cfg: Any, out: Any, stop: Any, cpu_clock: Callable[[], float], *,
                 opts: TokenOptions) -> None:
        super().__init__(cfg, out, stop, cpu_clock)
        self.opts = opts
        self._answer: tuple[int, int, int, int] | None = None  # ttft_us, itl_us, in, out (-1: none)
        n, i = opts.max_requests, cfg.index
        self.send_cap = None if n is None else n // cfg.count + (1 if i < n % cfg.count else 0)
        self.submitted = 0
        self._clear_tokens()

    def _clear_tokens(self) -> None:
        self.t_ttft: list[int] = []
        self.t_itl: list[int] = []
        self.t_out = 0
        self.t_in = 0
        self.t_good = 0
        self.t_answers = 0

    def submit(self, intended: float, callback: Any) -> None:
        # request_count: this worker's share is sent, then its users stop (the coordinator ends the
        # run once every answer is in).
        if self.send_cap is not None:
            if self.submitted >= self.send_cap:
                return
            self.submitted += 1
        super().submit(intended, callback)

    def _next_payload(self, conn: Connection) -> int:
        # The engine's choice, also telling the connection which prompt it carries (input tokens).
        i = super()._next_payload(conn)
        if isinstance(conn, TokenConnection):
            conn.payload = i
        return i

    def note_answer(self, conn: TokenConnection) -> None:
        """Called by the connection just before the engine counts its successful answer."""
        opts = self.opts
        if not opts.stream and conn.buf:
            try:
                doc = json.loads(conn.buf)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                conn.take_usage(doc)
                if opts.tokenizer is not None:
                    conn.parts.append(_text_of(doc, delta=False))
                elif conn.usage_out < 0 and _text_of(doc, delta=False):
                    conn.usage_out = len(_text_of(doc, delta=False).split())
        if opts.tokenizer is not None and conn.parts:
            n_out = opts.tokenizer("".join(conn.parts))
        elif conn.usage_out >= 0:
            n_out = conn.usage_out
        else:
            n_out = conn.events
        n_in = conn.usage_in if conn.usage_in >= 0 else opts.input_tokens[conn.payload % len(opts.input_tokens)]
        ttft = itl = -1
        if opts.stream and conn.events:
            start = conn.sent if self.closed_loop or conn.sent - conn.intended <= SEND_SLOP_S else conn.intended
            ttft = int((conn.first_at - start) * 1e6)
            if n_out > 1 and conn.events > 1:
                itl = int((conn.last_at - conn.first_at) * 1e6 / (n_out - 1))
        self._answer = (ttft, itl, n_in, n_out)

    def _count(self, end: float, ok: bool, kind: str | None, nbytes: int, lat_us: int) -> None:
        super()._count(end, ok, kind, nbytes, lat_us)  # may close windows first: the answer joins this one
        answer, self._answer = self._answer, None
        if not ok or answer is None:
            return
        ttft, itl, n_in, n_out = answer
        self.t_answers += 1
        self.t_in += n_in
        self.t_out += n_out
        if ttft >= 0:
            self.t_ttft.append(ttft)
        if itl >= 0:
            self.t_itl.append(itl)
        o = self.opts
        good = n_out > 0
        # TTFT and ITL exist for streamed answers only: a whole answer is judged on its latency.
        if good and o.ttft_sla_ms is not None and ttft >= 0:
            good = ttft <= o.ttft_sla_ms * 1000
        if good and o.itl_sla_ms is not None and itl >= 0:
            good = itl <= o.itl_sla_ms * 1000
        if good and o.e2e_sla_ms is not None:
            good = lat_us <= o.e2e_sla_ms * 1000
        self.t_good += good

    def window_extra(self) -> tuple[Any, ...]:
        hists = []
        for values in (self.t_ttft, self.t_itl):
            if values:
                h = histogram.new_histogram()
                histogram.record_all(h, values)
                hists.append(histogram.encode(h))
            else:
                hists.append("")
        extra = (hists[0], hists[1], self.t_in, self.t_out, self.t_good, self.t_answers)
        self._clear_tokens()
        return extra
