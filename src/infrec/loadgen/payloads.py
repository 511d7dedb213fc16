"""Request bodies for a load test: every file of the job's sample payload folder is one body."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

_MAX_FILES = 100_000
_MAX_BYTES = 256 * 1024 * 1024


class Payload(NamedTuple):
    body: bytes
    content_type: str


def load_payloads(folder: str | Path, content_type: str = "application/octet-stream") -> list[Payload]:
    """Every regular file under `folder` (recursively, sorted by path, hidden files skipped) is a body.

    Sorting makes round-robin order reproducible; the caps keep a hostile archive from filling
    memory. A missing folder is a clear ValueError, an empty one an empty list.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"payload folder {str(root)!r} does not exist or is not a folder")
    out: list[Payload] = []
    total = 0
    for path in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        body = path.read_bytes()
        total += len(body)
        if len(out) >= _MAX_FILES or total > _MAX_BYTES:
            raise ValueError(f"payload folder {str(root)!r} holds more than {_MAX_FILES} files "
                             f"or {_MAX_BYTES // 2**20} MiB")
        out.append(Payload(body, content_type))
    return out
