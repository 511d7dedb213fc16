"""CloudWatch Logs reading semantics over an in-memory stream of events: GetLogEvents' forward and
backward tokens, FilterLogEvents' interleaving and filter patterns. Pure: the events come from
whoever renders them (a job's execution log, an endpoint's log).

Positions are *cursors*, not indexes: ``(timestamp, n)`` = "after every event older than
`timestamp` and after the first `n` events at exactly `timestamp`". A stream that only grows at its
end (events appear no earlier than the newest one already served) keeps every cursor valid, so a
poller that passes back ``nextForwardToken`` sees each event once, and — as CloudWatch documents —
gets the *same* token back when nothing new has arrived, which is how SDK polling loops end.
"""

from __future__ import annotations

import bisect
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

MAX_EVENTS = 10_000
MAX_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26  # what CloudWatch adds to each message when it sizes a batch
_TOKEN = re.compile(r"([fb])/(\d{20})(\d{8})")


class TokenError(ValueError):
    """A nextToken this server did not issue (CloudWatch answers InvalidParameterException)."""


class PatternError(ValueError):
    """A filter pattern infrec does not understand."""


@dataclass(frozen=True)
class LogEvent:
    timestamp: int  # milliseconds since the epoch
    message: str
    ingestion_time: int | None = None  # milliseconds; the timestamp when not known apart

    def to_doc(self) -> dict[str, object]:
        return {"timestamp": self.timestamp, "message": self.message,
                "ingestionTime": self.ingestion_time if self.ingestion_time is not None else self.timestamp}


@dataclass(frozen=True)
class Cursor:
    timestamp: int
    n: int

    def token(self, direction: str) -> str:
        return f"{direction}/{self.timestamp:020d}{self.n:08d}"


def parse_token(token: str) -> tuple[str, Cursor]:
    m = _TOKEN.fullmatch(token)
    if m is None:
        raise TokenError("The specified nextToken is invalid.")
    return m.group(1), Cursor(int(m.group(2)), int(m.group(3)))


def sort_events(events: Sequence[LogEvent]) -> list[LogEvent]:
    """By timestamp, keeping the given order among equal timestamps (a stable sort)."""
    return sorted(events, key=lambda e: e.timestamp)


def _index(stamps: list[int], cursor: Cursor) -> int:
    lo = bisect.bisect_left(stamps, cursor.timestamp)
    hi = bisect.bisect_right(stamps, cursor.timestamp)
    return lo + min(max(cursor.n, 0), hi - lo)


def _cursor(events: Sequence[LogEvent], stamps: list[int], i: int) -> Cursor:
    """The cursor just before events[i] (or after the last event when i == len)."""
    if not events:
        return Cursor(0, 0)
    if i >= len(events):
        last = events[-1].timestamp
        return Cursor(last, len(events) - bisect.bisect_left(stamps, last))
    ts = events[i].timestamp
    return Cursor(ts, i - bisect.bisect_left(stamps, ts))


def _size(e: LogEvent) -> int:
    return len(e.message.encode()) + EVENT_OVERHEAD_BYTES


def _take_forward(events: Sequence[LogEvent], start: int, limit: int) -> int:
    """How many events from `start` fit in one response (limit and 1 MB)."""
    total, n = 0, 0
    for e in events[start:start + limit]:
        total += _size(e)
        if total > MAX_BYTES and n:
            break
        n += 1
    return n


def _take_backward(events: Sequence[LogEvent], end: int, limit: int) -> int:
    total, n = 0, 0
    for e in reversed(events[max(0, end - limit):end]):
        total += _size(e)
        if total > MAX_BYTES and n:
            break
        n += 1
    return n


def in_range(events: Sequence[LogEvent], start_time: int | None, end_time: int | None) -> list[LogEvent]:
    """startTime inclusive, endTime exclusive, as CloudWatch documents."""
    return [e for e in events
            if (start_time is None or e.timestamp >= start_time) and (end_time is None or e.timestamp < end_time)]


@dataclass(frozen=True)
class Page:
    events: list[LogEvent]
    next_forward_token: str
    next_backward_token: str


