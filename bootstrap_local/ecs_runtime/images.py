"""A task's image, made present as the ECS agent would: pulled with ECR's credentials (got with
the task's execution role) from the registry standing in for ECR, or used as present."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_local.ecs_runtime.clients import AwsClients, error_code
from bootstrap_local.ecs_runtime.errors import LaunchError
from bootstrap_local.ecs_runtime.executor import DockerExecutor, PresentImage
from bootstrap_local.ecs_runtime.spec import (
    prefers_local_copy,
    registry_host_of,
    uses_ecr_credentials,
)


def ensure_image(
    executor: DockerExecutor, ref: str, registry_host: str | None, agent: AwsClients
) -> PresentImage:
    """Image `ref`, pulled unless a present copy will do."""
    if prefers_local_copy(ref):
        found = executor.local_image(ref)
        if found is not None:
            return found
    host = registry_host_of(ref)
    auth = None
    if uses_ecr_credentials(host, registry_host):
        try:
            login = aws.ecr_login(agent.get("ecr"))
        except (ClientError, BotoCoreError) as exc:
            raise LaunchError.cannot_pull(ref, error_code(exc)) from exc
        auth = {"username": login.user, "password": login.password}
    return executor.pull(ref, auth)
