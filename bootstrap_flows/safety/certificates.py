"""Preflight of the server stack's certificate: the one a user gives (server_certificate_arn)
must be usable by its HTTPS listener and trusted by the worker, before anything is created.

AWS takes only an ISSUED ACM certificate for a listener (any other answers CertificateNotFound,
halfway through an apply: the load balancer exists, the listener does not), and the worker
calls https://<server_domain_name>/api, so the certificate must cover that name. Without a
domain name the worker would call the load balancer's own DNS name (*.elb.amazonaws.com),
which no certificate of the user's can cover. A certificate ACM issues for the stack
(no server_certificate_arn) is made for server_domain_name and needs none of this.

Read-only: one acm:DescribeCertificate.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.safety.refusal import PreflightError

# What to do about a certificate in each status ACM has besides ISSUED.
NOT_ISSUED_FIX = {
    "PENDING_VALIDATION": "add the DNS validation records ACM shows for it (ACM console) and "
    "run again once its status is ISSUED",
    "VALIDATION_TIMED_OUT": "ACM gave up validating it: request a new certificate",
    "FAILED": "ACM could not issue it: request a new certificate",
    "EXPIRED": "import a renewed certificate (or request one from ACM)",
    "REVOKED": "request or import a new certificate",
    "INACTIVE": "request or import a new certificate",
}
ENV = "BOOTSTRAP_SERVER_CERTIFICATE_ARN"


class CertificateError(PreflightError):
    """The server stack's certificate cannot serve its listener; nothing has been changed."""


def covers(name: str, domain: str) -> bool:
    """Whether a certificate name (DomainName or a subject alternative name) covers `domain`.

    DNS names compare without case. A wildcard stands for exactly one whole label, leftmost
    only (the only wildcard ACM allows): *.example.com covers a.example.com, not example.com
    and not a.b.example.com.
    """
    name, domain = name.lower().rstrip("."), domain.lower().rstrip(".")
    if not name.startswith("*."):
        return name == domain
    label, dot, parent = domain.partition(".")
    return bool(label and dot) and parent == name[2:]


def certificate_names(detail: dict[str, Any]) -> list[str]:
    """The names a certificate covers: its DomainName and subject alternative names, once each."""
    names = [str(detail.get("DomainName") or "")] + [
        str(name) for name in detail.get("SubjectAlternativeNames") or []
    ]
    return list(dict.fromkeys(name for name in names if name))


def describe(settings: BootstrapSettings, account_id: str, arn: str) -> dict[str, Any]:
    """ACM's record of certificate `arn`; a missing one or a refused look-up is refused."""
    where = f"account {account_id}, {settings.aws_region}"
    try:
        answer = aws.client(settings, "acm").describe_certificate(CertificateArn=arn)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            raise CertificateError(
                f"server_certificate_arn {arn}: ACM has no such certificate ({where}): "
                f"copy the ARN of an issued certificate from the ACM console into {ENV}, or "
                "unset it to have ACM issue one for server_domain_name"
            ) from exc
        raise CertificateError(
            f"server_certificate_arn {arn}: cannot read it from ACM ({error.get('Code')}: "
            f"{error.get('Message')}); the identity needs acm:DescribeCertificate on it "
            "(see the operator policy)"
        ) from exc
    except BotoCoreError as exc:
        raise CertificateError(f"server_certificate_arn {arn}: cannot ask ACM ({exc})") from exc
    detail: dict[str, Any] = dict(answer["Certificate"])
    return detail


def check_server_certificate(settings: BootstrapSettings, account_id: str) -> None:
    """Refuse a given certificate the server stack's listener or its worker cannot use
    (`account_id`: the credentials', whose ACM is asked)."""
    arn = settings.server_certificate_arn
    if settings.prefect_server != "aws" or arn is None:
        return
    domain = settings.server_domain_name
    if domain is None:
        raise CertificateError(
            f"server_certificate_arn {arn} is given without server_domain_name: the worker "
            "would call the load balancer's own DNS name, which no certificate of yours "
            "covers; set BOOTSTRAP_SERVER_DOMAIN_NAME to a name the certificate covers"
        )
    detail = describe(settings, account_id, arn)
    status = str(detail.get("Status"))
    if status != "ISSUED":
        fix = NOT_ISSUED_FIX.get(status, "request or import a new certificate")
        raise CertificateError(
            f"server_certificate_arn {arn} is {status}, not ISSUED: a load balancer takes only "
            f"an issued certificate; {fix}"
        )
    names = certificate_names(detail)
    if not any(covers(name, domain) for name in names):
        raise CertificateError(
            f"server_certificate_arn {arn} covers {', '.join(names) or 'no name'}, not "
            f"server_domain_name {domain}: the worker would refuse the server's TLS; give a "
            f"certificate for {domain} (or a *. wildcard of its parent) in {ENV}, or set "
            "BOOTSTRAP_SERVER_DOMAIN_NAME to a name it covers"
        )
