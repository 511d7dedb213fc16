"""Tiny real models for endpoint tests, built from scikit-learn's bundled iris data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

HANDLER = '''
import json
import os

import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "clf.joblib"))


def input_fn(body, content_type):
    if content_type == "application/json":
        return np.asarray(json.loads(body)["features"], dtype=float)
    raise ValueError("this handler takes application/json only, got " + content_type)


def predict_fn(data, model):
    if os.environ.get("HOG_MB"):
        hog = b"x" * (int(os.environ["HOG_MB"]) * 1024 * 1024)
        return [len(hog)]
    return model.predict_proba(data)


def output_fn(prediction, accept):
    return json.dumps({"probabilities": np.asarray(prediction).tolist()}), "application/json"
'''


def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x, y


def sklearn_model(folder: Path) -> Any:
    """A fitted classifier saved as model.joblib; returns the in-process model."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    x, y = iris()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    return model


def onnx_model(folder: Path) -> Any:
    """The same kind of classifier as ONNX (labels as the first output); returns the sklearn model."""
    from skl2onnx import to_onnx
    from sklearn.tree import DecisionTreeClassifier

    x, y = iris()
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y)
    onx = to_onnx(model, x[:1].astype(np.float32), options={id(model): {"zipmap": False}})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    return model


def xgboost_model(folder: Path) -> Any:
    import xgboost as xgb

    x, y = iris()
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(x, label=y), num_boost_round=5)
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / "model.json"))
    return booster


def python_handler_model(folder: Path) -> Any:
    """A SageMaker-style model folder: the model file plus code/inference.py."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    x, y = iris()
    model = LogisticRegression(max_iter=1000).fit(x, y)
    (folder / "code").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "clf.joblib")
    (folder / "code" / "inference.py").write_text(HANDLER)
    return model
