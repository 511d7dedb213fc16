"""infrec/llamacpp without the engine: how the endpoint's command line is made from its settings,
the refusals that name the fix, and the /invocations routing of the engine's process (a plain ASGI
wrapper, driven here with an app that records what reached it). The engine itself is exercised by
tests/integration/genai/test_llamacpp.py and `make bench-llamacpp`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from infrec.serving import llamacpp, llamacpp_app


def test_argv_from_the_endpoint_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9123")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "2")      # what the executor sets: the vCPUs
    monkeypatch.setenv("INFREC_LLAMACPP_PYTHON", "/opt/engine/bin/python")
    monkeypatch.delenv("LLAMA_N_THREADS", raising=False)
    argv = llamacpp.argv()
    assert argv[:3] == ["/opt/engine/bin/python", "-P", str(llamacpp.APP)]
    opts = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert opts["--model"] == str(tmp_path / "m.gguf") and opts["--port"] == "9123" and opts["--threads"] == "2"
    monkeypatch.setenv("LLAMA_N_THREADS", "1")                     # the searched engine setting wins
    assert dict(zip(llamacpp.argv()[3::2], llamacpp.argv()[4::2], strict=True))["--threads"] == "1"


@pytest.mark.parametrize(("env", "files", "message"), [
    ({"LLAMA_N_THREADS": "two"}, ["m.gguf"], "LLAMA_N_THREADS='two' is not a whole number"),
    ({"LLAMA_N_THREADS": "0"}, ["m.gguf"], "LLAMA_N_THREADS must be at least 1"),
    ({}, [], "no *.gguf file"),
    ({}, ["a.gguf", "b.gguf"], "name one in LLAMA_MODEL_FILE"),
    ({"LLAMA_MODEL_FILE": "../etc/passwd"}, ["a.gguf"], "not a file in the model folder"),
])
def test_bad_settings_say_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                        files: list[str], message: str) -> None:
    for name in files:
        (tmp_path / name).write_bytes(b"GGUF")
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit, match=message.replace("*", r"\*")):
        llamacpp.argv()


def test_a_missing_engine_is_refused_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFREC_LLAMACPP_PYTHON", str(tmp_path / "none" / "python"))
    why = llamacpp.engine_refusal()
    assert why is not None and "make llamacpp" in why and "INFREC_LLAMACPP_PYTHON" in why
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named llama_cpp' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("INFREC_LLAMACPP_PYTHON", str(broken))
    why = llamacpp.engine_refusal()
    assert why is not None and "not usable" in why and "llama_cpp" in why


def _call(path: str, body: bytes, method: str = "POST") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        msg = await receive()
        seen.append({"path": scope["path"], "body": msg["body"]})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    chunks = [body[:5], body[5:]]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    scope = {"type": "http", "path": path, "raw_path": path.encode(), "method": method, "headers": []}
    asyncio.run(llamacpp_app.invocations_router(app)(scope, receive, send))
    return seen, sent


def test_invocations_go_to_chat_or_completions_with_the_whole_body() -> None:
    chat = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}).encode()
    seen, _ = _call("/invocations", chat)
    assert seen == [{"path": "/v1/chat/completions", "body": chat}]
    plain = json.dumps({"prompt": "hi", "max_tokens": 3}).encode()
    assert _call("/invocations", plain)[0] == [{"path": "/v1/completions", "body": plain}]
    assert _call("/v1/models", b"", "GET")[0][0]["path"] == "/v1/models"      # everything else untouched
    seen, sent = _call("/ping", b"", "GET")
    assert seen == [] and sent[0]["status"] == 200
    seen, sent = _call("/invocations", b"not json at all")
    assert seen == [] and sent[0]["status"] == 400 and b"JSON" in sent[1]["body"]
