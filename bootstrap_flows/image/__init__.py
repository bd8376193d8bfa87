"""The image stage: build the Prefect worker image, push it to the stack's ECR repository.

`build_image` needs no AWS, so it can start at once, in parallel with the platform apply; only
`push_image` needs the repository. The tag is a hash of everything that goes into the image, so
`image_tag` + `find_in_ecr` tell the flow, before any build, that ECR already has the image.

Build and push go through the Docker SDK. Its streams report failures as events, not exceptions,
so every event is checked and a failure becomes one ImageBuildError / ImagePushError naming the
step. ECR credentials go to the engine through the SDK only: never a command line, never a log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import docker
import httpx
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from bootstrap_flows import aws, docker_engine
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.locks import file_lock
from bootstrap_flows.preflight import is_loopback
from bootstrap_flows.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.target import resolve

LoggerLike: TypeAlias = logging.Logger | logging.LoggerAdapter[Any]

WORKER_DIR = PROJECT_ROOT / "worker"
DEPLOYMENTS_DIR = PROJECT_ROOT / "deployments"
LOCAL_REPOSITORY = "bootstrap-flows/worker"
TAG_LENGTH = 20
CA_FILE = "extra-ca.pem"
HASH_LABEL = "org.bootstrap-flows.content-hash"
# Builds use the host's network: on machines whose package index is only reachable through a
# proxy on the host side, the default bridge cannot reach it.
BUILD_NETWORK = "host"
# Builds and pushes go quiet for minutes (pip resolving, big layers); the SDK's 60 s would abort.
DOCKER_TIMEOUT = 3600

# The base built from OS packages when the configured base cannot be pulled. Its image id differs
# on every machine, so the content hash covers this recipe instead (see _resolve_base).
FALLBACK_BASE = "bootstrap-flows/base:bookworm-py3"
FALLBACK_COMMAND = (
    "mmdebstrap",
    "--variant=minbase",
    "--include=python3,python3-venv,python3-pip,ca-certificates",
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

MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The legacy builder repeats the whole RUN line in its error; the step already names it.
_COMMAND_FAILED = re.compile(r"^The command .* returned a non-zero code: (\d+)$", re.DOTALL)
_BASE_ARG = re.compile(r"^\s*ARG\s+BASE_IMAGE\b", re.IGNORECASE | re.MULTILINE)
_LAYER_DONE = ("Pushed", "Layer already exists", "Mounted from")


class ImageError(BootstrapError):
    """The image stage failed; the message says where and what to do."""


class ImageBuildError(ImageError):
    """The build failed: a step, the base image, or the build context."""


class ImagePushError(ImageError):
    """Login, push, digest check or ECR registration failed."""


class RepositoryMissing(ImagePushError):
    """The stack's ECR repository does not exist (yet): the platform stack makes it."""


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
    size_bytes: int | None = Field(description="Compressed size (config + layers).")
    push_seconds: float


class ImageResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    image: PushedImage
    built: BuiltImage | None = Field(description="None when ECR already had the image.")
    total_seconds: float


# --- the build context and its hash ------------------------------------------------------------


class _Base(BaseModel):
    ref: str
    identity: str
    fallback: bool = False
    local: bool = False
    reason: str = ""


class _Context(BaseModel):
    files: dict[str, tuple[bytes, bool]]
    directories: list[str]
    ca_bundle: bytes
    build_args: dict[str, str]
    base: _Base | None
    content_hash: str

    @property
    def tag(self) -> str:
        return self.content_hash[:TAG_LENGTH]


def _ignored(relative: Path) -> bool:
    return any(part in {"__pycache__", ".git"} for part in relative.parts) or relative.suffix in {
        ".pyc",
        ".pyo",
    }


def _collect(directory: Path, prefix: str = "") -> dict[str, tuple[bytes, bool]]:
    files: dict[str, tuple[bytes, bool]] = {}
    if not directory.is_dir():
        return files
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if not path.is_file() or _ignored(relative):
            continue
        # Docs next to the Dockerfile are not image content; an edit must not force a rebuild.
        if not prefix and len(relative.parts) == 1 and path.suffix.lower() == ".md":
            continue
        executable = bool(path.stat().st_mode & 0o111)
        files[prefix + relative.as_posix()] = (path.read_bytes(), executable)
    return files


