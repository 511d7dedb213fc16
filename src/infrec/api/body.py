"""A JSON reader for request bodies that refuses what would crash or stall a plain `json.loads`.

Python's parser recurses once per nesting level (a body of a thousand `[` raises RecursionError)
and refuses integer literals past 4,300 digits with a ValueError; turning a 2 MiB body of digits
into an int is also quadratic. No SageMaker request nests deeper than a few dozen levels or holds a
number of more than a few dozen digits, so the reader bounds both well above what is legitimate and
answers anything past them as a `SerializationException` that names the limit, before Python's own
parser sees it. Non-finite literals (`NaN`, `Infinity`), which JSON does not have, are refused too,
and so are strings no store can keep: a lone UTF-16 surrogate (`"\\ud800"`, valid JSON but not text,
fails when encoded for the database) and NUL (PostgreSQL's text type has no place for it).

Reading the body itself is capped too (`read_capped`), for both protocols the server speaks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

MAX_DEPTH = 64
MAX_NUMBER_CHARS = 400

# A JSON string literal (escapes included): removed before the brackets are counted, so a `[`
# inside a string does not count as nesting. Unterminated strings are left for json.loads to report.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class BodyError(ValueError):
    """The body is not JSON infrec will read; the message says why, for a SerializationException."""


def _check_depth(text: str) -> None:
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise BodyError(f"Request body nests JSON arrays/objects more than {MAX_DEPTH} levels deep; "
                                f"refused (the limit is {MAX_DEPTH})")
        else:
            depth -= 1


def _number(kind: type[int] | type[float]) -> Any:
    def parse(literal: str) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise BodyError(f"Request body holds a number literal of {len(literal)} characters; refused "
                            f"(the limit is {MAX_NUMBER_CHARS})")
        return kind(literal)

    return parse


def _constant(name: str) -> Any:
    raise BodyError(f"Request body holds {name}, which is not JSON; refused")


def parse_json_body(body: bytes) -> Any:
    """The decoded body (`{}` for an empty one). Raises BodyError for anything it refuses: bytes that
    are not UTF-8, text that is not JSON, nesting deeper than MAX_DEPTH, number literals longer than
    MAX_NUMBER_CHARS, NaN/Infinity."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"Request body is not valid UTF-8: {exc}") from None
    if not text.strip():
        return {}
    _check_depth(text)
    try:
        value = json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise BodyError(f"Request body is not valid JSON: {exc}") from None
    except RecursionError:  # unreachable after _check_depth; kept so no input can ever become a 500
        raise BodyError(f"Request body nests JSON more deeply than infrec reads (limit {MAX_DEPTH})") from None
    _check_strings(value)
    return value


def _check_strings(value: Any) -> None:
    """Refuse strings (keys included) that are not storable text; recursion is bounded by MAX_DEPTH."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BodyError("Request body holds a NUL character (\\u0000) in a string; refused")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyError("Request body holds a lone UTF-16 surrogate (such as \\ud800) in a string, "
                            "which is not text; refused") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k)
            _check_strings(v)
    elif isinstance(value, list):
        for v in value:
            _check_strings(v)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it grows past `limit` bytes: read chunk by chunk, so a
    body larger than the limit (a chunked one has no Content-Length to refuse first) is never held
    whole. Each caller answers None with its own protocol's error."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
