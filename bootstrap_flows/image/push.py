"""ECR: is the image there already, and the push that puts it there, verified by digest.

ECR's credentials go to the engine through the SDK only: never a command line, never a log,
never an exception's cause (see the note above _login). The target says which registry host takes
the push and, when ECR's API cannot see that registry, how to record the image in ECR.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import httpx
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import PushRecorder, resolve
from bootstrap_flows.image.engine import docker_client, stream_error
from bootstrap_flows.image.errors import ImagePushError, RepositoryMissing
from bootstrap_flows.image.models import BuiltImage, LoggerLike, PushedImage
from bootstrap_flows.image.platform import check_architecture
from bootstrap_flows.safety.preflight import is_loopback

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)

_LAYER_DONE = ("Pushed", "Layer already exists", "Mounted from")


def manifest_size(manifest: Mapping[str, Any]) -> int | None:
    """Compressed size of an image manifest (config + layers); None for an index."""
    if "layers" not in manifest:
        return None
    sizes = [int(layer.get("size", 0)) for layer in manifest["layers"]]
    return int(manifest.get("config", {}).get("size", 0)) + sum(sizes)


# --- ECR's API ---------------------------------------------------------------------------------


def _ecr_call(operation: str, call: Any, **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ImagePushError(
            f"ECR {operation} failed: {error.get('Code')}: {error.get('Message')}"
        ) from exc
    except BotoCoreError as exc:
        raise ImagePushError(f"ECR {operation} failed: {exc}") from exc


def describe_tag(ecr: Any, repository_name: str, tag: str) -> Mapping[str, Any] | None:
    """ECR's details of `tag`, or None; a missing repository is RepositoryMissing, not None."""
    try:
        response = ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    except ecr.exceptions.RepositoryNotFoundException as exc:
        raise RepositoryMissing(
            f"ECR repository {repository_name!r} does not exist; apply the platform stack first"
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise ImagePushError(f"ECR describe_images failed: {exc}") from exc
    details: list[Mapping[str, Any]] = response.get("imageDetails") or []
    return details[0] if details else None


def ecr_has_tag(settings: BootstrapSettings, repository_name: str, tag: str) -> bool:
    """Whether ECR holds `tag`; raises RepositoryMissing when the repository is not there."""
    return describe_tag(aws.client(settings, "ecr"), repository_name, tag) is not None


def find_in_ecr(
    settings: BootstrapSettings, repository_name: str, repository_url: str, tag: str
) -> PushedImage | None:
    """The image ECR already holds under `tag`, or None."""
    started = time.monotonic()
    ecr = aws.client(settings, "ecr")
    detail = describe_tag(ecr, repository_name, tag)
    if detail is None:
        return None
    digest = str(detail["imageDigest"])
    size = detail.get("imageSizeInBytes")
    # The emulator reports only the config's size; the stored manifest gives the real one.
    with contextlib.suppress(ClientError, BotoCoreError, KeyError, IndexError, ValueError):
        images = ecr.batch_get_image(
            repositoryName=repository_name,
            imageIds=[{"imageDigest": digest}],
            acceptedMediaTypes=list(MANIFEST_TYPES),
        )["images"]
        size = manifest_size(json.loads(images[0]["imageManifest"])) or size
    return PushedImage(
        uri=f"{push_repository(settings, repository_name, repository_url)}@{digest}",
        digest=digest,
        tag=tag,
        skipped=True,
        size_bytes=int(size) if size is not None else None,
        push_seconds=round(time.monotonic() - started, 3),
    )


def push_repository(settings: BootstrapSettings, repository_name: str, repository_url: str) -> str:
    host = resolve(settings).registry_host
    return f"{host}/{repository_name}" if host else repository_url


# --- the registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushDestination:
    """Where the push goes and the ECR credentials for it (the password is kept out of repr)."""

    host: str
    repository: str
    user: str
    password: str = field(repr=False)
    # Set when the target pushes to its own registry host instead of ECR's endpoint.
    override: bool = False
    recorder: PushRecorder | None = None
    # The target's advice when the registry refuses the login or does not answer.
    hint: str = ""

    @property
    def target(self) -> str:
        return f"{self.host}/{self.repository}"

    @property
    def auth(self) -> dict[str, str]:
        return {"username": self.user, "password": self.password}


def registry_destination(
    settings: BootstrapSettings, repository_name: str, repository_url: str
) -> PushDestination:
    ecr = aws.client(settings, "ecr")
    user, password, ecr_host = _ecr_call("get_authorization_token", aws.ecr_login, ecr=ecr)
    push_target = resolve(settings)
    override = push_target.registry_host
    return PushDestination(
        host=override or ecr_host or repository_url.split("/", 1)[0],
        repository=repository_name,
        user=user,
        password=password,
        override=bool(override),
        recorder=push_target.push_recorder,
        hint=push_target.registry_hint,
    )


# The SDK's and httpx's exceptions keep the request they failed on, and its headers or body
# carry the registry password: those errors are raised `from None` so no cause (printed,
# pickled into a Prefect state) can show it.


def _login(client: docker.DockerClient, destination: PushDestination) -> None:
    host = destination.host
    try:
        client.api.login(
            username=destination.user, password=destination.password, registry=host, reauth=True
        )
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or exc)
        hint = f" ({destination.hint})" if destination.hint else ""
        if "401" in explanation or "unauthorized" in explanation.lower():
            raise ImagePushError(
                f"registry {host} rejected the ECR credentials (401 Unauthorized){hint}"
            ) from None  # the cause holds the login request, password in its body (see above)
        message = f"cannot log in to registry {host}{hint}: {explanation}"
        raise ImagePushError(message) from None  # as above: the request holds the password


