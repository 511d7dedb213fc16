"""The interface of a built-in image's handler, and the common path for numeric models (decode →
predict → encode)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infrec.serving import codecs
from infrec.serving.errors import ModelLoadError
from infrec.serving.settings import ServerSettings


class Image:
    """Loads once per worker, then answers requests one at a time on the worker's thread."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings

    def load(self) -> None:
        raise NotImplementedError

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        """Answer one request: (response body, its content type). RequestError = client's fault."""
        raise NotImplementedError


class NumericImage(Image):
    """Models that take a 2-D numeric array: sklearn, xgboost, onnx, TorchScript."""

    suffixes: tuple[str, ...] = ()
    kind = "model"
    model: Any = None

    def load(self) -> None:
        self.model = self.load_file(find_model_file(self.settings.model_dir, self.suffixes, self.kind))

    def load_file(self, path: Path) -> Any:
        raise NotImplementedError

    def predict(self, data: Any) -> Any:
        raise NotImplementedError

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        ctype = codecs.media_type(content_type)
        out_type = codecs.choose_accept(accept)
        data = codecs.decode(body, ctype)
        return codecs.encode(self.predict(data), out_type), out_type


def find_model_file(model_dir: Path, suffixes: tuple[str, ...], kind: str) -> Path:
    """The one file with a known suffix in the model folder (top level first, then below, not code/)."""
    if not model_dir.is_dir():
        raise ModelLoadError(f"model folder {model_dir} does not exist (set SM_MODEL_DIR)")
    top = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    found = top or sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                          and "code" not in p.relative_to(model_dir).parts[:1])
    if len(found) == 1:
        return found[0]
    wanted = ", ".join(f"*{s}" for s in suffixes)
    if not found:
        present = sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file())[:20]
        raise ModelLoadError(f"no {kind} file ({wanted}) in {model_dir}; it holds: {', '.join(present) or 'nothing'}")
    named = [p for p in found if p.stem == "model"]
    if len(named) == 1:
        return named[0]
    names = ", ".join(str(p.relative_to(model_dir)) for p in found)
    raise ModelLoadError(f"more than one {kind} file ({wanted}) in {model_dir}: {names}; keep one, "
                         "or name the one to serve model.<suffix>")
