"""The server's settings, read from the environment exactly as SageMaker's containers read them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infrec.core.images import MODEL_SERVER, builtin_image, builtin_names, image_base


class SettingsError(ValueError):
    """An environment variable with a value the server cannot use."""


def _int(env: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{key}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key}={raw!r} is not a number") from None
    if value < 0:
        raise SettingsError(f"{key}={value} must not be negative")
    return value


def served_image(image: str) -> str:
    """`infrec/sklearn:1.2` → `infrec/sklearn`, for an image this model server runs (the registry's);
    anything else is refused with the list of those images."""
    found = builtin_image(image_base(image).strip())
    if found is not None and found.server == MODEL_SERVER:
        return found.name
    known = ", ".join(builtin_names(MODEL_SERVER))
    raise SettingsError(f"INFREC_IMAGE={image!r} is not a built-in image; use one of: {known}")


def default_workers() -> int:
    """SageMaker's default is one worker per vCPU; here, per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServerSettings:
    port: int
    host: str
    workers: int
    timeout_s: float
    model_dir: Path
    image: str                    # the built-in image served: infrec/sklearn, ...
    max_body_bytes: int
    threads: int | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        e = os.environ if env is None else env
        threads = _int(e, "OMP_NUM_THREADS", 0, 1) or None
        return cls(
            port=_int(e, "SAGEMAKER_BIND_TO_PORT", 8080, 1),
            host=e.get("INFREC_BIND_HOST", "127.0.0.1") or "127.0.0.1",
            workers=_int(e, "SAGEMAKER_MODEL_SERVER_WORKERS", default_workers(), 1),
            timeout_s=_float(e, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 60.0),
            model_dir=Path(e.get("SM_MODEL_DIR") or "/opt/ml/model"),
            image=served_image(e.get("INFREC_IMAGE") or "infrec/sklearn"),
            # SageMaker caps real-time payloads at 6 MB (25 MB for some); keep a generous guard.
            max_body_bytes=_int(e, "INFREC_MAX_REQUEST_MB", 25, 1) * 1024 * 1024,
            threads=threads,
        )
