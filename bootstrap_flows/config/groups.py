"""The settings' groups, each with its fields and the checks of those fields beside them.

`settings.BootstrapSettings` is all of them at once: one flat model, so every setting keeps its
`BOOTSTRAP_<NAME>` variable. Checks that read several groups are the model's own
(`settings.py`); the checks that need AWS's or Prefect's rules, or read files, live in
`validation` and are called from here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator, model_validator

from bootstrap_flows.config import validation
from bootstrap_flows.config.environments import (
    ENVIRONMENT_MAX,
    LOCAL,
    NAME,
    PREFIX_MAX,
    PROJECT_ROOT,
    is_environment_name,
)
from bootstrap_flows.config.limits import (
    CPU_ARCHITECTURES,
    FARGATE_MEMORY,
    LOG_RETENTION_DAYS,
    REGION,
)

_ACCOUNT = re.compile(r"^[0-9]{12}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What the worker stack's `prefect_api_url` variable accepts: scheme, host, a path, no spaces.
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def check_name(value: str) -> str:
    if not (2 <= len(value) <= 32 and NAME.match(value)):
        raise ValueError(
            f"{value!r} must be 2-32 characters of lowercase letters, digits and dashes, "
            "starting with a letter and not ending with a dash"
        )
    return value


def check_url(value: str | None) -> str | None:
    if value is not None and not _URL.match(value):
        raise ValueError(f"{value!r} is not an http(s) URL (scheme, host, path; no spaces)")
    if value:
        # The worker's security group opens the URL's port (platform_stack.api_port): a port
        # that is not one would fail there, after the state bucket was made.
        try:
            port = urlsplit(value).port
        except ValueError as exc:
            raise ValueError(f"{value!r} has no valid port: {exc} (1-65535)") from exc
        if port == 0:
            raise ValueError(f"{value!r} has port 0: a URL's port is 1-65535")
    return value.rstrip("/") if value else value


# Every setting whose check lives in `validation`, with that check (its test proves the defaults).
DELEGATED: dict[str, Callable[[Any], Any]] = {}


def delegate(field: str, check: Callable[[Any], Any]) -> Any:
    """A validator of `field` that hands the value to `check` (a rule of `validation`)."""
    DELEGATED[field] = check

    def checked(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
        # Defaults are ours and tested; checking them would import Prefect's cron parser into
        # processes that never schedule anything (the local ECS runtime).
        if value == cls.model_fields[str(info.field_name)].default:
            return value
        return check(value)

    return field_validator(field)(classmethod(checked))


class Where(BaseModel):
    """What and where: the environment, its AWS account and region, names, working data."""

    environment: str = Field(
        LOCAL, description="Environment name: `local` (embedded default), `dev`, `prod`, ..."
    )
    target: str = Field(
        "",
        description="Where AWS is: `aws` (real AWS), or a plugin target such as `emulator` "
        "(the embedded default's). Default: `emulator` for `local`, else `aws`.",
    )
    aws_region: str = Field("us-east-1", description="AWS region to provision in.")
    aws_account_id: str | None = Field(
        None,
        description="AWS account the environment lives in: preflight refuses credentials of "
        "another account. An environment file that names it is configured (README, Environments).",
    )
    name_prefix: str = Field("prefect", description="Prefix of every AWS resource name.")
    permissions_boundary_arn: str | None = Field(
        None,
        description="IAM managed policy set as the permissions boundary of every role the "
        "stacks create (accounts whose SCPs require one). Unset: no boundary.",
    )
    aws_endpoint_url: str | None = Field(
        None,
        description="AWS endpoint override (the emulator). Only for the `local` environment.",
    )
    work_dir: Path = Field(
        PROJECT_ROOT / ".bootstrap-local",
        description="Where runs keep per-environment working data (Terraform data directories, "
        "saved plans); never in the repository.",
    )

    @field_validator("environment", "name_prefix")
    @classmethod
    def _where_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("environment")
    @classmethod
    def _environment_length(cls, value: str) -> str:
        if len(value) > ENVIRONMENT_MAX:
            raise ValueError(f"{value!r} is longer than {ENVIRONMENT_MAX} characters")
        return value

    @field_validator("aws_account_id")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError(f"{value!r} is not an AWS account ID (12 digits)")
        return value

    @field_validator("name_prefix")
    @classmethod
    def _prefix_length(cls, value: str) -> str:
        if len(value) > PREFIX_MAX:
            raise ValueError(f"{value!r} is longer than {PREFIX_MAX} characters (AWS name limits)")
        return value

    @field_validator("aws_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as 'us-east-1'")
        return validation.known_region(value)

    @field_validator("aws_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return check_url(value)

    _boundary = delegate("permissions_boundary_arn", check=validation.permissions_boundary_arn)


class Network(BaseModel):
    """The VPC: its CIDR, availability zones, NAT gateways."""

    vpc_cidr: str = Field("10.0.0.0/16", description="IPv4 CIDR of the VPC, /16 to /24.")
    az_count: int = Field(3, ge=1, le=6, description="Availability zones to spread subnets over.")
    nat_mode: Literal["single", "per_az", "none"] = Field(
        "single", description="NAT gateways: one shared, one per AZ, or none."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid IPv4 CIDR block ({exc})") from exc
        if not 16 <= network.prefixlen <= 24:
            raise ValueError(f"{value!r} must have a prefix length between /16 and /24")
        return value


class Worker(BaseModel):
    """The ECS worker, its pool, its flow runs' default size, its logs."""

    worker_cpu: int = Field(512, description="Worker task CPU units (a Fargate size).")
    worker_memory: int = Field(1024, description="Worker task memory in MiB (valid for the CPU).")
    worker_count: int = Field(1, ge=0, le=20, description="Worker tasks the ECS service keeps.")
    worker_query_seconds: int = Field(
        5, ge=1, le=300, description="Seconds between the worker's polls for runs to start."
    )
    work_pool_name: str = Field("ecs-work-pool", description="Name of the ECS work pool.")
    flow_run_cpu: int = Field(512, description="Default CPU units of a flow run's ECS task.")
    flow_run_memory: int = Field(1024, description="Default memory (MiB) of a flow run's task.")
    e2e_timeout: int = Field(
        600, ge=30, le=7200, description="Seconds to wait for the e2e test flow run to finish."
    )
    worker_heartbeat_timeout: int = Field(
        300, ge=10, le=3600, description="Seconds to wait for the ECS worker to come online."
    )
    log_retention_days: int = Field(14, description="CloudWatch log retention in days.")
    cpu_architecture: Literal["X86_64", "ARM64"] = Field(
        "X86_64",
        description="CPU architecture of the worker image and of every task that runs it (the "
        "worker's, the flow runs', the server stack's): `X86_64`, or `ARM64` for Graviton "
        "(about 20% cheaper). The image is built for it and refused if it is another.",
    )

    @field_validator("cpu_architecture", mode="before")
    @classmethod
    def _architecture(cls, value: object) -> object:
        # Docker's and uname's names (amd64, aarch64, ...) are the usual slip: name both.
        if value not in CPU_ARCHITECTURES:
            raise ValueError(
                f"{value!r} is not a Fargate CPU architecture: use 'X86_64' (Intel/AMD, "
                "Docker's linux/amd64) or 'ARM64' (Graviton, Docker's linux/arm64)"
            )
        return value

    @field_validator("work_pool_name")
    @classmethod
    def _pool_name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("worker_cpu", "flow_run_cpu")
    @classmethod
    def _cpu(cls, value: int) -> int:
        if value not in FARGATE_MEMORY:
            raise ValueError(
                f"{value} is not a Fargate CPU size; use one of {list(FARGATE_MEMORY)}"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"{value} is not a CloudWatch retention; use one of {list(LOG_RETENTION_DAYS)}"
            )
        return value

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        for kind in ("worker", "flow_run"):
            cpu, memory = getattr(self, f"{kind}_cpu"), getattr(self, f"{kind}_memory")
            if memory not in FARGATE_MEMORY[cpu]:
                raise ValueError(
                    f"{kind}_memory: {memory} MiB is not valid with {kind}_cpu {cpu}; "
                    f"use one of {FARGATE_MEMORY[cpu]}"
                )
        return self


