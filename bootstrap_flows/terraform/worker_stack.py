"""The worker stack: the Prefect worker as an ECS Fargate service, from platform outputs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.terraform import stacks
from bootstrap_flows.terraform.platform_stack import PlatformOutputs

STACK = "worker"


class WorkerOutputs(BaseModel):
    """What the worker stack hands on (names match its `outputs.tf`)."""

    service_name: str
    service_arn: str
    task_definition_arn: str
    task_definition_family: str
    container_name: str
    alarm_names: list[str]
    autoscaling_enabled: bool
    image_uri: str


def worker_variables(
    settings: BootstrapSettings, platform: PlatformOutputs, image_uri: str
) -> dict[str, Any]:
    """Terraform input variables of the worker stack: platform outputs, the image, settings."""
    target = resolve(settings)
    return stacks.common_variables(settings) | {
        "cluster_arn": platform.cluster_arn,
        "cluster_name": platform.cluster_name,
        "private_subnet_ids": platform.private_subnet_ids,
        "worker_security_group_id": platform.worker_security_group_id,
        "execution_role_arn": platform.execution_role_arn,
        "task_role_arn": platform.worker_task_role_arn,
        "log_group_name": platform.log_group_name,
        "prefect_api_secret_arn": platform.prefect_api_secret_arn,
        "api_secret_env_name": target.prefect_credential_variable,
        "prefect_api_url": worker_api_url(target),
        "work_pool_name": settings.work_pool_name,
        "image_uri": image_uri,
        "worker_cpu": settings.worker_cpu,
        "worker_memory": settings.worker_memory,
        "cpu_architecture": settings.cpu_architecture,
        "desired_count": settings.worker_count,
        "worker_query_seconds": settings.worker_query_seconds,
        "observer_queue_name": platform.observer_queue_name,
        "enable_autoscaling": target.autoscaling,
        "enable_health_check": target.health_checks,
    }
