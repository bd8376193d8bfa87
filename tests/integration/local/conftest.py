"""Fixtures of the local ECS runtime's tests (the harness itself: tests/support/ecs_runtime.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bootstrap_flows import docker_engine
from tests.support import ecs_runtime
from tests.support.ecs_runtime import Emulated, Runtime
from tests.support.servers import moto_server


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    return docker_engine.ensure_docker()


@pytest.fixture(scope="module")
def probe_image(engine: docker.DockerClient) -> str:
    """The probe image, built once per content and kept (one small layer on the base)."""
    return ecs_runtime.probe_image(engine)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    """A moto server of this test's own, so no test sees another's services."""
    with moto_server(tmp_path / "moto.log", managed_policies=True) as url:
        yield url


@pytest.fixture
def aws(endpoint: str) -> Emulated:
    return Emulated(endpoint)


@pytest.fixture
def runtime(
    endpoint: str, tmp_path: Path, engine: docker.DockerClient, probe_image: str
) -> Iterator[Runtime]:
    """Not started: a test may set things up first. Stopped and cleaned up afterwards."""
    result = Runtime(endpoint, tmp_path / "state", engine)
    try:
        yield result
    finally:
        if result.process is not None:
            try:
                result.stop()
            except subprocess.TimeoutExpired:
                result.process.kill()
        for container in result.containers(running_only=False):
            container.remove(force=True)
