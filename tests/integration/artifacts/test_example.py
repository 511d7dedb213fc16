"""The bundled example model: its archives unpack safely, the model loads and predicts the right
classes for every request body of the payload, and `infrec example create` writes and reports them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import joblib
import pytest

from infrec.artifacts.archive import safe_extract
from infrec.artifacts.uri import FileAccess
from infrec.examples import FEATURE_NAMES, ExampleModel, create_example

INFREC = Path(sys.executable).parent / "infrec"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> ExampleModel:
    return create_example(tmp_path_factory.mktemp("example"))


def _rows(name: str, body: bytes) -> list[list[float]]:
    """Parse a request body by the documented convention."""
    if name.endswith(".json"):
        doc = json.loads(body)
        return doc["instances"] if isinstance(doc, dict) else doc
    assert name.endswith(".csv")
    return [[float(v) for v in r] for r in csv.reader(io.StringIO(body.decode())) if r]


def test_archives_and_metadata(example: ExampleModel) -> None:
    assert example.model_path.name == "model.tar.gz" and example.payload_path.name == "payload.tar.gz"
    FileAccess().check_readable(example.model_data_url)
    FileAccess().check_readable(example.payload_url)
    with tarfile.open(example.model_path) as tf:
        assert tf.getnames() == ["model.joblib"]
    assert list(example.content_types) == ["application/json", "text/csv"]
    assert example.feature_count == len(FEATURE_NAMES) == 4
    assert example.image == "infrec/sklearn"
    assert example.framework == "SAGEMAKER-SCIKIT-LEARN"
    import sklearn

    assert example.framework_version == sklearn.__version__


def test_model_predicts_every_payload_body(example: ExampleModel, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris

    model_dir = FileAccess().fetch_and_extract(example.model_data_url, tmp_path / "model")
    payload_dir = safe_extract(example.payload_path, tmp_path / "payload")
    model = joblib.load(next(model_dir.glob("*.joblib")))
    iris = load_iris()
    truth = {tuple(float(v) for v in row): int(t) for row, t in zip(iris.data, iris.target, strict=True)}

    bodies = sorted(p.name for p in payload_dir.iterdir())
    assert bodies == list(example.payload_files)
    kinds = {"json-instances": 0, "json-list": 0, "csv": 0}
    for name in bodies:
        raw = (payload_dir / name).read_bytes()
        if name.endswith(".json"):
            kinds["json-instances" if isinstance(json.loads(raw), dict) else "json-list"] += 1
        else:
            kinds["csv"] += 1
            assert not raw.decode().splitlines()[0][0].isalpha(), "CSV bodies have no header"
        rows = _rows(name, raw)
        assert rows and all(len(r) == 4 for r in rows)
        predicted = [int(p) for p in model.predict(rows)]
        assert predicted == [truth[tuple(r)] for r in rows], name
    assert all(n >= 2 for n in kinds.values()), kinds


def test_creation_is_reproducible(example: ExampleModel, tmp_path: Path) -> None:
    again = create_example(tmp_path)
    assert again.model_path.read_bytes() == example.model_path.read_bytes()
    assert again.payload_path.read_bytes() == example.payload_path.read_bytes()


def test_cli_creates_and_reports(tmp_path: Path) -> None:
    out = subprocess.run([str(INFREC), "example", "create", str(tmp_path / "ex"), "--output", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ModelDataUrl"] == (tmp_path / "ex" / "model.tar.gz").as_uri()
    assert doc["SamplePayloadUrl"] == (tmp_path / "ex" / "payload.tar.gz").as_uri()
    assert doc["SupportedContentTypes"] == ["application/json", "text/csv"]
    assert (tmp_path / "ex" / "model.tar.gz").is_file()

    table = subprocess.run([str(INFREC), "example", "create", str(tmp_path / "ex")],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "model.tar.gz" in table.stdout and "payload.tar.gz" in table.stdout
    assert "infrec/sklearn" in table.stdout and "text/csv" in table.stdout


def test_cli_bad_folder_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = subprocess.run([str(INFREC), "example", "create", str(blocker)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "exists and is not a directory" in out.stderr
    assert "Traceback" not in out.stderr
