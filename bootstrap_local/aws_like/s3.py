"""S3 bucket policies as AWS applies them (tests/unit/local/test_moto_bucket_policy.py)."""

from __future__ import annotations

import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket


def bucket_policies_like_aws() -> None:
    """A bucket policy statement with a condition applies only when the condition holds (AWS).
    moto 5.2.6 supplies no condition keys to S3's policy check and turns a statement whose
    condition fails into a deny, whatever its effect: a TLS-only policy (deny when
    `aws:SecureTransport` is false, infrastructure/terraform/modules/storage) would refuse every
    object request. Here such a statement does not apply, as on AWS over HTTPS."""
    bucket_class: Any = FakeBucket
    if getattr(bucket_class.get_permission, "aws_like", False):
        return

    def get_permission(bucket: Any, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(bucket.policy)
        statements = document.get("Statement", [])
        listed = statements if isinstance(statements, list) else [statements]
        applicable = [statement for statement in listed if not statement.get("Condition")]
        if not applicable:
            return PermissionResult.NEUTRAL
        policy = IAMPolicy(json.dumps(document | {"Statement": applicable}))
        return policy.is_action_permitted(action, resource)

    get_permission.__dict__["aws_like"] = True
    bucket_class.get_permission = get_permission
