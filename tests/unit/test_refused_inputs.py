"""Every refused input of the README's table: its one message, and nothing created.

Each case runs what bootstrap runs before its first change (the `preflight` task: settings,
target, Terraform, AWS identity and zones, the Prefect API) against moto in this process, then
asserts the README row's message, that every AWS call it made only read, and that AWS holds no
bucket and no VPC. Rows that need live
services (a Prefect server, Docker, the emulator) are in tests/integration.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.client
import moto.settings
import pytest
from moto import mock_aws
from moto.iam.responses import IamResponse
from moto.route53.models import DelegationSet

from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.flows.stages import preflight
from bootstrap_local.aws_like.iam import simulate_principal_policy as simulator
from bootstrap_local.aws_like.route53 import delegation_sets_like_aws
from bootstrap_local.certificate import self_signed
from bootstrap_local.dns_responder import DnsResponder
from tests.integration.test_refused_inputs_live import LIVE_CASES
from tests.support.refusals import SETTINGS_HEADER, Key, rows
from tests.support.refused_cases import (
    APPLY_CASES,
    CERTIFICATE_ARN,
    PREPARED,
    REMOTE,
    SECRET,
    SERVER,
    Case,
    Env,
    Prepare,
    settings,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_s3.client import S3Client

AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def _path(name: str, make: Callable[[Path], object] | None = None) -> Prepare:
    """A setting naming a path under the test's directory, made by `make` (or left missing)."""
    variable = f"BOOTSTRAP_{name.upper()}"

    def prepare(tmp: Path, _: pytest.MonkeyPatch) -> Env:
        path = tmp / "given"
        if make is not None:
            make(path)
        return {variable: str(path)}

    return prepare


def _mirror_for(platform: str) -> Callable[[Path], object]:
    return lambda path: (path / f"registry.terraform.io/hashicorp/aws/5.100.0/{platform}").mkdir(
        parents=True
    )


def _terraform(script: str) -> Prepare:
    """A `terraform` on PATH that runs `script` (nothing else is on PATH)."""

    def prepare(tmp: Path, _: pytest.MonkeyPatch) -> Env:
        binary = tmp / "bin" / "terraform"
        binary.parent.mkdir()
        binary.write_text(f"#!/bin/sh\n{script}\n")
        binary.chmod(0o755)
        return {"PATH": str(binary.parent)}

    return prepare


ENV_FILE, IN_DEV = "environments/<env>.env", " in environments/dev.env"


def _environment_file(line: str) -> Prepare:
    """environments/dev.env (in the directory the `environ` fixture names) holding `line`."""

    def prepare(tmp: Path, _: pytest.MonkeyPatch) -> Env:
        folder = tmp / "environments"
        folder.mkdir(exist_ok=True)
        (folder / "dev.env").write_text(f"# dev\nBOOTSTRAP_AWS_REGION=eu-west-1\n{line}\n")
        return {}

    return prepare


def _certificate(make: Callable[[Any], str], domain: str = "prefect.example.com") -> Prepare:
    """The server stack with a certificate `make` puts into moto's ACM, for `domain`."""

    def prepare(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
        # A requested certificate stays PENDING_VALIDATION (moto issues it after this wait).
        monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 3600)
        arn = make(boto3.client("acm", region_name="us-east-1"))
        return settings(server_certificate_arn=arn, server_domain_name=domain)

    return prepare


def _requested(acm: Any) -> str:
    answer = acm.request_certificate(DomainName="prefect.example.com", ValidationMethod="DNS")
    return str(answer["CertificateArn"])


def _imported_wildcard(acm: Any) -> str:
    certificate, key = self_signed("*.example.com")
    return str(acm.import_certificate(Certificate=certificate, PrivateKey=key)["CertificateArn"])


def _no_path(tmp: Path, _: pytest.MonkeyPatch) -> Env:
    return {"PATH": str(tmp)}


