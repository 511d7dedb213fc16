"""Request validation driven by botocore's own service models (`sagemaker`, and `logs` for the
CloudWatch Logs reads the SageMaker SDK makes).

botocore's client checks required members, types and ranges before it sends, but not `pattern` or
`enum`, and other clients (the AWS CLI with --cli-input-json, curl) check nothing; so the server checks
all of it, generically, from the same model. Patterns in the model are Java regular expressions; they
are translated to the `regex` module's dialect (which knows `\\p{L}`) and matched whole, as Java's
`matches()` does.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sized
from datetime import datetime
from typing import Any

import regex
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from infrec.core.errors import ValidationError

ExtraEnums = dict[str, frozenset[str]]


@functools.lru_cache(maxsize=8)
def service_model(service: str) -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def sagemaker_model() -> ServiceModel:
    return service_model("sagemaker")


@functools.lru_cache(maxsize=2048)
def _compile(pattern: str) -> regex.Pattern[str] | None:
    # Java writes supplementary characters as UTF-16 surrogate pairs inside classes.
    translated = pattern.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    try:
        return regex.compile(translated)
    except regex.error:
        return None  # a pattern we cannot translate is not enforced rather than wrongly enforced


_MIN_EPOCH, _MAX_EPOCH = -62135596800, 253402300799  # 0001-01-01 and 9999-12-31T23:59:59 UTC


def _fail(path: str, problem: str) -> ValidationError:
    return ValidationError(f"1 validation error detected: Value at '{path}' {problem}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate(shape: Shape, value: Any, path: str, extra: ExtraEnums | None = None) -> None:
    t = shape.type_name
    if t == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            raise _fail(path, f"must be an object (structure {shape.name}), got {type(value).__name__}")
        for req in shape.required_members:
            if value.get(req) is None:
                raise _fail(f"{path}.{req}" if path else req, "failed to satisfy constraint: Member must not be null")
        members = shape.members
        for key, member_value in value.items():
            sub = f"{path}.{key}" if path else key
            if key not in members:
                raise _fail(sub, f"is not a member of {shape.name}; known members: {', '.join(members)}")
            if member_value is not None:
                validate(members[key], member_value, sub, extra)
        if shape.metadata.get("union") and sum(1 for v in value.values() if v is not None) != 1:
            raise _fail(path, "must set exactly one member")
        return
    if t == "list":
        assert isinstance(shape, ListShape)
        _check_collection(shape, value, path, list, "list", "list length")
        for i, item in enumerate(value):
            validate(shape.member, item, f"{path}.{i + 1}", extra)
        return
    if t == "map":
        assert isinstance(shape, MapShape)
        _check_collection(shape, value, path, dict, "map", "map size")
        for k, v in value.items():
            validate(shape.key, k, f"{path}.key", extra)
            validate(shape.value, v, f"{path}.{k}", extra)
        return
    if t == "string":
        if not isinstance(value, str):
            raise _fail(path, f"must be a string, got {type(value).__name__} {_shown(value)}")
        _check_length(shape, len(value), path, "length")
        enum = shape.enum
        if enum and value not in enum and not (extra and value in extra.get(shape.name, ())):
            raise _fail(path, f"{_shown(value)} failed to satisfy constraint: Member must satisfy enum value set: "
                              f"[{', '.join(enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern and value.startswith("file://") and "s3" in pattern:
            return  # infrec extension: embedded installs keep artifacts in files; S3 URI fields accept file://
        if pattern:
            compiled = _compile(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                raise _fail(path, f"{_shown(value)} failed to satisfy constraint: Member must satisfy regular "
                                  f"expression pattern: {pattern}")
        return
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, f"must be an integer, got {type(value).__name__} {_shown(value)}")
        _check_range(shape, value, path)
        return
    if t in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(path, f"must be a number, got {type(value).__name__} {_shown(value)}")
        _check_range(shape, value, path)
        return
    if t == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, f"must be a boolean, got {type(value).__name__} {_shown(value)}")
        return
    if t == "timestamp":
        if isinstance(value, bool):
            raise _fail(path, "must be a timestamp")
        if isinstance(value, int | float):
            # Finite and within what a datetime holds (years 1-9999): `1e999` is valid JSON, and
            # turning it into a time later would fail inside a service as an internal error.
            if not math.isfinite(value) or not _MIN_EPOCH <= value <= _MAX_EPOCH:
                raise _fail(path, f"must be a timestamp between years 1 and 9999, got {_shown(value)}")
            return
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                return
            except ValueError:
                pass
        raise _fail(path, f"must be a timestamp (epoch seconds or ISO 8601), got {_shown(value)}")
    if t == "blob":
        if not isinstance(value, str):
            raise _fail(path, "must be base64 text")
        return


def _check_length(shape: Shape, n: int, path: str, what: str) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and n < lo:
        raise _fail(path, f"failed to satisfy constraint: Member must have {what} greater than or equal to {lo}")
    if hi is not None and n > hi:
        raise _fail(path, f"failed to satisfy constraint: Member must have {what} less than or equal to {hi}")


def _check_collection(shape: Shape, value: Any, path: str, kind: type[Sized], noun: str, size: str) -> None:
    """A list or a map: of that JSON type, with as many entries as the shape's min and max allow.
    `size` names the count the way the service does ("list length", "map size")."""
    if not isinstance(value, kind):
        raise _fail(path, f"must be a {noun}, got {type(value).__name__}")
    _check_length(shape, len(value), path, size)


def _check_range(shape: Shape, v: float, path: str) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    if lo is not None and v < lo:
        raise _fail(path, f"{v} failed to satisfy constraint: Member must have value greater than or equal to {lo}")
    if hi is not None and v > hi:
        raise _fail(path, f"{v} failed to satisfy constraint: Member must have value less than or equal to {hi}")


def operation(name: str, service: str = "sagemaker") -> OperationModel | None:
    model = service_model(service)
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


def validate_request(op: OperationModel, body: Any, extra: ExtraEnums | None = None) -> None:
    """`extra` widens named enum shapes: instance types from a user's catalog (on-premises nodes,
    other clouds) are valid wherever SageMaker's instance type enum is."""
    shape = op.input_shape
    if shape is None:
        if body not in ({}, None):
            raise ValidationError(f"{op.name} takes no input")
        return
    validate(shape, body, "", extra)
