"""One settings model for every stage.

Sources, strongest first: flow parameters (``overrides``), ``BOOTSTRAP_*`` environment variables,
the environment's own file (``environments/<env>.env``, or ``BOOTSTRAP_ENVIRONMENTS_DIR``), the
generic env file (``.env`` or ``BOOTSTRAP_ENV_FILE``), then the defaults below. A bad value stops
the run with one readable message naming the setting, before anything talks to AWS.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bootstrap_flows.config import environments, validation

# Re-exported: the names every module takes from settings.
from bootstrap_flows.config.environments import AWS as AWS
from bootstrap_flows.config.environments import EMULATOR as EMULATOR
from bootstrap_flows.config.environments import ENV_PREFIX as ENV_PREFIX
from bootstrap_flows.config.environments import (
    ENVIRONMENT_MAX,
    NAME,
    default_target,
    is_environment_name,
)
from bootstrap_flows.config.environments import LOCAL as LOCAL
from bootstrap_flows.config.environments import PROJECT_ROOT as PROJECT_ROOT
from bootstrap_flows.config.limits import FARGATE_MEMORY, LOG_RETENTION_DAYS, REGION
from bootstrap_flows.errors import BootstrapError

SETTINGS_HEADER = "Invalid settings; nothing was changed:"
# Variables of the embedded default (`bootstrap_local.settings`), which may share the env files.
PLUGIN_PREFIX = f"{ENV_PREFIX}LOCAL_"

_ACCOUNT = re.compile(r"^[0-9]{12}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What the worker stack's `prefect_api_url` variable accepts: scheme, host, a path, no spaces.
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")

# Settings whose check lives in `validation` (AWS's and Prefect's rules, files it reads).
_DELEGATED: dict[str, Callable[[Any], Any]] = {
    "prefect_api_key": validation.api_key,
    "prefect_api_auth_string": validation.auth_string,
    "server_certificate_arn": validation.certificate_arn,
    "server_domain_name": validation.dns_name,
    "server_route53_zone_id": validation.route53_zone_id,
    "worker_base_image": validation.image_reference,
    "extra_ca_bundle": validation.ca_bundle,
    "registry_host_override": validation.registry_host,
    "drift_schedule": validation.cron_expression,
    "ci_github_repository": validation.github_repository,
    "ci_github_branch": validation.git_branch,
    "ci_oidc_provider_arn": validation.github_oidc_provider_arn,
}


class SettingsError(BootstrapError, ValueError):
    """Raised when settings are invalid; the message names each bad setting and how to fix it."""


class _EnvFilesWithoutPlugins(PydanticBaseSettingsSource):
    """The env files' values, less those of `BOOTSTRAP_LOCAL_*`: the embedded default's own
    settings share the files (its package reads them) and are not the product's to refuse."""

    def __init__(self, files: PydanticBaseSettingsSource) -> None:
        super().__init__(files.settings_cls)
        self.files = files

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the files' source whole

    def __call__(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.files().items()
            if not name.upper().startswith(PLUGIN_PREFIX)
        }


class BootstrapSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=os.environ.get(f"{ENV_PREFIX}ENV_FILE", ".env"),
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = _EnvFilesWithoutPlugins(dotenv_settings)
        return (init_settings, env_settings, files, file_secret_settings)

    # --- what and where -------------------------------------------------------------------
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

    # --- network ----------------------------------------------------------------------------
    vpc_cidr: str = Field("10.0.0.0/16", description="IPv4 CIDR of the VPC, /16 to /24.")
    az_count: int = Field(3, ge=1, le=6, description="Availability zones to spread subnets over.")
    nat_mode: Literal["single", "per_az", "none"] = Field(
        "single", description="NAT gateways: one shared, one per AZ, or none."
    )

    # --- the worker ---------------------------------------------------------------------------
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

    # --- Prefect as the worker sees it -------------------------------------------------------
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
    server_certificate_arn: str | None = Field(
        None,
        description="Server stack: ACM certificate of its HTTPS listener. Without it, ACM issues "
        "one for server_domain_name, validated in server_route53_zone_id.",
    )
    server_domain_name: str | None = Field(
        None, description="Server stack: host name of the server (needed without a certificate)."
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

    # --- Terraform --------------------------------------------------------------------------
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

    # --- the worker image ---------------------------------------------------------------------
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

    # --- CI identity (optional) -----------------------------------------------------------
    ci_github_repository: str | None = Field(
        None,
        description="GitHub repository (`owner/repo`) whose workflows may push flow images and "
        "code (the platform's `ci` role, trusted through GitHub's OIDC provider). Unset: no role.",
    )
    ci_github_branch: str = Field(
        "main", description="The one branch of that repository whose workflows may assume it."
    )
    ci_oidc_provider_arn: str | None = Field(
        None,
        description="The account's GitHub OIDC provider, when one exists already (an account "
        "holds one per URL). Unset: the platform stack creates it.",
    )

    # --- approval -------------------------------------------------------------------------------
    require_approval: bool | None = Field(
        None,
        description="Pause every plan with changes for a person's approval in the Prefect UI "
        "(plans that delete or replace anything always pause). Default: on for environments "
        "whose name starts with `prod`.",
    )
    approval_timeout: int = Field(
        3600, ge=10, le=604800, description="Seconds a paused plan waits for an answer."
    )

    # --- drift check ------------------------------------------------------------------------
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

    # --- the embedded default ----------------------------------------------------------------
    aws_endpoint_url: str | None = Field(
        None,
        description="AWS endpoint override (the emulator). Only for the `local` environment.",
    )
    work_dir: Path = Field(
        PROJECT_ROOT / ".bootstrap-local",
        description="Where runs keep per-environment working data (Terraform data directories, "
        "saved plans); never in the repository.",
    )

    # --- validators ---------------------------------------------------------------------------
    @field_validator("environment", "name_prefix", "work_pool_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not (2 <= len(value) <= 32 and NAME.match(value)):
            raise ValueError(
                f"{value!r} must be 2-32 characters of lowercase letters, digits and dashes, "
                "starting with a letter and not ending with a dash"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _environment_length(cls, value: str) -> str:
        if len(value) > ENVIRONMENT_MAX:
            raise ValueError(f"{value!r} is longer than {ENVIRONMENT_MAX} characters")
        return value

    @field_validator("promote_from")
    @classmethod
    def _source_environment(cls, value: str | None) -> str | None:
        if value is not None and not is_environment_name(value):
            raise ValueError(
                f"{value!r} is not an environment name: 2-{ENVIRONMENT_MAX} lowercase letters, "
                "digits and dashes, e.g. 'staging'"
            )
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
        if len(value) > 20:
            raise ValueError(f"{value!r} is longer than 20 characters (AWS name limits)")
        return value

    @field_validator("aws_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name such as 'us-east-1'")
        return validation.known_region(value)

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

    @field_validator("server_allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.IPv4Network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a valid IPv4 CIDR block ({exc})") from exc
        return value

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

    @field_validator("state_bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET.match(value):
            raise ValueError(
                f"{value!r} is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots "
                "and dashes, starting and ending with a letter or digit"
            )
        return value

    @field_validator("prefect_api_url", "aws_endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError(f"{value!r} is not an http(s) URL (scheme, host, path; no spaces)")
        return value.rstrip("/") if value else value

    @field_validator(*_DELEGATED)
    @classmethod
    def _delegated(cls, value: Any, info: ValidationInfo) -> Any:
        name = str(info.field_name)
        # Defaults are ours and tested; checking them would import Prefect's cron parser into
        # processes that never schedule anything (the local ECS runtime).
        if value == cls.model_fields[name].default:
            return value
        return _DELEGATED[name](value)

    @model_validator(mode="after")
    def _consistent(self) -> BootstrapSettings:
        for kind in ("worker", "flow_run"):
            cpu, memory = getattr(self, f"{kind}_cpu"), getattr(self, f"{kind}_memory")
            if memory not in FARGATE_MEMORY[cpu]:
                raise ValueError(
                    f"{kind}_memory: {memory} MiB is not valid with {kind}_cpu {cpu}; "
                    f"use one of {FARGATE_MEMORY[cpu]}"
                )
        if self.prefect_api_key and self.prefect_api_auth_string:
            raise ValueError(
                "prefect_api_key and prefect_api_auth_string: set one, not both "
                "(an API key for Prefect Cloud, an auth string for a self-hosted server)"
            )
        if not self.target:
            self.target = default_target(self.environment)
        if self.require_approval is None:
            self.require_approval = self.environment.startswith("prod")
        if self.promote_from == self.environment:
            raise ValueError(
                f"promote_from: {self.environment!r} is this environment: name the one whose "
                "tested image it takes (e.g. BOOTSTRAP_PROMOTE_FROM=staging for prod)"
            )
        if self.target == AWS and self.aws_endpoint_url:
            raise ValueError(
                "aws_endpoint_url: an endpoint override needs an emulator target; unset "
                f"BOOTSTRAP_AWS_ENDPOINT_URL for {self.environment!r} or set BOOTSTRAP_TARGET"
            )
        if self.prefect_server == "aws":
            validation.server_stack(self)
        elif self.target == AWS:
            validation.external_prefect(self)
        return self

    # --- derived values -------------------------------------------------------------------------
    @property
    def stack_name(self) -> str:
        """The `<prefix>-<env>` every resource name starts with."""
        return f"{self.name_prefix}-{self.environment}"

    @property
    def environment_dir(self) -> Path:
        """Per-environment working data (Terraform data dirs, plan files): never in the repo."""
        return self.work_dir / "environments" / self.environment

    def state_bucket_name(self, account_id: str) -> str:
        return self.state_bucket or f"{self.stack_name}-tfstate-{account_id}"


def describe(error: dict[str, Any], prefix: str = ENV_PREFIX) -> str:
    """One line of a settings error: the setting, its variable, what is wrong."""
    field = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not field:
        return f"- {message}"
    if error.get("type") == "extra_forbidden":
        return f"- {field}: unknown setting (check the spelling; see README, Configuration)"
    # Our own validators already quote the value; pydantic's type errors don't. Secrets never.
    secret = any(word in field for word in ("key", "auth", "secret"))
    shown = "" if secret or error.get("type") == "value_error" else f" (got {error.get('input')!r})"
    env_var = f"{prefix}{field.upper()}"
    return f"- {field} [{env_var}]: {message}{shown}"


def load_settings(**overrides: Any) -> BootstrapSettings:
    """Build settings from overrides, environment variables and env files (see the module's
    docstring for the order); raise SettingsError if invalid."""
    try:
        files = environments.env_files(overrides)
    except ValueError as exc:
        raise SettingsError(f"{SETTINGS_HEADER}\n- {exc}") from None
    try:
        return BootstrapSettings(_env_file=files, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = "\n".join(describe(dict(err)) for err in exc.errors())
        # Not `from exc`: pydantic's error repeats each input, and inputs can be secrets.
        raise SettingsError(f"{SETTINGS_HEADER}\n{lines}") from None
