"""Names of the built-in model server images. Users rely on these names, so they are fixed here,
in one place, and validated wherever a container is registered."""

from __future__ import annotations

import re

BUILTIN_PREFIX = "infrec/"
BUILTIN_IMAGES: dict[str, str] = {
    "infrec/sklearn": "scikit-learn model saved with joblib or pickle",
    "infrec/xgboost": "XGBoost booster (json, ubj or binary)",
    "infrec/onnx": "ONNX model served with onnxruntime",
    "infrec/pytorch": "TorchScript model (needs the pytorch extra)",
    "infrec/python": "your inference.py with model_fn/input_fn/predict_fn/output_fn",
    "infrec/synthetic": "test model spending INFREC_SYNTHETIC_SERVICE_MS of CPU per request",
    "infrec/llmsim": "OpenAI-compatible LLM simulator with known TTFT/ITL (INFREC_LLMSIM_*; docs/genai.md)",
    "infrec/llamacpp": "GGUF model on llama-cpp-python's OpenAI server (LLAMA_N_THREADS, ...; make llamacpp)",
    "infrec/vllm": "Hugging Face model on vLLM's OpenAI server, on the instance's NVIDIA GPUs (VLLM_MAX_NUM_SEQS, ...)",
}


def validate_image(image: str) -> str | None:
    """Return an error message for an `infrec/...` name that is not a built-in image, else None."""
    base = image.split("@", 1)[0].split(":", 1)[0]
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
