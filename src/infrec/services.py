"""The composition root: one place that builds the services from settings, shared by the API server,
the CLI's embedded mode and the tests, so there is never a second way to wire them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from infrec.config import Settings
from infrec.core.arn import ArnBuilder
from infrec.core.errors import ValidationError
from infrec.registry.service import RegistryService
from infrec.store import Store

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _check_artifact(field: str, uri: str) -> None:
    from infrec.artifacts.uri import ArtifactError, check_readable

    try:
        check_readable(uri)
    except ArtifactError as exc:
        raise ValidationError(f"{field}: {exc}") from exc


def snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class Services:
    """Everything a front end talks to. Operations are found by name: SageMaker's `CreateModel`
    is `create_model` on whichever service owns it."""

    def __init__(self, settings: Settings, *, check_artifacts: bool = True) -> None:
        self.settings = settings
        settings.ensure_home()
        self.arns = ArnBuilder(settings.region, settings.account_id)
        self.store = Store(settings.database_url)
        self.registry = RegistryService(self.store, self.arns, _check_artifact if check_artifacts else None)
        self._owners: list[object] = [self.registry]

    def add(self, service: object) -> None:
        self._owners.append(service)

    def handler(self, operation: str) -> Handler | None:
        name = snake(operation)
        for owner in self._owners:
            fn = getattr(owner, name, None)
            if callable(fn):
                return fn  # type: ignore[no-any-return]
        return None

    def close(self) -> None:
        for owner in self._owners:
            closer = getattr(owner, "shutdown", None)
            if callable(closer):
                closer()
        self.store.close()