def _push(
    client: docker.DockerClient, destination: PushDestination, tag: str, logger: LoggerLike
) -> str:
    """Push `target:tag`; return the digest the registry reported."""
    target = destination.target
    digest: str | None = None
    started: set[str] = set()
    done = 0
    try:
        events = client.api.push(
            target, tag=tag, stream=True, decode=True, auth_config=destination.auth
        )
        for event in events:
            failure = stream_error(event)
            if failure:
                raise ImagePushError(f"push of {target}:{tag} failed: {failure}")
            status = str(event.get("status", ""))
            layer = str(event.get("id", ""))
            # Progress events come per chunk; only a layer's start and end are worth a line.
            if status.startswith(_LAYER_DONE):
                done += 1
                logger.info("push layer %s: %s", layer, status)
            elif status == "Pushing" and layer not in started:
                started.add(layer)
                total = (event.get("progressDetail") or {}).get("total")
                logger.debug("push layer %s: uploading %s bytes", layer, total or "?")
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
    except docker.errors.APIError as exc:
        # The cause holds the request with the X-Registry-Auth header (see above).
        raise ImagePushError(f"push of {target}:{tag} failed: {exc.explanation}") from None
    if digest is None:
        raise ImagePushError(f"push of {target}:{tag} ended without a digest from the registry")
    logger.info("Pushed %s:%s (%d layers) digest %s", target, tag, done, digest)
    return digest


def _check_digest(
    client: docker.DockerClient, destination: PushDestination, tag: str, digest: str
) -> None:
    """The registry must serve `digest` for `tag`: what was pushed is what will be pulled."""
    try:
        remote = client.api.inspect_distribution(
            f"{destination.target}:{tag}", auth_config=destination.auth
        )
    except docker.errors.APIError as exc:
        # The cause holds the request with the X-Registry-Auth header (see above).
        raise ImagePushError(
            f"reading {destination.target}:{tag} back failed: {exc.explanation}"
        ) from None
    remote_digest = str(remote["Descriptor"]["digest"])
    if remote_digest != digest:
        host = destination.host
        raise ImagePushError(
            f"registry {host} has digest {remote_digest} for {tag}, the push said {digest}"
        )


def registry_url(destination: PushDestination, path: str) -> str:
    """A URL of the registry's API under the destination's repository (`manifests/<ref>`)."""
    scheme = "http" if is_loopback(destination.host) else "https"
    return f"{scheme}://{destination.host}/v2/{destination.repository}/{path}"


def registry_manifest(destination: PushDestination, digest: str) -> tuple[str, str]:
    """The manifest the registry holds for `digest` (text, media type), checked against it."""
    host = destination.host
    try:
        response = httpx.get(
            registry_url(destination, f"manifests/{digest}"),
            auth=(destination.user, destination.password),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        # The cause holds the request with the Authorization header (see above).
        raise ImagePushError(f"reading the manifest back from {host} failed: {exc}") from None
    if response.status_code != 200:
        raise ImagePushError(
            f"reading the manifest back from {host} failed: HTTP {response.status_code}"
        )
    actual = "sha256:" + hashlib.sha256(response.content).hexdigest()
    if actual != digest:
        raise ImagePushError(f"registry {host} serves manifest {actual} for digest {digest}")
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    return response.text, media_type or json.loads(response.text).get("mediaType", "")


def _pushed_size(
    settings: BootstrapSettings,
    destination: PushDestination,
    tag: str,
    digest: str,
    repository_url: str,
    logger: LoggerLike,
) -> int | None:
    """The pushed image's size; records it in ECR when ECR's API does not see the registry."""
    if not destination.override:
        described = find_in_ecr(settings, destination.repository, repository_url, tag)
        return described.size_bytes if described else None
    manifest, media_type = registry_manifest(destination, digest)
    size = manifest_size(json.loads(manifest))
    if destination.recorder is not None:
        # ECR's API does not see this registry (the emulator's case): record the image.
        destination.recorder(settings, destination.repository, tag, digest, manifest, media_type)
    else:
        logger.warning(
            "%s:%s went to registry %s, which ECR does not see: the next run will not "
            "find it in ECR and pushes again",
            destination.repository,
            tag,
            destination.host,
        )
    return size


def push_image(
    settings: BootstrapSettings,
    built: BuiltImage,
    repository_name: str,
    repository_url: str,
    logger: LoggerLike,
) -> PushedImage:
    """Push `built` to the stack's repository unless ECR already has its tag; verify the digest."""
    started = time.monotonic()
    client = docker_client()
    # First, before ECR is asked anything: an image Fargate cannot run must go nowhere.
    check_architecture(client, built.image_id, settings.cpu_architecture, built.local_name)
    existing = find_in_ecr(settings, repository_name, repository_url, built.tag)
    if existing is not None:
        logger.info("ECR already has %s:%s; not pushing", repository_name, built.tag)
        return existing
    destination = registry_destination(settings, repository_name, repository_url)
    try:
        client.api.tag(built.image_id, destination.target, built.tag)
    except docker.errors.APIError as exc:
        raise ImagePushError(
            f"tagging {built.local_name} as {destination.target} failed: {exc}"
        ) from exc
    logger.info("Pushing %s:%s", destination.target, built.tag)
    _login(client, destination)
    digest = _push(client, destination, built.tag, logger)
    _check_digest(client, destination, built.tag, digest)
    size = _pushed_size(settings, destination, built.tag, digest, repository_url, logger)
    seconds = time.monotonic() - started
    logger.info("Image %s:%s pushed and verified in %.1f s", destination.target, built.tag, seconds)
    return PushedImage(
        uri=f"{push_repository(settings, repository_name, repository_url)}@{digest}",
        digest=digest,
        tag=built.tag,
        skipped=False,
        size_bytes=size,
        push_seconds=round(seconds, 3),
    )
