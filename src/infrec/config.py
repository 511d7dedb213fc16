"""Every setting of the control process in one typed, frozen object, read from the environment once
at the composition root (the CLI, `infrec serve`, a program building `Services`) and handed to what
needs it, so nothing else reads `INFREC_*` variables and every value is parsed one way
(`infrec.setting_values`); a bad value stops the start with the variable named.

Not here: the variables a model server reads from its own environment (`INFREC_SYNTHETIC_*`,
`INFREC_LLMSIM_*`, `INFREC_PREDICT_METHOD`, `INFREC_ONNX_OUTPUTS`, `INFREC_MAX_REQUEST_MB`,
`INFREC_BIND_HOST`, `INFREC_LLAMACPP_PYTHON`, `INFREC_VLLM_PYTHON`: infrec.serving), the ones infrec
writes into an endpoint's environment (`INFREC_IMAGE`, `INFREC_ENDPOINT`, `INFREC_CGROUP_PROCS`), a
container's `INFREC_COMMAND` (part of a model, not of the host), `INFREC_RAY_STATE_DIR` (read on each
Ray node, in the node's environment) and `INFREC_ENDPOINT_URL` (the CLI's `--endpoint-url`, read by
its option parser).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from infrec.artifacts.archive import DEFAULT_MAX_BYTES, DEFAULT_MAX_MEMBERS
from infrec.setting_values import EnvReader, SettingError

if TYPE_CHECKING:
    from infrec.executors.devices import HostDevices

__all__ = ["ALLOW_COMMANDS_ENV", "ALLOW_FILES_ENV", "EXECUTORS", "SettingError", "Settings"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "000000000000"
ALLOW_COMMANDS_ENV = "INFREC_ALLOW_COMMANDS"
ALLOW_FILES_ENV = "INFREC_ALLOW_FILES"
EXECUTORS = ("local", "ray")
ARRIVALS = ("poisson", "uniform")
S3_STYLES = ("auto", "path", "virtual")
HOST_LOCK_OFF = ("off", "none", "0", "false")


def _env(name: str) -> dict[str, str]:
    """The metadata of a field read from the environment variable `name` (the README's settings
    table lists them; tests/unit/test_settings.py keeps the two in step)."""
    return {"env": name}


@dataclass(frozen=True)
class Settings:
    """Where infrec keeps its state, how it names things and how it measures.

    `home` holds the SQLite file, endpoint working folders and the process ledger; a team that
    outgrows one machine points `database_url` at PostgreSQL instead.
    """

    home: Path = field(metadata=_env("INFREC_HOME"))
    database_url: str = field(metadata=_env("INFREC_DATABASE_URL"))
    region: str = field(default=DEFAULT_REGION, metadata=_env("INFREC_REGION"))
    account_id: str = field(default=DEFAULT_ACCOUNT_ID, metadata=_env("INFREC_ACCOUNT_ID"))
    # The instance catalog file replacing the packaged one; None: the packaged catalog.
    catalog: Path | None = field(default=None, metadata=_env("INFREC_CATALOG"))
    # The operator's JSON file of endpoints infrec did not start (jobs.endpoints.FileEndpoints).
    external_endpoints: Path | None = field(default=None, metadata=_env("INFREC_EXTERNAL_ENDPOINTS"))
    # May a model's INFREC_COMMAND (or a non-built-in image, through Docker) run on this host? The
    # embedded CLI runs jobs in the caller's own process, as the caller, so a command there does
    # nothing its user could not do directly: allowed unless INFREC_ALLOW_COMMANDS=0. `infrec serve`
    # runs them for whoever can reach it, so there it needs a yes (`from_env(served=True)`).
    allow_commands: bool = field(default=True, metadata=_env(ALLOW_COMMANDS_ENV))
    # Folders file:// URIs (and plain paths) may name; None = the state folder and the current
    # directory (see `file_roots`). INFREC_ALLOW_FILES, colon-separated; `infrec serve --allow-files`.
    allow_files: tuple[Path, ...] | None = field(default=None, metadata=_env(ALLOW_FILES_ENV))
    # Whether local paths are confined to `file_roots()` at all. The server and the embedded CLI
    # confine them (`confined()`); a program that builds the services itself (a benchmark, a
    # notebook) is its own operator and reads any path unless INFREC_ALLOW_FILES names folders.
    confine_files: bool = False
    # Where endpoints run: "local" (processes on this host) or "ray" (the nodes of the Ray cluster at
    # `ray_address`: host:port, `auto` or ray://…); docs/ray.md.
    executor: Literal["local", "ray"] = field(default="local", metadata=_env("INFREC_EXECUTOR"))
    ray_address: str | None = field(default=None, metadata=_env("INFREC_RAY_ADDRESS"))
    # With a Ray autoscaler: how long a placement waits for a node to be added (0: no autoscaler).
    ray_autoscaler_wait_s: float = field(default=0.0, metadata=_env("INFREC_RAY_AUTOSCALER_WAIT_S"))
    # Artifacts: S3 addressing style (None: path-style with a custom endpoint, else botocore's own) and
    # the limits for extracting model and payload archives.
    s3_addressing_style: Literal["auto", "path", "virtual"] | None = field(
        default=None, metadata=_env("INFREC_S3_ADDRESSING_STYLE"))
    max_archive_bytes: int = field(default=DEFAULT_MAX_BYTES, metadata=_env("INFREC_MAX_ARCHIVE_BYTES"))
    max_archive_members: int = field(default=DEFAULT_MAX_MEMBERS, metadata=_env("INFREC_MAX_ARCHIVE_MEMBERS"))
    # Keep an ended job's extracted model and payloads (`infrec jobs clean` removes them later).
    keep_artifacts: bool = field(default=False, metadata=_env("INFREC_KEEP_ARTIFACTS"))
    # Measuring: the shortest measured part of a rate-search trial, the cap of the confirmation hold,
    # how long an endpoint may take to become healthy, the open loop's arrivals and the whole seconds
    # of every trial nobody measures (0 to 30; a fraction counts as the whole second it starts).
    trial_seconds: float = field(default=3.0, metadata=_env("INFREC_TRIAL_SECONDS"))
    hold_seconds: float = field(default=30.0, metadata=_env("INFREC_HOLD_SECONDS"))
    setup_deadline_s: float = field(default=120.0, metadata=_env("INFREC_SETUP_DEADLINE_SECONDS"))
    arrival: Literal["poisson", "uniform"] = field(default="poisson", metadata=_env("INFREC_ARRIVAL"))
    warmup_seconds: float = field(default=1.0, metadata=_env("INFREC_WARMUP_SECONDS"))
    # Refuse instance types larger than the host instead of emulating them.
    no_emulation: bool = field(default=False, metadata=_env("INFREC_NO_EMULATION"))
    # The load generator's CPUs (None: those no endpoint gets) and the busy share above which a
    # trial measured the generator, not the endpoint.
    loadgen_cpus: tuple[int, ...] | None = field(default=None, metadata=_env("INFREC_LOADGEN_CPUS"))
    loadgen_max_busy: float = field(default=0.85, metadata=_env("INFREC_LOADGEN_MAX_BUSY"))
    # The host-wide benchmark lock file: None for the default place (executors.hostlock), "off" for none.
    host_lock: Path | Literal["off"] | None = field(default=None, metadata=_env("INFREC_HOST_LOCK"))
    # The host's accelerators as declared; None: detected (executors.devices).
    host_devices: HostDevices | None = field(default=None, metadata=_env("INFREC_HOST_DEVICES"))

    @property
    def allow_emulation(self) -> bool:
        return not self.no_emulation

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, served: bool = False) -> Settings:
        """The settings `environ` (default: this process's environment) gives. `served`: for `infrec
        serve`, where commands stay refused unless INFREC_ALLOW_COMMANDS says yes. Raises SettingError
        (a ValueError) naming every variable whose value cannot be used."""
        r = EnvReader(os.environ if environ is None else environ)
        home = Path(r.raw("INFREC_HOME") or (Path.cwd() / ".infrec")).absolute()
        roots = r.paths(ALLOW_FILES_ENV)
        lock = r.raw("INFREC_HOST_LOCK")
        settings = cls(
            home=home,
            database_url=r.text("INFREC_DATABASE_URL", f"sqlite:///{home / 'infrec.db'}"),
            region=r.text("INFREC_REGION", DEFAULT_REGION),
            account_id=r.text("INFREC_ACCOUNT_ID", DEFAULT_ACCOUNT_ID),
            catalog=r.path("INFREC_CATALOG"),
            external_endpoints=r.path("INFREC_EXTERNAL_ENDPOINTS"),
            allow_commands=r.flag(ALLOW_COMMANDS_ENV, not served),
            allow_files=roots,
            confine_files=roots is not None,
            executor=r.choice("INFREC_EXECUTOR", "local", EXECUTORS),  # type: ignore[arg-type]
            ray_address=r.raw("INFREC_RAY_ADDRESS"),
            ray_autoscaler_wait_s=r.duration("INFREC_RAY_AUTOSCALER_WAIT_S", 0.0),
            s3_addressing_style=(r.choice("INFREC_S3_ADDRESSING_STYLE", "auto", S3_STYLES)  # type: ignore[arg-type]
                                 if r.raw("INFREC_S3_ADDRESSING_STYLE") else None),
            max_archive_bytes=r.integer("INFREC_MAX_ARCHIVE_BYTES", cls.max_archive_bytes, minimum=1),
            max_archive_members=r.integer("INFREC_MAX_ARCHIVE_MEMBERS", cls.max_archive_members, minimum=1),
            keep_artifacts=r.flag("INFREC_KEEP_ARTIFACTS", False),
            trial_seconds=r.duration("INFREC_TRIAL_SECONDS", cls.trial_seconds),
            hold_seconds=r.duration("INFREC_HOLD_SECONDS", cls.hold_seconds),
            setup_deadline_s=r.duration("INFREC_SETUP_DEADLINE_SECONDS", cls.setup_deadline_s),
            arrival=r.choice("INFREC_ARRIVAL", "poisson", ARRIVALS),  # type: ignore[arg-type]
            # Whole one-second windows are dropped: 0.5 means 1.
            warmup_seconds=float(math.ceil(r.duration("INFREC_WARMUP_SECONDS", cls.warmup_seconds, high=30.0))),
            no_emulation=r.flag("INFREC_NO_EMULATION", False),
            loadgen_cpus=r.cpu_list("INFREC_LOADGEN_CPUS"),
            loadgen_max_busy=r.number("INFREC_LOADGEN_MAX_BUSY", cls.loadgen_max_busy, low=0.0, high=1.0,
                                      low_open=True),
            host_lock=("off" if lock is not None and lock.lower() in HOST_LOCK_OFF
                       else None if lock is None else Path(lock).expanduser()),
            host_devices=_declared_devices(r),
        )
        r.check()
        return settings

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


def _declared_devices(r: EnvReader) -> HostDevices | None:
    raw = r.raw("INFREC_HOST_DEVICES")
    if raw is None:
        return None
    from infrec.executors.devices import HostDevices

    try:
        return HostDevices.from_json(raw)
    except ValueError as exc:  # the message already names INFREC_HOST_DEVICES
        r.problems.append(str(exc))
        return None


def setting_names() -> dict[str, str]:
    """Environment variable → Settings field, for every setting read from the environment."""
    return {f.metadata["env"]: f.name for f in dataclasses.fields(Settings) if "env" in f.metadata}
