"""Names of the built-in model server images. Users rely on these names, so they are fixed here,
in one place, and validated wherever a container is registered."""

from __future__ import annotations

BUILTIN_PREFIX = "infrec/"
BUILTIN_IMAGES: dict[str, str] = {
    "infrec/sklearn": "scikit-learn model saved with joblib or pickle",
    "infrec/xgboost": "XGBoost booster (json, ubj or binary)",
    "infrec/onnx": "ONNX model served with onnxruntime",
    "infrec/pytorch": "TorchScript model (needs the pytorch extra)",
    "infrec/python": "your inference.py with model_fn/input_fn/predict_fn/output_fn",
    "infrec/synthetic": "test model spending INFREC_SYNTHETIC_SERVICE_MS of CPU per request",
}


def builtin_name(image: str) -> str | None:
    """The built-in image an Image value names (a `:tag` is allowed and ignored), or None."""
    base = image.split("@", 1)[0]
    if base.startswith(BUILTIN_PREFIX):
        base = base.split(":", 1)[0]
        return base if base in BUILTIN_IMAGES else None
    return None


def validate_image(image: str) -> str | None:
    """Return an error message for an `infrec/...` name that is not a built-in image, else None."""
    base = image.split("@", 1)[0].split(":", 1)[0]
    if base.startswith(BUILTIN_PREFIX) and base not in BUILTIN_IMAGES:
        known = ", ".join(sorted(BUILTIN_IMAGES))
        return f"Image {image!r} is not a built-in infrec image; use one of: {known}, or a container image"
    return None
