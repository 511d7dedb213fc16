"""Which content type a sample payload file carries, by its extension.

A sample payload archive may mix formats (SupportedContentTypes lists several): a file's extension
picks its content type among the job's, so a CSV body is never sent as JSON. The load generator
reads a job's payloads by it, and `infrec recommend` derives the job's content types from the
archive's file names by it, so the two always agree."""

from __future__ import annotations

from pathlib import PurePath

BY_EXTENSION = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": "application/jsonlines",
    ".npy": "application/x-npy",
    ".txt": "text/plain",
}


def content_type_of(name: str | PurePath) -> str | None:
    """The content type a payload file's extension names, None when it names none."""
    return BY_EXTENSION.get(PurePath(name).suffix.lower())
