"""Existing endpoints a job may load-test (``InputConfig.Endpoints``): the one contact point
between jobs and whatever hosts endpoints.

Jobs never reach into hosting. They ask an ``EndpointLookup`` for a name and get back where the
endpoint answers (``ExistingEndpoint``); the hosting service implements the lookup for infrec's
own endpoints, and ``FileEndpoints`` implements it for endpoints infrec did not start (any URL
that speaks the container contract: ``GET /ping``, ``POST /invocations``), registered by name in a
JSON file the operator names with ``INFREC_EXTERNAL_ENDPOINTS``. A name is what SageMaker's
``EndpointInfo.EndpointName`` allows (``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``), so botocore accepts
every request unchanged; the URL never travels in the API.

File format::

    {"my-endpoint": {"Url": "http://127.0.0.1:8080",          # required
                     "InstanceType": "ml.c5.large",           # optional: priced, sized
                     "InstanceCount": 1,                       # optional, default 1
                     "Pid": 12345}}                            # optional: utilisation sampled
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from infrec.core.errors import NotFoundError, ValidationError

EXTERNAL_ENDPOINTS_ENV = "INFREC_EXTERNAL_ENDPOINTS"


@dataclass(frozen=True)
class ExistingEndpoint:
    """Where a running endpoint answers. ``url`` is the base the container contract hangs off
    (``{url}/ping``, ``{url}/invocations``); ``instance_type`` (a catalog name) and ``pid`` (the
    server's process, for CPU and memory) are None when unknown, and the job then reports no
    cost or utilisation rather than a guess."""

    url: str
    instance_type: str | None = None
    instance_count: int = 1
    pid: int | None = None


@runtime_checkable
class EndpointLookup(Protocol):
    """Resolves an endpoint name to where it answers; raises NotFoundError when there is none
    (or it is not in service)."""

    def resolve(self, name: str) -> ExistingEndpoint: ...


def check_url(url: str, where: str) -> str:
    """An http(s) URL with a host, without a trailing slash; ValidationError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"{where}: {url!r} is not an http:// or https:// URL")
    return url.rstrip("/")


class FileEndpoints:
    """Endpoints infrec did not start, by name, from a JSON file (module doc). The file is read
    at every lookup, so an operator edits it without restarting the server."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _entries(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValidationError(f"{EXTERNAL_ENDPOINTS_ENV} file {self.path} cannot be read: {exc}") from None
        if not isinstance(doc, dict):
            raise ValidationError(f"{EXTERNAL_ENDPOINTS_ENV} file {self.path} must hold an object of endpoints")
        return doc

    def resolve(self, name: str) -> ExistingEndpoint:
        entry = self._entries().get(name)
        if entry is None:
            raise NotFoundError(f"Could not find endpoint {name!r}")
        where = f"{self.path}: endpoint {name!r}"
        if not isinstance(entry, dict) or not isinstance(entry.get("Url"), str):
            raise ValidationError(f"{where} needs a Url")
        count = entry.get("InstanceCount", 1)
        pid = entry.get("Pid")
        itype = entry.get("InstanceType")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(f"{where}: InstanceCount must be a positive integer")
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid < 1):
            raise ValidationError(f"{where}: Pid must be a process id")
        if itype is not None and not isinstance(itype, str):
            raise ValidationError(f"{where}: InstanceType must be a string")
        return ExistingEndpoint(url=check_url(entry["Url"], where), instance_type=itype, instance_count=count,
                                pid=pid)


class ChainedLookup:
    """The first lookup that knows the name wins (infrec's own endpoints before external ones)."""

    def __init__(self, lookups: Sequence[EndpointLookup]) -> None:
        self.lookups = list(lookups)

    def resolve(self, name: str) -> ExistingEndpoint:
        for lookup in self.lookups:
            try:
                return lookup.resolve(name)
            except NotFoundError:
                continue
        raise NotFoundError(f"Could not find endpoint {name!r}")


def default_lookup(first: EndpointLookup | None, external: Path | None) -> EndpointLookup | None:
    """The composition root's lookup: `first` (hosting), then the operator's file of external
    endpoints (Settings.external_endpoints, INFREC_EXTERNAL_ENDPOINTS) when there is one."""
    chain = [lk for lk in (first, FileEndpoints(external.expanduser()) if external else None) if lk is not None]
    if not chain:
        return None
    return chain[0] if len(chain) == 1 else ChainedLookup(chain)
