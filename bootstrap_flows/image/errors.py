"""The image stage's errors: one readable message each, naming the step that failed."""

from __future__ import annotations

from bootstrap_flows.errors import BootstrapError


class ImageError(BootstrapError):
    """The image stage failed; the message says where and what to do."""


class ImageBuildError(ImageError):
    """The build failed: a step, the base image, or the build context."""


class ImagePushError(ImageError):
    """Login, push, digest check or ECR registration failed."""


class RepositoryMissing(ImagePushError):
    """The stack's ECR repository does not exist (yet): the platform stack makes it."""
