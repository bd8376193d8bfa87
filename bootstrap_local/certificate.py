"""A self-signed certificate in the emulator's ACM, for the server stack's HTTPS listener.

On AWS a user gives the server stack a certificate of their own (or has ACM issue one in their
Route 53 zone); on the embedded default nobody connects through the listener, but the stack
still needs a certificate ARN. This makes one the way a user imports their own.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings

VALID_DAYS = 365


def self_signed(
    host: str, valid: datetime.timedelta = datetime.timedelta(days=VALID_DAYS)
) -> tuple[bytes, bytes]:
    """(certificate, private key) as PEM, for `host`, valid from a minute ago for `valid`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + valid)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def import_self_signed(settings: BootstrapSettings, host: str) -> str:
    """Import a new self-signed certificate for `host` into ACM; return its ARN."""
    certificate, key = self_signed(host)
    imported = aws.client(settings, "acm").import_certificate(
        Certificate=certificate, PrivateKey=key
    )
    return str(imported["CertificateArn"])
