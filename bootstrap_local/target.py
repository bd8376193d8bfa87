"""The emulated target: AWS as moto on this machine, Prefect as the local server.

Registered as the `emulator` target (entry point group `bootstrap_flows.targets`), so the
product finds it by name without importing this wing. Every difference between the embedded
default and real AWS that the product must know is a field here, with the reason.
"""

from __future__ import annotations

import os
import secrets

from pydantic import SecretStr

from bootstrap_flows.config.settings import EMULATOR, BootstrapSettings
from bootstrap_flows.config.target import Target
from bootstrap_flows.safety.quotas import ELASTIC_IPS, VPCS
from bootstrap_local.registry import register_in_ecr
from bootstrap_local.settings import LocalSettings, load_local_settings

# moto accepts any credentials; these are what the embedded default hands to every process.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
# moto does not implement every API Terraform's provider calls: fail fast, not after 25 tries.
TERRAFORM_RETRIES = {"AWS_MAX_ATTEMPTS": "2"}
# Answers in milliseconds, unlike /moto-api/data.json once IAM's managed policies are loaded.
MOTO_READY_PATH = "/moto-api/state-manager/get-transition?model_name=ecs::task"
# The emulated account's VPC and Elastic IP quotas per region (AWS's defaults are 5).
EMULATOR_QUOTA = 1000


def emulator_credentials() -> dict[str, str]:
    return {name: os.environ.get(name, value) for name, value in EMULATOR_CREDENTIALS.items()}


def auth_string(local: LocalSettings) -> str:
    """The worker's credential on the embedded default: random, made once, readable by us only."""
    path = local.state_dir / "prefect-auth-string"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(f"worker:{secrets.token_urlsafe(24)}")
    return path.read_text().strip()


def emulated_target(settings: BootstrapSettings) -> Target:
    local = load_local_settings()
    return Target(
        name=EMULATOR,
        endpoint_url=local.aws_endpoint,
        aws_env=emulator_credentials() | TERRAFORM_RETRIES,
        registry_host=f"127.0.0.1:{local.registry_port}",
        # moto's ECR has the API but no registry: pushes go to the local registry.
        push_recorder=register_in_ecr,
        # moto has no Application Auto Scaling (ListTagsForResource is missing).
        autoscaling=False,
        # Containers share the host's network here: a fixed health port could collide.
        health_checks=False,
        # Torn down without approval; AWS's rules (recovery window, ECR, RDS) stay as on AWS.
        disposable=True,
        # moto refuses no VPC or Elastic IP past a quota, and a test session bootstraps more
        # environments on one emulator than AWS's defaults (5 each) allow: its account is big.
        quotas={ELASTIC_IPS.code: EMULATOR_QUOTA, VPCS.code: EMULATOR_QUOTA},
        start_hint="Start the embedded default with `bootstrap-flows local up`.",
        registry_hint="is the local registry running, and started since the emulator was? It "
        "takes the emulator's ECR token when it starts: `bootstrap-flows local down`, then `up`",
        prefect_api_url=local.prefect_api_url,
        # Made once on disk, and read only when settings give no credential of their own:
        # the target is resolved for every AWS client.
        prefect_credential=(
            None
            if settings.prefect_api_key or settings.prefect_api_auth_string
            else SecretStr(auth_string(local))
        ),
        worker_on_this_machine=True,
        # moto has no load balancer: the server stack's task answers on this machine.
        server_api_url=f"http://127.0.0.1:{local.server_port}/api",
        # Tasks share the host's network, where the local Prefect server holds 4200.
        server_port=local.server_port,
        # The local PostgreSQL standing in for RDS listens here, so the instance must say so.
        database_port=local.postgres_port,
        # moto drops group-referencing rule descriptions and Performance Insights: a re-plan
        # would never settle.
        stores_every_attribute=False,
        # Public DNS for moto's Route 53 zones: the responder beside moto (dns_responder.py).
        dns_resolver=f"127.0.0.1:{local.dns_port}",
    )