def _no_aws_credentials(tmp: Path, _: pytest.MonkeyPatch) -> Env:
    return {
        **dict.fromkeys(AWS_CREDENTIAL_VARIABLES),
        "AWS_CONFIG_FILE": str(tmp / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata look-ups from a test
    }


def _aws_rejects_credentials(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    # moto checks every request's key against its IAM, where this one does not exist.
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    return {}


CASES: dict[Key, Case] = {
    # --- names --------------------------------------------------------------------------------
    ("environment", "-dev"): Case(environment="-dev"),
    ("environment", "staging-eu-west-1a"): Case(environment="staging-eu-west-1a"),
    ("name_prefix", "Prefect_Prod"): Case(settings(name_prefix="Prefect_Prod")),
    ("name_prefix", "acme-platform-prefect"): Case(settings(name_prefix="acme-platform-prefect")),
    ("work_pool_name", "ECS pool"): Case(settings(work_pool_name="ECS pool")),
    ("az_counts", '{"az_counts": 2} in overrides'): Case(overrides={"az_counts": 2}),
    ("target", "localstack"): Case(settings(target="localstack")),
    # --- environment files and promotion ----------------------------------------------------------
    (ENV_FILE, f"BOOTSTRAP_PREFECT_API_KEY=pnu_s3cr3t{IN_DEV}"): Case(
        prepare=_environment_file(f"BOOTSTRAP_PREFECT_API_KEY=pnu_{SECRET}")
    ),
    (
        ENV_FILE,
        f"BOOTSTRAP_PREFECT_API_URL=https://admin:s3cr3t@prefect.example.com/api{IN_DEV}",
    ): Case(
        prepare=_environment_file(
            f"BOOTSTRAP_PREFECT_API_URL=https://admin:{SECRET}@prefect.example.com/api"
        )
    ),
    (ENV_FILE, f"BOOTSTRAP_ENVIRONMENT=prod{IN_DEV}"): Case(
        prepare=_environment_file("BOOTSTRAP_ENVIRONMENT=prod")
    ),
    ("aws_account_id", "12345"): Case(settings(aws_account_id="12345")),
    ("aws_account_id", "111111111111, credentials of account 123456789012"): Case(
        settings(aws_account_id="111111111111")
    ),
    ("permissions_boundary_arn", "acme-boundary"): Case(
        settings(permissions_boundary_arn="acme-boundary")
    ),
    (
        "permissions_boundary_arn",
        "one of account 111111111111, credentials of account 123456789012",
    ): Case(settings(permissions_boundary_arn="arn:aws:iam::111111111111:policy/boundary")),
    ("promote_from", "Staging"): Case(settings(promote_from="Staging")),
    ("promote_from", "dev, environment dev"): Case(settings(promote_from="dev")),
    # --- region and network ---------------------------------------------------------------------
    ("aws_region", "mars-1"): Case(settings(aws_region="mars-1")),
    ("aws_region", "eu-wset-1"): Case(settings(aws_region="eu-wset-1")),
    ("vpc_cidr", "banana"): Case(settings(vpc_cidr="banana")),
    ("vpc_cidr", "10.0.0.1/16"): Case(settings(vpc_cidr="10.0.0.1/16")),
    ("vpc_cidr", "10.0.0.0/8"): Case(settings(vpc_cidr="10.0.0.0/8")),
    ("az_count", "0"): Case(settings(az_count="0")),
    ("az_count", "three"): Case(settings(az_count="three")),
    ("nat_mode", "two"): Case(settings(nat_mode="two")),
    # --- sizes and waits ------------------------------------------------------------------------
    ("worker_cpu", "300"): Case(settings(worker_cpu="300")),
    ("worker_memory", "4096 with worker_cpu=256"): Case(
        settings(worker_cpu="256", worker_memory="4096")
    ),
    ("flow_run_memory", "512 with flow_run_cpu=1024"): Case(
        settings(flow_run_cpu="1024", flow_run_memory="512")
    ),
    ("worker_count", "21"): Case(settings(worker_count="21")),
    ("e2e_timeout", "10"): Case(settings(e2e_timeout="10")),
    ("worker_heartbeat_timeout", "5"): Case(settings(worker_heartbeat_timeout="5")),
    ("log_retention_days", "10"): Case(settings(log_retention_days="10")),
    ("cpu_architecture", "arm64"): Case(settings(cpu_architecture="arm64")),
    # --- the Prefect the worker talks to --------------------------------------------------------
    ("prefect_api_url", "ftp://prefect.example.com/api"): Case(
        settings(prefect_api_url="ftp://prefect.example.com/api")
    ),
    ("prefect_api_url", "https://prefect.example.com/api /workspaces"): Case(
        settings(prefect_api_url="https://prefect.example.com/api /workspaces")
    ),
    ("prefect_api_url", "unset, environment dev"): Case(settings(prefect_api_url=None)),
    ("prefect_api_url", "http://127.0.0.1:4200/api, environment dev"): Case(
        settings(prefect_api_url="http://127.0.0.1:4200/api")
    ),
    ("prefect_api_auth_string", "admin-s3cr3t"): Case(
        settings(prefect_api_auth_string=f"admin-{SECRET}")
    ),
    ("prefect_api_auth_string", ":s3cr3t"): Case(settings(prefect_api_auth_string=f":{SECRET}")),
    ("prefect_api_auth_string", "admin:"): Case(settings(prefect_api_auth_string="admin:")),
    ("prefect_api_auth_string", "admin: s3cr3t"): Case(
        settings(prefect_api_auth_string=f"admin: {SECRET}")
    ),
    ("prefect_api_auth_string", "unset, and no prefect_api_key, environment dev"): Case(
        settings(prefect_api_auth_string=None)
    ),
    ("prefect_api_key", "(empty)"): Case(
        settings(prefect_api_key="", prefect_api_auth_string=None)
    ),
    ("prefect_api_key", "pnu_s3cr3t with prefect_api_auth_string set"): Case(
        settings(prefect_api_key=f"pnu_{SECRET}")
    ),
    ("prefect_api_key", "pnu_s3cr3t in overrides"): Case(
        overrides={"prefect_api_key": f"pnu_{SECRET}"}
    ),
    # --- the server stack -----------------------------------------------------------------------
    ("prefect_server", "cloud"): Case(settings(prefect_server="cloud")),
    ("prefect_api_url", "set, with prefect_server=aws"): Case(
        {**SERVER, **settings(prefect_api_url="https://prefect.example.com/api")}
    ),
    ("prefect_api_key", "set, with prefect_server=aws"): Case(
        {**SERVER, **settings(prefect_api_key=f"pnu_{SECRET}")}
    ),
    ("server_certificate_arn", "unset, with prefect_server=aws"): Case(
        {**SERVER, **settings(server_certificate_arn=None)}
    ),
    ("server_route53_zone_id", "unset, with server_domain_name and no certificate"): Case(
        {
            **SERVER,
            **settings(server_certificate_arn=None, server_domain_name="prefect.example.com"),
        }
    ),
    ("server_certificate_arn", "my-cert"): Case(settings(server_certificate_arn="my-cert")),
    ("server_certificate_arn", "one of eu-west-1, aws_region us-east-1"): Case(
        {
            **SERVER,
            **settings(server_certificate_arn=CERTIFICATE_ARN.replace("us-east-1", "eu-west-1")),
        }
    ),
    ("server_certificate_arn", "set, without server_domain_name"): Case(SERVER),
    ("server_certificate_arn", "one ACM does not hold"): Case(
        {**SERVER, **settings(server_domain_name="prefect.example.com")}
    ),
    ("server_certificate_arn", "one PENDING_VALIDATION"): Case(
        SERVER, prepare=_certificate(_requested)
    ),
    (
        "server_certificate_arn",
        "one for *.example.com, server_domain_name a.prefect.example.com",
    ): Case(SERVER, prepare=_certificate(_imported_wildcard, "a.prefect.example.com")),
    ("server_domain_name", "https://prefect.example.com"): Case(
        settings(server_domain_name="https://prefect.example.com")
    ),
    ("server_route53_zone_id", "/hostedzone/Z0123456789ABC"): Case(
        settings(server_route53_zone_id="/hostedzone/Z0123456789ABC")
    ),
    ("ci_github_repository", "acme/*"): Case(settings(ci_github_repository="acme/*")),
    ("ci_github_branch", "refs/heads/main"): Case(
        settings(ci_github_repository="acme/flows", ci_github_branch="refs/heads/main")
    ),
    ("ci_github_environment", "prod*"): Case(
        settings(ci_github_repository="acme/flows", ci_github_environment="prod*")
    ),
    ("ci_github_environment", "production, without ci_github_repository"): Case(
        settings(ci_github_environment="production")
    ),
    ("ci_promote_from_repository_arn", "arn:aws:ecr:us-east-1:123456789012:repository/*"): Case(
        settings(
            ci_github_repository="acme/flows",
            ci_promote_from_repository_arn="arn:aws:ecr:us-east-1:123456789012:repository/*",
        )
    ),
    ("ci_oidc_provider_arn", "arn:aws:iam::123456789012:oidc-provider/gitlab.com"): Case(
        settings(ci_oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/gitlab.com")
    ),
    ("az_count", "1, with prefect_server=aws"): Case({**SERVER, **settings(az_count="1")}),
    # AWS's rules for the names made from the prefix (config/names.py; test_names.py).
    ("name_prefix", "acme-platform-x, environment staging-eu, with prefect_server=aws"): Case(
        {**SERVER, **settings(name_prefix="acme-platform-x")}, environment="staging-eu"
    ),
    ("name_prefix", "internal, with prefect_server=aws"): Case(
        {**SERVER, **settings(name_prefix="internal")}
    ),
    ("name_prefix", "ab--cd, with prefect_server=aws"): Case(
        {**SERVER, **settings(name_prefix="ab--cd")}
    ),
    ("name_prefix", "xn--ab"): Case(settings(name_prefix="xn--ab")),
    ("server_allowed_cidrs", '["10.0.0.0/33"]'): Case(
        settings(server_allowed_cidrs='["10.0.0.0/33"]')
    ),
    ("server_start_timeout", "5"): Case(settings(server_start_timeout="5")),
    ("server_dns_resolver", "dns.google"): Case(settings(server_dns_resolver="dns.google")),
    # --- Terraform ------------------------------------------------------------------------------
    ("state_bucket", "Bad_Bucket"): Case(settings(state_bucket="Bad_Bucket")),
    ("terraform", "not on PATH"): Case(prepare=_no_path),
    # The last release before the S3 backend's `use_lockfile` (the floor is 1.10).
    ("terraform", "1.9.8"): Case(
        prepare=_terraform('echo \'{"terraform_version": "1.9.8", "platform": "linux_amd64"}\'')
    ),
    ("terraform", "an install that fails to run"): Case(
        prepare=_terraform("echo 'cannot load libc' >&2; exit 1")
    ),
    ("terraform_provider_mirror", "a path that does not exist"): Case(
        prepare=_path("terraform_provider_mirror")
    ),
    ("terraform_provider_mirror", "an empty directory"): Case(
        prepare=_path("terraform_provider_mirror", Path.mkdir)
    ),
    ("terraform_provider_mirror", "hashicorp/aws for another platform only"): Case(
        prepare=_path("terraform_provider_mirror", _mirror_for("plan9_mips"))
    ),
    ("terraform_dir", "a directory without stacks/"): Case(
        prepare=_path("terraform_dir", Path.mkdir)
    ),
    # --- the worker image -----------------------------------------------------------------------
    ("worker_base_image", "Prefect:latest"): Case(settings(worker_base_image="Prefect:latest")),
    ("base_image_fallback", "docker-hub"): Case(settings(base_image_fallback="docker-hub")),
    ("extra_ca_bundle", "a path that does not exist"): Case(prepare=_path("extra_ca_bundle")),
    ("extra_ca_bundle", "a directory"): Case(prepare=_path("extra_ca_bundle", Path.mkdir)),
    ("extra_ca_bundle", "a file with no PEM certificate"): Case(
        prepare=_path("extra_ca_bundle", lambda path: path.write_text("not a certificate\n"))
    ),
    ("registry_host_override", "https://registry.example.com"): Case(
        settings(registry_host_override="https://registry.example.com")
    ),
    # --- drift check ----------------------------------------------------------------------------
    ("drift_schedule", "every 30 minutes"): Case(settings(drift_schedule="every 30 minutes")),
    ("drift_schedule", "H * * * *"): Case(settings(drift_schedule="H * * * *")),
    ("drift_heartbeat_max_age", "10"): Case(settings(drift_heartbeat_max_age="10")),
    ("drift_ignore", '["aws_ecs_service.[unclosed"]'): Case(
        settings(drift_ignore='["aws_ecs_service.[unclosed"]')
    ),
    ("drift_ignore", '[":desired_count"]'): Case(settings(drift_ignore='[":desired_count"]')),
    ("notification_block", "ops"): Case(settings(notification_block="ops")),
    # --- the embedded default and emulators -----------------------------------------------------
    ("aws_endpoint_url", "http://127.0.0.1:4566, with target=aws"): Case(
        settings(aws_endpoint_url="http://127.0.0.1:4566")
    ),
    ("aws_endpoint_url", "localhost:4566"): Case(
        settings(target="emulator", aws_endpoint_url="localhost:4566")
    ),
    # The embedded default's own settings (bootstrap_local.settings), read when `local` runs.
    ("moto_port", "80"): Case(settings(local_moto_port="80"), environment="local"),
    ("prefect_port", "4566, the moto port"): Case(
        settings(local_prefect_port="4566"), environment="local"
    ),
    # --- AWS ------------------------------------------------------------------------------------
    ("AWS credentials", "none"): Case(prepare=_no_aws_credentials),
    ("AWS credentials", "a key AWS does not know"): Case(prepare=_aws_rejects_credentials),
    **APPLY_CASES,
}


@dataclass(frozen=True)
class Aws:
    """Clients of moto in this process, made once: botocore loads each service model slowly."""

    s3: S3Client
    ec2: EC2Client
    # Public DNS for moto's Route 53 zones, as the embedded default answers it.
    public_dns: str

    def created(self, monkeypatch: pytest.MonkeyPatch, region: str) -> list[str]:
        """Buckets, and VPCs in the case's region besides the default one and those the case
        made itself (tagged PREPARED): a refused run must leave none."""
        monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
        buckets = [bucket["Name"] for bucket in self.s3.list_buckets()["Buckets"]]
        ec2 = self.ec2 if region == "us-east-1" else boto3.client("ec2", region_name=region)
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["false"]}])["Vpcs"]
        theirs = [vpc["VpcId"] for vpc in vpcs if PREPARED not in vpc.get("Tags", [])]
        return buckets + theirs


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    """AWS as moto in this process: what preflight reads, and where nothing may appear. With
    IAM's policy simulator, as the embedded default's moto has it (preflight asks it)."""
    with pytest.MonkeyPatch.context() as patch, mock_aws(), DnsResponder() as public_dns:
        patch.setattr(IamResponse, "simulate_principal_policy", simulator, raising=False)
        # Each hosted zone its own name servers, as AWS and the embedded default's moto do.
        patch.setattr(DelegationSet, "__init__", DelegationSet.__init__)
        delegation_sets_like_aws()
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        yield Aws(session.client("s3"), session.client("ec2"), public_dns.address)


