"""Base image resolution: which base a build uses and how the tag names its content.

The engine is a stand-in for the Docker SDK's low-level API (two calls), so every branch of
the decision runs without an engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image import FALLBACK_BASE, ImageBuildError, fallback_recipe
from bootstrap_flows.image.base import (
    ResolvedBase,
    local_identity,
    repository_of,
    resolve_base,
    takes_base_arg,
)
from bootstrap_flows.image.context import build_context

from .conftest import copy_fixture

REF = "prefecthq/prefect:3.8.8-python3.11"


class _Api:
    def __init__(self, local: dict[str, Any] | Exception, remote: dict[str, Any] | Exception):
        self.local, self.remote = local, remote

    def inspect_image(self, ref: str) -> dict[str, Any]:
        if isinstance(self.local, Exception):
            raise self.local
        return self.local

    def inspect_distribution(self, ref: str) -> dict[str, Any]:
        if isinstance(self.remote, Exception):
            raise self.remote
        return self.remote


class _Engine:
    def __init__(self, local: dict[str, Any] | Exception, remote: dict[str, Any] | Exception):
        self.api = _Api(local, remote)


NOT_HERE = docker.errors.ImageNotFound("No such image")
UNPULLABLE = docker.errors.APIError("pull access denied", explanation="no route to registry")


def _resolve(engine: _Engine, settings: BootstrapSettings) -> ResolvedBase:
    return resolve_base(engine, settings)


def test_a_local_base_is_named_by_its_registry_digest(settings: BootstrapSettings) -> None:
    info = {
        "Id": "sha256:local",
        "RepoDigests": ["prefecthq/prefect@sha256:remote"],
        "Architecture": "amd64",
    }
    base = _resolve(_Engine(info, UNPULLABLE), settings)
    assert (base.ref, base.identity, base.local, base.fallback) == (
        REF,
        "digest:sha256:remote",
        True,
        False,
    )


def test_a_pullable_base_is_named_before_it_is_pulled(settings: BootstrapSettings) -> None:
    base = _resolve(_Engine(NOT_HERE, {"Descriptor": {"digest": "sha256:remote"}}), settings)
    assert (base.ref, base.identity, base.local) == (REF, "digest:sha256:remote", False)


def test_a_local_base_of_the_other_architecture_is_pulled_for_this_one(
    settings: BootstrapSettings,
) -> None:
    info = {"Id": "sha256:local", "RepoDigests": [], "Architecture": "amd64"}
    index = {
        "Descriptor": {"digest": "sha256:index"},
        "Platforms": [{"architecture": "amd64", "os": "linux"}, {"architecture": "arm64"}],
    }
    arm = settings.model_copy(update={"cpu_architecture": "ARM64"})
    base = _resolve(_Engine(info, index), arm)
    assert (base.identity, base.local, base.fallback) == ("digest:sha256:index", False, False)


def test_a_registry_without_the_architecture_is_no_base(settings: BootstrapSettings) -> None:
    amd64_only = {"Descriptor": {"digest": "sha256:x"}, "Platforms": [{"architecture": "amd64"}]}
    arm = settings.model_copy(update={"cpu_architecture": "ARM64", "base_image_fallback": "none"})
    with pytest.raises(ImageBuildError, match="has no linux/arm64 image of it"):
        _resolve(_Engine(NOT_HERE, amd64_only), arm)
    assert not _resolve(_Engine(NOT_HERE, amd64_only), settings).fallback


def test_neither_here_nor_pullable_falls_back_to_os_packages(
    settings: BootstrapSettings,
) -> None:
    base = _resolve(_Engine(NOT_HERE, UNPULLABLE), settings)
    assert base.fallback and base.ref == FALLBACK_BASE
    assert base.identity == f"recipe:{fallback_recipe()}"
    assert base.reason == "no route to registry"


def test_no_fallback_means_a_clear_error(settings: BootstrapSettings) -> None:
    strict = settings.model_copy(update={"base_image_fallback": "none"})
    with pytest.raises(ImageBuildError, match="cannot be pulled.*BASE_IMAGE_FALLBACK") as caught:
        _resolve(_Engine(NOT_HERE, UNPULLABLE), strict)
    assert "no route to registry" in str(caught.value)


def test_an_engine_error_is_not_taken_for_a_missing_base(settings: BootstrapSettings) -> None:
    broken = docker.errors.APIError("500 Server Error", explanation="storage driver failed")
    with pytest.raises(ImageBuildError, match="storage driver failed") as caught:
        _resolve(_Engine(broken, {"Descriptor": {"digest": "sha256:remote"}}), settings)
    assert REF in str(caught.value) and caught.value.__cause__ is broken


def test_the_tag_follows_the_base(tmp_path: Path, settings: BootstrapSettings) -> None:
    source = copy_fixture(tmp_path, "failing")  # FROM ${BASE_IMAGE}

    def tag(engine: _Engine) -> str:
        return build_context(settings, source, None, engine).tag

    first = tag(_Engine(NOT_HERE, {"Descriptor": {"digest": "sha256:one"}}))
    here = {"Id": "x", "RepoDigests": ["prefecthq/prefect@sha256:one"], "Architecture": "amd64"}
    pulled = tag(_Engine(here, NOT_HERE))
    assert first == pulled, "pulling the base must not change the tag"
    assert tag(_Engine(NOT_HERE, {"Descriptor": {"digest": "sha256:two"}})) != first
    assert tag(_Engine(NOT_HERE, UNPULLABLE)) != first


def test_local_identity_without_a_matching_digest_is_the_image_id() -> None:
    assert local_identity({"Id": "sha256:id", "RepoDigests": None}, REF) == "id:sha256:id"
    other = {"Id": "sha256:id", "RepoDigests": ["someone/else@sha256:d", "prefecthq/prefect@"]}
    assert local_identity(other, REF) == "id:sha256:id"
    hub = {"Id": "sha256:id", "RepoDigests": ["docker.io/library/python@sha256:d"]}
    assert local_identity(hub, "python:3.11") == "digest:sha256:d"


@pytest.mark.parametrize(
    ("ref", "repository"),
    [
        ("prefecthq/prefect:3.8.8-python3.11", "prefecthq/prefect"),
        ("docker.io/library/python:3.11", "python"),
        ("python", "python"),
        ("127.0.0.1:5000/team/base:1", "127.0.0.1:5000/team/base"),
        ("python@sha256:abc", "python"),
    ],
)
def test_repository_of(ref: str, repository: str) -> None:
    assert repository_of(ref) == repository


@pytest.mark.parametrize(
    ("dockerfile", "takes"),
    [
        ("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n", True),
        ("  arg base_image=python:3.11\nFROM $BASE_IMAGE\n", True),
        ("# ARG BASE_IMAGE\nFROM scratch\n", False),
        ("ARG BASE_IMAGES\nFROM scratch\n", False),
        ("FROM scratch\n", False),
    ],
)
def test_only_a_base_image_arg_asks_for_a_base(dockerfile: str, takes: bool) -> None:
    assert takes_base_arg(dockerfile) is takes


def test_fallback_recipe_is_stable() -> None:
    recipe = fallback_recipe()
    assert recipe == fallback_recipe() and len(recipe) == 16 and int(recipe, 16) >= 0
