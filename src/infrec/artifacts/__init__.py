"""Model data and sample payloads by URI (`file://`, plain paths, `s3://`), and safe archive extraction.

Public API: `infrec.artifacts.uri.FileAccess` (read_bytes, write_bytes, exists, size, check_readable,
download, fetch_and_extract, under the operator's allowed folders and limits) and
`infrec.artifacts.archive.safe_extract`; every failure is an `ArtifactError`.
"""

from infrec.artifacts.errors import ArchiveError, ArtifactError

__all__ = ["ArchiveError", "ArtifactError"]
