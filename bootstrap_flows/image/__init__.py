"""The image stage: build the Prefect worker image, push it to the stack's ECR repository.

    stage    what the bootstrap flow runs: build and push only what ECR does not have yet
    models   what goes in (ImageSource) and what comes out (BuiltImage, PushedImage)
    errors   ImageError and its kinds; only RepositoryMissing means "not there yet"
    context  the build context, its hash and the content tag
    base     the base image: resolved, pulled, or built from Debian packages (fallback)
    build    the Docker build and its event stream
    push     ECR look-up, login, push, digest check
    promote  the image that passed another environment's e2e test flow, copied registry to
             registry into this one's repository (`promote_from`), and the record of a pass
    engine   the Docker client and the failures its streams report
    platform the CPU architecture: Docker's platform for Fargate's, and the check before a push

The tag is a hash of everything that goes into the image, so the flow knows before any build
whether ECR already has the image. Build and push go through the Docker SDK; every stream event
is checked and a failure becomes one ImageBuildError / ImagePushError naming the step.
"""

from __future__ import annotations

from bootstrap_flows.image.base import FALLBACK_BASE, ensure_fallback_base, fallback_recipe
from bootstrap_flows.image.build import HASH_LABEL, build_image
from bootstrap_flows.image.context import TAG_LENGTH, image_tag
from bootstrap_flows.image.errors import (
    ImageBuildError,
    ImageError,
    ImagePushError,
    RepositoryMissing,
)
from bootstrap_flows.image.models import BuiltImage, ImageSource, LoggerLike, PushedImage
from bootstrap_flows.image.platform import ArchitectureMismatch, docker_platform
from bootstrap_flows.image.push import MANIFEST_TYPES, ecr_has_tag, find_in_ecr, push_image
from bootstrap_flows.image.stage import build_unless_in_ecr, push_unless_in_ecr

__all__ = [
    "ArchitectureMismatch",
    "FALLBACK_BASE",
    "HASH_LABEL",
    "MANIFEST_TYPES",
    "TAG_LENGTH",
    "BuiltImage",
    "ImageBuildError",
    "ImageError",
    "ImagePushError",
    "ImageSource",
    "LoggerLike",
    "PushedImage",
    "RepositoryMissing",
    "build_image",
    "build_unless_in_ecr",
    "docker_platform",
    "ecr_has_tag",
    "ensure_fallback_base",
    "fallback_recipe",
    "find_in_ecr",
    "image_tag",
    "push_image",
    "push_unless_in_ecr",
]
