"""The image stage as the bootstrap flow runs it: ask ECR first, build and push only what is
missing. The build starts at once, in parallel with the platform apply; only the push waits
for the repository.
"""

from __future__ import annotations

from collections.abc import Mapping

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image.build import build_image
from bootstrap_flows.image.context import image_tag
from bootstrap_flows.image.errors import ImagePushError, RepositoryMissing
from bootstrap_flows.image.models import BuiltImage, ImageSource, LoggerLike, PushedImage
from bootstrap_flows.image.push import ecr_has_tag, find_in_ecr, push_image


def build_unless_in_ecr(
    settings: BootstrapSettings,
    repository_name: str,
    logger: LoggerLike,
    source: ImageSource | None = None,
    build_args: Mapping[str, str] | None = None,
) -> BuiltImage | None:
    """Build the image unless ECR already holds its content tag (then None).

    Only a missing repository means "not there yet": on a first bootstrap the platform stack
    is creating it while this runs. Any other ECR error (expired credentials, no permission)
    surfaces here instead of after a build that could never be pushed.
    """
    tag = image_tag(settings, source, build_args)
    try:
        present = ecr_has_tag(settings, repository_name, tag)
    except RepositoryMissing:
        present = False
    if present:
        logger.info("ECR already has %s:%s; not building", repository_name, tag)
        return None
    return build_image(settings, logger, source, build_args)


def push_unless_in_ecr(
    settings: BootstrapSettings,
    built: BuiltImage | None,
    repository_name: str,
    repository_url: str,
    logger: LoggerLike,
    source: ImageSource | None = None,
    build_args: Mapping[str, str] | None = None,
) -> PushedImage:
    """Push what `build_unless_in_ecr` built; with nothing built, the image ECR already has."""
    if built is not None:
        return push_image(settings, built, repository_name, repository_url, logger)
    found = find_in_ecr(
        settings, repository_name, repository_url, image_tag(settings, source, build_args)
    )
    if found is None:
        raise ImagePushError(f"the image vanished from ECR repository {repository_name}; re-run")
    return found
