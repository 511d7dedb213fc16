"""CloudWatch Logs reading semantics (core.logpaging): the tokens a poller depends on."""

from __future__ import annotations

import pytest

from infrec.core.logpaging import (
    LogEvent,
    Matcher,
    PatternError,
    TokenError,
    filter_log_events,
    get_log_events,
)


def _evs(*stamps: int) -> list[LogEvent]:
    return [LogEvent(t, f"line {i} at {t}") for i, t in enumerate(stamps)]


def test_forward_polling_sees_each_event_once_and_same_token_when_nothing_new() -> None:
    events = _evs(100, 200, 200, 300)
    first = get_log_events(events, start_from_head=True, limit=2)
    assert [e.timestamp for e in first.events] == [100, 200]
    second = get_log_events(events, token=first.next_forward_token)
    assert [e.message for e in second.events] == ["line 2 at 200", "line 3 at 300"]
    idle = get_log_events(events, token=second.next_forward_token)
    assert idle.events == [] and idle.next_forward_token == second.next_forward_token
    # The stream grows at its end (also at the same millisecond): the old token picks it up.
    grown = [*events, LogEvent(300, "late at 300"), LogEvent(400, "new")]
    more = get_log_events(grown, token=second.next_forward_token)
    assert [e.message for e in more.events] == ["late at 300", "new"]


def test_without_token_latest_first_unless_start_from_head() -> None:
    events = _evs(1, 2, 3, 4, 5)
    tail = get_log_events(events, limit=2)
    assert [e.timestamp for e in tail.events] == [4, 5]
    back = get_log_events(events, token=tail.next_backward_token, limit=2)
    assert [e.timestamp for e in back.events] == [2, 3]
    back2 = get_log_events(events, token=back.next_backward_token, limit=2)
    assert [e.timestamp for e in back2.events] == [1]
    end = get_log_events(events, token=back2.next_backward_token, limit=2)
    assert end.events == [] and end.next_backward_token == back2.next_backward_token
    # A backward page's forward token continues after it.
    assert [e.timestamp for e in get_log_events(events, token=back.next_forward_token).events] == [4, 5]


def test_time_range_and_empty_stream() -> None:
    events = _evs(10, 20, 30, 40)
    page = get_log_events(events, start_from_head=True, start_time=20, end_time=40)
    assert [e.timestamp for e in page.events] == [20, 30]  # start inclusive, end exclusive
    empty = get_log_events([], start_from_head=True)
    assert empty.events == []
    later = get_log_events(_evs(5), token=empty.next_forward_token)
    assert [e.timestamp for e in later.events] == [5]


@pytest.mark.parametrize("token", ["x", "f/123", "c/0000000000000000000000000000", ""])
def test_foreign_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        get_log_events(_evs(1), token=token or "f/")


def test_filter_interleaves_streams_and_pages() -> None:
    a = [LogEvent(1, "Step 1/2 started"), LogEvent(3, "Step 1/2 completed")]
    b = [LogEvent(2, "Step 2/2 started"), LogEvent(4, "Step 2/2 FAILED: boom")]
    page = filter_log_events([("b", b), ("a", a)], limit=3)
    assert [(f.stream, f.event.timestamp) for f in page.events] == [("a", 1), ("b", 2), ("a", 3)]
    assert page.next_token is not None
    rest = filter_log_events([("b", b), ("a", a)], token=page.next_token)
    assert [f.event.message for f in rest.events] == ["Step 2/2 FAILED: boom"] and rest.next_token is None
    failed = filter_log_events([("a", a), ("b", b)], pattern='FAILED "Step 2"')
    assert [f.stream for f in failed.events] == ["b"]
    assert len({f.event_id for f in page.events}) == 3


def test_filter_patterns() -> None:
    m = Matcher.parse("?FAILED ?stopped -Job")
    assert m("Step 1 FAILED") and m("Step 1 stopped") and not m("Job FAILED") and not m("completed")
    with pytest.raises(PatternError):
        Matcher.parse('{ $.level = "ERROR" }')
