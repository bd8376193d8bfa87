"""A Docker engine that answers, or one clear message saying how to get one."""

from __future__ import annotations

import os

import docker

from bootstrap_flows.errors import ServiceError

INSTALL_HINT = "run scripts/install-docker.sh (root on Debian/Ubuntu) or start Docker"


class DockerEngineError(ServiceError):
    """No Docker engine answers; the message says what to do."""


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def ensure_docker(timeout: float = 10) -> docker.DockerClient:
    """A client of a Docker engine that answers, or a DockerEngineError saying how to get one."""
    try:
        # version="auto": Debian's engine (API 1.41) rejects the SDK's default API version.
        client = docker.from_env(version="auto", timeout=int(timeout))
        client.ping()
    except docker.errors.DockerException as exc:
        raise DockerEngineError(
            f"no Docker engine answers at {engine_address()}; {INSTALL_HINT}"
        ) from exc
    return client
