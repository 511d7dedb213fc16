"""`infrec/vllm`: serve a Hugging Face model folder with vLLM's OpenAI-compatible server, on the
GPUs of the endpoint's instance (the executor sets CUDA_VISIBLE_DEVICES to exactly those, and none
for a CPU instance type, so the engine refuses to start there rather than run on the wrong hardware).

"Engine" here is not the image: it is the third-party inference program the image starts (vLLM's
server) and the Python it runs from. vLLM is not a dependency of infrec (it needs CUDA and pins its own torch): it runs from the
interpreter ``INFREC_VLLM_PYTHON`` names, else ``.infrec/vllm-venv`` beside infrec's own venv, else
this interpreter when it can import vllm. This module replaces itself with that engine
(``python -m vllm.entrypoints.openai.api_server``), so the endpoint's process is the engine itself.

Settings (the model's Environment, or a recommendation job's searched engine settings), each the
server option of the same name: ``VLLM_TENSOR_PARALLEL_SIZE`` (default: the GPUs the instance has),
``VLLM_MAX_NUM_SEQS``, ``VLLM_MAX_MODEL_LEN``, ``VLLM_GPU_MEMORY_UTILIZATION``, ``VLLM_DTYPE``.

Not yet run against a real vLLM by infrec's tests (no GPU host in the session that wrote it): the
command line is unit-tested, the refusal where vLLM or a GPU is missing runs everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENGINE_ENV = "INFREC_VLLM_PYTHON"
HOW_TO_INSTALL = (f"install vLLM (`pip install vllm`, CUDA 12) into a Python of its own and point {ENGINE_ENV} at "
                  "it, or into .infrec/vllm-venv beside infrec's venv")
# environment variable -> (server option, kind)
SETTINGS: dict[str, tuple[str, type]] = {
    "VLLM_TENSOR_PARALLEL_SIZE": ("--tensor-parallel-size", int),
    "VLLM_MAX_NUM_SEQS": ("--max-num-seqs", int),
    "VLLM_MAX_MODEL_LEN": ("--max-model-len", int),
    "VLLM_GPU_MEMORY_UTILIZATION": ("--gpu-memory-utilization", float),
    "VLLM_DTYPE": ("--dtype", str),
}
DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
# Exit 3 when vLLM's server has no /ping (older releases): the executor's health check waits on it.
PING_CHECK = """
import sys
import vllm.entrypoints.openai.api_server as server
router = getattr(server, "router", None)
paths = {getattr(r, "path", "") for r in getattr(router, "routes", [])}
sys.exit(0 if router is None or "/ping" in paths else 3)
"""


def engine_python() -> Path:
    configured = os.environ.get(ENGINE_ENV)
    if configured:
        return Path(configured)
    beside = Path(sys.prefix).resolve().parent / ".infrec" / "vllm-venv" / "bin" / "python"
    return beside if beside.exists() else Path(sys.executable)


def engine_refusal(gpus: int) -> str | None:
    """Why infrec/vllm cannot start here (with the fix), or None. `gpus`: NVIDIA GPUs on this host."""
    if gpus < 1:
        return "vLLM serves on NVIDIA GPUs and this host has none (nvidia-smi / INFREC_HOST_DEVICES)"
    python = engine_python()
    if not python.exists():
        return f"vLLM is not installed ({python} does not exist): {HOW_TO_INSTALL}"
    try:
        done = subprocess.run([str(python), "-c", PING_CHECK], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} cannot run: {exc}"
    if done.returncode == 3:
        return (f"the vLLM at {python} has no GET /ping route, the health check every SageMaker container answers "
                "(infrec waits on it): install a newer vLLM, whose OpenAI server has /ping and /invocations")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"{python} cannot import vLLM's server ({last}): {HOW_TO_INSTALL}"
    return None


def argv(env: dict[str, str] | None = None) -> list[str]:
    """The engine's command line for this endpoint (SM_MODEL_DIR, SAGEMAKER_BIND_TO_PORT, VLLM_*);
    SystemExit naming the setting when one is malformed."""
    e = dict(os.environ if env is None else env)
    model_dir = Path(e.get("SM_MODEL_DIR", "/opt/ml/model"))
    if not (model_dir / "config.json").is_file():
        raise SystemExit(f"infrec/vllm: {model_dir} holds no config.json: the model must be a Hugging Face model "
                         "folder (config.json, weights, tokenizer)")
    gpus = [g for g in e.get("CUDA_VISIBLE_DEVICES", "").split(",") if g.strip()]
    out = [str(engine_python()), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
           "--host", "127.0.0.1", "--port", e.get("SAGEMAKER_BIND_TO_PORT", "8080"),
           "--served-model-name", e.get("VLLM_SERVED_MODEL_NAME", "infrec-vllm")]
    values = dict(e)
    if gpus and not values.get("VLLM_TENSOR_PARALLEL_SIZE"):
        values["VLLM_TENSOR_PARALLEL_SIZE"] = str(len(gpus))
    for name, (option, kind) in SETTINGS.items():
        raw = values.get(name, "").strip()
        if not raw:
            continue
        if kind is str:
            if raw not in DTYPES:
                raise SystemExit(f"infrec/vllm: {name}={raw!r} must be one of {', '.join(DTYPES)}")
        else:
            try:
                number = kind(raw)
            except ValueError:
                raise SystemExit(f"infrec/vllm: {name}={raw!r} is not a {'whole ' if kind is int else ''}number") from None
            if number <= 0 or (name == "VLLM_GPU_MEMORY_UTILIZATION" and number > 1):
                bound = "between 0 and 1" if name == "VLLM_GPU_MEMORY_UTILIZATION" else "at least 1"
                raise SystemExit(f"infrec/vllm: {name}={raw!r} must be {bound}")
        out += [option, raw]
    return out


def main() -> int:
    if not os.environ.get("CUDA_VISIBLE_DEVICES", "").strip():
        print("infrec/vllm: this endpoint's instance type has no NVIDIA GPU here (CUDA_VISIBLE_DEVICES is empty); "
              "vLLM needs one: choose a GPU instance type on a GPU host", file=sys.stderr, flush=True)
        return 2
    args = argv()
    os.execv(args[0], args)
    return 0  # not reached
