"""Load balancer listeners as AWS answers them for ACM certificates
(tests/unit/local/test_moto_listener_certificates.py).

- CreateListener, ModifyListener and AddListenerCertificates with an ACM certificate that is
  not ISSUED (PENDING_VALIDATION, FAILED, EXPIRED, ...): AWS refuses with
  `CertificateNotFound` ("Certificate '<arn>' not found"), the error Terraform users meet when
  a listener is created before its certificate is validated. moto only looks the certificate
  up (CreateListener, ModifyListener) or not at all (AddListenerCertificates), so a listener
  that would fail on AWS is created on the emulator.
- A certificate that does not exist: AddListenerCertificates refuses it too on AWS; moto adds
  it to the listener. CreateListener and ModifyListener answer with AWS's message here (moto's
  code is right, its message is "Supplied certificate was not found").

IAM server certificates (`arn:aws:iam::…:server-certificate/…`) have no status: moto's own
look-up stays.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.acm.exceptions import CertificateNotFound as AcmNotFound
from moto.acm.models import acm_backends
from moto.core.responses import ActionResult
from moto.elbv2.exceptions import ELBClientError
from moto.elbv2.responses import ELBV2Response

from bootstrap_local.aws_like.limits import Respond, wrap

# The listener actions that take certificates, each in its `Certificates` list.
TAKING_CERTIFICATES = ("create_listener", "modify_listener", "add_listener_certificates")


class CertificateNotFound(ELBClientError):
    """AWS's answer for a certificate a listener cannot use: missing, or not ISSUED."""

    def __init__(self, arn: str) -> None:
        super().__init__("CertificateNotFound", f"Certificate '{arn}' not found")


def usable(account_id: str, region: str, arn: str) -> bool:
    """Whether the listener of `region` can use ACM certificate `arn`: it exists there and is
    ISSUED (moto's look-up updates the status: expiry, and validation after its wait)."""
    try:
        bundle = acm_backends[account_id][region].get_certificate(arn)
    except AcmNotFound:
        return False
    return bool(bundle.status == "ISSUED")


def _issued_only(respond: Respond) -> Respond:
    """`respond` refusing every ACM certificate of the request that is not usable."""

    @functools.wraps(respond)
    def with_issued_certificates(response: Any) -> ActionResult:
        backend = response.elbv2_backend
        for given in response._get_param("Certificates", []) or []:
            arn = str(given.get("CertificateArn") or "")
            is_acm = arn.split(":")[2:3] == ["acm"]
            if is_acm and not usable(backend.account_id, backend.region_name, arn):
                raise CertificateNotFound(arn)
        return respond(response)

    return with_issued_certificates


def listener_certificates_like_aws() -> None:
    """Every patch of the module's docstring."""
    for action in TAKING_CERTIFICATES:
        wrap(ELBV2Response, action, "issued", _issued_only)
