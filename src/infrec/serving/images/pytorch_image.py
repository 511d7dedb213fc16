"""`infrec/pytorch`: a TorchScript module (`torch.jit.save`), run on the CPU without gradients.

torch is an optional extra (`pip install infrec[pytorch]`); without it the model fails to load
with a message saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infrec.core.images import BUILTIN_IMAGES
from infrec.serving.errors import ModelLoadError
from infrec.serving.images.base import NumericImage


class TorchScriptImage(NumericImage):
    suffixes = (".pt", ".pth", ".torchscript")
    kind = "TorchScript model"

    def load_file(self, path: Path) -> Any:
        try:
            import torch
        except ImportError:
            extras = ",".join(BUILTIN_IMAGES["infrec/pytorch"].extras)
            raise ModelLoadError(f"infrec/pytorch needs torch: pip install 'infrec[{extras}]'") from None
        if self.settings.threads:
            torch.set_num_threads(self.settings.threads)
        self._torch = torch
        module = torch.jit.load(str(path), map_location="cpu")
        module.eval()
        return module

    def predict(self, data: Any) -> Any:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(torch.as_tensor(data, dtype=torch.float32))
        if isinstance(out, tuple | list):
            return [o.numpy() for o in out]
        return out.numpy()