class WorkerPrefect(BaseModel):
    """The Prefect the ECS worker talks to: its URL and credential, or a server of its own."""

    prefect_api_url: str | None = Field(
        None,
        description="Prefect API URL the ECS worker uses. Local: the embedded Prefect server.",
    )
    prefect_api_key: SecretStr | None = Field(
        None, description="Prefect Cloud API key for the worker (stored in Secrets Manager)."
    )
    prefect_api_auth_string: SecretStr | None = Field(
        None,
        description="Basic-auth string `user:password` of a self-hosted Prefect server.",
    )
    prefect_server: Literal["external", "aws"] = Field(
        "external",
        description="`external`: the worker talks to prefect_api_url (Prefect Cloud or a server "
        "you run). `aws`: bootstrap runs a Prefect server of the environment's own (the `server` "
        "stack: ECS behind an HTTPS load balancer, RDS PostgreSQL) and the worker talks to it.",
    )

    @field_validator("prefect_api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        return check_url(value)

    _api_key = delegate("prefect_api_key", check=validation.api_key)
    _auth_string = delegate("prefect_api_auth_string", check=validation.auth_string)

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.prefect_api_key and self.prefect_api_auth_string:
            raise ValueError(
                "prefect_api_key and prefect_api_auth_string: set one, not both "
                "(an API key for Prefect Cloud, an auth string for a self-hosted server)"
            )
        return self


class Server(BaseModel):
    """The server stack (prefect_server = "aws"): its certificate, name, reach, database."""

    server_certificate_arn: str | None = Field(
        None,
        description="Server stack: ACM certificate of its HTTPS listener. Without it, ACM issues "
        "one for server_domain_name, validated in server_route53_zone_id.",
    )
    server_domain_name: str | None = Field(
        None,
        description="Server stack: host name of the server (a given certificate must cover it).",
    )
    server_route53_zone_id: str | None = Field(
        None,
        description="Server stack: Route 53 zone of server_domain_name (validation and alias).",
    )
    server_internal: bool = Field(
        True,
        description="Server stack: an internal load balancer (reachable from the VPC and what is "
        "connected to it) or an internet-facing one.",
    )
    server_reachable_from_orchestrator: bool = Field(
        False,
        description="Server stack: you state that the machine running bootstrap reaches the VPC "
        "(VPN, peering, or it runs there), which an internal load balancer needs: it cannot be "
        "told from outside.",
    )
    server_allowed_cidrs: list[str] = Field(
        default_factory=list,
        description="Server stack: who may reach the server on 443. Default: the VPC's CIDR.",
    )
    server_final_snapshot: bool = Field(
        True, description="Server stack: snapshot the database when teardown deletes it."
    )
    server_start_timeout: int = Field(
        600, ge=30, le=3600, description="Seconds to wait for the server stack's API to answer."
    )

    server_skip_delegation_check: bool = Field(
        False,
        description="Server stack: skip preflight's check that public DNS delegates the zone's "
        "name to server_route53_zone_id (for a machine with no public DNS).",
    )
    server_dns_resolver: str | None = Field(
        None,
        description="Server stack: resolver `IP[:port]` for that check (default: the system's).",
    )

    _cidrs = delegate("server_allowed_cidrs", check=validation.ipv4_cidrs)
    _resolver = delegate("server_dns_resolver", check=validation.dns_resolver)
    _certificate = delegate("server_certificate_arn", check=validation.certificate_arn)
    _domain = delegate("server_domain_name", check=validation.dns_name)
    _zone = delegate("server_route53_zone_id", check=validation.route53_zone_id)


class Terraform(BaseModel):
    """Terraform: where state lives, where providers come from, where the code is."""

    state_bucket: str | None = Field(
        None,
        description="S3 bucket for Terraform state. Default: <prefix>-<env>-tfstate-<account>.",
    )
    terraform_provider_mirror: Path | None = Field(
        None,
        description="Filesystem mirror of Terraform providers, for machines with no registry.",
    )
    terraform_dir: Path = Field(
        PROJECT_ROOT / "infrastructure" / "terraform",
        description="Directory holding `modules/` and `stacks/`.",
    )

    @field_validator("state_bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET.match(value):
            raise ValueError(
                f"{value!r} is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots "
                "and dashes, starting and ending with a letter or digit"
            )
        return value


class Image(BaseModel):
    """The worker image: its base, the build's trust, the registry, or the image to promote."""

    worker_base_image: str = Field(
        "prefecthq/prefect:3.9.1-python3.11",
        description="Base image of the worker image (the official Prefect image by default).",
    )
    base_image_fallback: Literal["os-packages", "none"] = Field(
        "os-packages",
        description="When the base image cannot be pulled: build one from OS packages, or fail.",
    )
    extra_ca_bundle: Path | None = Field(
        None,
        description="PEM bundle that pip inside the image build trusts (TLS-intercepting proxies).",
    )
    registry_host_override: str | None = Field(
        None,
        description="Send image login/push to this registry host instead of ECR's. Local: auto.",
    )
    promote_from: str | None = Field(
        None,
        description="Build no image: take the one that passed the e2e test flow in this "
        "environment (e.g. `staging`), copied into this environment's ECR repository.",
    )

    _base_image = delegate("worker_base_image", check=validation.image_reference)
    _ca_bundle = delegate("extra_ca_bundle", check=validation.ca_bundle)
    _registry_host = delegate("registry_host_override", check=validation.registry_host)

    @field_validator("promote_from")
    @classmethod
    def _source_environment(cls, value: str | None) -> str | None:
        if value is not None and not is_environment_name(value):
            raise ValueError(
                f"{value!r} is not an environment name: 2-{ENVIRONMENT_MAX} lowercase letters, "
                "digits and dashes, e.g. 'staging'"
            )
        return value


class Approval(BaseModel):
    """The approval gate: when a plan waits for a person, and for how long."""

    require_approval: bool | None = Field(
        None,
        description="Pause every plan with changes for a person's approval in the Prefect UI "
        "(plans that delete or replace anything always pause). Default: on for environments "
        "whose name starts with `prod`.",
    )
    approval_timeout: int = Field(
        3600, ge=10, le=604800, description="Seconds a paused plan waits for an answer."
    )


class Drift(BaseModel):
    """Drift-check: its schedule, what it ignores, when the worker counts as offline."""

    drift_schedule: str = Field(
        "*/30 * * * *", description="Cron schedule of the drift-check deployments."
    )
    drift_ignore: list[str] = Field(
        default_factory=list,
        description="Drift findings to ignore: `<address glob>[:<attribute glob>]`, e.g. "
        "`aws_ecs_service.*:desired_count` (module prefixes optional).",
    )
    drift_heartbeat_max_age: int | None = Field(
        None,
        ge=30,
        le=86400,
        description="Seconds without a worker heartbeat before drift-check reports the worker "
        "offline. Default: 3 of the worker's own heartbeat intervals.",
    )

    _schedule = delegate("drift_schedule", check=validation.cron_expression)
    _ignore = delegate("drift_ignore", check=validation.drift_ignore_patterns)
