"""What goes into the worker image and what the build and the push hand to the next stage."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from bootstrap_flows.config.environments import DEPLOYMENTS_DIR, PROJECT_ROOT

LoggerLike: TypeAlias = logging.Logger | logging.LoggerAdapter[Any]

WORKER_DIR = PROJECT_ROOT / "worker"
LOCAL_REPOSITORY = "bootstrap-flows/worker"


class ImageSource(BaseModel):
    """What goes into the build context: `directory` (with the Dockerfile) and extra folders."""

    model_config = ConfigDict(frozen=True)

    directory: Path = WORKER_DIR
    extra: dict[str, Path] = Field(default_factory=lambda: {"deployments": DEPLOYMENTS_DIR})
    local_repository: str = LOCAL_REPOSITORY


class BuiltImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    tag: str
    image_id: str
    content_hash: str
    local_name: str
    base_image: str | None
    size_bytes: int
    cached: bool = Field(description="No step ran: the image came from the local cache.")
    build_seconds: float
    base_seconds: float = Field(description="Time spent building the OS-packages base.")


class PushedImage(BaseModel):
    model_config = ConfigDict(frozen=True)

    uri: str = Field(description="Repository URI with digest: what the task definition uses.")
    digest: str
    tag: str
    skipped: bool = Field(description="ECR already had the tag: nothing was pushed.")
    promoted_from: str | None = Field(
        default=None,
        description="The environment whose passed image this is (promote_from), if any.",
    )
    size_bytes: int | None = Field(description="Compressed size (config + layers).")
    push_seconds: float
