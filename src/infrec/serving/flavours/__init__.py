"""One flavour per built-in image: how to load a model folder and answer one request.

A flavour is chosen by name (`infrec/sklearn` → `sklearn`) and imported only then, so a
synthetic endpoint never pays for numpy or onnxruntime.
"""

from __future__ import annotations

import importlib

from infrec.serving.flavours.base import Flavour

_MODULES = {
    "sklearn": ("sklearn_flavour", "SklearnFlavour"),
    "xgboost": ("xgboost_flavour", "XGBoostFlavour"),
    "onnx": ("onnx_flavour", "OnnxFlavour"),
    "pytorch": ("pytorch_flavour", "TorchScriptFlavour"),
    "python": ("python_handler", "PythonHandlerFlavour"),
    "synthetic": ("synthetic", "SyntheticFlavour"),
}


def create(name: str, settings: object) -> Flavour:
    module, cls = _MODULES[name]
    mod = importlib.import_module(f"infrec.serving.flavours.{module}")
    flavour: Flavour = getattr(mod, cls)(settings)
    return flavour
