"""The runtime's errors: one for the process itself, one for a single task's launch."""

from __future__ import annotations

import docker.errors
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.errors import BootstrapError
from bootstrap_local.ecs_runtime.clients import error_code


class EcsRuntimeError(BootstrapError):
    """The runtime cannot start; the message says what is missing."""


class LaunchError(BootstrapError):
    """A task's container could not start; the message is the task's stoppedReason."""

    @classmethod
    def cannot_pull(cls, ref: str, detail: str) -> LaunchError:
        return cls(f"CannotPullContainerError: pull of {ref}: {detail}")


# What a launch can meet without a bug; anything else is logged with its traceback.
EXPECTED_LAUNCH_ERRORS = (LaunchError, ClientError, BotoCoreError, docker.errors.DockerException)


def launch_failure_reason(exc: Exception) -> str:
    """The stoppedReason of a task whose container could not start, as ECS words it."""
    if isinstance(exc, LaunchError):
        return str(exc)
    if isinstance(exc, docker.errors.APIError):
        return f"CannotStartContainerError: {exc.explanation}"
    return f"TaskFailedToStart: {error_code(exc)}"
