"""The Docker SDK as the image stage uses it: a patient client and failures read from streams."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker

from bootstrap_flows import docker_engine
from bootstrap_flows.image.errors import ImageBuildError

# Builds and pushes go quiet for minutes (pip resolving, big layers); the SDK's 60 s would abort.
DOCKER_TIMEOUT = 3600


def docker_client(timeout: int = DOCKER_TIMEOUT) -> docker.DockerClient:
    try:
        return docker_engine.ensure_docker(timeout=timeout)
    except docker_engine.DockerEngineError as exc:
        raise ImageBuildError(str(exc)) from exc


def stream_error(event: Mapping[str, Any]) -> str | None:
    """The failure a build, pull, push or import event reports, or None.

    The SDK's streams report failures as events, not exceptions: every event must be checked.
    """
    if "error" not in event and "errorDetail" not in event:
        return None
    detail = event.get("errorDetail") or {}
    return str(detail.get("message") or event.get("error") or "unknown error").strip()


def inspect(client: docker.DockerClient, name: str) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = client.api.inspect_image(name)
        return info
    except docker.errors.ImageNotFound:
        return None
