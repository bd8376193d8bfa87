"""Checks of single settings that need more than a type: AWS's and Prefect's own rules, files.

Each is pure and offline (botocore's partition data, Prefect's cron parser, this machine's file
system), so settings run them while validating: a bad value stops the run before anything talks
to AWS, instead of half-way through an apply. Each raises ValueError with the reason and the fix;
settings put the setting's name and environment variable in front.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from functools import cache
from pathlib import Path
from typing import Protocol

import botocore
import botocore.session
from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError


class CrossChecked(Protocol):
    """What the checks across settings read: the settings model, seen from below it (this module
    must not import the model, which imports it)."""

    @property
    def environment(self) -> str: ...
    @property
    def stack_name(self) -> str: ...
    @property
    def aws_region(self) -> str: ...
    @property
    def az_count(self) -> int: ...
    @property
    def prefect_api_url(self) -> str | None: ...
    @property
    def prefect_api_key(self) -> SecretStr | None: ...
    @property
    def prefect_api_auth_string(self) -> SecretStr | None: ...
    @property
    def server_certificate_arn(self) -> str | None: ...
    @property
    def server_domain_name(self) -> str | None: ...
    @property
    def server_route53_zone_id(self) -> str | None: ...


# The server stack module's own rules (infrastructure/terraform/modules/prefect_server).
CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):[0-9]{12}:certificate/.+$")
DNS_NAME = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ROUTE53_ZONE_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
SERVER_MIN_AZS = 2
# The ci module's rules (infrastructure/terraform/modules/ci): checked here too, because the
# state bucket is made before Terraform would read them.
GITHUB_REPOSITORY = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:@[0-9]+)?/[A-Za-z0-9._-]{1,100}(?:@[0-9]+)?$"
)
GIT_BRANCH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$")
GITHUB_OIDC_PROVIDER_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
)
# The iam, network, prefect_server and ci modules' rule for permissions_boundary_arn: an IAM
# managed policy, the account's own or AWS's. Checked here too: the state bucket is made before
# Terraform would read it. The account is group 1 (preflight compares it with the caller's).
PERMISSIONS_BOUNDARY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$")

# A registry host as Docker writes it in an image name: no scheme, no path.
_REGISTRY_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
# Docker's reference grammar (distribution/reference), without the rarely used IPv6 hosts.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# A first part is a registry only with a dot or a port in it, or as `localhost`.
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+|localhost)"
_IMAGE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)
_PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
# What a secret's name or value looks like, for settings we do not know to be secret (a key
# in an environment file that is not ours, a URL with a password in it).
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|AUTH_STRING|CREDENTIAL|PRIVATE")
_SECRET_VALUE = re.compile(
    r"^pn[ub]_|(?:AKIA|ASIA)[A-Z0-9]{16}|://[^/\s:@]+:[^/\s@]+@|-----BEGIN [A-Z ]*PRIVATE KEY"
)


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore's bundled endpoint data knows (no network)."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition)
    )


def known_region(region: str) -> str:
    regions = known_regions()
    if region in regions:
        return region
    close = difflib.get_close_matches(region, sorted(regions), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(
        f"{region!r} is not a region of any AWS partition botocore {botocore.__version__} "
        f"knows; {guess}If the region is newer than botocore, upgrade boto3"
    )


def cron_expression(expression: str) -> str:
    """Refuse what Prefect's own schedule model refuses, so `prefect deploy` cannot fail later."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=expression)
    except ValidationError as exc:
        reason = str(exc.errors()[0].get("msg", "invalid")).removeprefix("Value error, ")
        raise ValueError(
            f"{reason} (Prefect's cron parser); write five fields: minute, hour, day of month, "
            "month, day of week, e.g. '*/30 * * * *' or '0 3 * * 1'"
        ) from None
    return expression


def drift_ignore_patterns(patterns: list[str]) -> list[str]:
    """`<address glob>[:<attribute glob>]` each; fnmatch takes an unclosed `[` as a literal, so
    such a pattern would be accepted and silently ignore nothing."""
    for pattern in patterns:
        address, _, attribute = pattern.partition(":")
        problem = next(
            (
                why
                for bad, why in (
                    (not address.strip(), "its address glob (before the colon) is empty"),
                    (pattern != pattern.strip(), "it has spaces around it"),
                    (_unclosed_class(pattern), "a '[' opens a character class no ']' closes"),
                )
                if bad
            ),
            None,
        )
        if problem:
            raise ValueError(
                f"{pattern!r} is not a pattern: {problem}; write `<address glob>[:<attribute "
                "glob>]`, e.g. 'aws_ecs_service.*:desired_count' (a literal '[' is '[[]')"
            )
    return patterns


def _unclosed_class(pattern: str) -> bool:
    """Whether a '[' of `pattern` starts no character class fnmatch can close."""
    for part in pattern.partition(":")[::2]:
        at = part.find("[")
        while at != -1:
            # fnmatch: ']' right after '[' or '[!' is a member, not the end.
            start = at + 2 if part[at + 1 : at + 2] == "!" else at + 1
            end = part.find("]", start + 1)
            if end == -1:
                return True
            at = part.find("[", end + 1)
    return False


