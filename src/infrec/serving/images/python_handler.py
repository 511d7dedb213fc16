"""`infrec/python`: the user's own `inference.py`, with the functions SageMaker's inference
toolkit defines: `model_fn(model_dir)`, `input_fn(body, content_type)`, `predict_fn(data, model)`,
`output_fn(prediction, accept)`, or one `transform_fn(model, body, content_type, accept)`.

The script is `code/inference.py` inside the model folder (the layout of a SageMaker model.tar.gz),
or the file SAGEMAKER_PROGRAM names there. Missing functions get defaults: the numeric codecs for
input and output, `model.predict` (or calling the model) for prediction, and a joblib/pickle
file for the model.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from infrec.serving import codecs
from infrec.serving.errors import ModelLoadError
from infrec.serving.images.base import Image, find_model_file


def _default_model_fn(model_dir: str) -> Any:
    import joblib

    return joblib.load(find_model_file(Path(model_dir), (".joblib", ".pkl", ".pickle"), "model"))


def _default_input_fn(body: bytes, content_type: str) -> Any:
    return codecs.decode(body, codecs.media_type(content_type))


def _default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data) if hasattr(model, "predict") else model(data)


def _default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    out = codecs.choose_accept(accept)
    return codecs.encode(prediction, out), out


def _load_script(model_dir: Path) -> ModuleType:
    program = os.environ.get("SAGEMAKER_PROGRAM") or "inference.py"
    candidates = [model_dir / "code" / program, model_dir / program]
    submit = os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if submit and "://" not in submit:
        candidates.insert(0, Path(submit) / program)
    script = next((p for p in candidates if p.is_file()), None)
    if script is None:
        raise ModelLoadError(f"no handler script: looked for {', '.join(str(p) for p in candidates)}")
    sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location(script.stem, script)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[script.stem] = module
    spec.loader.exec_module(module)
    return module


class PythonHandlerImage(Image):
    model: Any = None

    def load(self) -> None:
        model_dir = self.settings.model_dir
        script = _load_script(model_dir)
        fn: Callable[..., Any] = getattr(script, "model_fn", None) or _default_model_fn
        takes_context = len(inspect.signature(fn).parameters) >= 2
        self.model = fn(str(model_dir), None) if takes_context else fn(str(model_dir))
        self.transform_fn: Callable[..., Any] | None = getattr(script, "transform_fn", None)
        self.input_fn: Callable[..., Any] = getattr(script, "input_fn", None) or _default_input_fn
        self.predict_fn: Callable[..., Any] = getattr(script, "predict_fn", None) or _default_predict_fn
        self.output_fn: Callable[..., Any] = getattr(script, "output_fn", None) or _default_output_fn

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        ctype = content_type or codecs.JSON
        want = accept if accept and accept.strip() not in ("*/*", "") else codecs.JSON
        if self.transform_fn is not None:
            result = self.transform_fn(self.model, body, ctype, want)
        else:
            result = self.output_fn(self.predict_fn(self.input_fn(body, ctype), self.model), want)
        out_type = codecs.media_type(want)
        if isinstance(result, tuple):
            result, out_type = result
        if isinstance(result, str):
            result = result.encode()
        elif not isinstance(result, bytes | bytearray | memoryview):
            # A handler that returns a plain value gets it encoded for the accepted type.
            out_type = codecs.choose_accept(want)
            result = codecs.encode(result, out_type)
        return bytes(result), out_type
