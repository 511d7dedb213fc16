"""Request timestamps (CreationTimeAfter and the like): botocore sends epoch seconds, people using the
CLI's JSON write ISO 8601; one parser, so every List operation reads them the same way."""

from __future__ import annotations

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
