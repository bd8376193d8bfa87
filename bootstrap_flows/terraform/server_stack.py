"""The server stack (optional, `prefect_server = "aws"`): a Prefect server of the environment's own.

Its inputs are the platform's outputs and the worker image; it reads its basic-auth string from
the platform's Prefect API secret, the one the worker reads its credential from, so the server
and the worker always hold the same value. Once it is applied, the worker targets it: the
settings the later stages get carry its URL and that auth string.
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, SecretStr

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.terraform import stacks
from bootstrap_flows.terraform.platform_stack import PlatformOutputs

STACK = "server"
# The user name of the generated auth string (the server accepts any `user:password` pair).
AUTH_USER = "prefect"
# Seconds between health probes while the server task starts (migrations take ~15 s).


class ServerOutputs(BaseModel):
    """What the server stack hands on (names match its `outputs.tf`)."""

    api_url: str
    auth_secret_arn: str
    db_address: str
    db_master_secret_arn: str
    db_identifier: str
    service_name: str
    image_uri: str


def uses_server_stack(settings: BootstrapSettings) -> bool:
    return settings.prefect_server == "aws"


def server_variables(
    settings: BootstrapSettings, platform: PlatformOutputs, image_uri: str
) -> dict[str, Any]:
    """Terraform input variables of the server stack: platform outputs, the image, settings."""
    target = resolve(settings)
    return stacks.common_variables(settings) | {
        "vpc_id": platform.vpc_id,
        "vpc_cidr": platform.vpc_cidr,
        "private_subnet_ids": platform.private_subnet_ids,
        "public_subnet_ids": platform.public_subnet_ids,
        "cluster_arn": platform.cluster_arn,
        "log_group_name": platform.log_group_name,
        "image_uri": image_uri,
        "cpu_architecture": settings.cpu_architecture,
        "auth_secret_arn": platform.prefect_api_secret_arn,
        "internal": settings.server_internal,
        "allowed_cidrs": settings.server_allowed_cidrs,
        "certificate_arn": settings.server_certificate_arn,
        "domain_name": settings.server_domain_name,
        "route53_zone_id": settings.server_route53_zone_id,
        "port": target.server_port,
        "db_port": target.database_port,
        "db_performance_insights": target.stores_every_attribute,
        "group_rule_descriptions": target.stores_every_attribute,
        "db_final_snapshot": settings.server_final_snapshot,
        # Protected on every target: teardown with delete_database turns it off first (the one
        # way RDS lets it go), a path the emulator then takes as AWS does.
        "db_deletion_protection": True,
        "permissions_boundary_arn": settings.permissions_boundary_arn,
    }


def _stored(settings: BootstrapSettings, secret_arn: str) -> str | None:
    try:
        value = aws.client(settings, "secretsmanager").get_secret_value(SecretId=secret_arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None
    stored = value.get("SecretString")
    return stored if stored and ":" in stored else None


def auth_string(settings: BootstrapSettings, secret_arn: str) -> SecretStr:
    """The server's basic-auth string: the one settings give, else the one stored, else new.

    Kept across re-runs (the server and every worker already hold it); a value given in
    settings replaces it, which is how it is rotated.
    """
    if settings.prefect_api_auth_string is not None:
        return settings.prefect_api_auth_string
    stored = _stored(settings, secret_arn)
    return SecretStr(stored or f"{AUTH_USER}:{secrets.token_urlsafe(32)}")


def targeting(settings: BootstrapSettings, api_url: str) -> BootstrapSettings:
    """`settings` with the server stack's API as the worker's Prefect (their credential is the
    server's auth string). The target may say the server answers elsewhere: an emulator has
    no load balancer."""
    url = resolve(settings).server_api_url or api_url
    return settings.aimed_at(api_url=url)


def targeting_recorded(
    settings: BootstrapSettings, secret_arn: str, server: ServerOutputs
) -> BootstrapSettings:
    """`settings` aimed at an applied server stack, from what AWS records (drift-check)."""
    credential = auth_string(settings, secret_arn)
    return targeting(settings.aimed_at(auth_string=credential), server.api_url)


# What teardown keeps unless asked to delete the database: the instance and what it stands on.
DATABASE_ADDRESSES = (
    "module.server.aws_db_instance.this",
    "module.server.aws_db_subnet_group.this",
    "module.server.aws_security_group.db",
    # The name of the database's final snapshot, made with it (modules/prefect_server).
    "module.server.terraform_data.final_snapshot_suffix",
)


def addresses_besides_database(state: dict[str, Any]) -> list[str]:
    """Every managed resource of the server stack's state but the database and its footing."""
    return [a for a in stacks.managed_addresses(state) if a not in DATABASE_ADDRESSES]


def holds_database(state: dict[str, Any]) -> bool:
    return DATABASE_ADDRESSES[0] in stacks.managed_addresses(state)


def final_snapshot_identifier(state: dict[str, Any]) -> str | None:
    """The snapshot RDS takes when the recorded database is destroyed (None: none is taken, or
    no database). Read from the state: the name is made with the database, unique to it."""
    for resource in state.get("resources") or []:
        address = ".".join(
            part for part in (resource.get("module"), resource["type"], resource["name"]) if part
        )
        if resource.get("mode") == "managed" and address == DATABASE_ADDRESSES[0]:
            for instance in resource.get("instances") or []:
                name = (instance.get("attributes") or {}).get("final_snapshot_identifier")
                if name and not instance["attributes"].get("skip_final_snapshot"):
                    return str(name)
    return None