def auth_string(secret: SecretStr | None) -> SecretStr | None:
    """`user:password` as a Prefect server's PREFECT_SERVER_API_AUTH_STRING; never echoed."""
    if secret is None:
        return None
    value = secret.get_secret_value()
    user, colon, password = value.partition(":")
    problems = [
        (not colon, "it has no colon"),
        (not user, "the user name before the colon is empty"),
        (not password, "the password after the colon is empty"),
        (any(char.isspace() for char in value), "it holds whitespace"),
    ]
    problem = next((what for found, what in problems if found), "")
    if problem:
        raise ValueError(
            f"not of the form user:password ({problem}; the value is not shown): set it to "
            "the server's PREFECT_SERVER_API_AUTH_STRING"
        )
    return secret


def api_key(secret: SecretStr | None) -> SecretStr | None:
    if secret is None:
        return None
    value = secret.get_secret_value()
    if not value or any(char.isspace() for char in value):
        raise ValueError(
            "empty or holds whitespace (the value is not shown): set it to a Prefect Cloud "
            "API key (pnu_... or pnb_...), or unset it"
        )
    return secret


def ca_bundle(path: Path | None) -> Path | None:
    """The image build reads the bundle while Terraform already applies: read it now instead."""
    if path is None:
        return None
    fix = "point it at a PEM file of CA certificates, or unset it"
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ValueError(f"{str(path)!r} {what}: {fix}")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{str(path)!r} cannot be read ({exc.strerror}): {fix}") from exc
    if _PEM_CERTIFICATE not in content:
        raise ValueError(f"{str(path)!r} holds no PEM certificate: {fix}")
    return path


def registry_host(host: str | None) -> str | None:
    if host is not None and not _REGISTRY_HOST.match(host):
        raise ValueError(
            f"{host!r} is not a registry host: give host[:port] without a scheme or path, "
            "e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com or 127.0.0.1:5000"
        )
    return host


def image_reference(image: str) -> str:
    if not _IMAGE.match(image):
        raise ValueError(
            f"{image!r} is not a Docker image reference: [registry/]name[:tag][@sha256:digest] "
            "with a lowercase name, e.g. 'prefecthq/prefect:3.9.1-python3.11'"
        )
    return image


def certificate_arn(arn: str | None) -> str | None:
    if arn is not None and not CERTIFICATE_ARN.match(arn):
        raise ValueError(
            f"{arn!r} is not an ACM certificate ARN "
            "(arn:aws:acm:REGION:ACCOUNT:certificate/ID): copy it from the ACM console"
        )
    return arn


def certificate_region(arn: str) -> str:
    match = CERTIFICATE_ARN.match(arn)
    return match.group(1) if match else ""


def dns_name(name: str | None) -> str | None:
    if name is not None and not DNS_NAME.match(name):
        raise ValueError(
            f"{name!r} is not a lowercase DNS name such as 'prefect.example.com' "
            "(no scheme, no trailing dot)"
        )
    return name


def github_repository(name: str | None) -> str | None:
    if name is not None and not GITHUB_REPOSITORY.match(name):
        raise ValueError(
            f"{name!r} is not one GitHub repository: write it as '<owner>/<repo>' "
            "(e.g. 'acme/flows'), no wildcard: the CI role trusts exactly that repository"
        )
    return name


def git_branch(name: str) -> str:
    bad = ".." in name or "//" in name or name.endswith(("/", ".lock"))
    if name.startswith("refs/") or bad or not GIT_BRANCH.match(name):
        raise ValueError(
            f"{name!r} is not a bare branch name such as 'main' (no refs/heads/, no wildcard): "
            "the CI role trusts exactly that branch"
        )
    return name


def github_oidc_provider_arn(arn: str | None) -> str | None:
    if arn is not None and not GITHUB_OIDC_PROVIDER_ARN.match(arn):
        raise ValueError(
            f"{arn!r} is not the ARN of a GitHub Actions OIDC provider: "
            "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com"
        )
    return arn


def permissions_boundary_arn(arn: str | None) -> str | None:
    if arn is not None and not PERMISSIONS_BOUNDARY_ARN.fullmatch(arn):
        raise ValueError(
            f"{arn!r} is not an IAM managed policy ARN "
            "(arn:aws:iam::<account>:policy/<name>): copy the boundary policy's ARN from the "
            "IAM console"
        )
    return arn


def permissions_boundary_account(arn: str) -> str:
    """The account of a boundary policy ARN; `aws` for an AWS managed policy."""
    match = PERMISSIONS_BOUNDARY_ARN.fullmatch(arn)
    return match.group(1) if match else ""


def route53_zone_id(zone: str | None) -> str | None:
    if zone is not None and not ROUTE53_ZONE_ID.match(zone):
        raise ValueError(
            f"{zone!r} is not a Route 53 hosted zone ID: 1-32 letters and digits, "
            "e.g. 'Z0123456789ABC' (without the /hostedzone/ prefix)"
        )
    return zone


