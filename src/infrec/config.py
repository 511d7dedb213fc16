"""Settings read from the environment, so the CLI, the API and tests agree on one place for state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"


@dataclass(frozen=True)
class Settings:
    """Where infrec keeps its state and how it names things.

    `home` holds the SQLite file, endpoint working folders and the process ledger; a team
    that outgrows one machine points `database_url` at PostgreSQL instead.
    """

    home: Path
    database_url: str
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("INFREC_HOME") or (Path.cwd() / ".infrec")).absolute()
        url = env.get("INFREC_DATABASE_URL") or f"sqlite:///{home / 'infrec.db'}"
        return cls(
            home=home,
            database_url=url,
            region=env.get("INFREC_REGION", DEFAULT_REGION),
            account_id=env.get("INFREC_ACCOUNT_ID", DEFAULT_ACCOUNT_ID),
        )

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home
