"""The routing table (`infrec.api.operations`) against botocore's service models and the services:
a misspelt operation, a method of the wrong service or a service the composition root does not
supply fails here, not on a client's first call."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from infrec.api import operations
from infrec.config import Settings
from infrec.services import Services


def _model_operations(service: str) -> frozenset[str]:
    return frozenset(botocore.session.get_session().get_service_model(service).operation_names)


def _routes() -> Iterator[tuple[str, operations.Owner[object], str]]:
    for api, owners in operations.APIS.items():
        for owner in owners:
            for op in owner.operations:
                yield api, owner, op


def test_every_operation_is_in_its_botocore_model() -> None:
    for api, owners in operations.APIS.items():
        unknown = {op for owner in owners for op in owner.operations} - _model_operations(api)
        assert not unknown, f"not {api} operations: {sorted(unknown)}"
    assert set(operations.RUNTIME) <= _model_operations("sagemaker-runtime")


def test_no_operation_has_two_owners() -> None:
    for api, owners in operations.APIS.items():
        names = [op for owner in owners for op in owner.operations]
        assert len(names) == len(set(names)), f"{api}: {sorted(n for n in names if names.count(n) > 1)}"


def test_every_handler_is_a_method_of_its_owner_named_for_the_operation() -> None:
    for _api, owner, op in _routes():
        method = owner.operations[op]
        assert callable(method), op
        # botocore's own snake_case name: "CreateAIBenchmarkJob" -> create_ai_benchmark_job.
        assert method.__name__ == xform_name(op), f"{op} is answered by {method.__qualname__}"
        assert vars(owner.service).get(method.__name__) is method, f"{op}: {method.__qualname__} is not on {owner.service}"
    for op, method in operations.RUNTIME.items():
        assert callable(method) and method.__qualname__.startswith("Invoker."), op


def test_find_keeps_each_api_to_its_own_operations() -> None:
    found = operations.find("CreateEndpoint")
    assert found is not None and found[0] is operations.HOSTING
    assert operations.find("GetLogEvents") is None
    assert operations.find("GetLogEvents", "logs") is not None
    assert operations.find("CreateEndpoint", "logs") is None
    assert operations.find("LaunchRockets") is None
    assert operations.find("CreateEndpoint", "s3") is None


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[Services]:
    svc = Services(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'ops.db'}"), check_artifacts=False)
    yield svc
    svc.close()


def test_services_bind_every_operation_to_its_owner(services: Services) -> None:
    for api, owner, op in _routes():
        handler = services.handler(op, api)
        assert isinstance(handler, partial), op
        assert handler.func is owner.operations[op]
        assert isinstance(handler.args[0], owner.service), op
    assert services.handler("LaunchRockets") is None
    assert services.handler("InvokeEndpoint") is None  # the runtime's, served on its own route
