"""A job's working folder: the model data and the sample payloads, fetched once per job and
extracted safely, so every step of the job (and a resumed run) serves and sends the same bytes."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from infrec.artifacts.uri import ArtifactError, FileAccess


class WorkspaceError(RuntimeError):
    pass


def prepare(home: Path, job_name: str, model_data_url: str | None, payload_url: str, files: FileAccess,
            max_bytes: int | None = None) -> tuple[Path | None, Path]:
    """Return (model folder or None, payload folder) under `home/jobs/<job>/`, fetched through
    `files` (the operator's allowed folders and archive limits)."""
    root = home / "jobs" / job_name
    model_dir: Path | None = None
    try:
        if model_data_url:
            model_dir = root / "model"
            if not (root / "model.ready").exists():
                _fresh(model_dir)
                files.fetch_and_extract(model_data_url, model_dir, **_limit(max_bytes))
                (root / "model.ready").touch()
        payload_dir = root / "payload"
        if not (root / "payload.ready").exists():
            _fresh(payload_dir)
            files.fetch_and_extract(payload_url, payload_dir, **_limit(max_bytes))
            (root / "payload.ready").touch()
    except ArtifactError as exc:
        raise WorkspaceError(str(exc)) from exc
    return model_dir, payload_dir


def _limit(max_bytes: int | None) -> dict[str, int]:
    return {} if max_bytes is None else {"max_bytes": max_bytes}


def _fresh(folder: Path) -> None:
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def release(home: Path, job_name: str, keep: bool = False) -> int:
    """Remove an ended job's working folder (extracted model and payloads: up to the archive limit
    each, per job) unless `keep` (Settings.keep_artifacts: the operator keeps them to debug a model);
    the job's results live in the database. Returns the bytes freed. A resumable (interrupted) job
    must not be released: its next run reads the folder."""
    root = home / "jobs" / job_name
    if keep or not root.is_dir():
        return 0
    freed = folder_bytes(root)
    shutil.rmtree(root, ignore_errors=True)
    return freed


def clean(home: Path, is_ended: Callable[[str], bool], older_than_s: float) -> list[tuple[str, int]]:
    """Remove the working folders of ended (or unknown) jobs last touched more than `older_than_s`
    ago: what `infrec jobs clean` does for folders kept by INFREC_KEEP_ARTIFACTS or left by older versions.
    Folders of jobs that may still run are never touched. Returns (job name, bytes freed)."""
    base = home / "jobs"
    if not base.is_dir():
        return []
    now = time.time()
    out = []
    for root in sorted(base.iterdir()):
        if not root.is_dir() or root.is_symlink():
            continue
        try:
            age = now - root.stat().st_mtime
        except OSError:
            continue
        if age < older_than_s or not is_ended(root.name):
            continue
        freed = folder_bytes(root)
        shutil.rmtree(root, ignore_errors=True)
        out.append((root.name, freed))
    return out
