"""The base image: which one a build uses, how it is named in the tag, the OS-packages fallback.

A base that is on this machine or pullable is used as configured. When it can be neither (no
Docker Hub here), `base_image_fallback=os-packages` builds one from Debian packages with
mmdebstrap, once per machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import docker
from pydantic import BaseModel

from bootstrap_flows.config.limits import DOCKER_ARCHITECTURE
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image.engine import docker_client, stream_error
from bootstrap_flows.image.errors import ImageBuildError
from bootstrap_flows.image.models import LoggerLike
from bootstrap_flows.safety.locks import file_lock

# Its image id differs on every machine, so the content hash covers this recipe instead (see
# resolve_base). Every flow run on Fargate pulls the whole image (no cache there), so the base
# carries only what the venv runs on: no python3-pip (the venv's own pip comes from
# python3-venv's ensurepip), no usrmerge (the merged-usr hook does its job; usrmerge alone pulled
# in perl, ~50 MB), no docs, man pages, translations (copyright files kept) or iconv modules.
# 239 MB -> 117 MB; 89.5 -> 45.0 MB compressed (docker save | gzip -6). A new tag, not the old
# one re-labelled: machines that still build with the old recipe keep theirs instead of both
# rebuilding one tag in turn.
FALLBACK_BASE = "bootstrap-flows/base:bookworm-py3-slim"
FALLBACK_COMMAND = (
    "mmdebstrap",
    "--variant=minbase",
    "--include=python3,python3-venv,ca-certificates",
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-include=/usr/share/locale/locale.alias",
    # glibc's iconv modules for other charsets: Python's codecs are its own (C.UTF-8 here).
    "--dpkgopt=path-exclude=/usr/lib/*/gconv/*",
    "bookworm",
    "-",
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
FALLBACK_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
)
RECIPE_LABEL = "org.bootstrap-flows.base-recipe"
FALLBACK_LOCK = Path(tempfile.gettempdir()) / "bootstrap-flows-fallback-base.lock"

_BASE_ARG = re.compile(r"^\s*ARG\s+BASE_IMAGE\b", re.IGNORECASE | re.MULTILINE)


class ResolvedBase(BaseModel):
    """The base a build will use and what identifies its content in the tag."""

    ref: str
    identity: str
    fallback: bool = False
    local: bool = False
    reason: str = ""


def takes_base_arg(dockerfile: str) -> bool:
    """Whether the Dockerfile's base comes from the `BASE_IMAGE` build argument."""
    return _BASE_ARG.search(dockerfile) is not None


def fallback_recipe() -> str:
    text = json.dumps([FALLBACK_COMMAND, FALLBACK_CHANGES])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def repository_of(ref: str) -> str:
    repository = str(docker.utils.parse_repository_tag(ref)[0])
    return repository.removeprefix("docker.io/").removeprefix("library/")


def local_identity(info: Mapping[str, Any], ref: str) -> str:
    # A pulled image is named by its registry digest, which inspect_distribution reports before
    # any pull: the tag is then the same before and after the base is pulled.
    wanted = repository_of(ref)
    for repo_digest in info.get("RepoDigests") or []:
        repository, _, digest = str(repo_digest).partition("@")
        if repository_of(repository) == wanted and digest:
            return f"digest:{digest}"
    return f"id:{info['Id']}"


def _offers(distribution: Mapping[str, Any], architecture: str) -> bool:
    # An index lists its platforms; an engine that lists none leaves the answer to the pull.
    platforms = distribution.get("Platforms") or []
    return not platforms or any(p.get("architecture") == architecture for p in platforms)


def resolve_base(client: docker.DockerClient, settings: BootstrapSettings) -> ResolvedBase:
    """The configured base if it is here (for the platform built for) or pullable for that
    platform, else the fallback (or an error)."""
    ref = settings.worker_base_image
    architecture = DOCKER_ARCHITECTURE[settings.cpu_architecture]
    try:
        info = client.api.inspect_image(ref)
        # A copy of another architecture is no base for this build: the pull replaces it.
        if info.get("Architecture") == architecture:
            return ResolvedBase(ref=ref, identity=local_identity(info, ref), local=True)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"base image {ref!r}: {exc.explanation}") from exc
    try:
        distribution = client.api.inspect_distribution(ref)
        reason = f"the registry has no linux/{architecture} image of it"
        if _offers(distribution, architecture):
            digest = distribution["Descriptor"]["digest"]
            return ResolvedBase(ref=ref, identity=f"digest:{digest}")
    except docker.errors.APIError as exc:
        reason = str(exc.explanation or exc)
    if settings.base_image_fallback == "none":
        raise ImageBuildError(
            f"base image {ref!r} is not on this machine and cannot be pulled ({reason}); "
            "make it pullable, load it (`docker load`), or set BOOTSTRAP_BASE_IMAGE_FALLBACK="
            "os-packages to build a base from Debian packages"
        )
    return ResolvedBase(
        ref=FALLBACK_BASE, identity=f"recipe:{fallback_recipe()}", fallback=True, reason=reason
    )


