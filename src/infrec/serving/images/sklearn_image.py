"""`infrec/sklearn`: a scikit-learn estimator (or pipeline) saved with joblib or pickle."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infrec.serving.images.base import NumericImage


class SklearnImage(NumericImage):
    suffixes = (".joblib", ".pkl", ".pickle")
    kind = "scikit-learn model"

    def load_file(self, path: Path) -> Any:
        import joblib

        model = joblib.load(path)
        # `predict` by default; INFREC_PREDICT_METHOD=predict_proba serves probabilities instead.
        method = os.environ.get("INFREC_PREDICT_METHOD", "predict")
        predict = getattr(model, method, None)
        if predict is None:
            from infrec.serving.errors import ModelLoadError

            raise ModelLoadError(f"{path.name} holds a {type(model).__name__}, which has no {method}()")
        self._predict: Callable[[Any], Any] = predict
        return model

    def predict(self, data: Any) -> Any:
        return self._predict(data)
