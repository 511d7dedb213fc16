"""infrec/vllm's command line and refusals: vLLM itself needs an NVIDIA GPU, so what runs everywhere is
what infrec decides before the engine starts (the engine's run is for a GPU host)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infrec.serving import vllm


def _model(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


def test_the_engine_gets_the_instances_gpus_port_and_settings(tmp_path: Path) -> None:
    env = {"SM_MODEL_DIR": str(_model(tmp_path)), "SAGEMAKER_BIND_TO_PORT": "9001", "CUDA_VISIBLE_DEVICES": "2,3",
           "VLLM_MAX_NUM_SEQS": "16", "VLLM_GPU_MEMORY_UTILIZATION": "0.85", "VLLM_DTYPE": "bfloat16"}
    args = vllm.argv(env)
    assert args[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    pairs = dict(zip(args[3::2], args[4::2], strict=True))
    assert pairs["--model"] == str(tmp_path) and pairs["--port"] == "9001" and pairs["--host"] == "127.0.0.1"
    assert pairs["--tensor-parallel-size"] == "2"            # the instance's two GPUs, unless set
    assert pairs["--max-num-seqs"] == "16" and pairs["--gpu-memory-utilization"] == "0.85"
    assert pairs["--dtype"] == "bfloat16"
    assert dict(zip(*[iter(vllm.argv({**env, "VLLM_TENSOR_PARALLEL_SIZE": "1"})[3:])] * 2, strict=True))[
        "--tensor-parallel-size"] == "1"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("VLLM_MAX_NUM_SEQS", "many", "not a whole number"), ("VLLM_MAX_NUM_SEQS", "0", "at least 1"),
    ("VLLM_GPU_MEMORY_UTILIZATION", "1.5", "between 0 and 1"), ("VLLM_DTYPE", "int3", "must be one of"),
])
def test_a_bad_setting_is_named(tmp_path: Path, name: str, value: str, says: str) -> None:
    with pytest.raises(SystemExit, match=f"{name}.*{says}"):
        vllm.argv({"SM_MODEL_DIR": str(_model(tmp_path)), "CUDA_VISIBLE_DEVICES": "0", name: value})


def test_refusals_name_the_missing_piece(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match=r"config\.json"):
        vllm.argv({"SM_MODEL_DIR": str(tmp_path), "CUDA_VISIBLE_DEVICES": "0"})
    assert "has none" in (vllm.engine_refusal(0) or "")
    monkeypatch.setenv(vllm.ENGINE_ENV, str(tmp_path / "no-python"))
    assert "not installed" in (vllm.engine_refusal(1) or "")
    # A CPU instance type gets no GPU from the executor: the image says so instead of starting vLLM.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert vllm.main() == 2 and "no NVIDIA GPU" in capsys.readouterr().err


def _fake_vllm(root: Path, paths: list[str]) -> Path:
    """A stand-in vllm package whose server module has a router with `paths`, and an interpreter
    wrapper that sees it: what engine_refusal inspects, without CUDA."""
    pkg = root / "site" / "vllm" / "entrypoints" / "openai"
    pkg.mkdir(parents=True)
    for d in (root / "site" / "vllm", root / "site" / "vllm" / "entrypoints", pkg):
        (d / "__init__.py").write_text("")
    (pkg / "api_server.py").write_text(
        f"import types\nrouter = types.SimpleNamespace(routes=[types.SimpleNamespace(path=p) for p in {paths!r}])\n")
    wrapper = root / "python"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{root / "site"}" exec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_a_vllm_without_the_ping_route_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The executor waits for GET /ping, as SageMaker does; an older vLLM's server has no such route.
    monkeypatch.setenv(vllm.ENGINE_ENV, str(_fake_vllm(tmp_path / "old", ["/health", "/v1/models"])))
    assert "no GET /ping route" in (vllm.engine_refusal(1) or "")
    monkeypatch.setenv(vllm.ENGINE_ENV, str(_fake_vllm(tmp_path / "new", ["/health", "/ping", "/invocations"])))
    assert vllm.engine_refusal(1) is None
