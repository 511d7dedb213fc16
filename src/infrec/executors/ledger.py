"""The process ledger: one JSON file per started endpoint, so a crash never loses track of a process.

The file is written before anything is started (with the cgroups it will create) and updated with
each process id as it starts; it is removed when the endpoint is stopped. A file whose owner (the
control process, identified by pid and start time) is gone marks orphans for `reap_orphans`.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import psutil


def process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def owner_identity() -> dict[str, Any]:
    return {"owner_pid": os.getpid(), "owner_start": process_start(os.getpid())}


def owner_alive(doc: dict[str, Any]) -> bool:
    pid = doc.get("owner_pid")
    if not isinstance(pid, int):
        return False
    start = process_start(pid)
    return start is not None and abs(start - float(doc.get("owner_start") or 0)) < 1.0


class Ledger:
    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir) / "endpoints"
        self.dir.mkdir(parents=True, exist_ok=True)

    def write(self, ledger_id: str, doc: dict[str, Any]) -> None:
        path = self.dir / f"{ledger_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, path)

    def remove(self, ledger_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{ledger_id}.json").unlink()

    def entries(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append((p.stem, json.loads(p.read_text())))
            except (OSError, ValueError):
                # A torn file still names nothing we could kill; drop it.
                with contextlib.suppress(OSError):
                    p.unlink()
        return out
