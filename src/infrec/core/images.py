"""The built-in images, in one place: what runs a model when its container's Image names one.

"Image" is SageMaker's word for what runs a model (a model's container image); infrec's built-in
images (``infrec/sklearn``, ``infrec/xgboost``, ...) run on this host without Docker. Users rely on
these names, so they are fixed here, and this registry says for each: the server that runs it, its
handler (for the model server), the extras it needs installed and what else it needs. The executor
(which program to start), the model server (which handler loads the model) and the registry of
models (which names are valid) all read it; none keeps a list of its own.

"Engine" is a different thing: the third-party inference program (llama-cpp-python's server,
vLLM's) that an LLM image starts in a Python environment of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUILTIN_PREFIX = "infrec/"
MODEL_SERVER = "infrec.serving.master"     # master and workers, loading the model with the image's handler


@dataclass(frozen=True)
class BuiltinImage:
    """One built-in image. ``server`` is the module whose ``main()`` serves it (run as
    ``python -m infrec.serving``, which dispatches here); ``handler`` (``module:Class``) is how the
    model server loads and answers for it; ``extras`` are infrec's optional dependencies it needs
    (``pip install 'infrec[...]'``); ``needs`` says what else the host must have."""

    name: str
    summary: str
    server: str = MODEL_SERVER
    handler: str = ""
    extras: tuple[str, ...] = ()
    needs: str = ""


_HANDLERS = "infrec.serving.images"
BUILTIN_IMAGES: dict[str, BuiltinImage] = {image.name: image for image in (
    BuiltinImage("infrec/sklearn", "scikit-learn model saved with joblib or pickle",
                 handler=f"{_HANDLERS}.sklearn_image:SklearnImage"),
    BuiltinImage("infrec/xgboost", "XGBoost booster (json, ubj or binary)",
                 handler=f"{_HANDLERS}.xgboost_image:XGBoostImage", extras=("xgboost",)),
    BuiltinImage("infrec/onnx", "ONNX model served with onnxruntime",
                 handler=f"{_HANDLERS}.onnx_image:OnnxImage", extras=("onnx",)),
    BuiltinImage("infrec/pytorch", "TorchScript model (needs the pytorch extra)",
                 handler=f"{_HANDLERS}.pytorch_image:TorchScriptImage", extras=("pytorch",)),
    BuiltinImage("infrec/python", "your inference.py with model_fn/input_fn/predict_fn/output_fn",
                 handler=f"{_HANDLERS}.python_handler:PythonHandlerImage"),
    BuiltinImage("infrec/synthetic", "test model spending INFREC_SYNTHETIC_SERVICE_MS of CPU per request",
                 handler=f"{_HANDLERS}.synthetic:SyntheticImage"),
    BuiltinImage("infrec/llmsim", "OpenAI-compatible LLM simulator with known TTFT/ITL (INFREC_LLMSIM_*; docs/genai.md)",
                 server="infrec.serving.llmsim"),
    BuiltinImage("infrec/llamacpp", "GGUF model on llama-cpp-python's OpenAI server (LLAMA_N_THREADS, ...; make llamacpp)",
                 server="infrec.serving.llamacpp",
                 needs="the llama.cpp engine in its own Python (make llamacpp, or INFREC_LLAMACPP_PYTHON)"),
    BuiltinImage("infrec/vllm", "Hugging Face model on vLLM's OpenAI server, on the instance's NVIDIA GPUs "
                 "(VLLM_MAX_NUM_SEQS, ...)", server="infrec.serving.vllm",
                 needs="NVIDIA GPUs and the vLLM engine in its own Python (INFREC_VLLM_PYTHON)"),
)}


def image_base(image: str) -> str:
    """An Image value without its ``@digest`` and ``:tag``: ``infrec/sklearn:1.2`` → ``infrec/sklearn``."""
    return image.split("@", 1)[0].split(":", 1)[0]


def builtin_image(image: str) -> BuiltinImage | None:
    """The built-in image an Image value names (a ``:tag`` or ``@digest`` is allowed and ignored), or None."""
    return BUILTIN_IMAGES.get(image_base(image))


def builtin_names(server: str | None = None) -> list[str]:
    """The built-in images' names in the registry's order (those ``server`` runs, if given)."""
    return [i.name for i in BUILTIN_IMAGES.values() if server is None or i.server == server]


def validate_image(image: str) -> str | None:
    """Return an error message for an `infrec/...` name that is not a built-in image, else None."""
    base = image_base(image)
    if base.startswith(BUILTIN_PREFIX) and base not in BUILTIN_IMAGES:
        known = ", ".join(sorted(BUILTIN_IMAGES))
        return f"Image {image!r} is not a built-in infrec image; use one of: {known}, or a container image"
    return None


# Docker's image reference grammar (github.com/distribution/reference): [domain[:port]/]path[:tag][@digest].
# An Image value ends up as an argument of `docker run`; this grammar allows no leading '-' (an option),
# no whitespace and no shell metacharacters, so a value can only ever name an image.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::\w[\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?")
MAX_REFERENCE_CHARS = 255


def image_reference_problem(image: str) -> str | None:
    """Why `image` is not a Docker image reference (`registry:5000/team/model:tag@sha256:...`), or None."""
    if not image or len(image) > MAX_REFERENCE_CHARS:
        return f"Image must be 1 to {MAX_REFERENCE_CHARS} characters"
    if _REFERENCE.fullmatch(image) is None:
        shown = image if len(image) <= 80 else image[:77] + "..."
        return (f"Image {shown!r} is not a container image reference (expected [registry[:port]/]name[:tag]"
                "[@digest] with a lower-case name, no spaces and no leading '-')")
    return None
