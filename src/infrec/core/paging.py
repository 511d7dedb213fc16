"""NextToken pagination. Tokens are opaque to clients but carry the query they belong to, so a token
reused with a different filter is refused instead of silently skipping rows."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from infrec.core.errors import ValidationError

T = TypeVar("T")


def _fingerprint(query: dict[str, Any]) -> str:
    canon = json.dumps({k: v for k, v in sorted(query.items()) if k not in ("NextToken", "MaxResults")},
                       sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def encode_token(offset: int, query: dict[str, Any]) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(query)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None, query: dict[str, Any]) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
        fingerprint = str(data["q"])
    except Exception as exc:
        raise ValidationError("NextToken is not a token this service issued") from exc
    if fingerprint != _fingerprint(query) or offset < 0:
        raise ValidationError("NextToken does not belong to this request's filters")
    return offset


def page(items: Sequence[T], query: dict[str, Any], default_max: int = 10) -> tuple[list[T], str | None]:
    """One page of `items` (already filtered and sorted) and the token for the next, if any."""
    start = decode_token(query.get("NextToken"), query)
    size = int(query.get("MaxResults") or default_max)
    chunk = list(items[start : start + size])
    nxt = encode_token(start + size, query) if start + size < len(items) else None
    return chunk, nxt
