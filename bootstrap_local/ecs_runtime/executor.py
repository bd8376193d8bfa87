"""The thin Docker side of the runtime: images, and containers run as a `ContainerSpec` says.

No decisions are made here beyond what Docker's answers force; what a container looks like is
`spec.py`'s business, when to start or stop one is `runtime.py`'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
from docker.utils import parse_repository_tag

from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.spec import (
    CLUSTER_LABEL,
    DEFAULT_STOP_SIGNAL,
    RUNTIME_LABEL,
    TASK_LABEL,
    ContainerSpec,
)


@dataclass(frozen=True)
class OwnContainer:
    """A container carrying this runtime's label, as Docker's list shows it."""

    id: str
    labels: Mapping[str, str]
    state: str | None

    @property
    def task_arn(self) -> str | None:
        return self.labels.get(TASK_LABEL)

    @property
    def cluster_arn(self) -> str | None:
        return self.labels.get(CLUSTER_LABEL)

    @property
    def exited(self) -> bool:
        return self.state in ("exited", "dead")


@dataclass(frozen=True)
class PresentImage:
    """What the runtime reads from an image the engine has."""

    # ECS has no stop signal of its own: the container gets its image's STOPSIGNAL.
    stop_signal: str
    architecture: str  # Docker's: amd64, arm64, ...


def _present(image: Any) -> PresentImage:
    attrs = image.attrs
    return PresentImage(
        stop_signal=str((attrs.get("Config") or {}).get("StopSignal") or DEFAULT_STOP_SIGNAL),
        architecture=str(attrs.get("Architecture") or "unknown"),
    )


class DockerExecutor:
    """Runs, signals and removes the containers of one runtime instance (by its label)."""

    def __init__(self, client: docker.DockerClient, instance: str) -> None:
        self.client = client
        self.instance = instance

    def own_containers(self) -> list[OwnContainer]:
        """Containers of this runtime instance, running or not."""
        found = self.client.containers.list(
            all=True, sparse=True, filters={"label": f"{RUNTIME_LABEL}={self.instance}"}
        )
        return [
            OwnContainer(str(c.id), dict(c.attrs.get("Labels") or {}), c.attrs.get("State"))
            for c in found
        ]

    def local_image(self, ref: str) -> PresentImage | None:
        """Image `ref` as the engine has it, else None."""
        try:
            return _present(self.client.images.get(ref))
        except docker.errors.ImageNotFound:
            return None

    def pull(self, ref: str, auth: dict[str, str] | None) -> PresentImage:
        """Pull `ref` (with `auth` for its registry, if any)."""
        repository, tag = parse_repository_tag(ref)
        try:
            for event in self.client.api.pull(
                repository, tag=tag or "latest", stream=True, decode=True, auth_config=auth
            ):
                if "error" in event:
                    raise LaunchError.cannot_pull(ref, str(event["error"]))
            pulled = self.client.images.get(ref if tag else f"{ref}:latest")
        except docker.errors.APIError as exc:
            raise LaunchError.cannot_pull(ref, str(exc.explanation or type(exc).__name__)) from exc
        return _present(pulled)

    def run(self, spec: ContainerSpec) -> str:
        """Create and start the container; its ID. One that fails to start is removed."""
        created = self.client.containers.create(
            spec.image,
            command=spec.command,
            entrypoint=spec.entrypoint,
            environment=spec.environment,
            working_dir=spec.working_dir,
            user=spec.user,
            network_mode=spec.network_mode,
            mem_limit=spec.mem_limit,
            init=spec.init,
            name=spec.name,
            labels=spec.labels,
            extra_hosts=spec.extra_hosts or None,
        )
        try:
            created.start()
        except docker.errors.APIError:
            created.remove(force=True)
            raise
        return str(created.id)

    def kill(self, container_id: str, signal: str) -> None:
        """Send `signal`; a container that already exited is left to the next reap."""
        with contextlib.suppress(docker.errors.APIError):
            self.client.api.kill(container_id, signal=signal)

    def remove(self, container_id: str) -> None:
        """Remove the container, running or not; one already gone is fine."""
        with contextlib.suppress(docker.errors.NotFound):
            self.client.api.remove_container(container_id, force=True)

    def logs(self, container_id: str, since: int | None) -> bytes:
        """stdout and stderr with Docker's timestamps, from `since` (epoch seconds) on."""
        return bytes(
            self.client.api.logs(
                container_id, stdout=True, stderr=True, timestamps=True, since=since
            )
        )

    def exit_state(self, container_id: str) -> dict[str, Any]:
        """Docker's `State` of an exited container: ExitCode, OOMKilled, Error."""
        return dict(self.client.api.inspect_container(container_id)["State"])
