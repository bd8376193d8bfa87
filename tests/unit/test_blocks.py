"""The storage blocks' merge, computed without a server: what bootstrap owns, what a user keeps."""

from __future__ import annotations

from uuid import uuid4

from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from pydantic import SecretStr

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.prefect_side.blocks import (
    StorageBlocks,
    block_names,
    result_env,
    updated_bucket,
    updated_credentials,
)

ENDPOINT = "http://127.0.0.1:4566"


def saved(credentials: AwsCredentials) -> AwsCredentials:
    """As loaded from Prefect: a block document of its own."""
    credentials._block_document_id = uuid4()
    return credentials


def test_new_credentials_carry_region_and_endpoint_and_no_keys() -> None:
    made = updated_credentials(None, "eu-west-1", ENDPOINT)
    assert made is not None
    assert made.region_name == "eu-west-1"
    assert made.aws_client_parameters.endpoint_url == ENDPOINT
    assert (made.aws_access_key_id, made.aws_secret_access_key, made.profile_name) == (
        None,
        None,
        None,
    )
    # On AWS there is no endpoint: boto3's own resolution, and the task role's credentials.
    aws = updated_credentials(None, "eu-west-1", None)
    assert aws is not None and aws.aws_client_parameters.endpoint_url is None


def test_credentials_already_right_are_not_rewritten() -> None:
    current = updated_credentials(None, "eu-west-1", ENDPOINT)
    assert updated_credentials(current, "eu-west-1", ENDPOINT) is None


def test_a_users_other_credentials_fields_survive_a_region_change() -> None:
    current = AwsCredentials(
        region_name="us-east-1",
        profile_name="ops",
        aws_secret_access_key=SecretStr("user-set"),
        aws_client_parameters=AwsClientParameters(endpoint_url=ENDPOINT, verify=False),
    )
    again = updated_credentials(current, "eu-west-1", ENDPOINT)
    assert again is not None
    assert again.region_name == "eu-west-1"
    assert again.profile_name == "ops"
    assert again.aws_secret_access_key is not None
    assert again.aws_secret_access_key.get_secret_value() == "user-set"
    assert again.aws_client_parameters.verify is False
    assert again.aws_client_parameters.endpoint_url == ENDPOINT


def test_bucket_blocks_name_the_bucket_and_the_saved_credentials() -> None:
    credentials = saved(AwsCredentials(region_name="us-east-1"))
    made = updated_bucket(None, "p-local-results-123456789012", credentials)
    assert made is not None
    assert made.bucket_name == "p-local-results-123456789012"
    assert made.credentials is credentials
    made.bucket_folder = "team-a"  # a user's edit
    assert updated_bucket(made, "p-local-results-123456789012", credentials) is None
    moved = updated_bucket(made, "p-local-results-210987654321", credentials)
    assert moved is not None and moved.bucket_folder == "team-a"
    other = saved(AwsCredentials(region_name="us-east-1"))
    repointed = updated_bucket(made, "p-local-results-123456789012", other)
    assert repointed is not None and repointed.credentials is other


def test_names_follow_the_stack_and_results_go_to_the_results_block(clean_env: None) -> None:
    settings = load_settings(name_prefix="acme", environment="local")
    assert block_names(settings) == ("acme-local", "acme-local-code", "acme-local-results")
    blocks = StorageBlocks(
        credentials="aws-credentials/acme-local",
        code="s3-bucket/acme-local-code",
        results="s3-bucket/acme-local-results",
        code_bucket="c",
        results_bucket="r",
    )
    assert result_env(blocks) == {
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": "s3-bucket/acme-local-results",
    }
    assert S3Bucket.get_block_type_slug() == blocks.results.split("/")[0]
