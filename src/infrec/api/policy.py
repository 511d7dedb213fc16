"""What a caller of the served API may ask the host to do: the operator's opt-ins, checked on the request.

A container's `Image` ends up on a `docker run` command line and its Environment may hold
`INFREC_COMMAND`, a command line the local executor runs on the host as the server's user. Those are
the operator's decisions, not a caller's, so a served API refuses them unless the server was started
with `--allow-commands`. Refusing at the request gives the caller an answer at once; the executor
enforces the same rule again when an endpoint starts (a job's environment parameters, rows written
before an upgrade, embedded use).

The check walks the whole request instead of naming fields, so every operation that carries a
container (CreateModel, CreateModelPackage, a job's environment parameter ranges, ...) is covered,
including ones added later.
"""

from __future__ import annotations

from typing import Any

from infrec.core.errors import AccessDeniedError, ValidationError
from infrec.core.images import image_reference_problem

COMMAND_ENV = "INFREC_COMMAND"
ALLOW_COMMANDS_HINT = "start the server with --allow-commands (or INFREC_ALLOW_COMMANDS=1)"


def check_request(payload: Any, *, allow_commands: bool) -> None:
    """Raise ValidationError for an Image that is not an image reference, AccessDeniedError for a
    command the server was not allowed to run."""
    _walk(payload, "", allow_commands)


def _walk(value: Any, path: str, allow_commands: bool) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if key == "Image" and isinstance(item, str) and (problem := image_reference_problem(item)):
                raise ValidationError(f"{sub}: {problem}")
            # An environment map's key, or a job's environment parameter (`{"Name": ..., "Value": [...]}`).
            names_command = key == COMMAND_ENV or (key == "Name" and item == COMMAND_ENV)
            if names_command and not allow_commands:
                raise AccessDeniedError(
                    f"{sub}: {COMMAND_ENV} would run a command on the infrec host, which this server does not "
                    f"allow; {ALLOW_COMMANDS_HINT}, or use a built-in image (infrec/sklearn, ...)")
            _walk(item, sub, allow_commands)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}.{i + 1}", allow_commands)
