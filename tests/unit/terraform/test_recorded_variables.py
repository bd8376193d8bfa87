"""The variables each stack was last applied with, kept beside its state for teardown."""

from __future__ import annotations

import pytest
from moto import mock_aws

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.terraform import stacks

BUCKET = "prefect-dev-tfstate-123456789012"


def test_recorded_beside_the_state_and_written_only_when_they_change() -> None:
    settings = load_settings(
        environment="dev",
        prefect_api_url="https://prefect.example.invalid/api",
        prefect_api_auth_string="user:pass",
    )
    variables = {"environment": "dev", "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/c"}
    with mock_aws():
        s3 = aws.client(settings, "s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        assert stacks.recorded_variables(settings, "server", BUCKET) == {}  # never applied
        stacks.record_variables(settings, "server", BUCKET, variables)
        stacks.record_variables(settings, "server", BUCKET, dict(variables))  # unchanged
        assert stacks.recorded_variables(settings, "server", BUCKET) == variables
        key = stacks.variables_key(settings, "server")
        assert key == "server/dev.tfvars.json"  # beside server/dev.tfstate
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
        assert len(versions) == 1
        stacks.record_variables(settings, "server", BUCKET, variables | {"port": 8443})
        assert stacks.recorded_variables(settings, "server", BUCKET)["port"] == 8443
        with pytest.raises(Exception, match="NoSuchBucket"):
            stacks.recorded_variables(settings, "server", "no-such-bucket")
