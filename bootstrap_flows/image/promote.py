"""Promotion: bootstrap an environment with the image, and the code, that passed in another.

When bootstrap's e2e test flow passes, the image it ran (registry, repository, content tag,
digest) and a fingerprint of the code that applied it are recorded in the Prefect Variable
`bootstrap-passed-<env>`. A Variable on the orchestrator rather than an object in the state
bucket: every environment's bootstrap runs on that one orchestrator, while the source's state
bucket is in the source's account, which the promoted environment's credentials may not read.

With `promote_from=<source>` bootstrap builds nothing: preflight refuses, before any change, a
source with no passed image or one that passed with other code; the push stage copies the image
registry to registry (blobs mounted or streamed, the manifest put byte for byte, so its digest
cannot change) into this environment's repository unless it is there, and checks the digest
there against the record.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, ValidationError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.image.errors import ImageError, ImagePushError
from bootstrap_flows.image.models import LoggerLike, PushedImage
from bootstrap_flows.image.push import (
    PushDestination,
    describe_tag,
    find_in_ecr,
    manifest_size,
    registry_destination,
    registry_manifest,
    registry_url,
)

VARIABLE_PREFIX = "bootstrap-passed-"
FINGERPRINT_LENGTH = 20
_CHUNK = 1024 * 1024


class PromotionRefused(ImageError):
    """The source environment has no image this environment may take; nothing was changed."""


class PassedImage(BaseModel):
    """An image that passed an environment's e2e test flow, and the code that ran it."""

    environment: str
    uri: str  # <registry host>/<repository>@<digest>: where it was pulled from
    tag: str
    digest: str
    region: str
    code: str
    # What the push checked the image against; records made before it was recorded were of
    # images built for the machine's own architecture, in practice X86_64.
    cpu_architecture: str = "X86_64"
    flow_run_id: str | None = None
    passed_at: datetime

    @property
    def host(self) -> str:
        return self.uri.split("/", 1)[0]

    @property
    def repository(self) -> str:
        return self.uri.split("@", 1)[0].split("/", 1)[1]


def variable_name(environment: str) -> str:
    return f"{VARIABLE_PREFIX}{environment}"


def code_fingerprint(settings: BootstrapSettings) -> str:
    """A hash of the code that provisions: the Terraform modules and stacks, and this package
    (the embedded default's wing aside: it never runs against real AWS)."""
    terraform = settings.terraform_dir
    package = PROJECT_ROOT / "bootstrap_flows"
    # Named relative to their roots, so every checkout of the same code agrees.
    files = {
        f"terraform/{path.relative_to(terraform)}": path
        for folder in ("modules", "stacks")
        for path in (terraform / folder).rglob("*.tf")
    }
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        if relative.parts[0] != "local":
            files[f"bootstrap_flows/{relative}"] = path
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0".encode())
        digest.update(hashlib.sha256(files[name].read_bytes()).digest())
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


# --- the record ----------------------------------------------------------------------------------


