"""Fixtures for executor tests: a LocalExecutor on a private state folder that stops whatever a test
leaves running, and checks that nothing of it remains."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infrec.core.catalog import Catalog, InstanceType
from infrec.executors.base import EndpointHandle
from infrec.executors.local import LocalExecutor, group_members


class TrackedExecutor(LocalExecutor):
    """A LocalExecutor that remembers every handle it returned, so the fixture can clean up."""

    handles: list[EndpointHandle]

    def start(self, spec):  # type: ignore[no-untyped-def]
        h = super().start(spec)
        self.handles.append(h)
        return h


def leftovers(ex: LocalExecutor, handle: EndpointHandle) -> list[str]:
    """What of an endpoint is still there: live processes of its groups, its cgroups, its ledger file."""
    out = [f"pid {p}" for inst in handle.instances for p in group_members(inst.pgid)]
    out += [g for inst in handle.instances for g in inst.cgroups if Path(g).exists()]
    out += [g for g in ex.infrec_cgroups() if handle.ledger_id in g]
    out += [str(p) for p in ex.ledger.dir.glob(f"{handle.ledger_id}*")]
    return out


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[TrackedExecutor]:
    # These tests are the operator: they run their own command lines and images (test_local).
    ex = TrackedExecutor(tmp_path / "state", allow_commands=True)
    ex.handles = []
    try:
        yield ex
    finally:
        for h in ex.handles:
            ex.stop(h)
        ex.reap_orphans()


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.default()


def half_cpu(catalog: Catalog) -> InstanceType:
    return catalog.get("ml.t2.medium")  # 2 vCPUs, 4 GiB
