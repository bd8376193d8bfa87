"""ECR answers and what the push keeps: sizes from manifests, ECR errors, no password shown."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from bootstrap_flows.image import ImagePushError, RepositoryMissing
from bootstrap_flows.image.push import PushDestination, describe_tag, manifest_size


def test_manifest_size_is_config_plus_layers() -> None:
    manifest = {"config": {"size": 1469}, "layers": [{"size": 32}, {"size": 2_811_969}]}
    assert manifest_size(manifest) == 1469 + 32 + 2_811_969
    assert manifest_size({"layers": [{"size": 5}, {}]}) == 5
    assert manifest_size({"config": {"size": 7}, "layers": []}) == 7


def test_an_index_has_no_single_size() -> None:
    index = {"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{"size": 9}]}
    assert manifest_size(index) is None


def _ecr() -> tuple[object, Stubber]:
    ecr = boto3.session.Session().client(
        "ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return ecr, Stubber(ecr)


def test_describe_tag_found_and_not_found() -> None:
    ecr, stub = _ecr()
    detail = {"imageDigest": "sha256:abc", "imageTags": ["t1"], "imageSizeInBytes": 10}
    stub.add_response("describe_images", {"imageDetails": [detail]})
    stub.add_client_error("describe_images", service_error_code="ImageNotFoundException")
    stub.add_response("describe_images", {"imageDetails": []})
    with stub:
        assert describe_tag(ecr, "repo", "t1") == detail
        assert describe_tag(ecr, "repo", "t2") is None
        assert describe_tag(ecr, "repo", "t3") is None


def test_a_missing_repository_is_repository_missing() -> None:
    ecr, stub = _ecr()
    stub.add_client_error("describe_images", service_error_code="RepositoryNotFoundException")
    with stub, pytest.raises(RepositoryMissing, match="apply the platform stack first"):
        describe_tag(ecr, "repo", "t")


def test_other_ecr_errors_are_not_repository_missing() -> None:
    ecr, stub = _ecr()
    stub.add_client_error(
        "describe_images",
        service_error_code="ExpiredTokenException",
        service_message="The security token included in the request is expired",
        http_status_code=400,
    )
    with stub, pytest.raises(ImagePushError, match="ExpiredTokenException") as caught:
        describe_tag(ecr, "repo", "t")
    assert not isinstance(caught.value, RepositoryMissing)
    assert isinstance(caught.value.__cause__, ClientError)


def test_push_destination_never_shows_the_password() -> None:
    destination = PushDestination(
        host="123456789012.dkr.ecr.us-east-1.amazonaws.com",
        repository="prefect-dev/worker",
        user="AWS",
        password="s3cr3t-ecr-token",
    )
    assert "s3cr3t" not in repr(destination) and "s3cr3t" not in str(destination)
    assert destination.auth == {"username": "AWS", "password": "s3cr3t-ecr-token"}
    assert destination.target == "123456789012.dkr.ecr.us-east-1.amazonaws.com/prefect-dev/worker"
