"""The CPU architecture of the worker image: Docker's names for Fargate's, and the check that
an image is the one the tasks will run.

Fargate runs a task as its definition's `runtimePlatform.cpuArchitecture` (X86_64 unless it
says ARM64) and pulls a single-platform image whatever its architecture: an image of the other
one starts and dies at once with `exec format error`. So the image is built for the setting's
platform, the architecture is part of its content tag (the two never share an immutable tag),
and an image of the other architecture is refused before it is pushed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker

from bootstrap_flows.config.limits import DOCKER_ARCHITECTURE
from bootstrap_flows.image.errors import ImagePushError

# Docker's architecture -> Fargate's (DOCKER_ARCHITECTURE the other way), with the names
# uname and some tools use for the same two.
FARGATE_ARCHITECTURE = {"amd64": "X86_64", "x86_64": "X86_64", "arm64": "ARM64", "aarch64": "ARM64"}


class ArchitectureMismatch(ImagePushError):
    """The image is built for another CPU architecture than the tasks run; nothing was pushed."""


def docker_platform(cpu_architecture: str) -> str:
    """Docker's `--platform` for a Fargate architecture: linux/amd64 or linux/arm64."""
    return f"linux/{DOCKER_ARCHITECTURE[cpu_architecture]}"


def image_architecture(info: Mapping[str, Any]) -> str:
    """The architecture an image's config names (`docker image inspect` -> Architecture)."""
    return str(info.get("Architecture") or "unknown")


def mismatch(image: str, found: str, cpu_architecture: str) -> str | None:
    """Why `image` (whose config says `found`) cannot run as `cpu_architecture`, or None."""
    wanted = DOCKER_ARCHITECTURE[cpu_architecture]
    if found == wanted:
        return None
    other = FARGATE_ARCHITECTURE.get(found)
    build = (
        f"build it for {docker_platform(cpu_architecture)} (`docker build --platform "
        f"{docker_platform(cpu_architecture)}`; on a machine of another architecture, such as "
        "an Apple Silicon laptop or a Graviton CI runner, that needs QEMU emulation: Docker "
        "Desktop has it, Linux needs binfmt handlers)"
    )
    fix = (
        f"Set BOOTSTRAP_CPU_ARCHITECTURE={other} to run it as it is, or {build}"
        if other
        else (build[0].upper() + build[1:])
    )
    return (
        f"image {image} is built for linux/{found}, but the tasks run {cpu_architecture} "
        "(BOOTSTRAP_CPU_ARCHITECTURE): Fargate would stop them with `exec format error`, so "
        f"nothing was pushed. {fix}"
    )


def check_architecture(
    client: docker.DockerClient, image: str, cpu_architecture: str, name: str | None = None
) -> None:
    """Refuse `image` (a name or ID the engine has; `name` in messages) unless it is built for
    `cpu_architecture`."""
    shown = name or image
    try:
        info = client.api.inspect_image(image)
    except docker.errors.APIError as exc:
        raise ImagePushError(f"cannot inspect image {shown}: {exc.explanation}") from exc
    problem = mismatch(shown, image_architecture(info), cpu_architecture)
    if problem:
        raise ArchitectureMismatch(problem)