def get_log_events(events: Sequence[LogEvent], *, token: str | None = None, start_from_head: bool = False,
                   start_time: int | None = None, end_time: int | None = None,
                   limit: int | None = None) -> Page:
    """GetLogEvents over `events` (sorted by timestamp).

    Without a token: the first `limit` events when `start_from_head`, else the last `limit`. With a
    forward token (``f/…``): the events after it; with a backward token (``b/…``): the events just
    before it (in ascending order). At the end of the stream in the token's direction the token
    passed in comes back unchanged; the other token marks the page's other edge."""
    evs = in_range(events, start_time, end_time)
    stamps = [e.timestamp for e in evs]
    limit = min(limit or MAX_EVENTS, MAX_EVENTS)
    if token is not None:
        direction, cursor = parse_token(token)
        at = _index(stamps, cursor)
        if direction == "f":
            n = _take_forward(evs, at, limit)
            page = evs[at:at + n]
            fwd = token if not page else _cursor(evs, stamps, at + n).token("f")
            return Page(page, fwd, _cursor(evs, stamps, at).token("b"))
        n = _take_backward(evs, at, limit)
        page = evs[at - n:at]
        bwd = token if not page else _cursor(evs, stamps, at - n).token("b")
        return Page(page, _cursor(evs, stamps, at).token("f"), bwd)
    if start_from_head:
        n = _take_forward(evs, 0, limit)
        first, end = 0, n
    else:
        n = _take_backward(evs, len(evs), limit)
        first, end = len(evs) - n, len(evs)
    return Page(evs[first:end], _cursor(evs, stamps, end).token("f"), _cursor(evs, stamps, first).token("b"))


# ---------------------------------------------------------------------------- FilterLogEvents
@dataclass(frozen=True)
class Matcher:
    """CloudWatch's filter pattern for unstructured events: every plain term (or "quoted phrase")
    must occur, any one `?term` suffices when there are only optional terms, and no `-term` may
    occur. Matching is case-sensitive, as CloudWatch's is. JSON (`{ … }`) and space-delimited
    (`[ … ]`) patterns are refused rather than half-understood."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @classmethod
    def parse(cls, pattern: str | None) -> Matcher:
        text = (pattern or "").strip()
        if not text:
            return cls()
        if text[0] in "{[" or text.startswith("%"):
            raise PatternError("infrec supports plain-term filter patterns (terms, \"phrases\", ?optional, "
                               "-excluded); JSON, space-delimited and regular-expression patterns are not "
                               "supported")
        try:
            terms = shlex.split(text)
        except ValueError as exc:
            raise PatternError(f"Invalid filter pattern: {exc}") from exc
        req: list[str] = []
        opt: list[str] = []
        exc_: list[str] = []
        for t in terms:
            if t.startswith("?") and len(t) > 1:
                opt.append(t[1:])
            elif t.startswith("-") and len(t) > 1:
                exc_.append(t[1:])
            else:
                req.append(t)
        return cls(tuple(req), tuple(opt), tuple(exc_))

    def __call__(self, message: str) -> bool:
        if any(t in message for t in self.excluded):
            return False
        if not all(t in message for t in self.required):
            return False
        return not self.optional or bool(self.required) or any(t in message for t in self.optional)


@dataclass(frozen=True)
class FilteredEvent:
    stream: str
    event: LogEvent
    event_id: str


@dataclass(frozen=True)
class FilterPage:
    events: list[FilteredEvent]
    next_token: str | None


def filter_log_events(streams: Sequence[tuple[str, Sequence[LogEvent]]], *, pattern: str | None = None,
                      start_time: int | None = None, end_time: int | None = None, limit: int | None = None,
                      token: str | None = None) -> FilterPage:
    """FilterLogEvents over several streams, interleaved by timestamp (ties: stream name, then the
    stream's own order). `nextToken` is absent once every matching event has been returned; a
    token is a cursor like GetLogEvents' forward token."""
    match = Matcher.parse(pattern)
    merged: list[FilteredEvent] = []
    for si, (name, events) in enumerate(sorted(streams, key=lambda s: s[0])):
        for i, e in enumerate(in_range(events, start_time, end_time)):
            if match(e.message):
                merged.append(FilteredEvent(name, e, f"{e.timestamp:020d}{si:04d}{i:08d}"))
    merged.sort(key=lambda f: (f.event.timestamp, f.stream))
    plain = [f.event for f in merged]
    stamps = [e.timestamp for e in plain]
    at = 0
    if token is not None:
        direction, cursor = parse_token(token)
        if direction != "f":
            raise TokenError("The specified nextToken is invalid.")
        at = _index(stamps, cursor)
    n = _take_forward(plain, at, min(limit or MAX_EVENTS, MAX_EVENTS))
    end = at + n
    return FilterPage(merged[at:end], _cursor(plain, stamps, end).token("f") if end < len(plain) else None)
