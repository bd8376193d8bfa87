"""ECR's pages, batch delete limit and immutable tags answer as on AWS
(bootstrap_local/aws_like/ecr.py).

Each `test_stock_moto_*` shows why a patch exists: if one fails, moto does what AWS does
there; drop that part of the patch and its test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ecr.responses import ECRResponse

from bootstrap_local import aws_like
from bootstrap_local.aws_like.limits import stock

PATCHED = ("describe_images", "describe_repositories", "batch_delete_image", "put_image")


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the originals come back afterwards)."""
    for name in PATCHED:
        monkeypatch.setattr(ECRResponse, name, stock(ECRResponse, name))
    with mock_aws():
        yield boto3.client("ecr", region_name="us-east-1")


def push(ecr: Any, count: int) -> list[dict[str, str]]:
    """`count` images (one tag each) in repository `repo`; their image IDs by digest."""
    ecr.create_repository(repositoryName="repo")
    digests = []
    for n in range(count):
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": f"sha256:{n:064x}", "size": 1},
            # moto's image digest is that of the layers' digests: one layer each, one digest.
            "layers": [{"digest": f"sha256:{n:064x}", "size": 1}],
        }
        image = ecr.put_image(
            repositoryName="repo", imageManifest=json.dumps(manifest), imageTag=f"t{n}"
        )["image"]
        digests.append({"imageDigest": image["imageId"]["imageDigest"]})
    return digests


def test_stock_moto_answers_every_image_in_one_page_and_deletes_more_than_100(ecr: Any) -> None:
    ids = push(ecr, 101)
    listed = ecr.describe_images(repositoryName="repo", maxResults=10)
    assert len(listed["imageDetails"]) == 101 and "nextToken" not in listed
    assert len(ecr.batch_delete_image(repositoryName="repo", imageIds=ids)["imageIds"]) == 101


def test_stock_moto_answers_every_repository_in_one_page(ecr: Any) -> None:
    for n in range(101):
        ecr.create_repository(repositoryName=f"repo-{n}")
    listed = ecr.describe_repositories()
    assert len(listed["repositories"]) == 101 and "nextToken" not in listed


def test_images_and_repositories_answer_in_pages_as_on_aws(ecr: Any) -> None:
    aws_like.ecr_like_aws()
    aws_like.ecr_like_aws()  # a second patch must not wrap the first
    push(ecr, 101)
    first = ecr.describe_images(repositoryName="repo")
    assert len(first["imageDetails"]) == 100
    rest = ecr.describe_images(repositoryName="repo", nextToken=first["nextToken"])
    assert [i["imageTags"] for i in rest["imageDetails"]] == [["t100"]]
    assert "nextToken" not in rest
    pages = ecr.get_paginator("describe_images").paginate(repositoryName="repo")
    assert sum(len(p["imageDetails"]) for p in pages) == 101
    for n in range(100):
        ecr.create_repository(repositoryName=f"repo-{n}")
    first = ecr.describe_repositories()
    assert len(first["repositories"]) == 100 and first["nextToken"]


def test_a_batch_delete_over_100_images_is_refused_as_on_aws(ecr: Any) -> None:
    aws_like.ecr_like_aws()
    ids = push(ecr, 101)
    with pytest.raises(ecr.exceptions.InvalidParameterException, match="less than or equal to 100"):
        ecr.batch_delete_image(repositoryName="repo", imageIds=ids)
    assert len(ecr.describe_images(repositoryName="repo", maxResults=1000)["imageDetails"]) == 101
    assert len(ecr.batch_delete_image(repositoryName="repo", imageIds=ids[:100])["imageIds"]) == 100


def manifest(n: int) -> str:
    """Image `n`'s manifest (one layer)."""
    layer = {"digest": f"sha256:{n:064x}", "size": 1}
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": layer,
            "layers": [layer],
        }
    )


def put(ecr: Any, repository: str, n: int, tag: str = "v1") -> str:
    image = ecr.put_image(repositoryName=repository, imageManifest=manifest(n), imageTag=tag)
    return str(image["image"]["imageId"]["imageDigest"])


def test_stock_moto_refuses_an_immutable_tag_as_if_the_image_were_there(ecr: Any) -> None:
    ecr.create_repository(repositoryName="repo", imageTagMutability="IMMUTABLE")
    put(ecr, "repo", 1)
    with pytest.raises(ecr.exceptions.ImageAlreadyExistsException):
        put(ecr, "repo", 2)


def test_an_immutable_tag_of_another_image_is_refused_as_on_aws(ecr: Any) -> None:
    aws_like.ecr_like_aws()
    aws_like.ecr_like_aws()  # a second patch must not wrap the first
    ecr.create_repository(repositoryName="repo", imageTagMutability="IMMUTABLE")
    first = put(ecr, "repo", 1)
    said = (
        "The image tag 'v1' already exists in the 'repo' repository and cannot be "
        "overwritten because the repository is immutable."
    )
    with pytest.raises(ecr.exceptions.ImageTagAlreadyExistsException) as refused:
        put(ecr, "repo", 2)
    assert refused.value.response["Error"]["Message"] == said
    # The same image again is "already there", as on AWS; the tag still names the first.
    with pytest.raises(ecr.exceptions.ImageAlreadyExistsException):
        put(ecr, "repo", 1)
    described = ecr.describe_images(repositoryName="repo", imageIds=[{"imageTag": "v1"}])
    assert described["imageDetails"][0]["imageDigest"] == first
    # A mutable repository moves the tag.
    ecr.create_repository(repositoryName="loose")
    put(ecr, "loose", 1)
    moved = put(ecr, "loose", 2)
    described = ecr.describe_images(repositoryName="loose", imageIds=[{"imageTag": "v1"}])
    assert described["imageDetails"][0]["imageDigest"] == moved != first
