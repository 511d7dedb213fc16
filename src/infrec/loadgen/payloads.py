"""Request bodies for a load test: every file of the job's sample payload folder is one body."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from infrec.core.content_types import content_type_of

_MAX_FILES = 100_000
_MAX_BYTES = 256 * 1024 * 1024


class Payload(NamedTuple):
    body: bytes
    content_type: str
    name: str = ""          # the file it came from, relative to the payload folder (for error messages)


def load_payloads(folder: str | Path, content_type: str = "application/octet-stream",
                  allowed_types: list[str] | None = None) -> list[Payload]:
    """Every regular file under `folder` (recursively, sorted by path, hidden files skipped) is a body.

    With `allowed_types` (the job's SupportedContentTypes), a file whose extension names one of
    them is sent with that type; other files get `content_type`.

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
        guessed = content_type_of(path)   # a file's extension picks its type among the job's
        ctype = guessed if allowed_types and guessed in allowed_types else content_type
        out.append(Payload(body, ctype, path.relative_to(root).as_posix()))
    return out
