"""The state bucket: made versioned, encrypted and private; a bucket that exists keeps the
default encryption its owner chose (issue 23: an SSE-KMS bucket must not become AES256)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.terraform.state_backend import ensure_state_bucket

ACCOUNT = "123456789012"
LOG = logging.getLogger(__name__)


@pytest.fixture
def settings() -> BootstrapSettings:
    return load_settings(
        environment="dev",
        aws_region="eu-west-1",
        prefect_api_url="https://prefect.example.invalid/api",
        prefect_api_auth_string="user:pass",
    )


@pytest.fixture
def s3(settings: BootstrapSettings) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("s3", region_name=settings.aws_region)


def default_encryption(s3: Any, bucket: str) -> dict[str, Any]:
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    by_default: dict[str, Any] = rules[0]["ApplyServerSideEncryptionByDefault"]
    return by_default


def test_a_users_sse_kms_bucket_keeps_its_key(settings: BootstrapSettings, s3: Any) -> None:
    bucket = settings.state_bucket_name(ACCOUNT)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    key = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    kms = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": kms}]},
    )

    assert ensure_state_bucket(settings, ACCOUNT, LOG) == bucket
    assert ensure_state_bucket(settings, ACCOUNT, LOG) == bucket  # and on every later run

    assert default_encryption(s3, bucket) == kms
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # Nor its tags: tagging replaces every tag a bucket has.
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket=bucket)


def test_a_bucket_this_run_makes_is_encrypted_versioned_and_private(
    settings: BootstrapSettings, s3: Any
) -> None:
    bucket = ensure_state_bucket(settings, ACCOUNT, LOG)

    assert default_encryption(s3, bucket) == {"SSEAlgorithm": "AES256"}
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["Environment"] == "dev"
