"""What a bootstrap left in emulated AWS, read as a test checks it: the platform state's versions
and outputs, the environment's API secret and its tagged VPCs."""

from __future__ import annotations

import json
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.terraform.stacks import state_key


def state_versions(
    settings: BootstrapSettings, stack: str = "platform", bucket: str | None = None
) -> list[dict[str, Any]]:
    """Every stored version of the stack's state object, newest first."""
    key = state_key(settings, stack)
    listed = aws.client(settings, "s3").list_object_versions(
        Bucket=bucket or settings.state_bucket_name(ACCOUNT), Prefix=key
    )
    # Exactly the state object: its lock file (`.tflock`) comes and goes with every plan.
    return [v for v in listed.get("Versions", []) if v["Key"] == key]


def read_state(
    settings: BootstrapSettings, version_id: str, stack: str = "platform", bucket: str | None = None
) -> str:
    """One stored version of the stack's state object."""
    body = aws.client(settings, "s3").get_object(
        Bucket=bucket or settings.state_bucket_name(ACCOUNT),
        Key=state_key(settings, stack),
        VersionId=version_id,
    )["Body"]
    return str(body.read().decode())


def platform_outputs(settings: BootstrapSettings) -> dict[str, Any]:
    """The outputs recorded in the newest platform state."""
    state = json.loads(read_state(settings, state_versions(settings)[0]["VersionId"]))
    return {name: value["value"] for name, value in state["outputs"].items()}


def api_secrets(settings: BootstrapSettings) -> list[dict[str, Any]]:
    """The environment's secrets, those scheduled for deletion too."""
    listed = aws.client(settings, "secretsmanager").list_secrets(
        IncludePlannedDeletion=True,
        Filters=[{"Key": "name", "Values": [f"prefect/{settings.environment}/"]}],
    )
    return list(listed["SecretList"])


def tagged_vpcs(settings: BootstrapSettings) -> list[dict[str, Any]]:
    tags = {"Environment": settings.environment, "Project": "bootstrap-flows"}
    filters = [{"Name": f"tag:{key}", "Values": [value]} for key, value in tags.items()]
    return list(aws.client(settings, "ec2").describe_vpcs(Filters=filters)["Vpcs"])
