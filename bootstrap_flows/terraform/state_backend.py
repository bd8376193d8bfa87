"""The S3 bucket that holds every stack's Terraform state, created idempotently before `init`."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError


class StateBackendError(BootstrapError):
    """The state bucket cannot be used; the message says what to change."""


def ensure_state_bucket(
    settings: BootstrapSettings, account_id: str, logger: logging.Logger | Any
) -> str:
    """Create (or confirm) a versioned, encrypted, private bucket; return its name.

    Versioning keeps every earlier state recoverable; nothing here ever deletes or overwrites
    an object, so an existing bucket (ours or one the user pre-created) is left as it is apart
    from switching on the protections it lacks. Its default encryption is its owner's: AWS
    encrypts every bucket (SSE-S3 at least) since January 2023, so a bucket that exists has
    one, and writing AES256 over it would downgrade a user's SSE-KMS key (or fail where an SCP
    denies s3:PutEncryptionConfiguration). Terraform's `encrypt` backend option encrypts each
    state object on top.
    """
    s3 = aws.client(settings, "s3")
    bucket = settings.state_bucket_name(account_id)
    try:
        s3.head_bucket(Bucket=bucket)
        logger.info("State bucket %s exists", bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("403", "Forbidden"):
            raise StateBackendError(
                f"State bucket {bucket!r} exists but belongs to another account or denies "
                "access; choose another name with BOOTSTRAP_STATE_BUCKET"
            ) from exc
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
        _create_bucket(s3, settings, bucket)
        logger.info("Created state bucket %s", bucket)

    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return bucket


def _create_bucket(s3: Any, settings: BootstrapSettings, bucket: str) -> None:
    """Make the state bucket, tagged and encrypted (only ours: see ensure_state_bucket)."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if settings.aws_region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.aws_region}
    s3.create_bucket(**kwargs)
    # Only a bucket we create is tagged: tagging replaces every tag a user's bucket has.
    s3.put_bucket_tagging(
        Bucket=bucket,
        Tagging={
            "TagSet": [
                {"Key": "Project", "Value": "bootstrap-flows"},
                {"Key": "Environment", "Value": settings.environment},
                {"Key": "ManagedBy", "Value": "bootstrap-flows"},
            ]
        },
    )
    # Said outright for the bucket we make (AWS would default to the same; moto does not).
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def delete_state_bucket(settings: BootstrapSettings, bucket: str) -> int:
    """Delete the state bucket with every version of every object (teardown, when asked);
    return how many keys went. Gone for good: there is no state history after this."""
    deleted = len(aws.delete_versions(settings, bucket, ""))
    aws.client(settings, "s3").delete_bucket(Bucket=bucket)
    return deleted
