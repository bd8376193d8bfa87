"""A secret scheduled for deletion, and a repository that holds images, answer as on AWS.

Since the emulator keeps AWS's 7-day recovery window and no force delete (issue 23), a
re-bootstrap meets the same refusals there as on AWS; these show moto gives them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.secretsmanager.models import SecretsManagerBackend

from bootstrap_local import aws_like
from bootstrap_local.aws_like.limits import stock
from bootstrap_local.aws_like.secretsmanager import SCHEDULED_FOR_DELETION

NAME = "prefect/local/prefect-api-key"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the original comes back afterwards)."""
    monkeypatch.setattr(
        SecretsManagerBackend, "create_secret", stock(SecretsManagerBackend, "create_secret")
    )
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def scheduled_for_deletion(secrets: Any) -> str:
    """A secret deleted as teardown deletes it (Terraform: a 7-day recovery window)."""
    arn: str = secrets.create_secret(Name=NAME)["ARN"]
    secrets.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    return arn


def test_stock_moto_says_already_exists_for_a_name_scheduled_for_deletion(secrets: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop the patch."""
    scheduled_for_deletion(secrets)
    with pytest.raises(secrets.exceptions.ResourceExistsException, match="already exists"):
        secrets.create_secret(Name=NAME)


def test_a_name_scheduled_for_deletion_is_refused_as_on_aws(secrets: Any) -> None:
    aws_like.secrets_like_aws()
    aws_like.secrets_like_aws()  # a second patch must not wrap the first
    arn = scheduled_for_deletion(secrets)
    with pytest.raises(secrets.exceptions.InvalidRequestException) as refused:
        secrets.create_secret(Name=NAME, ClientRequestToken="a" * 32)
    assert refused.value.response["Error"]["Message"] == SCHEDULED_FOR_DELETION
    # Restored, it is a live secret again: a create is the ordinary "already exists".
    secrets.restore_secret(SecretId=arn)
    assert "DeletedDate" not in secrets.describe_secret(SecretId=NAME)
    with pytest.raises(secrets.exceptions.ResourceExistsException):
        secrets.create_secret(Name=NAME)
    # Gone for good, the name is free; other names never were refused.
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert secrets.create_secret(Name=NAME)["ARN"] != arn
    secrets.create_secret(Name=f"{NAME}-other")


def test_moto_refuses_to_delete_a_repository_that_holds_images_as_aws_does() -> None:
    """Teardown deletes only the images bootstrap pushed and never forces the repository's
    delete: anyone else's image must stop it on the emulator too (no patch needed)."""
    with mock_aws():
        ecr = boto3.client("ecr", region_name="us-east-1")
        ecr.create_repository(repositoryName="prefect-local-worker")
        manifest = json.dumps(
            {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": {}, "layers": []}
        )
        ecr.put_image(repositoryName="prefect-local-worker", imageManifest=manifest, imageTag="x")
        with pytest.raises(ecr.exceptions.RepositoryNotEmptyException):
            ecr.delete_repository(repositoryName="prefect-local-worker")
        ecr.delete_repository(repositoryName="prefect-local-worker", force=True)
