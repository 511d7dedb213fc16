"""`infrec/llamacpp`: serve a GGUF model with llama-cpp-python's OpenAI-compatible server, inside the
endpoint's CPU and memory limits (the executor's cgroup and CPU pinning apply to it as to any image).

"Engine" here is not the image: it is the third-party inference program the image starts
(llama-cpp-python's server) and the Python environment it runs from. The engine lives in an
environment of its own (`scripts/llamacpp-engine.sh`, or `make llamacpp`):
llama-cpp-python has no binary wheel on PyPI and its server pins FastAPI/Starlette versions infrec's
own environment need not share. This module finds that environment's interpreter and replaces
itself with `llamacpp_app.py` run there, so the endpoint's process is the engine itself (the pid the
executor pins, limits, samples and stops).

Settings (the model's Environment, or a recommendation job's searched engine settings):
``LLAMA_N_THREADS`` (default: the endpoint's vCPUs, as SageMaker's LLM containers size themselves to
their instance), ``LLAMA_N_CTX`` (2048), ``LLAMA_N_BATCH`` (512).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ENGINE_ENV = "INFREC_LLAMACPP_PYTHON"
SETTINGS = ("LLAMA_N_THREADS", "LLAMA_N_CTX", "LLAMA_N_BATCH")
APP = Path(__file__).with_name("llamacpp_app.py")
HOW_TO_INSTALL = ("run `make llamacpp` (scripts/llamacpp-engine.sh: compiles llama-cpp-python once, about 5 "
                  f"minutes on 2 cores) or point {ENGINE_ENV} at a Python that has llama-cpp-python[server]")


def default_engine_python() -> Path:
    """Where `scripts/llamacpp-engine.sh` puts the engine: `.infrec/llamacpp-venv` beside infrec's
    own venv (the checkout's root when infrec runs from `.venv`)."""
    return Path(sys.prefix).resolve().parent / ".infrec" / "llamacpp-venv" / "bin" / "python"


def engine_python() -> Path:
    configured = os.environ.get(ENGINE_ENV)
    return Path(configured) if configured else default_engine_python()


_USABLE: set[str] = set()


def _importable(python: str) -> str | None:
    """Why `python` cannot import the engine's server, or None. Only success is remembered: a
    server started before `make llamacpp` finished sees the engine once it is there."""
    if python in _USABLE:
        return None
    try:
        done = subprocess.run([python, "-c", "import llama_cpp.server.app"], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} cannot run: {exc}"
    if done.returncode != 0:
        return f"{python} has no llama-cpp-python server ({done.stderr.strip().splitlines()[-1:] or ['?']})"
    _USABLE.add(python)
    return None


def engine_refusal() -> str | None:
    """Why infrec/llamacpp cannot start on this host (with the fix), or None when it can."""
    python = engine_python()
    if not python.exists():
        return f"the infrec/llamacpp engine is not installed ({python} does not exist): {HOW_TO_INSTALL}"
    problem = _importable(str(python))
    return f"the infrec/llamacpp engine is not usable: {problem}; {HOW_TO_INSTALL}" if problem else None


def find_gguf(model_dir: Path) -> Path:
    """The model's one GGUF file (a folder with several must name one in LLAMA_MODEL_FILE)."""
    chosen = os.environ.get("LLAMA_MODEL_FILE")
    if chosen:
        path = (model_dir / chosen).resolve()
        if not path.is_relative_to(model_dir.resolve()) or not path.is_file():
            raise SystemExit(f"infrec/llamacpp: LLAMA_MODEL_FILE={chosen!r} is not a file in the model folder")
        return path
    found = sorted(model_dir.rglob("*.gguf"))
    if not found:
        raise SystemExit(f"infrec/llamacpp: no *.gguf file in the model folder {model_dir}")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(model_dir)) for p in found[:5])
        raise SystemExit(f"infrec/llamacpp: several GGUF files ({names}); name one in LLAMA_MODEL_FILE")
    return found[0]


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"infrec/llamacpp: {name}={raw!r} is not a whole number") from None
    if value < 1:
        raise SystemExit(f"infrec/llamacpp: {name} must be at least 1, not {value}")
    return value


def argv() -> list[str]:
    """The engine's command line for this endpoint (from SM_MODEL_DIR, SAGEMAKER_BIND_TO_PORT, LLAMA_*)."""
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    threads = _int_setting("LLAMA_N_THREADS", _int_setting("SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1))
    # -P: the script's folder (infrec/serving, whose http.py would shadow the standard library's)
    # stays off sys.path.
    return [str(engine_python()), "-P", str(APP), "--model", str(find_gguf(model_dir)),
            "--port", os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"), "--threads", str(threads),
            "--ctx", str(_int_setting("LLAMA_N_CTX", 2048)), "--batch", str(_int_setting("LLAMA_N_BATCH", 512)),
            "--alias", os.environ.get("LLAMA_MODEL_ALIAS", "infrec-llamacpp")]


def main() -> int:
    if not engine_python().exists():       # the import check is the job's (engine_refusal), once
        print(f"infrec/llamacpp: the engine is not installed ({engine_python()}): {HOW_TO_INSTALL}",
              file=sys.stderr, flush=True)
        return 2
    args = argv()
    os.execv(args[0], args)
    return 0  # not reached
