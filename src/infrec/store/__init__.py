"""Persistence: SQLAlchemy tables, migrations applied on open, and the session factory services use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from infrec.store.db import StoreError, open_database

__all__ = ["Store", "StoreError"]


class Store:
    """The database a service works on. One per process; sessions are short and per operation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine
        self._sessions: sessionmaker[Session]
        self.engine, self._sessions = open_database(url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back otherwise."""
        with self._sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()