def _hash(
    files: Mapping[str, tuple[bytes, bool]],
    directories: list[str],
    build_args: Mapping[str, str],
    base: _Base | None,
) -> str:
    digest = hashlib.sha256()

    def feed(*parts: str | bytes) -> None:
        # Length-prefixed, so no two different inputs feed the same byte sequence.
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)

    feed("bootstrap-flows worker image v1")
    for name, (data, executable) in sorted(files.items()):
        feed("file", name, "x" if executable else "-", data)
    for name in sorted(directories):
        feed("dir", name)
    for key, value in sorted(build_args.items()):
        feed("arg", key, value)
    if base is not None:
        feed("base", base.ref, base.identity)
    return digest.hexdigest()


def _docker(timeout: int = DOCKER_TIMEOUT) -> docker.DockerClient:
    try:
        return docker_engine.ensure_docker(timeout=timeout)
    except docker_engine.DockerEngineError as exc:
        raise ImageBuildError(str(exc)) from None


def _repository_of(ref: str) -> str:
    repository = str(docker.utils.parse_repository_tag(ref)[0])
    return repository.removeprefix("docker.io/").removeprefix("library/")


def _local_identity(info: Mapping[str, Any], ref: str) -> str:
    # A pulled image is named by its registry digest, which inspect_distribution reports before
    # any pull: the tag is then the same before and after the base is pulled.
    wanted = _repository_of(ref)
    for repo_digest in info.get("RepoDigests") or []:
        repository, _, digest = str(repo_digest).partition("@")
        if _repository_of(repository) == wanted and digest:
            return f"digest:{digest}"
    return f"id:{info['Id']}"


def fallback_recipe() -> str:
    text = json.dumps([FALLBACK_COMMAND, FALLBACK_CHANGES])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resolve_base(client: docker.DockerClient, settings: BootstrapSettings) -> _Base:
    ref = settings.worker_base_image
    try:
        info = client.api.inspect_image(ref)
        return _Base(ref=ref, identity=_local_identity(info, ref), local=True)
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"base image {ref!r}: {exc.explanation}") from None
    try:
        descriptor = client.api.inspect_distribution(ref)["Descriptor"]
        return _Base(ref=ref, identity=f"digest:{descriptor['digest']}")
    except docker.errors.APIError as exc:
        reason = str(exc.explanation or exc)
    if settings.base_image_fallback == "none":
        raise ImageBuildError(
            f"base image {ref!r} is not on this machine and cannot be pulled ({reason}); "
            "make it pullable, load it (`docker load`), or set BOOTSTRAP_BASE_IMAGE_FALLBACK="
            "os-packages to build a base from Debian packages"
        )
    return _Base(
        ref=FALLBACK_BASE, identity=f"recipe:{fallback_recipe()}", fallback=True, reason=reason
    )


def _context(
    settings: BootstrapSettings,
    source: ImageSource,
    build_args: Mapping[str, str] | None,
    client: docker.DockerClient | None = None,
) -> _Context:
    dockerfile = source.directory / "Dockerfile"
    if not dockerfile.is_file():
        raise ImageBuildError(f"no Dockerfile in {source.directory}")
    files = _collect(source.directory)
    for name, directory in source.extra.items():
        files.update(_collect(directory, prefix=f"{name}/"))
    base = None
    args = dict(build_args or {})
    if _BASE_ARG.search(dockerfile.read_text()) and "BASE_IMAGE" not in args:
        base = _resolve_base(client or _docker(), settings)
        args["BASE_IMAGE"] = base.ref
    ca_bundle = b""
    if settings.extra_ca_bundle is not None:
        try:
            ca_bundle = settings.extra_ca_bundle.read_bytes()
        except OSError as exc:
            raise ImageBuildError(
                f"extra_ca_bundle [BOOTSTRAP_EXTRA_CA_BUNDLE]: cannot read "
                f"{settings.extra_ca_bundle}: {exc.strerror}"
            ) from None
    directories = sorted(source.extra)
    return _Context(
        files=files,
        directories=directories,
        # Not hashed: the bundle is trusted only while pip runs in the build stage and is not in
        # the final image; hashing it would rebuild whenever the host's CA store is updated.
        ca_bundle=ca_bundle,
        build_args=args,
        base=base,
        content_hash=_hash(files, directories, args, base),
    )


def image_tag(
    settings: BootstrapSettings,
    source: ImageSource | None = None,
    build_args: Mapping[str, str] | None = None,
) -> str:
    """The content-hash tag the image will have. Cheap: reads the context and asks the registry
    for the base image's digest (when it is not local); pulls and builds nothing."""
    return _context(settings, source or ImageSource(), build_args).tag


