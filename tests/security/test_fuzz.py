"""A seeded, bounded fuzzer built on botocore's sagemaker service model: for every operation infrec
implements, 200 malformed requests (wrong types, out-of-range numbers, over-long strings and lists,
unknown and missing members, non-text strings, hostile JSON) over real HTTP. Every answer must be a
4xx in the AWS JSON error shape, never a 500, and the server must still answer afterwards.

Each request breaks at least one rule the server enforces, so none of them creates anything or
starts a job; the seed makes a failure reproducible (the failing request is printed)."""

from __future__ import annotations

import http.client
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape

from infrec.api.validation import sagemaker_model
from tests.helpers import InfrecServer
from tests.security.conftest import CT

SEED = 20261129
PER_OPERATION = 200
MAX_PATH_DEPTH = 5


def implemented_operations() -> list[str]:
    """Every SageMaker operation infrec answers, read from the routing table the server dispatches
    through, so an operation added later is fuzzed without anyone listing it here."""
    from infrec.api.operations import APIS

    ours = {op for owner in APIS["sagemaker"] for op in owner.operations}
    return [op for op in sagemaker_model().operation_names if op in ours]


class Raw:
    """A literal to splice into the JSON text as is (a number json.dumps cannot write)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _plausible(shape: Shape, depth: int = 0) -> Any:
    """A value of the right type (not necessarily valid): the frame a mutation is placed in."""
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        if depth > MAX_PATH_DEPTH:
            return {}
        return {name: _plausible(shape.members[name], depth + 1) for name in shape.required_members}
    if t == "list":
        assert isinstance(shape, ListShape)
        return [_plausible(shape.member, depth + 1)] if depth <= MAX_PATH_DEPTH else []
    if t == "map":
        assert isinstance(shape, MapShape)
        return {"k": _plausible(shape.value, depth + 1)} if depth <= MAX_PATH_DEPTH else {}
    if t == "string":
        return shape.enum[0] if shape.enum else "a" * max(1, int(shape.metadata.get("min") or 1))
    if t in ("integer", "long"):
        return max(1, int(shape.metadata.get("min") or 1))
    if t in ("float", "double"):
        return float(shape.metadata.get("min") or 1)
    if t == "boolean":
        return True
    if t == "timestamp":
        return 0
    return "AA=="


def _bad_values(shape: Shape, rng: random.Random) -> list[Any]:
    """Values this shape refuses: wrong types always, and what its own limits exclude."""
    t = shape.type_name
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    wrong_types: dict[str, list[Any]] = {
        "structure": [[], "x", 7, True, {"NotAMember": 1}],
        "list": ["x", {}, 7, True],
        "map": [[], "x", 7, False],
        "string": [7, -1.5, True, [], {}, ["x"], Raw("1" * 450)],
        "integer": ["7", 1.5, True, [], {}, 2**70, -(2**70), Raw("9" * 401), Raw("NaN"), Raw("1e999")],
        "long": ["7", 1.5, True, [], {}, 2**70, -(2**70), Raw("9" * 401), Raw("-Infinity")],
        "float": ["x", True, [], {}, Raw("NaN"), Raw("1e999"), Raw("-1e999"), Raw("1." + "5" * 450)],
        "double": ["x", True, [], {}, Raw("Infinity"), Raw("1e999"), Raw("1." + "5" * 450)],
        "boolean": ["true", 1, 0, [], {}, "false"],
        "timestamp": ["yesterday", [], {}, True, Raw("1e999"), "2026-13-45T99:00:00Z"],
        "blob": [7, [], {}, True],
    }
    out = list(wrong_types.get(t, [7, []]))
    if t == "string":
        out += ["\ud800", "a\u0000b"]
        if hi is not None:
            out.append("a" * (int(hi) + 1 + rng.randrange(3)))
        if shape.enum:
            out.append(shape.enum[0] + "-not-an-enum")
    if t in ("integer", "long", "float", "double"):
        if hi is not None:
            out.append(int(hi) + 1 if t in ("integer", "long") else float(hi) * 2 + 1)
        if lo is not None:
            out.append(int(lo) - 1 if t in ("integer", "long") else float(lo) - 1)
    if t == "list" and hi is not None and int(hi) <= 200:
        assert isinstance(shape, ListShape)
        out.append([_plausible(shape.member, MAX_PATH_DEPTH)] * (int(hi) + 1))
    if t == "list" and lo:
        out.append([])
    return out


def _paths(shape: StructureShape) -> list[tuple[tuple[str, ...], Shape]]:
    """Every member path below the input shape (lists and maps stepped into), bounded in depth."""
    out: list[tuple[tuple[str, ...], Shape]] = []

    def walk(s: Shape, path: tuple[str, ...], depth: int) -> None:
        if depth > MAX_PATH_DEPTH:
            return
        if isinstance(s, StructureShape):
            for name, member in s.members.items():
                out.append(((*path, name), member))
                walk(member, (*path, name), depth + 1)
        elif isinstance(s, ListShape):
            walk(s.member, (*path, "[0]"), depth + 1)
        elif isinstance(s, MapShape):
            walk(s.value, (*path, "{k}"), depth + 1)

    walk(shape, (), 0)
    return out


def _place(base: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`base` with `value` at `path`, building the containers on the way."""
    root: Any = json.loads(json.dumps(base))
    node = root
    for i, step in enumerate(path):
        last = i == len(path) - 1
        nxt = path[i + 1] if not last else None
        fresh: Any = [] if nxt == "[0]" else {}
        if step == "[0]":
            if not isinstance(node, list):
                return root
            if not node:
                node.append(fresh)
            if last:
                node[0] = value
            elif not isinstance(node[0], list | dict):
                node[0] = fresh
            node = node[0]
            continue
        key = "k" if step == "{k}" else step
        if not isinstance(node, dict):
            return root
        if last:
            node[key] = value
        else:
            if not isinstance(node.get(key), list | dict):
                node[key] = fresh
            node = node[key]
    return root