def record_passed(settings: BootstrapSettings, image_uri: str, flow_run_id: str | None) -> None:
    """Record that `image_uri` passed this environment's e2e test flow (on the orchestrator)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate, VariableUpdate

    repository, digest = image_uri.split("/", 1)[1].split("@", 1)
    detail = aws.client(settings, "ecr").describe_images(
        repositoryName=repository, imageIds=[{"imageDigest": digest}]
    )["imageDetails"][0]
    passed = PassedImage(
        environment=settings.environment,
        uri=image_uri,
        tag=sorted(detail.get("imageTags") or [""])[0],
        digest=digest,
        region=settings.aws_region,
        code=code_fingerprint(settings),
        cpu_architecture=settings.cpu_architecture,
        flow_run_id=flow_run_id,
        passed_at=datetime.now(UTC),
    )
    value: Any = json.loads(passed.model_dump_json())
    name = variable_name(settings.environment)
    with get_client(sync_client=True) as client:
        if client.read_variable_by_name(name) is None:
            client.create_variable(VariableCreate(name=name, value=value, tags=["bootstrap"]))
        else:
            client.update_variable(VariableUpdate(name=name, value=value))


def passed_image(settings: BootstrapSettings) -> PassedImage:
    """What `promote_from` names, checked against this code; PromotionRefused otherwise."""
    from prefect.client.orchestration import get_client

    source = str(settings.promote_from)
    name = variable_name(source)
    with get_client(sync_client=True) as client:
        variable = client.read_variable_by_name(name)
    try:
        passed = PassedImage.model_validate(variable.value if variable is not None else None)
    except ValidationError:
        raise PromotionRefused(
            f"promote_from: environment {source!r} has no image that passed its e2e test flow "
            f"(Prefect Variable {name}): bootstrap {source} first, or unset "
            "BOOTSTRAP_PROMOTE_FROM to build the image here"
        ) from None
    here = code_fingerprint(settings)
    if passed.code != here:
        raise PromotionRefused(
            f"promote_from: the image of {source!r} passed with other code (code {passed.code} "
            f"there, {here} here): bootstrap {source} with this code first, so that what "
            f"{settings.environment} gets is what was tested"
        )
    refused_architecture(passed, settings.cpu_architecture)
    return passed


def refused_architecture(passed: PassedImage, cpu_architecture: str) -> None:
    """A promoted image runs as it was built: its architecture must be this environment's."""
    if passed.cpu_architecture != cpu_architecture:
        raise PromotionRefused(
            f"promote_from: the image of {passed.environment!r} is built for "
            f"{passed.cpu_architecture}, this environment's tasks run {cpu_architecture} "
            f"(BOOTSTRAP_CPU_ARCHITECTURE): Fargate would stop them with `exec format error`; "
            f"set BOOTSTRAP_CPU_ARCHITECTURE={passed.cpu_architecture} here, or bootstrap "
            f"{passed.environment} with {cpu_architecture} first"
        )


# --- the copy ------------------------------------------------------------------------------------


