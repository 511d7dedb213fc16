from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import InfrecServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InfrecServer]:
    """`infrec serve` on SQLite in a fresh state folder; artifact URIs are plain files here."""
    srv = InfrecServer({"INFREC_HOME": str(tmp_path / "home")})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfrecServer]:
    """One server for a module of read-mostly tests, to keep the suite fast."""
    srv = InfrecServer({"INFREC_HOME": str(tmp_path_factory.mktemp("shared") / "home")})
    try:
        yield srv
    finally:
        srv.stop()
