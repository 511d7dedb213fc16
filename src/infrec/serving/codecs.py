"""Request bodies in, predictions out: application/json, text/csv and application/x-npy.

The same three types SageMaker's framework containers decode, with the same shapes: JSON is a
list of rows (or `{"instances": ...}` / `{"inputs": ...}`), CSV is one row per line, NPY is an
array. A body that does not parse is the client's fault and becomes a RequestError (400).
"""

from __future__ import annotations

import io
import json
from typing import Any

JSON, CSV, NPY = "application/json", "text/csv", "application/x-npy"
SUPPORTED = (JSON, CSV, NPY)


def media_type(header: str | None, default: str = JSON) -> str:
    """`Application/JSON; charset=utf-8` → `application/json`."""
    if not header:
        return default
    return header.split(";", 1)[0].strip().lower() or default


def choose_accept(header: str | None, default: str = JSON) -> str:
    """The first supported type the client accepts (`*/*` and absence mean `default`)."""
    if not header:
        return default
    from infrec.serving.errors import RequestError

    for part in header.split(","):
        kind = media_type(part, "")
        params = part.split(";")[1:]
        if any(p.strip().replace(" ", "") in ("q=0", "q=0.0") for p in params):
            continue
        if kind in SUPPORTED:
            return kind
        if kind in ("*/*", "", "application/*", "text/*"):
            return default if kind != "text/*" else CSV
    raise RequestError(f"cannot answer with Accept {header!r}; supported: {', '.join(SUPPORTED)}", 406)


def decode(body: bytes, content_type: str) -> Any:
    """The body as a numpy array (rows × features) for the numeric images."""
    import numpy as np

    from infrec.serving.errors import RequestError

    if not body:
        raise RequestError("empty request body")
    if content_type == JSON:
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(f"body is not valid JSON: {exc}") from None
        if isinstance(doc, dict):
            for key in ("instances", "inputs", "data"):
                if key in doc:
                    doc = doc[key]
                    break
            else:
                raise RequestError("JSON object must hold the rows under 'instances' or 'inputs'")
        try:
            arr = np.asarray(doc, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"JSON body must be a numeric array of rows: {exc}") from None
    elif content_type == CSV:
        try:
            text = body.decode("utf-8")
            arr = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=np.float64)
        except (UnicodeDecodeError, ValueError) as exc:
            raise RequestError(f"body is not numeric CSV: {exc}") from None
    elif content_type == NPY:
        try:
            arr = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise RequestError(f"body is not an .npy array: {exc}") from None
    else:
        raise RequestError(f"unsupported Content-Type {content_type!r}; supported: {', '.join(SUPPORTED)}", 415)
    if arr.ndim == 0:
        raise RequestError("body must be an array of rows, got a single number")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.size == 0:
        raise RequestError("body holds no values")
    return arr


def _plain(value: Any) -> Any:
    """numpy values → JSON-able Python values."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def encode(prediction: Any, accept: str) -> bytes:
    """A prediction (array, list, dict, scalar) in the accepted type."""
    if accept == JSON:
        return json.dumps(_plain(prediction), separators=(",", ":")).encode()
    import numpy as np

    if accept == NPY:
        buf = io.BytesIO()
        np.save(buf, np.asarray(prediction), allow_pickle=False)
        return buf.getvalue()
    arr = np.asarray(prediction)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim == 1:
        return ("\n".join(str(_plain(v)) for v in arr) + "\n").encode()
    return ("\n".join(",".join(str(_plain(v)) for v in row) for row in arr) + "\n").encode()
