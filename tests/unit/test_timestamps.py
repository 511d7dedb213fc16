"""Request timestamps as the List operations read them (core.timestamps)."""

from __future__ import annotations

import pytest

from infrec.core.errors import ValidationError
from infrec.core.timestamps import request_epoch, within


def test_epoch_seconds_and_iso_8601_read_alike() -> None:
    assert request_epoch(None) is None
    assert request_epoch(1795967897) == 1795967897.0
    assert request_epoch(1795967897.5) == 1795967897.5
    assert request_epoch("2026-11-29T12:00:00Z") == request_epoch("2026-11-29T12:00:00+00:00") == 1795953600.0


@pytest.mark.parametrize("bad", ["yesterday", "", True, [2026]])
def test_anything_else_is_a_validation_error_naming_the_value(bad: object) -> None:
    with pytest.raises(ValidationError, match="is not epoch seconds or ISO 8601"):
        request_epoch(bad)


def test_time_filters_are_exclusive_bounds_on_creation_and_modification() -> None:
    doc = {"CreationTime": 100.0, "LastModifiedTime": 200.0}
    assert within(doc, {})
    assert within(doc, {"CreationTimeAfter": 99, "CreationTimeBefore": 101})
    assert not within(doc, {"CreationTimeAfter": 100})
    assert not within(doc, {"CreationTimeBefore": 100})
    assert within(doc, {"LastModifiedTimeAfter": "1970-01-01T00:03:19Z"})
    assert not within(doc, {"LastModifiedTimeBefore": 150})
    assert within({"CreationTime": 5.0}, {"LastModifiedTimeBefore": 1})  # no such field: not filtered on it
