"""`python -m infrec.serving`: serve the built-in image INFREC_IMAGE names with the server the image
registry (``core.images``) gives it: the model server (master plus workers) for the model images,
or for the LLM images their own: `infrec/llmsim` (the OpenAI-compatible simulator, which has its own
event loop), `infrec/llamacpp` (llama-cpp-python's server, run from the engine's own environment)
and `infrec/vllm` (vLLM's OpenAI server on the instance's GPUs). Anything else goes to the model
server, which refuses it by name."""

import importlib
import os

from infrec.core.images import MODEL_SERVER, builtin_image

if __name__ == "__main__":
    image = builtin_image(os.environ.get("INFREC_IMAGE", ""))
    server = importlib.import_module(image.server if image else MODEL_SERVER)
    raise SystemExit(server.main())
