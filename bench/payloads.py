"""The sample payload the benches that run jobs on `infrec/synthetic` send: four small JSON
requests in a tar.gz, as SageMaker's SamplePayloadUrl holds them. One definition, so the benches
measure with the same requests and their figures compare."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path


def synthetic_payload(folder: Path) -> Path:
    """Write `payload.tar.gz` into `folder` and return its path."""
    path = folder / "payload.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for i in range(4):
            body = json.dumps({"instances": [[i, 1, 2, 3]]}).encode()
            info = tarfile.TarInfo(f"req-{i}.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path
