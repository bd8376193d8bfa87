"""ECR as AWS answers it where teardown's drain and receipt depend on it
(tests/unit/local/test_moto_ecr.py).

- Pages: DescribeImages and DescribeRepositories answer at most 100 items without
  `maxResults` (1 to 1000 with it) and a nextToken; moto answers everything at once.
- BatchDeleteImage takes at most 100 imageIds (InvalidParameterException, with AWS's
  message); moto takes any number.
"""

from __future__ import annotations

import functools

from moto.ecr.exceptions import InvalidParameterException
from moto.ecr.responses import ECRResponse

from bootstrap_local.aws_like.limits import at_most, paged, wrap

PAGE, MOST_PER_PAGE = 100, 1000
DELETE_MOST = 100


def ecr_like_aws() -> None:
    """Every patch of the module's docstring."""
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
