"""`infrec/onnx`: an ONNX graph run by onnxruntime on the CPU.

The first input gets the request's array (cast to the input's element type); the first output is
the answer, or every output by name when INFREC_ONNX_OUTPUTS=all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from infrec.serving.images.base import NumericImage

_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
          "tensor(int32)": "int32", "tensor(float16)": "float16"}


class OnnxImage(NumericImage):
    suffixes = (".onnx",)
    kind = "ONNX model"

    def load_file(self, path: Path) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self.settings.threads:
            opts.intra_op_num_threads = self.settings.threads
            opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        first = session.get_inputs()[0]
        self._input = first.name
        self._dtype = _TYPES.get(first.type, "float32")
        self._outputs = [o.name for o in session.get_outputs()]
        self._all = os.environ.get("INFREC_ONNX_OUTPUTS", "first") == "all"
        return session

    def predict(self, data: Any) -> Any:
        result = self.model.run(None, {self._input: data.astype(self._dtype, copy=False)})
        if self._all:
            return dict(zip(self._outputs, result, strict=False))
        return result[0]
