"""The registry of built-in images is the one list: the executor, the model server and the
registry of models agree with it."""

from __future__ import annotations

import importlib

import pytest

from infrec.core.images import BUILTIN_IMAGES, MODEL_SERVER, builtin_image, builtin_names, validate_image
from infrec.serving.settings import SettingsError, served_image


def test_every_image_has_a_server_and_model_server_images_a_handler() -> None:
    for image in BUILTIN_IMAGES.values():
        assert image.name.startswith("infrec/") and image.summary
        assert hasattr(importlib.import_module(image.server), "main"), image.name
        if image.server == MODEL_SERVER:
            module, cls = image.handler.split(":")
            assert hasattr(importlib.import_module(module), cls), image.name
        else:
            assert not image.handler, image.name


def test_names_with_tags_and_digests() -> None:
    assert builtin_image("infrec/sklearn:1.2") is BUILTIN_IMAGES["infrec/sklearn"]
    assert builtin_image("infrec/vllm@sha256:" + "a" * 64) is BUILTIN_IMAGES["infrec/vllm"]
    assert builtin_image("infrec/tensorflow") is None and builtin_image("my/server") is None
    assert validate_image("infrec/tensorflow") and validate_image("infrec/onnx:1") is None


def test_the_model_server_serves_its_images_and_refuses_the_others() -> None:
    assert served_image("infrec/xgboost:2") == "infrec/xgboost"
    with pytest.raises(SettingsError) as exc:
        served_image("infrec/llmsim")
    assert ", ".join(builtin_names(MODEL_SERVER)) in str(exc.value)
    assert builtin_names(MODEL_SERVER) == ["infrec/sklearn", "infrec/xgboost", "infrec/onnx", "infrec/pytorch",
                                           "infrec/python", "infrec/synthetic"]
