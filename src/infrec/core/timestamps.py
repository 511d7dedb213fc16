"""Request timestamps (CreationTimeAfter and the like): botocore sends epoch seconds, people using the
CLI's JSON write ISO 8601; one parser, so every List operation reads them the same way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from infrec.core.errors import ValidationError


def request_epoch(value: Any) -> float | None:
    """Epoch seconds of a request timestamp, None when absent; ValidationError for anything else."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ValidationError(f"timestamp {value!r} is not epoch seconds or ISO 8601") from exc


_WINDOW = (("CreationTimeAfter", "CreationTime", True), ("CreationTimeBefore", "CreationTime", False),
           ("LastModifiedTimeAfter", "LastModifiedTime", True), ("LastModifiedTimeBefore", "LastModifiedTime", False))


def within(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether a resource (its CreationTime / LastModifiedTime, epoch seconds) passes a List request's
    time filters (CreationTimeAfter/Before, LastModifiedTimeAfter/Before; bounds exclusive, as in SageMaker).
    A resource without the field a filter names passes that filter."""
    for key, field, after in _WINDOW:
        bound = request_epoch(query.get(key))
        if bound is None or doc.get(field) is None:
            continue
        if (float(doc[field]) <= bound) if after else (float(doc[field]) >= bound):
            return False
    return True
