#!/usr/bin/env bash
# The infrec/llamacpp engine: llama-cpp-python's OpenAI server and the `gguf` writer in a venv of
# their own (.infrec/llamacpp-venv: FastAPI and its Starlette pins stay out of infrec's venv).
# PyPI has no binary wheel of llama-cpp-python, so it is compiled once (about 5 minutes on 2 cores:
# the CPU backend for this host only, no multimodal part, no tools) and the wheel kept in
# .infrec/wheels for the next venv. Prints the engine's python; infrec finds it there by default
# (INFREC_LLAMACPP_PYTHON overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.3.36
VENV=.infrec/llamacpp-venv
WHEELS=.infrec/wheels
PY=${PY:-python3}
if [ -f "$VENV/.installed-$VERSION" ]; then echo "$PWD/$VENV/bin/python"; exit 0; fi
mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-$VERSION-*.whl >/dev/null 2>&1; then
  echo "compiling llama-cpp-python $VERSION (once; about 5 minutes on 2 cores)..." >&2
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release" \
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    timeout 3600 "$PY" -m pip wheel -q --no-deps -w "$WHEELS" "llama-cpp-python==$VERSION" >&2
fi
test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
"$VENV/bin/python" -m pip install -q --find-links "$WHEELS" "llama-cpp-python[server]==$VERSION" "gguf==0.19.0" >&2
"$VENV/bin/python" -c "import llama_cpp, llama_cpp.server.app, gguf" >&2
touch "$VENV/.installed-$VERSION"
echo "$PWD/$VENV/bin/python"
