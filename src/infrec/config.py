"""Settings read from the environment, so the CLI, the API and tests agree on one place for state."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"
ALLOW_COMMANDS_ENV = "INFREC_ALLOW_COMMANDS"
ALLOW_FILES_ENV = "INFREC_ALLOW_FILES"
EXECUTORS = ("local", "ray")


def env_flag(value: str | None) -> bool | None:
    """A yes/no environment value: True for 1/true/yes/on, False for 0/false/no/off, None when unset
    or empty (the caller's default applies). Anything else is an error, so a typo does not silently
    open or close something."""
    if value is None or not value.strip():
        return None
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a yes/no value (use 1 or 0)")


def env_paths(value: str | None) -> tuple[Path, ...] | None:
    """A colon-separated list of folders (as PATH is written), made absolute; None when unset or empty."""
    if value is None or not value.strip():
        return None
    return tuple(Path(p).expanduser().absolute() for p in value.split(os.pathsep) if p.strip())


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
    # May a model's INFREC_COMMAND (or a non-built-in image, through Docker) run on this host? The
    # embedded CLI runs jobs in the caller's own process, as the caller, so a command there does
    # nothing its user could not do directly: allowed unless INFREC_ALLOW_COMMANDS=0. `infrec serve`
    # runs them for whoever can reach it, so it needs --allow-commands (see cli/serve.py).
    allow_commands: bool = True
    # Folders file:// URIs (and plain paths) may name; None = the state folder and the current
    # directory (see `file_roots`). INFREC_ALLOW_FILES, colon-separated; `infrec serve --allow-files`.
    allow_files: tuple[Path, ...] | None = None
    # Whether local paths are confined to `file_roots()` at all. The server and the embedded CLI
    # confine them (`confined()`); a program that builds the services itself (a benchmark, a
    # notebook) is its own operator and reads any path unless INFREC_ALLOW_FILES names folders.
    confine_files: bool = False
    # Where endpoints run: "local" (processes on this host) or "ray" (the nodes of the Ray cluster at
    # `ray_address`: host:port, `auto` or ray://…). INFREC_EXECUTOR, INFREC_RAY_ADDRESS; docs/ray.md.
    executor: str = "local"
    ray_address: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("INFREC_HOME") or (Path.cwd() / ".infrec")).absolute()
        url = env.get("INFREC_DATABASE_URL") or f"sqlite:///{home / 'infrec.db'}"
        try:
            allow_commands = env_flag(env.get(ALLOW_COMMANDS_ENV))
        except ValueError as exc:
            raise ValueError(f"{ALLOW_COMMANDS_ENV}: {exc}") from None
        executor = (env.get("INFREC_EXECUTOR") or "local").strip().lower()
        if executor not in EXECUTORS:
            raise ValueError(f"INFREC_EXECUTOR={executor!r} must be one of {', '.join(EXECUTORS)}")
        return cls(
            executor=executor,
            ray_address=(env.get("INFREC_RAY_ADDRESS") or "").strip() or None,
            home=home,
            database_url=url,
            region=env.get("INFREC_REGION", DEFAULT_REGION),
            account_id=env.get("INFREC_ACCOUNT_ID", DEFAULT_ACCOUNT_ID),
            allow_commands=True if allow_commands is None else allow_commands,
            allow_files=(roots := env_paths(env.get(ALLOW_FILES_ENV))),
            confine_files=roots is not None,
        )

    def confined(self) -> Settings:
        """These settings with local paths confined to `file_roots()`: what the front ends use."""
        return dataclasses.replace(self, confine_files=True)

    def file_roots(self) -> tuple[Path, ...]:
        """The folders file:// URIs may name: `allow_files` when set, else the state folder and the
        current directory (where `infrec example create` and `infrec demo` put their files)."""
        if self.allow_files is not None:
            return self.allow_files
        return (self.home, Path.cwd().absolute())

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home
