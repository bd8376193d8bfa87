"""The platform stack: network, IAM, ECR, secret, logs, cluster, observer queue, flow storage.

Its outputs are read into a typed model that later stages (image push, worker stack, work pool)
receive as task inputs, so the data flow is visible in the Prefect run graph.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from pydantic import BaseModel

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config import names
from bootstrap_flows.config.settings import BootstrapSettings, SettingsError
from bootstrap_flows.config.target import resolve
from bootstrap_flows.terraform import stacks

STACK = "platform"
# After a teardown the Prefect API secret is scheduled for deletion this long (AWS's minimum).
SECRET_RECOVERY_WINDOW_DAYS = 7
# The worker security group allows these to anywhere already (modules/network: HTTPS always,
# HTTP while `allow_http_egress`, which this stack leaves at its default, true).
OPEN_PORTS = frozenset({443, 80})
DEFAULT_PORTS = {"https": 443, "http": 80}


class PlatformOutputs(BaseModel):
    """Everything the platform stack hands to the next stages (names match `outputs.tf`)."""

    region: str
    vpc_id: str
    vpc_cidr: str
    public_subnet_ids: list[str]
    private_subnet_ids: list[str]
    nat_gateway_ids: list[str]
    worker_security_group_id: str
    cluster_name: str
    cluster_arn: str
    execution_role_arn: str
    worker_task_role_arn: str
    flow_run_task_role_arn: str
    ecr_repository_name: str
    ecr_repository_url: str
    prefect_api_secret_arn: str
    log_group_name: str
    observer_queue_name: str
    observer_queue_url: str
    observer_queue_arn: str
    observer_dlq_arn: str
    # None in a platform state recorded before the storage buckets existed (teardown and
    # drift-check read recorded outputs); every apply since records them.
    code_bucket_name: str | None = None
    results_bucket_name: str | None = None
    # Only with `ci_github_repository` set: the role a GitHub workflow assumes (AWS_ROLE_ARN).
    ci_role_arn: str | None = None


def platform_variables(settings: BootstrapSettings) -> dict[str, Any]:
    """Terraform input variables of the platform stack, from settings. No secrets, ever."""
    return stacks.common_variables(settings) | {
        "vpc_cidr": settings.vpc_cidr,
        "az_count": settings.az_count,
        "nat_mode": settings.nat_mode,
        "log_retention_days": settings.log_retention_days,
        # The same on every target: teardown's drain deletes only the images bootstrap pushed,
        # so anyone else's stop the repository's destroy; the secret can be recovered for 7
        # days, and the next bootstrap restores it (adoption_aws.py).
        "ecr_force_delete": False,
        "secret_recovery_window_days": SECRET_RECOVERY_WINDOW_DAYS,
        "ci_github_repository": settings.ci_github_repository,
        "ci_github_branch": settings.ci_github_branch,
        "ci_github_environment": settings.ci_github_environment,
        "ci_promote_from_repository_arn": settings.ci_promote_from_repository_arn,
        "ci_oidc_provider_arn": settings.ci_oidc_provider_arn,
        "permissions_boundary_arn": settings.permissions_boundary_arn,
        "worker_extra_egress_rules": worker_egress_rules(settings),
    }


def api_port(url: str) -> int:
    """The TCP port a connection to an http(s) URL goes to: its own, else its scheme's."""
    parts = urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    try:
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"{url!r}: the Prefect API URL has no valid port ({exc})") from exc
    if default is None or port == 0:
        raise SettingsError(f"{url!r}: the Prefect API URL must be http(s) on a port 1-65535")
    return default if port is None else port


def worker_egress_rules(settings: BootstrapSettings) -> list[dict[str, Any]]:
    """The worker group's extra egress rule for its Prefect API's port, when the group's
    standing rules do not allow it (a self-hosted server on 4200): without it, on Fargate the
    worker and its flow runs never connect.

    To anywhere, as the HTTPS rule: the URL's host may be outside the VPC and its addresses
    are not known at plan time. The server stack's URL is its load balancer's HTTPS listener
    (443, allowed) unless the target says that server answers elsewhere (an emulator's task).
    """
    target = resolve(settings)
    url = target.server_api_url if settings.prefect_server == "aws" else target.prefect_api_url
    # No URL (a teardown's settings need none): nothing to open.
    if url is None or (port := api_port(url)) in OPEN_PORTS:
        return []
    return [
        {
            "description": f"Prefect API of the worker and its flow runs (TCP {port})",
            "port": port,
            "cidr_blocks": ["0.0.0.0/0"],
        }
    ]


def ecr_repository_name(settings: BootstrapSettings) -> str:
    """The repository name the platform stack gives ECR (known before it is applied)."""
    return names.derived("ECR repository").name(settings.name_prefix, settings.environment)


def store_api_secret(settings: BootstrapSettings, secret_arn: str, value: str) -> bool:
    """Write the worker's Prefect credential into the secret Terraform made; True if it changed.

    The value goes straight from settings to Secrets Manager with boto3, so it is never a
    Terraform variable and never lands in a state or plan file.
    """
    secrets = aws.client(settings, "secretsmanager")
    try:
        current = secrets.get_secret_value(SecretId=secret_arn).get("SecretString")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        current = None
    if current == value:
        return False
    secrets.put_secret_value(SecretId=secret_arn, SecretString=value)
    return True