@pytest.fixture
def environ(aws: Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Only the case's settings: none of this machine's, a state dir of the test's own, and
    the responder as public DNS (a case may name another resolver)."""
    for name in list(os.environ):
        if name.startswith("BOOTSTRAP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BOOTSTRAP_LOCAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BOOTSTRAP_ENVIRONMENTS_DIR", str(tmp_path / "environments"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name, value in REMOTE.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("BOOTSTRAP_SERVER_DNS_RESOLVER", aws.public_dns)
    return monkeypatch


def _apply(monkeypatch: pytest.MonkeyPatch, env: Env) -> None:
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


# What AWS calls that only read are named like (IAM's simulator reads policies too).
READS = ("Describe", "List", "Get", "Head", "Simulate")


def refuse(case: Case, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[str, list[str]]:
    """Run the preflight task with the case's input; return the message it was refused with and
    every AWS operation it called (botocore's, seen as they are made)."""
    _apply(monkeypatch, case.env)
    if case.prepare is not None:
        _apply(monkeypatch, case.prepare(tmp_path, monkeypatch))
    called: list[str] = []
    make_call = botocore.client.BaseClient._make_api_call

    def observed(client: botocore.client.BaseClient, operation: str, params: Any) -> Any:
        called.append(f"{client.meta.service_model.service_name}:{operation}")
        return make_call(client, operation, params)

    with monkeypatch.context() as patch, pytest.raises(BootstrapError) as caught:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", observed)
        preflight.fn(case.environment, dict(case.overrides), needs_docker=False)
    return str(caught.value), called


@pytest.mark.parametrize("key", list(CASES), ids=[f"{i}: {v}" for i, v in CASES])
def test_refused_with_its_message_and_nothing_created(
    key: Key, aws: Aws, environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    row = rows().get(key)
    assert row is not None, f"README's refused-inputs table has no row for {key}"
    message, called = refuse(CASES[key], environ, tmp_path)
    assert row.matches(message), f"README says {row.message!r}; the run said {message!r}"
    from_settings = message.startswith(SETTINGS_HEADER)
    assert from_settings == (row.checked == "settings"), (row.checked, message)
    assert len(message.splitlines()) == (2 if from_settings else 1), message  # one message
    assert SECRET not in message
    # Refused before any call that writes was made: only reads reached AWS.
    assert [call for call in called if not call.split(":")[1].startswith(READS)] == []
    # The region the run was in (a refused region name leaves nothing to look at there).
    region = "us-east-1" if from_settings else os.environ.get("BOOTSTRAP_AWS_REGION", "us-east-1")
    assert aws.created(environ, region) == []


def test_every_row_has_one_case_and_every_case_a_row() -> None:
    table = rows()
    assert len(table) >= 35
    assert {key for key, row in table.items() if not row.live} == set(CASES)
    assert {key for key, row in table.items() if row.live} == set(LIVE_CASES)
    assert not set(CASES) & set(LIVE_CASES)
