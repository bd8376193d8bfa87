"""Preflight: prove every input and dependency is good before anything is changed.

Settings (and the files they name) are checked while they load; here the target, Terraform and
its provider mirror, the AWS identity and what it may do (the operator policy, through IAM's
policy simulator), the region's availability zones, the Prefect API the worker will use and the
work pool there; for a run that applies, also the worker's egress, the server stack's reach and
Route 53 zone and the region's VPC and Elastic IP quotas. Each failure is one message that
says what is wrong and how to fix it. Nothing here creates or modifies: the calls only read
(STS, IAM GetRole and SimulatePrincipalPolicy, EC2 Describe*, Route 53 and Service Quotas
reads, Prefect reads).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import httpx
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from pydantic import BaseModel

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config import validation
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve, worker_api_url
from bootstrap_flows.prefect_side import alerts, target_prefect, work_pool
from bootstrap_flows.prefect_side.target_prefect import orchestrator_api_url
from bootstrap_flows.safety.caller_permissions import check_caller_permissions
from bootstrap_flows.safety.certificates import check_server_certificate
from bootstrap_flows.safety.quotas import check_quotas
from bootstrap_flows.safety.refusal import PreflightError as PreflightError
from bootstrap_flows.safety.server_reach import check_nat_egress, check_server_reach, check_zone
from bootstrap_flows.terraform.runner import MIN_TERRAFORM, MIN_TERRAFORM_TEXT


class PreflightReport(BaseModel):
    account_id: str
    caller_arn: str
    terraform_version: str
    prefect_api_url: str  # the target: the Prefect the worker talks to
    orchestrator_api_url: str  # the Prefect running bootstrap


def check_terraform(settings: BootstrapSettings) -> str:
    """Terraform's version; refuses a missing or old Terraform, mirror or stack directory."""
    if shutil.which("terraform") is None:
        raise PreflightError(f"terraform is not on PATH: install Terraform >= {MIN_TERRAFORM_TEXT}")
    result = subprocess.run(
        ["terraform", "version", "-json"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PreflightError(f"`terraform version` failed: {result.stderr.strip()}")
    about = json.loads(result.stdout)
    version = str(about["terraform_version"])
    major, minor = (int(part) for part in version.split(".")[:2])
    if (major, minor) < MIN_TERRAFORM:
        raise PreflightError(
            f"terraform {version} is too old: install Terraform >= {MIN_TERRAFORM_TEXT}"
        )
    if settings.terraform_provider_mirror is not None:
        check_provider_mirror(settings.terraform_provider_mirror, str(about["platform"]))
    stacks = settings.terraform_dir / "stacks"
    if not (stacks / "platform" / "main.tf").is_file():
        raise PreflightError(
            f"no Terraform stacks under {stacks}: set BOOTSTRAP_TERRAFORM_DIR to the "
            "project's infrastructure/terraform directory"
        )
    return version


def check_provider_mirror(mirror: Path, platform: str) -> None:
    """The mirror holds the AWS provider for this machine, in either layout Terraform reads."""
    fix = (
        "point BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR at a filesystem mirror that holds it "
        "(`terraform providers mirror DIR` makes one), or unset it to use the registry"
    )
    if not mirror.is_dir():
        raise PreflightError(f"terraform_provider_mirror {mirror} is not a directory: {fix}")
    provider = mirror / "registry.terraform.io" / "hashicorp" / "aws"
    unpacked = [path for path in provider.glob(f"*/{platform}") if path.is_dir()]
    packed = list(provider.glob(f"terraform-provider-aws_*_{platform}.zip"))
    if not (unpacked or packed):
        others = sorted(str(path.relative_to(provider)) for path in provider.glob("*/*"))
        found = f" (it has {', '.join(others)})" if others else ""
        raise PreflightError(
            f"terraform_provider_mirror {mirror} holds no hashicorp/aws provider for "
            f"{platform}{found}: {fix}"
        )


def check_aws_identity(settings: BootstrapSettings) -> tuple[str, str]:
    target = resolve(settings)
    where = target.endpoint_url or f"AWS ({settings.aws_region})"
    try:
        identity = aws.client(settings, "sts").get_caller_identity()
    except NoCredentialsError as exc:
        raise PreflightError(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, for the account to provision in"
        ) from exc
    except EndpointConnectionError as exc:
        hint = f" {target.start_hint}" if target.start_hint else ""
        raise PreflightError(f"cannot reach {where}.{hint}") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise PreflightError(
            f"AWS rejected the credentials ({error.get('Code')}: {error.get('Message')}); "
            "refresh them (e.g. `aws sso login`) and run again"
        ) from exc
    except BotoCoreError as exc:
        raise PreflightError(f"cannot talk to {where}: {exc}") from exc
    return str(identity["Account"]), str(identity["Arn"])


def check_availability_zones(settings: BootstrapSettings) -> list[str]:
    """The zones the network module spreads subnets over; refuses an az_count beyond them."""
    region = settings.aws_region
    try:
        # The network module's own filter: zones that need no opt-in and are available.
        zones = aws.client(settings, "ec2").describe_availability_zones(
            Filters=[
                {"Name": "state", "Values": ["available"]},
                {"Name": "opt-in-status", "Values": ["opt-in-not-required"]},
            ]
        )["AvailabilityZones"]
    except (ClientError, BotoCoreError) as exc:
        raise PreflightError(
            f"cannot list the availability zones of {region} ({exc}); the identity needs "
            "ec2:DescribeAvailabilityZones, which Terraform calls too"
        ) from exc
    names = sorted(str(zone["ZoneName"]) for zone in zones)
    if settings.az_count > len(names):
        raise PreflightError(
            f"az_count {settings.az_count} is more than the {len(names)} availability zones "
            f"{region} offers ({', '.join(names)}); set BOOTSTRAP_AZ_COUNT to {len(names)} or "
            "fewer, or pick another region"
        )
    return names[: settings.az_count]


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or address, optionally with `:port` or in brackets) is loopback."""
    if "://" in host:
        host = urlparse(host).hostname or ""
    elif host.count(":") == 1 or host.startswith("["):
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_prefect_api(settings: BootstrapSettings) -> str:
    target = resolve(settings)
    url = worker_api_url(target)
    if not target.worker_on_this_machine and is_loopback(url):
        raise PreflightError(
            f"prefect_api_url {url} is on loopback: a Fargate task cannot reach this machine. "
            "Set BOOTSTRAP_PREFECT_API_URL to an address the worker can reach (e.g. Prefect Cloud)"
        )
    try:
        response = httpx.get(f"{url}/health", timeout=10)
    except httpx.HTTPError as exc:
        raise PreflightError(
            f"the Prefect API at {url} is not reachable ({exc}); check "
            "BOOTSTRAP_PREFECT_API_URL and that the server runs"
        ) from exc
    # Cloud answers /health only with auth; a 401/403 still proves the URL is a live API.
    if response.status_code >= 500 or response.status_code == 404:
        raise PreflightError(
            f"the Prefect API at {url} answered HTTP {response.status_code} on /health; "
            "check BOOTSTRAP_PREFECT_API_URL (it should end in /api)"
        )
    try:
        return target_prefect.prove_credential(settings)
    except target_prefect.TargetPrefectError as exc:
        raise PreflightError(str(exc)) from exc


# What preflight reports as the worker's Prefect before the server stack exists to be asked.
SERVER_STACK_PENDING = "is the server stack's (proven once it is applied)"


def check_expected_account(settings: BootstrapSettings, account_id: str) -> None:
    """Credentials of another account would apply this environment's settings there."""
    expected = settings.aws_account_id
    if expected is not None and expected != account_id:
        raise PreflightError(
            f"the AWS credentials are of account {account_id}, environment "
            f"{settings.environment!r} is in account {expected} (aws_account_id): use "
            "credentials of that account (e.g. another AWS_PROFILE), or correct "
            "BOOTSTRAP_AWS_ACCOUNT_ID"
        )


def check_boundary_account(settings: BootstrapSettings, account_id: str) -> None:
    """A role's permissions boundary is a managed policy of the role's own account or AWS's:
    another account's would fail the first role Terraform creates, halfway through an apply."""
    arn = settings.permissions_boundary_arn
    owner = validation.permissions_boundary_account(arn) if arn else account_id
    if owner not in (account_id, "aws"):
        raise PreflightError(
            f"permissions_boundary_arn is a policy of account {owner}, the AWS credentials are "
            f"of account {account_id}: a role's boundary must be a managed policy of its own "
            "account (or an AWS managed policy); correct BOOTSTRAP_PERMISSIONS_BOUNDARY_ARN"
        )


# Which flow preflight runs for: what only an apply needs is checked for bootstrap (an expired
# certificate must not stop a teardown); the caller's write permissions for the flows that write
# (drift-check only reads: a remediation is a bootstrap run, with its own preflight).
Run = Literal["bootstrap", "teardown", "drift-check"]


def run_preflight(settings: BootstrapSettings, run: Run) -> PreflightReport:
    """Every check `run` needs; for bootstrap also egress, the server's reach, zone and
    certificate, the region's quotas and the alerts' notification block."""
    applies = run == "bootstrap"
    resolve(settings)  # an unknown target is refused before any tool or service is asked
    if applies:
        check_nat_egress(settings)
        check_server_reach(settings)
    terraform_version = check_terraform(settings)
    account_id, caller_arn = check_aws_identity(settings)
    check_expected_account(settings, account_id)
    check_boundary_account(settings, account_id)
    if run != "drift-check":
        check_caller_permissions(settings, account_id, caller_arn)
    check_availability_zones(settings)
    if applies:
        check_zone(settings)
        check_server_certificate(settings, account_id)
        check_quotas(settings)
    # A server of the environment's own is checked once it runs: bootstrap waits for it to
    # answer with its auth string before anything uses it.
    if settings.prefect_server == "aws":
        api_url = SERVER_STACK_PENDING
    else:
        api_url = check_prefect_api(settings)
        try:
            work_pool.check_owner(settings, account_id)
        except work_pool.WorkPoolError as exc:
            raise PreflightError(str(exc)) from exc
    if applies:  # a missing block must not stop a check or a teardown
        try:
            alerts.check_block(settings)
        except alerts.AlertsError as exc:
            raise PreflightError(str(exc)) from exc
    return PreflightReport(
        account_id=account_id,
        caller_arn=caller_arn,
        terraform_version=terraform_version,
        prefect_api_url=api_url,
        orchestrator_api_url=orchestrator_api_url(),
    )
