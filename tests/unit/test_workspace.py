"""Ended jobs' working folders: removed at the end unless kept, and `clean` never touches live jobs."""

from __future__ import annotations

import os
from pathlib import Path

from infrec.jobs import workspace


def _job(home: Path, name: str, size: int = 1000) -> Path:
    root = home / "jobs" / name
    (root / "payload").mkdir(parents=True)
    (root / "payload" / "r.json").write_bytes(b"{" * size)
    return root


def test_release_removes_the_folder_unless_kept(tmp_path: Path) -> None:
    root = _job(tmp_path, "a")
    assert workspace.release(tmp_path, "a", keep=True) == 0 and root.exists()
    assert workspace.release(tmp_path, "a") == 1000 and not root.exists()
    assert workspace.release(tmp_path, "missing") == 0


def test_clean_spares_running_and_recent_jobs(tmp_path: Path) -> None:
    ended, running, recent = _job(tmp_path, "ended"), _job(tmp_path, "running"), _job(tmp_path, "recent")
    for root in (ended, running):
        os.utime(root, (1_000_000_000, 1_000_000_000))
    removed = workspace.clean(tmp_path, lambda name: name != "running", older_than_s=3600)
    assert removed == [("ended", 1000)]
    assert not ended.exists() and running.exists() and recent.exists()
