"""The self-signed certificate the embedded default imports for the server stack's listener."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bootstrap_local.certificate import self_signed


def test_certificate_names_the_host_and_matches_its_key() -> None:
    pem, key_pem = self_signed("prefect.example.test")
    certificate = x509.load_pem_x509_certificate(pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["prefect.example.test"]
    assert certificate.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert certificate.not_valid_after_utc > certificate.not_valid_before_utc
