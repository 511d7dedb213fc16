"""A job's working folder: the model data and the sample payloads, fetched once per job and
extracted safely, so every step of the job (and a resumed run) serves and sends the same bytes."""

from __future__ import annotations

from pathlib import Path

from infrec.artifacts.uri import ArtifactError, fetch_and_extract


class WorkspaceError(RuntimeError):
    pass


def prepare(home: Path, job_name: str, model_data_url: str | None, payload_url: str,
            max_bytes: int | None = None) -> tuple[Path | None, Path]:
    """Return (model folder or None, payload folder) under `home/jobs/<job>/`."""
    root = home / "jobs" / job_name
    model_dir: Path | None = None
    try:
        if model_data_url:
            model_dir = root / "model"
            if not (root / "model.ready").exists():
                _fresh(model_dir)
                fetch_and_extract(model_data_url, model_dir, **_limit(max_bytes))
                (root / "model.ready").touch()
        payload_dir = root / "payload"
        if not (root / "payload.ready").exists():
            _fresh(payload_dir)
            fetch_and_extract(payload_url, payload_dir, **_limit(max_bytes))
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
