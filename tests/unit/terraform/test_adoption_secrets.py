"""Re-bootstrap after teardown: the secret a teardown scheduled for deletion is restored and
adopted, by the lookup adoption runs for every planned create (in-process moto as AWS, made to
refuse such a create as AWS does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws
from moto.secretsmanager.models import SecretsManagerBackend

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.terraform.adoption import Create, match
from bootstrap_flows.terraform.adoption_aws import AwsLookup
from bootstrap_local import aws_like

ADDRESS = "module.secrets.aws_secretsmanager_secret.this"
NAME = "prefect/dev/prefect-api-key"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[BootstrapSettings]:
    # Patched for this test only: the original comes back afterwards.
    original = SecretsManagerBackend.create_secret
    monkeypatch.setattr(SecretsManagerBackend, "create_secret", original)
    aws_like.secrets_like_aws()
    with mock_aws():
        yield load_settings(
            environment="dev",
            prefect_api_auth_string="user:pass",
            prefect_api_url="https://prefect.example.invalid/api",
        )


def torn_down(secrets: Any, name: str = NAME) -> str:
    """A secret as teardown leaves it: its value kept, scheduled for deletion in 7 days."""
    arn: str = secrets.create_secret(Name=name, SecretString="user:pass")["ARN"]
    secrets.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    return arn


def adopted(settings: BootstrapSettings, name: str = NAME) -> dict[str, Any]:
    create = Create(ADDRESS, "aws_secretsmanager_secret", {"name": name})
    found = match([create], AwsLookup(settings)([create]), owned=set())
    return {address: (each.id, each.label) for address, each in found.items()}


def test_a_secret_scheduled_for_deletion_is_restored_and_adopted(
    settings: BootstrapSettings,
) -> None:
    secrets = aws.client(settings, "secretsmanager")
    arn = torn_down(secrets)
    deleted = secrets.describe_secret(SecretId=arn)["DeletedDate"]
    other = torn_down(secrets, "prefect/prod/prefect-api-key")  # another environment's
    with pytest.raises(secrets.exceptions.InvalidRequestException, match="scheduled for deletion"):
        secrets.create_secret(Name=NAME)  # what the planned create would meet without this

    assert adopted(settings) == {
        ADDRESS: (arn, f"secret {arn} (scheduled for deletion on {deleted:%Y-%m-%d}: restored)")
    }
    assert "DeletedDate" not in secrets.describe_secret(SecretId=arn)
    assert secrets.get_secret_value(SecretId=arn)["SecretString"] == "user:pass"
    assert "DeletedDate" in secrets.describe_secret(SecretId=other)  # not looked at
    # Found again (a second plan round), it is a live secret: adopted, nothing to restore.
    assert adopted(settings) == {ADDRESS: (arn, f"secret {arn}")}


def test_no_secret_of_that_name_means_a_create(settings: BootstrapSettings) -> None:
    torn_down(aws.client(settings, "secretsmanager"), "prefect/prod/prefect-api-key")
    assert adopted(settings) == {}
