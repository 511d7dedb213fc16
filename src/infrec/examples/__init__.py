"""The bundled example model: something real to register and benchmark on a fresh machine, with no
download from any hub.

`create_example(dest)` trains a small scikit-learn RandomForestClassifier on the iris data set that
ships inside scikit-learn, and writes two archives in the layout SageMaker uses:

- `dest/model.tar.gz` holds `model.joblib` at its root. The built-in image
  `infrec/sklearn` loads the single `*.joblib` file of the extracted model folder.
- `dest/payload.tar.gz` holds request bodies at its root, one request per file; every file is sent
  as is by the load generator, so the archive holds nothing else.

Request body convention (what the infrec/sklearn image must accept, and what each file is):
- `.json` (Content-Type application/json): the rows to predict, each row a list of the 4 iris
  features in scikit-learn's order (sepal length, sepal width, petal length, petal width, in cm).
  Two JSON shapes are included on purpose, because both are common with SageMaker clients:
  `instances-*.json` use `{"instances": [[...], ...]}` and `rows-*.json` use a bare list `[[...], ...]`.
- `.csv` (Content-Type text/csv): one row per line, comma-separated floats, no header.
The number in a file name is its row count (batch size), so one payload exercises 1- to 32-row requests.
The response is the predicted class per row (0 setosa, 1 versicolor, 2 virginica).

Everything is deterministic (fixed seed, fixed archive timestamps and owners): creating the example
twice with the same scikit-learn gives byte-identical archives, so a re-run does not look like a new model.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

FEATURE_NAMES = ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")
CONTENT_TYPES = ("application/json", "text/csv")
IMAGE = "infrec/sklearn"
_SEED = 0


@dataclass(frozen=True)
class ExampleModel:
    """What `create_example` wrote, with what a registration needs (image, URLs, content types)."""

    directory: Path
    model_path: Path
    payload_path: Path
    payload_files: tuple[str, ...]
    content_types: tuple[str, ...] = CONTENT_TYPES
    feature_count: int = len(FEATURE_NAMES)
    feature_names: tuple[str, ...] = FEATURE_NAMES
    framework: str = "SAGEMAKER-SCIKIT-LEARN"  # SageMaker's name, as in ContainerConfig.Framework
    framework_version: str = ""
    image: str = IMAGE
    dataset: str = "iris (scikit-learn)"
    estimator: str = "RandomForestClassifier"
    domain: str = "MACHINE_LEARNING"
    task: str = "CLASSIFICATION"
    training_accuracy: float = 0.0

    @property
    def model_data_url(self) -> str:
        """`file://` URL of model.tar.gz, for ModelDataUrl."""
        return self.model_path.resolve().as_uri()

    @property
    def payload_url(self) -> str:
        """`file://` URL of payload.tar.gz, for SamplePayloadUrl."""
        return self.payload_path.resolve().as_uri()


def _train() -> tuple[object, list[list[float]], list[int], float]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    data = load_iris()
    x = [[float(v) for v in row] for row in data.data]
    y = [int(v) for v in data.target]
    # Small but not trivial: enough trees that a request costs measurable CPU, one thread so the
    # endpoint's own worker/thread settings are what decide parallelism.
    model = RandomForestClassifier(n_estimators=50, max_depth=6, random_state=_SEED, n_jobs=1)
    model.fit(data.data, data.target)
    accuracy = float(model.score(data.data, data.target))
    return model, x, y, accuracy


def _rows(x: list[list[float]], n: int, offset: int) -> list[list[float]]:
    """`n` rows spread over all three classes (iris is sorted by class)."""
    step = max(1, len(x) // n)
    return [x[(offset + i * step) % len(x)] for i in range(n)]


def _csv(rows: list[list[float]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([[repr(v) for v in r] for r in rows])
    return buf.getvalue().encode()


def payload_bodies(x: list[list[float]]) -> dict[str, bytes]:
    """The request bodies of payload.tar.gz, by file name (see the module docstring)."""
    return {
        "instances-1.json": json.dumps({"instances": _rows(x, 1, 0)}).encode(),
        "instances-8.json": json.dumps({"instances": _rows(x, 8, 3)}).encode(),
        "rows-1.json": json.dumps(_rows(x, 1, 75)).encode(),
        "rows-16.json": json.dumps(_rows(x, 16, 5)).encode(),
        "rows-1.csv": _csv(_rows(x, 1, 120)),
        "rows-8.csv": _csv(_rows(x, 8, 7)),
        "rows-32.csv": _csv(_rows(x, 32, 1)),
    }


def _write_tar_gz(path: Path, files: dict[str, bytes]) -> None:
    """A reproducible .tar.gz: sorted names, zero timestamps, root-owned 0644 regular files, written
    under a temporary name and renamed so a reader never sees half an archive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(files):
                info = tarfile.TarInfo(name)
                info.size = len(files[name])
                info.mode = 0o644
                info.mtime = 0
                info.uname = info.gname = "root"
                tar.addfile(info, io.BytesIO(files[name]))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_example(dest_dir: Path) -> ExampleModel:
    """Train the example model and write `dest_dir/model.tar.gz` and `dest_dir/payload.tar.gz`
    (replacing earlier ones). Takes about a second; needs only scikit-learn and joblib."""
    import joblib
    import sklearn

    dest_dir = Path(dest_dir)
    if dest_dir.exists() and not dest_dir.is_dir():
        raise ValueError(f"{dest_dir}: exists and is not a directory")
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{dest_dir}: cannot create the folder: {exc.strerror or exc}") from None
    model, x, _y, accuracy = _train()
    buf = io.BytesIO()
    joblib.dump(model, buf)
    model_path = dest_dir / "model.tar.gz"
    payload_path = dest_dir / "payload.tar.gz"
    bodies = payload_bodies(x)
    _write_tar_gz(model_path, {"model.joblib": buf.getvalue()})
    _write_tar_gz(payload_path, bodies)
    return ExampleModel(
        directory=dest_dir,
        model_path=model_path,
        payload_path=payload_path,
        payload_files=tuple(sorted(bodies)),
        framework_version=sklearn.__version__,
        training_accuracy=accuracy,
    )


__all__ = ["CONTENT_TYPES", "FEATURE_NAMES", "IMAGE", "ExampleModel", "create_example", "payload_bodies"]
