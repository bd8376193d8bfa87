"""ECR as AWS answers it where teardown's drain and receipt depend on it
(tests/unit/local/test_moto_ecr.py).

- Pages: DescribeImages and DescribeRepositories answer at most 100 items without
  `maxResults` (1 to 1000 with it) and a nextToken; moto answers everything at once.
- BatchDeleteImage takes at most 100 imageIds (InvalidParameterException, with AWS's
  message); moto takes any number.
- PutImage (the call that sets a pushed image's tag) of a tag the repository holds for another
  image, in an IMMUTABLE repository: AWS refuses with ImageTagAlreadyExistsException ("The
  image tag '<tag>' already exists in the '<repository>' repository and cannot be overwritten
  because the repository is immutable.", what `docker push` shows after "tag invalid: ").
  moto refuses with ImageAlreadyExistsException, which AWS keeps for a push of the same image
  with the same tag: a client that takes that one as "already there" would let the other image
  pass unseen.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.exceptions import ImageAlreadyExistsException, InvalidParameterException
from moto.ecr.responses import ECRResponse

from bootstrap_local.aws_like.limits import Respond, at_most, paged, wrap

PAGE, MOST_PER_PAGE = 100, 1000
DELETE_MOST = 100


class ImageTagAlreadyExistsException(ServiceException):
    """AWS's answer to a PutImage that would move an immutable tag (moto has no such class)."""

    code = "ImageTagAlreadyExistsException"

    def __init__(self, repository_name: str, tag: str) -> None:
        super().__init__(
            f"The image tag '{tag}' already exists in the '{repository_name}' repository "
            "and cannot be overwritten because the repository is immutable."
        )


def _immutable_tags(respond: Respond) -> Respond:
    """PutImage answering an immutable tag held by another image as AWS does."""

    @functools.wraps(respond)
    def put_image(response: Any) -> ActionResult:
        try:
            return respond(response)
        except ImageAlreadyExistsException:
            name = response._get_param("repositoryName")
            tag = response._get_param("imageTag")
            manifest = response._get_param("imageManifest")
            images = response.ecr_backend.repositories[name].images
            tagged = [image for image in images if tag is not None and tag in image.image_tags]
            if tagged and all(image.image_manifest != manifest for image in tagged):
                raise ImageTagAlreadyExistsException(name, tag) from None
            raise

    return put_image


def ecr_like_aws() -> None:
    """Every patch of the module's docstring."""
    wrap(ECRResponse, "put_image", "immutable", _immutable_tags)
    for action, key in (
        ("describe_images", "imageDetails"),
        ("describe_repositories", "repositories"),
    ):
        wrap(
            ECRResponse,
            action,
            "pages",
            functools.partial(
                paged, key=key, default=PAGE, most=MOST_PER_PAGE, refuse=InvalidParameterException
            ),
        )
    wrap(
        ECRResponse,
        "batch_delete_image",
        "batch",
        lambda respond: at_most(
            respond,
            "imageIds",
            DELETE_MOST,
            InvalidParameterException,
            "Invalid parameter at 'imageIds' failed to satisfy constraint: "
            f"'Member must have length less than or equal to {DELETE_MOST}'",
        ),
    )
