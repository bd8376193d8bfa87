"""An IMMUTABLE ECR repository keeps each tag on its first image, on the embedded default too.

On AWS a careful client asks ECR before pushing (the image stage does: a tag ECR holds is not
pushed again), and ECR refuses a push that would move an immutable tag. Locally the registry
takes any push; the refusal comes from the emulated ECR's PutImage, which the push's recorder
calls (bootstrap_local/registry.py register_in_ecr), and the registry's tag goes back.
Needs dockerd, like tests/integration/test_image.py, whose helpers (tests/support/images.py)
it shares.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from pathlib import Path

import docker
import httpx
import pytest

from bootstrap_flows import image
from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.image.errors import ImagePushError
from bootstrap_local import registry
from tests.support import images
from tests.support.images import (
    FIXTURES,
    LOG,
    image_settings,
    local_settings,
    registry_manifest,
    tiny,
)

engine = images.engine
moto_port = images.moto_port


def _other(tmp_path: Path) -> image.ImageSource:
    """The tiny image with other content: another image."""
    directory = tmp_path / "other"
    shutil.copytree(FIXTURES / "scratch", directory)
    (directory / "hello.txt").write_text(f"another image {uuid.uuid4()}\n")
    return image.ImageSource(
        directory=directory, extra={}, local_repository="bootstrap-flows-test/other"
    )


def _registry_tag(host: str, repository: str, tag: str, password: str) -> httpx.Response:
    response = registry_manifest(host, repository, tag, password)
    response.raise_for_status()
    return response


@pytest.mark.slow
def test_an_immutable_tag_is_pushed_once_and_never_moved(
    tmp_path: Path, moto_port: int, engine: docker.DockerClient
) -> None:
    local = local_settings(tmp_path / "state", moto_port)
    settings = image_settings(local)
    name = f"prefect-local/immutable-{uuid.uuid4().hex[:8]}"
    ecr = aws.client(settings, "ecr")
    url = ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")["repository"][
        "repositoryUri"
    ]
    host = registry.registry_up(settings, local)
    password = registry.emulated_ecr_password(settings)
    made: list[str] = []
    try:
        built = image.build_image(settings, LOG, source=tiny(tmp_path))
        made.append(built.local_name)
        first = image.push_image(settings, built, name, url, LOG)
        # The same content tag again: ECR is asked first and has it, so nothing is pushed.
        again = image.push_image(settings, built, name, url, LOG)
        assert again.skipped and again.digest == first.digest

        # Another image under that tag, as a second client pushes it: the plain registry takes
        # it, ECR's PutImage (the push's last step on AWS) refuses it.
        other = image.build_image(settings, LOG, source=_other(tmp_path))
        made.append(other.local_name)
        engine.api.tag(other.image_id, f"{host}/{name}", first.tag)
        made.append(f"{host}/{name}:{first.tag}")
        auth = {"username": "AWS", "password": password}
        pushing = engine.api.push(
            f"{host}/{name}", first.tag, auth_config=auth, decode=True, stream=True
        )
        events = list(pushing)
        assert not [e for e in events if "error" in e], events
        moved = _registry_tag(host, name, first.tag, password)
        digest = moved.headers["docker-content-digest"]
        assert digest != first.digest
        said = (
            f"push of {name}:{first.tag} refused: tag invalid: The image tag '{first.tag}' already "
            f"exists in the '{name}' repository and cannot be overwritten because the repository "
            "is immutable."
        )
        with pytest.raises(ImagePushError, match=f"^{re.escape(said)}$"):
            registry.register_in_ecr(
                settings, name, first.tag, digest, moved.text, moved.headers["content-type"]
            )
        # Nothing moved: the registry's tag is back on the first image, and ECR's never left.
        back = _registry_tag(host, name, first.tag, password)
        assert back.headers["docker-content-digest"] == first.digest
        held = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": first.tag}])
        assert held["imageDetails"][0]["imageDigest"] == first.digest
    finally:
        registry.registry_down(local)
        for reference in made:
            with contextlib.suppress(docker.errors.APIError):
                engine.api.remove_image(reference, force=True)
