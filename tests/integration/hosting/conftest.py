"""Fixtures the hosting tests share with the jobs tests."""

from tests.integration.jobs.conftest import payload_archive  # noqa: F401  (a fixture, used by name)