def pull_base(client: docker.DockerClient, ref: str, logger: LoggerLike, platform: str) -> None:
    repository, tag = docker.utils.parse_repository_tag(ref)
    logger.info("Pulling base image %s for %s", ref, platform)
    try:
        events = client.api.pull(repository, tag=tag, stream=True, decode=True, platform=platform)
        for event in events:
            failure = stream_error(event)
            if failure:
                raise ImageBuildError(f"pulling base image {ref!r} failed: {failure}")
            if event.get("status") == "Pull complete":
                logger.debug("base layer %s pulled", event.get("id"))
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"pulling base image {ref!r} failed: {exc.explanation}") from exc


# --- the OS-packages fallback ----------------------------------------------------------------


def ensure_fallback_base(
    logger: LoggerLike, client: docker.DockerClient | None = None, platform: str | None = None
) -> float:
    """Build the OS-packages base unless it is already here; return the seconds spent.

    mmdebstrap builds for this machine's architecture: a `platform` of another is refused.
    """
    client = client or docker_client()
    native = f"linux/{client.version().get('Arch', 'unknown')}"
    if platform is not None and platform != native:
        raise ImageBuildError(
            f"the base image cannot be pulled for {platform}, and the OS-packages fallback "
            f"builds for this machine's {native} only: make BOOTSTRAP_WORKER_BASE_IMAGE "
            f"pullable for {platform} (the official Prefect images are multi-architecture), "
            "or build on a machine of that architecture"
        )
    recipe = fallback_recipe()
    repository, tag = FALLBACK_BASE.rsplit(":", 1)
    # Parallel flow runs on one machine must not both debootstrap the same base, nor import it
    # under the same scratch tag, whatever state dir each uses: the engine is the machine's.
    with file_lock(FALLBACK_LOCK):
        if _fallback_is_current(client, recipe):
            return 0.0
        if not shutil.which(FALLBACK_COMMAND[0]):
            raise ImageBuildError(
                f"the base image cannot be pulled and `{FALLBACK_COMMAND[0]}` is not installed to "
                "build one from Debian packages; run scripts/install-docker.sh (root on "
                "Debian/Ubuntu) or make the base image pullable"
            )
        started = time.monotonic()
        logger.info("Building base image %s from Debian packages (about a minute)", FALLBACK_BASE)
        # Imported under a scratch tag: a tar cut short by a failing mmdebstrap must never
        # become the base.
        partial = f"partial-{recipe}"
        _import_os_packages(client, repository, partial, recipe)
        client.api.tag(f"{repository}:{partial}", repository, tag)
        client.api.remove_image(f"{repository}:{partial}")
        seconds = time.monotonic() - started
        logger.info("Base image %s built in %.0f s", FALLBACK_BASE, seconds)
        return seconds


def _fallback_is_current(client: docker.DockerClient, recipe: str) -> bool:
    try:
        labels = client.api.inspect_image(FALLBACK_BASE)["Config"].get("Labels") or {}
    except docker.errors.ImageNotFound:
        return False
    return bool(labels.get(RECIPE_LABEL) == recipe)


def _import_os_packages(
    client: docker.DockerClient, repository: str, partial: str, recipe: str
) -> None:
    """Pipe mmdebstrap's tar into the engine as `repository:partial`; nothing is left on failure."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            FALLBACK_COMMAND, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL
        )
        result = _import_stream(client, process, repository, partial, recipe)
        code = process.wait()
        errors.seek(0)
        tail = errors.read().decode(errors="replace").strip().splitlines()[-15:]
    last = json.loads(str(result).strip().splitlines()[-1]) if str(result).strip() else {}
    failure = stream_error(last)
    if code != 0 or failure:
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_image(f"{repository}:{partial}", force=True)
        reason = f"mmdebstrap exited with code {code}" if code != 0 else failure
        raise ImageBuildError(
            f"building the base image {FALLBACK_BASE} failed: {reason}\n" + "\n".join(tail)
        )


def _import_stream(
    client: docker.DockerClient,
    process: subprocess.Popen[bytes],
    repository: str,
    partial: str,
    recipe: str,
) -> Any:
    """Import the process's stdout as an image; the engine's answer (its last line says how)."""
    stdout: IO[bytes] | None = process.stdout
    assert stdout is not None, "started with stdout=PIPE"

    def chunks() -> Iterator[bytes]:
        while chunk := stdout.read(1 << 20):
            yield chunk

    try:
        return client.api.import_image_from_stream(
            chunks(),
            repository=repository,
            tag=partial,
            changes=[*FALLBACK_CHANGES, f"LABEL {RECIPE_LABEL}={recipe}"],
        )
    except docker.errors.APIError as exc:
        process.kill()
        process.wait()
        raise ImageBuildError(f"importing the base image failed: {exc.explanation}") from exc
    finally:
        stdout.close()
