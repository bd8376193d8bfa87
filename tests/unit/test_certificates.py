"""The server stack's certificate is checked before anything is created: it exists in ACM, is
ISSUED, and covers server_domain_name (bootstrap_flows/safety/certificates.py). The names'
rules are pure; the look-ups run against moto in this process."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import boto3
import moto.settings
import pytest
from moto import mock_aws

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.safety.certificates import (
    CertificateError,
    certificate_names,
    check_server_certificate,
    covers,
)
from bootstrap_local.certificate import self_signed

ACCOUNT = "123456789012"  # moto's
MISSING = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("name", "domain", "covered"),
    [
        ("prefect.example.com", "prefect.example.com", True),
        ("Prefect.Example.COM", "prefect.example.com", True),  # DNS names have no case
        ("prefect.example.com.", "prefect.example.com", True),  # the root's dot
        ("prefect.example.com", "example.com", False),
        ("example.com", "prefect.example.com", False),  # a name does not cover its children
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "example.com", False),  # not the parent itself
        ("*.example.com", "a.b.example.com", False),  # one label only
        ("*.example.com", "a.example.org", False),
        ("*.example.com", ".example.com", False),  # an empty label is no label
        ("*.b.example.com", "a.b.example.com", True),
        ("a*.example.com", "ab.example.com", False),  # ACM's only wildcard is a whole label
        ("*", "example", False),
    ],
)
def test_a_certificate_name_covers_a_domain_as_tls_clients_match_it(
    name: str, domain: str, covered: bool
) -> None:
    assert covers(name, domain) is covered


def test_the_names_are_the_domain_and_its_alternatives_once_each() -> None:
    detail = {
        "DomainName": "example.com",
        "SubjectAlternativeNames": ["example.com", "*.example.com", "prefect.example.org"],
    }
    assert certificate_names(detail) == ["example.com", "*.example.com", "prefect.example.org"]
    assert certificate_names({"DomainName": "a.example.com"}) == ["a.example.com"]


@pytest.fixture
def acm(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """ACM as moto in this process; certificates requested stay PENDING_VALIDATION unless a
    test lets moto's validation wait pass."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 3600)
    with mock_aws():
        yield boto3.client("acm", region_name="us-east-1")


def server(arn: str | None, domain: str | None = "prefect.example.com") -> BootstrapSettings:
    return load_settings(
        environment="dev",
        prefect_server="aws",
        server_certificate_arn=arn,
        server_domain_name=domain,
        server_route53_zone_id=None if arn else "Z0123456789ABC",
    )


def imported(acm: Any, host: str = "prefect.example.com") -> str:
    """A certificate of the user's own for `host`, imported into ACM."""
    certificate, key = self_signed(host)
    answer = acm.import_certificate(Certificate=certificate, PrivateKey=key)
    return str(answer["CertificateArn"])


def requested(acm: Any, domain: str, *alternatives: str) -> str:
    extra = {"SubjectAlternativeNames": list(alternatives)} if alternatives else {}
    answer = acm.request_certificate(DomainName=domain, ValidationMethod="DNS", **extra)
    return str(answer["CertificateArn"])


def refusal(settings: BootstrapSettings) -> str:
    with pytest.raises(CertificateError) as refused:
        check_server_certificate(settings, ACCOUNT)
    return str(refused.value)


def test_a_certificate_of_the_users_own_for_the_domain_passes(acm: Any) -> None:
    check_server_certificate(server(imported(acm)), ACCOUNT)


def test_an_issued_wildcard_alternative_name_covers_the_domain(
    acm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = requested(acm, "example.com", "*.example.com")
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0)  # its validation has passed
    check_server_certificate(server(arn), ACCOUNT)
    message = refusal(server(arn, "a.prefect.example.com"))
    assert "covers example.com, *.example.com, not server_domain_name a.prefect" in message


def test_a_certificate_without_a_domain_name_is_refused_before_acm_is_asked(
    clean_env: None,
) -> None:
    # No emulator: a look-up would fail otherwise than with this message.
    message = refusal(server(MISSING, domain=None))
    assert message.startswith(f"server_certificate_arn {MISSING} is given without server_domain")


def test_a_certificate_acm_does_not_hold_is_refused(acm: Any) -> None:
    message = refusal(server(MISSING))
    assert f"{MISSING}: ACM has no such certificate (account {ACCOUNT}, us-east-1)" in message


def test_a_certificate_pending_validation_is_refused(acm: Any) -> None:
    arn = requested(acm, "prefect.example.com")
    message = refusal(server(arn))
    assert f"{arn} is PENDING_VALIDATION, not ISSUED" in message
    assert "add the DNS validation records" in message


def test_an_expired_certificate_is_refused(acm: Any) -> None:
    certificate, key = self_signed("prefect.example.com", datetime.timedelta(seconds=2))
    arn = acm.import_certificate(Certificate=certificate, PrivateKey=key)["CertificateArn"]
    time.sleep(2.5)  # ACM imports only a certificate in effect
    message = refusal(server(arn))
    assert f"{arn} is EXPIRED, not ISSUED" in message
    assert "import a renewed certificate" in message


def test_a_certificate_for_another_name_is_refused(acm: Any) -> None:
    arn = imported(acm, "other.example.com")
    message = refusal(server(arn))
    assert f"{arn} covers other.example.com, not server_domain_name prefect.example.com" in message


def test_nothing_is_asked_without_the_server_stack_or_a_certificate_given(
    clean_env: None,
) -> None:
    # No emulator: any look-up would fail.
    check_server_certificate(server(None), ACCOUNT)  # ACM issues one for the domain
    external = load_settings(
        environment="dev",
        prefect_api_url="https://prefect.example.invalid/api",
        prefect_api_auth_string="user:pass",
        server_certificate_arn=MISSING,
    )
    check_server_certificate(external, ACCOUNT)
