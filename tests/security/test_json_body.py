"""Request bodies that used to crash the JSON parser (HTTP 500 text/plain): nesting ~1,000 deep
(RecursionError) and integer literals past 4,300 digits (ValueError). Each now gets a 400
SerializationException naming the limit, and the server keeps answering."""

from __future__ import annotations

import pytest

from infrec.api.body import MAX_DEPTH, MAX_NUMBER_CHARS, BodyError, parse_json_body
from tests.helpers import InfrecServer
from tests.security.conftest import api

HOSTILE = [
    ("arrays nested 1,000 deep", b"[" * 1000 + b"]" * 1000, "levels deep"),
    ("objects nested 1,000 deep", b'{"a":' * 1000 + b"1" + b"}" * 1000, "levels deep"),
    ("5,000-digit integer", b'{"MaxResults": ' + b"9" * 5000 + b"}", "number literal of 5000 characters"),
    ("negative 5,000-digit integer", b'{"MaxResults": -' + b"1" * 5000 + b"}", "number literal"),
    ("5,000-digit float", b'{"MaxResults": 1.' + b"5" * 5000 + b"}", "number literal"),
    ("NaN", b'{"MaxResults": NaN}', "NaN"),
    ("unclosed nesting 100,000 deep", b"[" * 100_000, "levels deep"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_bodies_get_400_serialization_exception(open_server: InfrecServer, case: tuple) -> None:  # type: ignore[type-arg]
    _, body, needle = case
    answer = api(open_server, "ListModels", body)
    assert answer.status == 400, answer.text
    assert answer.headers["content-type"].startswith("application/x-amz-json-1.1")
    err = answer.json()
    assert err["__type"] == "SerializationException"
    assert needle in err["message"]
    # ... and the server is still there.
    assert open_server.client().list_models()["Models"] == []


def test_brackets_inside_strings_are_not_nesting(open_server: InfrecServer) -> None:
    """The depth bound counts structure, not text: a description full of brackets is fine."""
    desc = "[{" * 500
    answer = api(open_server, "CreateModelPackageGroup",
                 {"ModelPackageGroupName": "brackets", "ModelPackageGroupDescription": desc})
    assert answer.status == 200, answer.text
    got = open_server.client().describe_model_package_group(ModelPackageGroupName="brackets")
    assert got["ModelPackageGroupDescription"] == desc


def test_limits_are_where_they_say() -> None:
    assert parse_json_body(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(BodyError, match=f"more than {MAX_DEPTH} levels"):
        parse_json_body(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert parse_json_body(b"9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)
    with pytest.raises(BodyError, match="number literal"):
        parse_json_body(b"9" * (MAX_NUMBER_CHARS + 1))
    assert parse_json_body(b'"\\"[[[["') == '"[[[['  # an escaped quote does not end the string
    assert parse_json_body(b"  ") == {}
    for bad in (b"\xff", b"{", b"Infinity", b"-Infinity"):
        with pytest.raises(BodyError):
            parse_json_body(bad)
