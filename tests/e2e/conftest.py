"""Fixtures shared with the integration tests: a Docker engine with the test images."""

from tests.integration.conftest import docker_engine  # noqa: F401 - a fixture, used by name
