"""What the image tests share (tests/integration/test_image.py, test_image_immutable.py): the
fixture images, the product's settings aimed at a test's own moto and registry, a registry's
manifest read as the push's client reads it, and the engine and moto fixtures."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from bootstrap_flows import docker_engine, image
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_local.settings import LocalSettings, load_local_settings
from tests.support.ports import free_port
from tests.support.servers import moto_server

FIXTURES = Path(__file__).parents[1] / "fixtures" / "images"
LOG = logging.getLogger("test_image")


def ca_bundle() -> str | None:
    # Behind the TLS-intercepting proxy pip inside the build needs the host's bundle.
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def local_settings(state: Path, moto_port: int) -> LocalSettings:
    """The test's own emulator and registry, not the session's."""
    return load_local_settings(state_dir=state, moto_port=moto_port, registry_port=free_port())


def image_settings(local: LocalSettings) -> BootstrapSettings:
    """The product's settings for the `local` environment, aimed at the test's emulator and
    registry through its own overrides (the emulator target reads the session's ports)."""
    return load_settings(
        environment="local",
        work_dir=local.state_dir,
        aws_endpoint_url=local.aws_endpoint,
        registry_host_override=f"127.0.0.1:{local.registry_port}",
        extra_ca_bundle=ca_bundle(),
        worker_base_image="prefecthq/prefect:3.9.1-python3.11",
        base_image_fallback="os-packages",
    )


def tiny(tmp_path: Path, name: str = "scratch") -> image.ImageSource:
    directory = tmp_path / name
    shutil.copytree(FIXTURES / name, directory)
    return image.ImageSource(
        directory=directory, extra={}, local_repository=f"bootstrap-flows-test/{name}"
    )


def registry_manifest(host: str, repository: str, reference: str, password: str) -> httpx.Response:
    """The registry's answer for `repository:reference`, asked with ECR's user and password."""
    return httpx.get(
        f"http://{host}/v2/{repository}/manifests/{reference}",
        auth=("AWS", password),
        headers={"Accept": ", ".join(image.MANIFEST_TYPES)},
        timeout=10,
    )


# Fixtures: a module takes them by name (`engine = images.engine`).
@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    return docker_engine.ensure_docker()


@pytest.fixture(scope="module")
def moto_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield int(url.rsplit(":", 1)[1])