def _dump(value: Any) -> bytes:
    raws: list[str] = []

    def encode(v: Any) -> Any:
        if isinstance(v, Raw):
            raws.append(v.text)
            return f"__raw_{len(raws) - 1}__"
        if isinstance(v, dict):
            return {k: encode(x) for k, x in v.items()}
        if isinstance(v, list):
            return [encode(x) for x in v]
        return v

    text = json.dumps(encode(value))
    for i, r in enumerate(raws):
        text = text.replace(f'"__raw_{i}__"', r)
    return text.encode("utf-8", "surrogatepass")


GARBAGE = [b"{", b"}", b"[", b'{"a":', b"nul", b"\xff\xfe\x00", b'"just a string"', b"[]", b"7", b"true",
           b"null", b"[" * 5000, b'{"a":' * 200 + b"1" + b"}" * 200, b"9" * 5000, b"{'single': 'quotes'}",
           b'{"a": 1,}', b"\x00" * 16, b'{"\\ud800": 1}', b'{"a": "\\u0000"}']


def malformed_requests(operation: str, rng: random.Random, count: int) -> Iterator[bytes]:
    shape = sagemaker_model().operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    base = _plausible(shape)
    paths = _paths(shape)
    for i in range(count):
        kind = rng.random()
        if kind < 0.1 or not paths:
            yield rng.choice(GARBAGE)
        elif kind < 0.2:
            broken = dict(base)
            if shape.required_members:
                broken.pop(rng.choice(shape.required_members), None)
            else:
                broken[f"Unknown{i}"] = "x"
            yield _dump(broken)
        elif kind < 0.25:
            yield _dump({**base, f"NotAMember{i}": rng.choice([1, "x", [], {}])})
        else:
            path, target = rng.choice(paths)
            yield _dump(_place(base, path, rng.choice(_bad_values(target, rng))))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfrecServer]:
    srv = InfrecServer({"INFREC_HOME": str(tmp_path_factory.mktemp("fuzz") / "home")})
    try:
        yield srv
    finally:
        srv.stop()


def test_every_operation_has_a_generator() -> None:
    ops = implemented_operations()
    assert len(ops) >= 20 and "CreateInferenceRecommendationsJob" in ops and "CreateModelPackage" in ops
    rng = random.Random(SEED)
    for op in ops:
        bodies = list(malformed_requests(op, rng, 20))
        assert len(bodies) == 20 and len(set(bodies)) > 5, op


@pytest.mark.parametrize("operation", implemented_operations())
def test_malformed_requests_never_get_a_5xx(fuzz_server: InfrecServer, operation: str) -> None:
    rng = random.Random(f"{SEED}-{operation}")
    conn = http.client.HTTPConnection("127.0.0.1", fuzz_server.port, timeout=60)
    failures = []
    statuses: dict[int, int] = {}
    not_found: set[str] = set()
    try:
        for body in malformed_requests(operation, rng, PER_OPERATION):
            conn.request("POST", "/", body=body, headers={"X-Amz-Target": f"SageMaker.{operation}",
                                                         "Content-Type": CT})
            resp = conn.getresponse()
            data = resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            ok = 400 <= resp.status < 500 and resp.getheader("Content-Type", "").startswith(CT)
            if ok:
                err = json.loads(data)
                ok = isinstance(err.get("__type"), str) and isinstance(err.get("message"), str)
                if ok and resp.status == 404:
                    not_found.add(err["__type"])
            if not ok:
                failures.append((resp.status, body[:300], data[:300]))
    finally:
        conn.close()
    assert not failures, f"{len(failures)} of {PER_OPERATION} not a 4xx AWS JSON error, e.g. {failures[:3]}"
    # A malformed request is the client's fault: a 400, or a 404 ResourceNotFound where a
    # well-formed name finds nothing — never a 403 (no auth problem here) or a 413 (no large body).
    assert set(statuses) <= {400, 404} and statuses.get(400, 0) > 0, statuses
    assert not_found <= {"ResourceNotFound"}, not_found
    # Still serving, and nothing was created by the malformed requests.
    sm = fuzz_server.client()
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert sm.list_inference_recommendations_jobs()["InferenceRecommendationsJobs"] == []