# --- build ----------------------------------------------------------------------------------------


def _stream_error(event: Mapping[str, Any]) -> str | None:
    if "error" not in event and "errorDetail" not in event:
        return None
    detail = event.get("errorDetail") or {}
    return str(detail.get("message") or event.get("error") or "unknown error").strip()


def ensure_fallback_base(
    settings: BootstrapSettings, logger: LoggerLike, client: docker.DockerClient | None = None
) -> float:
    """Build the OS-packages base unless it is already here; return the seconds spent."""
    client = client or _docker()
    recipe = fallback_recipe()
    repository, tag = FALLBACK_BASE.rsplit(":", 1)
    # Parallel flow runs on one machine must not both debootstrap the same base.
    with file_lock(settings.local_state_dir / "locks" / "fallback-base.lock"):
        try:
            labels = client.api.inspect_image(FALLBACK_BASE)["Config"].get("Labels") or {}
            if labels.get(RECIPE_LABEL) == recipe:
                return 0.0
        except docker.errors.ImageNotFound:
            pass
        if not shutil.which(FALLBACK_COMMAND[0]):
            raise ImageBuildError(
                f"the base image cannot be pulled and `{FALLBACK_COMMAND[0]}` is not installed to "
                "build one from Debian packages; run scripts/install-docker.sh (root on "
                "Debian/Ubuntu) or make the base image pullable"
            )
        started = time.monotonic()
        logger.info("Building base image %s from Debian packages (about a minute)", FALLBACK_BASE)
        partial = f"partial-{recipe}"
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(
                FALLBACK_COMMAND, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL
            )
            assert process.stdout is not None

            def chunks() -> Iterator[bytes]:
                while chunk := process.stdout.read(1 << 20):  # type: ignore[union-attr]
                    yield chunk

            try:
                # Imported under a scratch tag: a tar cut short by a failing mmdebstrap must
                # never become the base.
                result = client.api.import_image_from_stream(
                    chunks(),
                    repository=repository,
                    tag=partial,
                    changes=[*FALLBACK_CHANGES, f"LABEL {RECIPE_LABEL}={recipe}"],
                )
            except docker.errors.APIError as exc:
                process.kill()
                process.wait()
                raise ImageBuildError(
                    f"importing the base image failed: {exc.explanation}"
                ) from None
            finally:
                process.stdout.close()
            code = process.wait()
            errors.seek(0)
            tail = errors.read().decode(errors="replace").strip().splitlines()[-15:]
        last = json.loads(str(result).strip().splitlines()[-1]) if str(result).strip() else {}
        failure = _stream_error(last)
        if code != 0 or failure:
            with contextlib.suppress(docker.errors.APIError):
                client.api.remove_image(f"{repository}:{partial}", force=True)
            reason = f"mmdebstrap exited with code {code}" if code != 0 else failure
            raise ImageBuildError(
                f"building the base image {FALLBACK_BASE} failed: {reason}\n" + "\n".join(tail)
            )
        client.api.tag(f"{repository}:{partial}", repository, tag)
        client.api.remove_image(f"{repository}:{partial}")
        seconds = time.monotonic() - started
        logger.info("Base image %s built in %.0f s", FALLBACK_BASE, seconds)
        return seconds


def _pull_base(client: docker.DockerClient, ref: str, logger: LoggerLike) -> None:
    repository, tag = docker.utils.parse_repository_tag(ref)
    logger.info("Pulling base image %s", ref)
    try:
        for event in client.api.pull(repository, tag=tag, stream=True, decode=True):
            failure = _stream_error(event)
            if failure:
                raise ImageBuildError(f"pulling base image {ref!r} failed: {failure}")
            if event.get("status") == "Pull complete":
                logger.debug("base layer %s pulled", event.get("id"))
    except docker.errors.APIError as exc:
        raise ImageBuildError(f"pulling base image {ref!r} failed: {exc.explanation}") from None


def _write_context(context: _Context, directory: Path) -> None:
    for name in context.directories:
        (directory / name).mkdir(parents=True, exist_ok=True)
    for name, (data, executable) in context.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)
    (directory / CA_FILE).write_bytes(context.ca_bundle)


