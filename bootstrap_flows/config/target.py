"""Where the worker lives: the AWS it is provisioned in and the Prefect it talks to.

The product never asks which environment it runs in; it asks the target. A target says where AWS
answers (its endpoint and the AWS_* settings every client and child process uses), where images
are pushed, which features that AWS has (autoscaling, health checks), whether what it holds is
disposable (torn down without approval), and which Prefect the worker connects to with which
credential.

Real AWS is the built-in target `aws`. Other targets are plugins, found by name in the entry
point group `bootstrap_flows.targets`: the embedded default registers `emulator` from
`bootstrap_local`, which the product never imports.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bootstrap_flows.config.settings import BootstrapSettings, SettingsError

AWS = "aws"
ENTRY_POINT_GROUP = "bootstrap_flows.targets"

# (settings, repository name, tag, digest, manifest, manifest media type)
PushRecorder = Callable[[BootstrapSettings, str, str, str, str, str], None]
CredentialVariable = Literal["PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"]


class Target(BaseModel):
    """Everything that differs between real AWS and a stand-in for it (frozen, no secrets shown)."""

    model_config = ConfigDict(frozen=True)

    name: str = AWS
    # --- where AWS answers -------------------------------------------------------------------
    endpoint_url: str | None = None
    # AWS_* variables for every client and child process (credentials, retries); empty means
    # the default credential chain and stock settings.
    aws_env: dict[str, str] = {}
    # Images are pushed here instead of ECR's own registry endpoint.
    registry_host: str | None = None
    # Called after a push when ECR's API does not see that registry (an emulator's): it records
    # the image in ECR, so the "already built" check works the same as on AWS.
    push_recorder: PushRecorder | None = Field(default=None, exclude=True, repr=False)
    # --- what it can do ------------------------------------------------------------------------
    autoscaling: bool = True
    health_checks: bool = True
    # Thrown away whole, so teardown needs no approval. Policy only: what AWS does (a secret's
    # recovery window, a repository that holds images, a protected database) is the same on
    # every target, so tear down and bootstrap again is proven where it is tested.
    disposable: bool = False
    # How to bring this AWS up when it does not answer (shown by preflight).
    start_hint: str = ""
    # What to check when its registry refuses the login or does not answer (shown by the push).
    registry_hint: str = ""
    # The account's per-region quotas this target states (Service Quotas code -> value); the
    # others preflight asks of Service Quotas. An emulator states its own: moto enforces none.
    quotas: dict[str, int] = {}
    # --- the Prefect the worker talks to ---------------------------------------------------------
    prefect_api_url: str | None = None
    prefect_credential: SecretStr | None = None
    prefect_credential_variable: CredentialVariable = "PREFECT_API_AUTH_STRING"
    # The worker runs on this machine, so a loopback Prefect URL is reachable for it.
    worker_on_this_machine: bool = False
    # --- the server stack (prefect_server = "aws") ------------------------------------------
    # Where its load balancer answers, when not at the stack's `api_url` (an emulator has no
    # load balancer: the server task answers on this machine).
    server_api_url: str | None = None
    # The ports the server task and its database listen on (an emulator moves them off ports
    # its own services use; on AWS each has its own address, so the defaults).
    server_port: int = 4200
    database_port: int = 5432
    # Stores every attribute the server stack sets. moto forgets two (the descriptions of rules
    # that reference another security group, RDS Performance Insights): there the stack leaves
    # them unset, so a re-plan settles and drift-check stays quiet.
    stores_every_attribute: bool = True
    # The DNS resolver (`IP:port`) preflight asks whether public DNS delegates the server
    # stack's zone; None: this machine's. An emulator answers for its own Route 53 there.
    dns_resolver: str | None = None


class TargetFactory(Protocol):
    def __call__(self, settings: BootstrapSettings) -> Target: ...


def _plugin(name: str) -> TargetFactory:
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        known = sorted({AWS} | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
        raise SettingsError(
            f"target {name!r} is not installed; use one of {known} (BOOTSTRAP_TARGET)"
        )
    factory: TargetFactory = next(iter(found)).load()
    return factory


def resolve(settings: BootstrapSettings) -> Target:
    """The target `settings` name, with the settings' own Prefect URL and credential on top;
    resolved once per settings object (settings are not changed in place, only copied)."""
    if settings._target is None:
        settings._target = _resolve(settings)
    return settings._target  # type: ignore[no-any-return]


def _resolve(settings: BootstrapSettings) -> Target:
    target = Target() if settings.target == AWS else _plugin(settings.target)(settings)
    update: dict[str, object] = {}
    if settings.registry_host_override:
        update["registry_host"] = settings.registry_host_override
    if settings.prefect_api_url:
        update["prefect_api_url"] = settings.prefect_api_url
    secret = settings.prefect_api_key or settings.prefect_api_auth_string
    if secret is not None:
        update["prefect_credential"] = secret
        update["prefect_credential_variable"] = (
            "PREFECT_API_KEY" if settings.prefect_api_key else "PREFECT_API_AUTH_STRING"
        )
    if settings.aws_endpoint_url:
        update["endpoint_url"] = settings.aws_endpoint_url
    if settings.server_dns_resolver:
        update["dns_resolver"] = settings.server_dns_resolver
    return target.model_copy(update=update)


def worker_api_url(target: Target) -> str:
    """The Prefect API URL the worker uses; settings validation guarantees there is one."""
    if target.prefect_api_url is None:
        raise SettingsError(
            f"target {target.name!r} names no Prefect API for the worker; "
            "set BOOTSTRAP_PREFECT_API_URL"
        )
    return target.prefect_api_url