def resolver_address(address: str) -> tuple[str, int]:
    """(IP, port) of a DNS resolver written `IP`, `IP:port` or `[IPv6]:port` (port 53 if none)."""
    host, port = address, "53"
    if address.startswith("["):
        host, _, port = address[1:].partition("]:")
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    try:
        number = int(port)
        if not 1 <= number <= 65535:
            raise ValueError(f"port {number} is not 1-65535")
        return str(ipaddress.ip_address(host)), number
    except ValueError as exc:
        raise ValueError(
            f"{address!r} is not a DNS resolver's address: an IP address with an optional port, "
            f"e.g. '1.1.1.1' or '10.0.0.2:53' ({exc})"
        ) from exc


def dns_resolver(address: str | None) -> str | None:
    if address is not None:
        resolver_address(address)
    return address


def ipv4_cidrs(cidrs: list[str]) -> list[str]:
    for cidr in cidrs:
        try:
            ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as exc:
            raise ValueError(f"{cidr!r} is not a valid IPv4 CIDR block ({exc})") from exc
    return cidrs


# --- checks across settings (called by the settings model once every field is valid) ---------
def server_stack(settings: CrossChecked) -> None:
    """What the server stack (prefect_server = "aws") needs before it is planned."""
    if settings.prefect_api_url or settings.prefect_api_key:
        given = "prefect_api_url" if settings.prefect_api_url else "prefect_api_key"
        raise ValueError(
            f"{given}: with prefect_server=aws the worker talks to the server stack, whose "
            f"URL and auth string bootstrap makes; unset BOOTSTRAP_{given.upper()} or set "
            "BOOTSTRAP_PREFECT_SERVER=external"
        )
    arn = settings.server_certificate_arn
    if not arn and not (settings.server_domain_name and settings.server_route53_zone_id):
        raise ValueError(
            "server_certificate_arn: the server stack's HTTPS listener needs a certificate: "
            "set BOOTSTRAP_SERVER_CERTIFICATE_ARN, or BOOTSTRAP_SERVER_DOMAIN_NAME and "
            "BOOTSTRAP_SERVER_ROUTE53_ZONE_ID for one ACM issues and validates"
        )
    region = settings.aws_region
    if arn and certificate_region(arn) != region:
        raise ValueError(
            f"server_certificate_arn: the certificate is in {certificate_region(arn)}, the load "
            f"balancer in {region}: a load balancer uses certificates of its own region only; "
            f"import or request one in {region}"
        )
    if settings.az_count < SERVER_MIN_AZS:
        raise ValueError(
            f"az_count: the server stack needs at least {SERVER_MIN_AZS} (its load balancer and "
            "database span two availability zones); set BOOTSTRAP_AZ_COUNT=2 or more, or "
            "BOOTSTRAP_PREFECT_SERVER=external"
        )


def external_prefect(settings: CrossChecked) -> None:
    """A worker on real AWS talks to a Prefect of your own: it needs its URL and credential."""
    if not settings.prefect_api_url:
        raise ValueError(
            f"prefect_api_url: required for environment {settings.environment!r}: the URL the "
            "ECS worker uses to reach Prefect (set BOOTSTRAP_PREFECT_API_URL, or "
            "BOOTSTRAP_PREFECT_SERVER=aws for a server of the environment's own)"
        )
    if not (settings.prefect_api_key or settings.prefect_api_auth_string):
        raise ValueError(
            f"prefect_api_key or prefect_api_auth_string: the worker of {settings.environment!r} "
            "needs one to reach Prefect (set BOOTSTRAP_PREFECT_API_KEY for Prefect Cloud, or "
            "BOOTSTRAP_PREFECT_API_AUTH_STRING for a self-hosted server)"
        )


# --- environment files ---------------------------------------------------------------------------
def env_file_values(path: Path) -> dict[str, str]:
    """The `NAME=value` lines of an env file (none if it does not exist), as python-dotenv and so
    pydantic-settings read them."""
    if not path.is_file():
        return {}
    return {name: value or "" for name, value in dotenv_values(path).items()}


def environment_file(path: Path, environment: str, secret_fields: frozenset[str]) -> None:
    """An environment's own file is committed with the code: no secret, and no other name."""
    fix = (
        "environment files are committed with the code; set secrets in the worker's "
        "environment or the generic env file (.env or BOOTSTRAP_ENV_FILE)"
    )
    for name, value in env_file_values(path).items():
        setting = name.upper().removeprefix("BOOTSTRAP_").lower()
        if setting in secret_fields or _SECRET_NAME.search(name.upper()):
            raise ValueError(f"{path}: {name} is a secret (the value is not shown): {fix}")
        if _SECRET_VALUE.search(value):
            raise ValueError(
                f"{path}: the value of {name} looks like a secret (the value is not shown): {fix}"
            )
        if setting == "environment" and value != environment:
            raise ValueError(
                f"{path}: BOOTSTRAP_ENVIRONMENT={value} in the file of environment "
                f"{environment!r}: the file's name is the environment's; remove the line"
            )
