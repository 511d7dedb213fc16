"""The built-in server with real models: predictions over HTTP equal the model's own, in every
content type, and bad input is answered, never fatal."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.integration.serving import models
from tests.integration.serving.server import ModelServer

X, _ = models.iris()
ROWS = X[[0, 60, 120, 149]]
CSV_BODY = "\n".join(",".join(str(v) for v in row) for row in ROWS).encode()


@pytest.fixture
def serve() -> Iterator:  # type: ignore[type-arg]
    started: list[ModelServer] = []

    def start(image: str, model_dir: Path | None, env: dict[str, str] | None = None,
              wait: bool = True) -> ModelServer:
        s = ModelServer(image, model_dir, env, wait)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def test_sklearn_json_csv_npy(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    model = models.sklearn_model(tmp_path)
    expected = model.predict(ROWS).tolist()
    srv = serve("infrec/sklearn", tmp_path)
    status, ctype, body = srv.invoke(json.dumps(ROWS.tolist()).encode(), "application/json")
    assert (status, ctype, json.loads(body)) == (200, "application/json", expected)
    status, _, body = srv.invoke(json.dumps({"instances": ROWS.tolist()}).encode(), "application/json")
    assert json.loads(body) == expected
    status, ctype, body = srv.invoke(CSV_BODY, "text/csv", accept="text/csv")
    assert (status, ctype) == (200, "text/csv")
    assert [int(v) for v in body.decode().split()] == expected
    buf = io.BytesIO()
    np.save(buf, ROWS)
    status, ctype, body = srv.invoke(buf.getvalue(), "application/x-npy", accept="application/x-npy")
    assert (status, ctype) == (200, "application/x-npy")
    assert np.load(io.BytesIO(body)).tolist() == expected


def test_bad_requests_are_answered_and_server_survives(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    models.sklearn_model(tmp_path)
    srv = serve("infrec/sklearn", tmp_path)
    status, _, body = srv.invoke(b"[[1, 2", "application/json")
    assert status == 400 and b"not valid JSON" in body
    status, _, body = srv.invoke(b"a,b\n", "text/csv")
    assert status == 400 and b"CSV" in body
    status, _, body = srv.invoke(b"1", "application/x-protobuf")
    assert status == 415 and b"application/json" in body
    status, _, body = srv.invoke(b"[[1,2,3,4]]", "application/json", accept="image/png")
    assert status == 406
    status, _, body = srv.invoke(b"[[1, 2]]", "application/json")  # wrong feature count: the model's error
    assert status == 500 and b"features" in body
    assert srv.request("GET", "/invocations")[0] == 405
    assert srv.request("GET", "/nope")[0] == 404
    assert srv.request("GET", "/ping")[0] == 200
    assert srv.invoke(CSV_BODY, "text/csv")[0] == 200


def test_onnx(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    model = models.onnx_model(tmp_path)
    expected = model.predict(ROWS.astype(np.float32)).tolist()
    srv = serve("infrec/onnx", tmp_path)
    status, _, body = srv.invoke(json.dumps(ROWS.tolist()).encode(), "application/json")
    assert status == 200 and json.loads(body) == expected
    status, _, body = srv.invoke(CSV_BODY, "text/csv", accept="text/csv")
    assert status == 200 and [int(v) for v in body.decode().split()] == expected


def test_xgboost(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    import xgboost as xgb

    booster = models.xgboost_model(tmp_path)
    expected = booster.predict(xgb.DMatrix(ROWS))
    srv = serve("infrec/xgboost", tmp_path)
    status, _, body = srv.invoke(CSV_BODY, "text/csv")
    assert status == 200 and np.allclose(json.loads(body), expected, atol=1e-6)


def test_python_handler(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    model = models.python_handler_model(tmp_path)
    expected = model.predict_proba(ROWS)
    srv = serve("infrec/python", tmp_path)
    status, ctype, body = srv.invoke(json.dumps({"features": ROWS.tolist()}).encode(), "application/json")
    assert (status, ctype) == (200, "application/json")
    assert np.allclose(json.loads(body)["probabilities"], expected)
    status, _, body = srv.invoke(CSV_BODY, "text/csv")  # the handler's own input_fn refuses CSV
    assert status == 500 and b"application/json only" in body


def test_pytorch_torchscript(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch", reason="torch not installed (optional pytorch extra)")

    class Double(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    torch.jit.script(Double()).save(str(tmp_path / "model.pt"))
    srv = serve("infrec/pytorch", tmp_path)
    status, _, body = srv.invoke(b"[[1, 2]]", "application/json")
    assert status == 200 and json.loads(body) == [[2.0, 4.0]]


def test_ping_is_503_until_loaded_and_workers_share_the_port(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve("infrec/synthetic", None, {"INFREC_SYNTHETIC_LOAD_S": "1.5",
                                           "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, wait=False)
    import time

    end = time.monotonic() + 10
    seen = None
    while time.monotonic() < end and seen is None:
        try:
            seen = srv.request("GET", "/ping")[0]
        except OSError:
            time.sleep(0.05)
    assert seen == 503
    assert srv.invoke(b"{}", "application/json")[0] == 503
    srv.wait_ready()
    assert srv.invoke(b'{"a": 1}', "application/json")[2] == b'{"a": 1}'
    import psutil

    assert len(psutil.Process(srv.proc.pid).children()) == 2


def test_timeout_and_load_failure(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve("infrec/synthetic", None, {"INFREC_SYNTHETIC_SERVICE_MS": "2000",
                                           "SAGEMAKER_MODEL_SERVER_TIMEOUT": "0.3"})
    status, _, body = srv.invoke(b"{}", "application/json")
    assert status == 504 and b"SAGEMAKER_MODEL_SERVER_TIMEOUT" in body
    assert srv.request("GET", "/ping")[0] == 200

    empty = tmp_path / "empty"
    empty.mkdir()
    bad = serve("infrec/sklearn", empty, wait=False)
    assert bad.proc.wait(timeout=30) == 3
    assert "no scikit-learn model file" in bad.output()
    wrong = serve("infrec/nope", empty, wait=False)
    assert wrong.proc.wait(timeout=30) == 2
    assert "not a built-in image" in wrong.output()


def test_serving_stands_alone() -> None:
    """The server imports nothing of infrec's control plane, so endpoints start fast and small: only
    the image registry, a module of data that imports nothing of infrec's."""
    import subprocess
    import sys

    code = ("import sys, infrec.serving.master, infrec.serving.images.synthetic; "
            "print(sorted(m for m in sys.modules if m.startswith('infrec.') and not m.startswith('infrec.serving')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "['infrec.core', 'infrec.core.images']", \
        out.stdout + out.stderr


def test_http_details(serve) -> None:  # type: ignore[no-untyped-def]
    """Chunked bodies, pipelining, Expect: 100-continue, oversized and malformed requests."""
    import socket
    import time

    srv = serve("infrec/synthetic", None, {"INFREC_MAX_REQUEST_MB": "1"})

    def exchange(raw: bytes, until: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(raw)
            got = b""
            end = time.monotonic() + 10
            while until not in got and time.monotonic() < end:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got

    got = exchange(b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Type: application/json\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                   b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", b"Healthy")
    assert got.count(b"HTTP/1.1 200 OK") == 2 and b"\r\n\r\nabcde" in got
    got = exchange(b"POST /invocations HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
                   b"100 Continue")
    assert got.startswith(b"HTTP/1.1 100 Continue")
    big = b"x" * (1024 * 1024 + 1)
    status, _, body = srv.invoke(big, "application/json")
    assert status == 413 and b"larger than" in body
    assert exchange(b"garbage\r\n\r\n", b"malformed").startswith(b"HTTP/1.1 400")
    assert srv.request("GET", "/ping")[0] == 200
