"""What the runtime decides before any server or container is involved."""

from __future__ import annotations

import docker.errors
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.errors import BootstrapError
from bootstrap_local.ecs_runtime.errors import (
    EcsRuntimeError,
    LaunchError,
    launch_failure_reason,
)
from bootstrap_local.ecs_runtime.runtime import EcsRuntime
from bootstrap_local.settings import load_local_settings


def test_refuses_real_aws() -> None:
    settings = load_settings(environment="dev", prefect_api_url="https://prefect.example/api")
    with pytest.raises(EcsRuntimeError, match="only runs against emulated AWS"):
        EcsRuntime(settings, load_local_settings(), docker_client=object())
    assert issubclass(EcsRuntimeError, BootstrapError)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (LaunchError.cannot_pull("r:1", "denied"), "CannotPullContainerError: pull of r:1: denied"),
        (
            docker.errors.APIError("500", explanation="exec format error"),
            "CannotStartContainerError: exec format error",
        ),
        (
            ClientError({"Error": {"Code": "AccessDenied"}}, "GetSecretValue"),
            "TaskFailedToStart: AccessDenied",
        ),
        (
            EndpointConnectionError(endpoint_url="http://x"),
            "TaskFailedToStart: EndpointConnectionError",
        ),
        (docker.errors.DockerException("socket"), "TaskFailedToStart: DockerException"),
        (KeyError("image"), "TaskFailedToStart: KeyError"),
    ],
)
def test_launch_failure_reasons(exc: Exception, reason: str) -> None:
    assert launch_failure_reason(exc) == reason