def _checked(response: httpx.Response, what: str, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        raise ImagePushError(f"{what} failed: HTTP {response.status_code}")
    return response


def _upload(
    http: httpx.Client, source: PushDestination, target: PushDestination, blob: str
) -> None:
    """Put one blob into the target repository: mounted when both share a registry, else read
    from the source (checked against its digest) and uploaded in one chunk."""
    start = f"blobs/uploads/?mount={blob}&from={source.repository}"
    same = source.host == target.host
    response = http.post(
        registry_url(target, start if same else "blobs/uploads/"),
        auth=(target.user, target.password),
    )
    if _checked(response, f"starting the upload of {blob}", 201, 202).status_code == 201:
        return  # mounted
    location = urljoin(registry_url(target, ""), response.headers["location"])
    with tempfile.TemporaryFile() as spool:
        digest = hashlib.sha256()
        # A redirect (ECR sends blobs from S3) leaves the origin: httpx drops the credentials.
        with http.stream(
            "GET", registry_url(source, f"blobs/{blob}"), auth=(source.user, source.password)
        ) as read:
            _checked(read, f"reading {blob} from {source.host}", 200)
            for chunk in read.iter_bytes(_CHUNK):
                digest.update(chunk)
                spool.write(chunk)
        if f"sha256:{digest.hexdigest()}" != blob:
            raise ImagePushError(f"{source.host} served other content for blob {blob}")
        size = spool.tell()
        spool.seek(0)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        auth = (target.user, target.password)
        chunks = iter(lambda: spool.read(_CHUNK), b"")
        patch = http.patch(location, content=chunks, headers=headers, auth=auth)
        location = urljoin(location, _checked(patch, f"uploading {blob}", 202).headers["location"])
    joiner = "&" if "?" in location else "?"
    _checked(http.put(f"{location}{joiner}digest={blob}", auth=auth), f"finishing {blob}", 201)


def _copy(source: PushDestination, target: PushDestination, passed: PassedImage) -> tuple[str, str]:
    """Copy the image's blobs and manifest; return the manifest and its media type."""
    manifest, media_type = registry_manifest(source, passed.digest)
    body = json.loads(manifest)
    if "layers" not in body:
        raise ImagePushError(f"{passed.uri} is an image index; promote a single-platform image")
    blobs = [body["config"]["digest"], *(layer["digest"] for layer in body["layers"])]
    with httpx.Client(timeout=300, follow_redirects=True) as http:
        auth = (target.user, target.password)
        for blob in blobs:
            head = http.head(registry_url(target, f"blobs/{blob}"), auth=auth)
            if head.status_code != 200:
                _upload(http, source, target, blob)
        put = http.put(
            registry_url(target, f"manifests/{passed.tag}"),
            content=manifest.encode(),
            headers={"Content-Type": media_type},
            auth=auth,
        )
        _checked(put, f"putting the manifest of {passed.tag} into {target.target}", 201)
    if put.headers.get("docker-content-digest", passed.digest) != passed.digest:
        raise ImagePushError(f"{target.host} stored the manifest as another digest")
    return manifest, media_type


def promote_image(
    settings: BootstrapSettings, repository_name: str, repository_url: str, logger: LoggerLike
) -> PushedImage:
    """Put the image that passed in `promote_from` into this environment's repository (unless
    it is there) and check the digest ECR has for it here."""
    started = time.monotonic()
    passed = passed_image(settings)
    present = describe_tag(aws.client(settings, "ecr"), repository_name, passed.tag)
    if present is not None and present["imageDigest"] != passed.digest:
        raise ImagePushError(
            f"ECR repository {repository_name} has {passed.tag} as {present['imageDigest']}, "
            f"{passed.environment} passed {passed.digest}: delete that tag, then run again"
        )
    if present is None:
        target = registry_destination(settings, repository_name, repository_url)
        # The same identity reads the source: its ECR token is valid for every registry it
        # may pull from (a cross-account source needs a repository policy allowing the pull).
        source_settings = settings.model_copy(update={"aws_region": passed.region})
        login = registry_destination(source_settings, passed.repository, passed.uri)
        source = PushDestination(
            host=passed.host, repository=passed.repository, user=login.user, password=login.password
        )
        logger.info("Copying %s to %s:%s", passed.uri, target.target, passed.tag)
        manifest, media_type = _copy(source, target, passed)
        if target.recorder is not None:
            # ECR's API does not see this registry (the emulator's case): record the image.
            target.recorder(
                settings, repository_name, passed.tag, passed.digest, manifest, media_type
            )
        size = manifest_size(json.loads(manifest))
        logger.info("Copied %d bytes in %.1f s", size or 0, time.monotonic() - started)
    found = find_in_ecr(settings, repository_name, repository_url, passed.tag)
    if found is None or found.digest != passed.digest:
        raise ImagePushError(
            f"ECR repository {repository_name} has {found.digest if found else 'nothing'} for "
            f"{passed.tag} after the copy, {passed.environment} passed {passed.digest}"
        )
    logger.info(
        "Promoted from %s: %s (passed its e2e test flow at %s, flow run %s)",
        passed.environment,
        found.uri,
        passed.passed_at.isoformat(timespec="seconds"),
        passed.flow_run_id,
    )
    return found.model_copy(
        update={
            "skipped": present is not None,
            "push_seconds": round(time.monotonic() - started, 3),
            "promoted_from": passed.environment,
        }
    )


def forget_passed(settings: BootstrapSettings) -> bool:
    """Drop this environment's record (teardown deleted the image it names); True if one was."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        if client.read_variable_by_name(variable_name(settings.environment)) is None:
            return False
        client.delete_variable_by_name(variable_name(settings.environment))
    return True
