"""The embedded default's moto applies a TLS-only bucket policy as AWS does over HTTPS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ec2.models.nat_gateways import NatGatewayBackend
from moto.s3.models import FakeBucket
from moto.sqs.models import Queue

from bootstrap_local import aws_like

BUCKET = "p-local-results-123456789012"
# What `aws_like.patch()` replaces, as moto has it (captured before any test patches it).
STOCK = [
    (FakeBucket, "get_permission", FakeBucket.get_permission),
    (NatGatewayBackend, "delete_nat_gateway", NatGatewayBackend.delete_nat_gateway),
    (Queue, "attributes", Queue.__dict__["attributes"]),
    (Queue, "_set_attributes", Queue.__dict__["_set_attributes"]),
]


def tls_only(bucket: str, also: dict[str, Any] | None = None) -> str:
    """The storage module's policy (deny plain HTTP), plus an optional statement."""
    deny = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [deny, *([also] if also else [])]})


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the original comes back afterwards)."""
    for owner, name, original in STOCK:
        monkeypatch.setattr(owner, name, original)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_policy(Bucket=BUCKET, Policy=tls_only(BUCKET))
        yield client


def test_stock_moto_denies_every_object_request_under_a_tls_only_policy(s3: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop the patch."""
    with pytest.raises(ClientError, match="403|AccessDenied"):
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"1")


def test_patched_a_conditioned_statement_does_not_apply_an_unconditioned_deny_does(
    s3: Any,
) -> None:
    aws_like.patch()
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"1")
    assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"1"
    deny_reads = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=tls_only(BUCKET, deny_reads))
    with pytest.raises(ClientError, match="403|AccessDenied"):
        s3.get_object(Bucket=BUCKET, Key="k")
