"""Settings and a tiny image source for the image stage's unit tests (no Docker, no servers)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.image import ImageSource

FIXTURES = Path(__file__).parents[2] / "fixtures" / "images"


@pytest.fixture
def settings(tmp_path: Path) -> BootstrapSettings:
    return load_settings(
        environment="local",
        work_dir=tmp_path / "state",
        extra_ca_bundle=None,
        worker_base_image="prefecthq/prefect:3.8.8-python3.11",
        base_image_fallback="os-packages",
        registry_host_override=None,
    )


def copy_fixture(tmp_path: Path, name: str) -> ImageSource:
    directory = tmp_path / name
    shutil.copytree(FIXTURES / name, directory)
    return ImageSource(
        directory=directory, extra={}, local_repository=f"bootstrap-flows-test/{name}"
    )


@pytest.fixture
def scratch(tmp_path: Path) -> ImageSource:
    """A context whose Dockerfile needs no base: its tag never asks the engine."""
    return copy_fixture(tmp_path, "scratch")