def _shorten(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failure_message(
    step: str | None, error: str, output: deque[str], build_args: Mapping[str, str]
) -> str:
    where = f"at {step}" if step else "before the first step"
    if match := _COMMAND_FAILED.match(error):
        error = f"the command exited with code {match[1]}"
    # The builder echoes `FROM ${BASE_IMAGE}` unexpanded: show the values the step used.
    used = [f"{k}={v}" for k, v in build_args.items() if step and re.search(rf"\${{?{k}\b", step)]
    if used:
        where += f" (with {', '.join(used)})"
    lines = [f"image build failed {where}: {error}"]
    if output:
        lines += ["last output of that step:", *(f"  {line}" for line in output)]
    if "CERTIFICATE_VERIFY_FAILED" in error + "\n".join(output):
        lines.append(
            "TLS verification failed inside the build: behind a TLS-intercepting proxy, set "
            "BOOTSTRAP_EXTRA_CA_BUNDLE to a PEM bundle that holds the proxy's CA"
        )
    return "\n".join(lines)


def _run_build(
    client: docker.DockerClient,
    directory: Path,
    name: str,
    context: _Context,
    logger: LoggerLike,
) -> tuple[str, bool]:
    """Run the build; return the image id and whether every step came from the cache."""
    step: str | None = None
    output: deque[str] = deque(maxlen=15)
    image_id: str | None = None
    ran_a_step = False
    try:
        events = client.api.build(
            path=str(directory),
            dockerfile="Dockerfile",
            tag=name,
            buildargs=context.build_args,
            labels={HASH_LABEL: context.content_hash},
            network_mode=BUILD_NETWORK,
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for event in events:
            failure = _stream_error(event)
            if failure:
                raise ImageBuildError(_failure_message(step, failure, output, context.build_args))
            for line in _ANSI.sub("", str(event.get("stream", ""))).splitlines():
                text = line.rstrip()
                if not text.strip():
                    continue
                if match := _STEP.match(text):
                    step = f"step {match[1]}/{match[2]} `{_shorten(match[3])}`"
                    output.clear()
                    logger.info("build %s", step)
                    continue
                if text.lstrip().startswith("---> Running in"):
                    ran_a_step = True
                    continue
                if text.lstrip().startswith(("Removing intermediate container", "---> ")):
                    continue
                output.append(text)
                logger.debug("build | %s", text)
            if "status" in event:
                logger.debug("build | %s %s", event.get("id", ""), event["status"])
            aux = event.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = str(aux["ID"])
    except docker.errors.APIError as exc:
        raise ImageBuildError(
            _failure_message(step, str(exc.explanation), output, context.build_args)
        ) from None
    except docker.errors.DockerException as exc:
        raise ImageBuildError(
            _failure_message(step, str(exc), output, context.build_args)
        ) from None
    if image_id is None:
        raise ImageBuildError(
            _failure_message(step, "the engine reported no image id", output, context.build_args)
        )
    return image_id, not ran_a_step


def build_image(
    settings: BootstrapSettings,
    logger: LoggerLike,
    source: ImageSource | None = None,
    build_args: Mapping[str, str] | None = None,
) -> BuiltImage:
    """Build the image locally (no AWS needed), tagged `<local_repository>:<content hash>`.

    The base is `settings.worker_base_image`, pulled if needed, or the OS-packages base when it
    cannot be pulled. A `BASE_IMAGE` in `build_args` is used as given: no check, no fallback.
    """
    started = time.monotonic()
    source = source or ImageSource()
    client = _docker()
    context = _context(settings, source, build_args, client)
    name = f"{source.local_repository}:{context.tag}"
    base_seconds = 0.0
    base = context.base

    existing = _inspect(client, name)
    if existing and (existing["Config"].get("Labels") or {}).get(HASH_LABEL) == (
        context.content_hash
    ):
        logger.info("Image %s is already built here", name)
        return _built(context, name, existing, True, time.monotonic() - started, 0.0)

    if base is not None and base.fallback:
        logger.warning(
            "Base image %s cannot be pulled (%s); building from %s instead",
            settings.worker_base_image,
            base.reason,
            FALLBACK_BASE,
        )
        base_seconds = ensure_fallback_base(settings, logger, client)
    elif base is not None and not base.local:
        _pull_base(client, base.ref, logger)
        # The pull may have fetched other content than the registry reported a moment ago.
        context = _context(settings, source, build_args, client)
        name = f"{source.local_repository}:{context.tag}"

    logger.info("Building %s", name)
    with tempfile.TemporaryDirectory(prefix="bootstrap-image-") as temporary:
        directory = Path(temporary)
        _write_context(context, directory)
        image_id, cached = _run_build(client, directory, name, context, logger)
    info = _inspect(client, image_id)
    if info is None:
        raise ImageBuildError(f"the engine reported image {image_id} but does not have it")
    seconds = time.monotonic() - started
    built = _built(context, name, info, cached, seconds, base_seconds)
    logger.info(
        "Built %s (%s, %.0f MB) in %.1f s",
        name,
        "from cache" if cached else "fresh",
        built.size_bytes / 1e6,
        seconds,
    )
    return built


def _inspect(client: docker.DockerClient, name: str) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = client.api.inspect_image(name)
        return info
    except docker.errors.ImageNotFound:
        return None


def _built(
    context: _Context,
    name: str,
    info: Mapping[str, Any],
    cached: bool,
    seconds: float,
    base_seconds: float,
) -> BuiltImage:
    return BuiltImage(
        tag=context.tag,
        image_id=str(info["Id"]),
        content_hash=context.content_hash,
        local_name=name,
        base_image=context.base.ref if context.base else None,
        size_bytes=int(info.get("Size") or 0),
        cached=cached,
        build_seconds=round(seconds, 3),
        base_seconds=round(base_seconds, 3),
    )


# --- ECR and push -----------------------------------------------------------------------------


def _manifest_size(manifest: Mapping[str, Any]) -> int | None:
    if "layers" not in manifest:
        return None
    sizes = [int(layer.get("size", 0)) for layer in manifest["layers"]]
    return int(manifest.get("config", {}).get("size", 0)) + sum(sizes)


def _ecr_call(operation: str, call: Any, **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ImagePushError(
            f"ECR {operation} failed: {error.get('Code')}: {error.get('Message')}"
        ) from None
    except BotoCoreError as exc:
        raise ImagePushError(f"ECR {operation} failed: {exc}") from None


def find_in_ecr(
    settings: BootstrapSettings, repository_name: str, repository_url: str, tag: str
) -> PushedImage | None:
    """The image ECR already holds under `tag`, or None."""
    started = time.monotonic()
    ecr = aws.client(settings, "ecr")
    try:
        response = ecr.describe_images(repositoryName=repository_name, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    except ecr.exceptions.RepositoryNotFoundException as exc:
        raise RepositoryMissing(
            f"ECR repository {repository_name!r} does not exist; apply the platform stack first"
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise ImagePushError(f"ECR describe_images failed: {exc}") from None
    details = response.get("imageDetails") or []
    if not details:
        return None
    digest = str(details[0]["imageDigest"])
    size = details[0].get("imageSizeInBytes")
    # The emulator reports only the config's size; the stored manifest gives the real one.
    with contextlib.suppress(ClientError, BotoCoreError, KeyError, IndexError, ValueError):
        images = ecr.batch_get_image(
            repositoryName=repository_name,
            imageIds=[{"imageDigest": digest}],
            acceptedMediaTypes=list(MANIFEST_TYPES),
        )["images"]
        size = _manifest_size(json.loads(images[0]["imageManifest"])) or size
    return PushedImage(
        uri=f"{_push_repository(settings, repository_name, repository_url)}@{digest}",
        digest=digest,
        tag=tag,
        skipped=True,
        size_bytes=int(size) if size is not None else None,
        push_seconds=round(time.monotonic() - started, 3),
    )


def _push_repository(settings: BootstrapSettings, repository_name: str, repository_url: str) -> str:
    host = resolve(settings).registry_host
    return f"{host}/{repository_name}" if host else repository_url


def _login(client: docker.DockerClient, host: str, user: str, password: str) -> None:
    try:
        client.api.login(username=user, password=password, registry=host, reauth=True)
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or exc)
        if "401" in explanation or "unauthorized" in explanation.lower():
            raise ImagePushError(
                f"registry {host} rejected the ECR credentials (401 Unauthorized); on the "
                "embedded default restart the local registry so it takes the emulator's current "
                "token (bootstrap-flows local down/up)"
            ) from None
        hint = " (is the local registry running?)" if is_loopback(host) else ""
        raise ImagePushError(f"cannot log in to registry {host}{hint}: {explanation}") from None


def _push(
    client: docker.DockerClient,
    target: str,
    tag: str,
    auth: dict[str, str],
    logger: LoggerLike,
) -> str:
    digest: str | None = None
    started: set[str] = set()
    done = 0
    try:
        for event in client.api.push(target, tag=tag, stream=True, decode=True, auth_config=auth):
            failure = _stream_error(event)
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
        raise ImagePushError(f"push of {target}:{tag} failed: {exc.explanation}") from None
    if digest is None:
        raise ImagePushError(f"push of {target}:{tag} ended without a digest from the registry")
    logger.info("Pushed %s:%s (%d layers) digest %s", target, tag, done, digest)
    return digest


def _registry_manifest(
    host: str, repository: str, digest: str, user: str, password: str
) -> tuple[str, str]:
    """The manifest the registry holds for `digest` (text, media type), checked against it."""
    scheme = "http" if is_loopback(host) else "https"
    try:
        response = httpx.get(
            f"{scheme}://{host}/v2/{repository}/manifests/{digest}",
            auth=(user, password),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            timeout=30,
        )
    except httpx.HTTPError as exc:
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


def push_image(
    settings: BootstrapSettings,
    built: BuiltImage,
    repository_name: str,
    repository_url: str,
    logger: LoggerLike,
) -> PushedImage:
    """Push `built` to the stack's repository unless ECR already has its tag; verify the digest."""
    started = time.monotonic()
    existing = find_in_ecr(settings, repository_name, repository_url, built.tag)
    if existing is not None:
        logger.info("ECR already has %s:%s; not pushing", repository_name, built.tag)
        return existing
    ecr = aws.client(settings, "ecr")
    user, password, ecr_host = _ecr_call("get_authorization_token", aws.ecr_login, ecr=ecr)
    push_target = resolve(settings)
    override = push_target.registry_host
    host = override or ecr_host or repository_url.split("/", 1)[0]
    target = f"{host}/{repository_name}"
    auth = {"username": user, "password": password}
    client = _docker()
    try:
        client.api.tag(built.image_id, target, built.tag)
    except docker.errors.APIError as exc:
        raise ImagePushError(f"tagging {built.local_name} as {target} failed: {exc}") from None
    logger.info("Pushing %s:%s", target, built.tag)
    _login(client, host, user, password)
    digest = _push(client, target, built.tag, auth, logger)

    try:
        remote = client.api.inspect_distribution(f"{target}:{built.tag}", auth_config=auth)
    except docker.errors.APIError as exc:
        raise ImagePushError(
            f"reading {target}:{built.tag} back failed: {exc.explanation}"
        ) from None
    remote_digest = str(remote["Descriptor"]["digest"])
    if remote_digest != digest:
        raise ImagePushError(
            f"registry {host} has digest {remote_digest} for {built.tag}, the push said {digest}"
        )

    size: int | None = None
    if override:
        manifest, media_type = _registry_manifest(host, repository_name, digest, user, password)
        size = _manifest_size(json.loads(manifest))
        if push_target.push_recorder is not None:
            # ECR's API does not see this registry (the emulator's case): record the image.
            push_target.push_recorder(
                settings, repository_name, built.tag, digest, manifest, media_type
            )
        else:
            logger.warning(
                "%s:%s went to registry %s, which ECR does not see: the next run will not "
                "find it in ECR and pushes again",
                repository_name,
                built.tag,
                host,
            )
    else:
        described = find_in_ecr(settings, repository_name, repository_url, built.tag)
        size = described.size_bytes if described else None

    seconds = time.monotonic() - started
    logger.info("Image %s:%s pushed and verified in %.1f s", target, built.tag, seconds)
    return PushedImage(
        uri=f"{_push_repository(settings, repository_name, repository_url)}@{digest}",
        digest=digest,
        tag=built.tag,
        skipped=False,
        size_bytes=size,
        push_seconds=round(seconds, 3),
    )


def ensure_image(
    settings: BootstrapSettings,
    repository_name: str,
    repository_url: str,
    logger: LoggerLike,
    source: ImageSource | None = None,
    build_args: Mapping[str, str] | None = None,
) -> ImageResult:
    """Check ECR for the content tag, then build and push only if it is missing."""
    started = time.monotonic()
    tag = image_tag(settings, source, build_args)
    existing = find_in_ecr(settings, repository_name, repository_url, tag)
    if existing is not None:
        logger.info("ECR already has %s:%s; not building", repository_name, tag)
        return ImageResult(image=existing, built=None, total_seconds=_since(started))
    built = build_image(settings, logger, source, build_args)
    pushed = push_image(settings, built, repository_name, repository_url, logger)
    return ImageResult(image=pushed, built=built, total_seconds=_since(started))


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
