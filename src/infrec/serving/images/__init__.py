"""The code of each built-in image the model server runs: how it loads a model folder and answers
one request. Which class serves which image is the image registry's (``core.images``: its
``handler``); a class is imported only when its image is served, so a synthetic endpoint never pays
for numpy or onnxruntime.
"""

from __future__ import annotations

import importlib

from infrec.core.images import BUILTIN_IMAGES
from infrec.serving.images.base import Image


def create(name: str, settings: object) -> Image:
    """The handler of built-in image `name` (``infrec/sklearn``), made for these settings."""
    module, cls = BUILTIN_IMAGES[name].handler.split(":")
    image: Image = getattr(importlib.import_module(module), cls)(settings)
    return image
