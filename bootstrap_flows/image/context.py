"""The build context: the files that go into the image, their hash and the content tag.

The tag is a hash of everything that goes into the image (files, executable bits, build
arguments, the base's identity, the platform it is built for), so the flow can ask ECR for it
before building anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import docker
from pydantic import BaseModel

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image.base import ResolvedBase, resolve_base, takes_base_arg
from bootstrap_flows.image.engine import docker_client
from bootstrap_flows.image.errors import ImageBuildError
from bootstrap_flows.image.models import ImageSource
from bootstrap_flows.image.platform import docker_platform

TAG_LENGTH = 20
CA_FILE = "extra-ca.pem"


class BuildContext(BaseModel):
    files: dict[str, tuple[bytes, bool]]
    directories: list[str]
    ca_bundle: bytes
    build_args: dict[str, str]
    base: ResolvedBase | None
    platform: str  # Docker's linux/amd64 or linux/arm64: what the build and base pull target
    content_hash: str

    @property
    def tag(self) -> str:
        return self.content_hash[:TAG_LENGTH]


def ignored(relative: Path) -> bool:
    return any(part in {"__pycache__", ".git"} for part in relative.parts) or relative.suffix in {
        ".pyc",
        ".pyo",
    }


def collect(directory: Path, prefix: str = "") -> dict[str, tuple[bytes, bool]]:
    """`{context path: (content, executable)}` of the files under `directory` that count."""
    files: dict[str, tuple[bytes, bool]] = {}
    if not directory.is_dir():
        return files
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if not path.is_file() or ignored(relative):
            continue
        # Docs next to the Dockerfile are not image content; an edit must not force a rebuild.
        if not prefix and len(relative.parts) == 1 and path.suffix.lower() == ".md":
            continue
        executable = bool(path.stat().st_mode & 0o111)
        files[prefix + relative.as_posix()] = (path.read_bytes(), executable)
    return files


def content_hash(
    files: Mapping[str, tuple[bytes, bool]],
    directories: list[str],
    build_args: Mapping[str, str],
    base: ResolvedBase | None,
    *,
    platform: str,
) -> str:
    digest = hashlib.sha256()

    def feed(*parts: str | bytes) -> None:
        # Length-prefixed, so no two different inputs feed the same byte sequence.
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)

    feed("bootstrap-flows worker image v1")
    # The same files make another image on another architecture: never the same tag.
    feed("platform", platform)
    for name, (data, executable) in sorted(files.items()):
        feed("file", name, "x" if executable else "-", data)
    for name in sorted(directories):
        feed("dir", name)
    for key, value in sorted(build_args.items()):
        feed("arg", key, value)
    if base is not None:
        feed("base", base.ref, base.identity)
    return digest.hexdigest()


def build_context(
    settings: BootstrapSettings,
    source: ImageSource,
    build_args: Mapping[str, str] | None,
    client: docker.DockerClient | None = None,
) -> BuildContext:
    """Read the context; resolve the base (asks the engine) only if the Dockerfile takes one."""
    dockerfile = source.directory / "Dockerfile"
    if not dockerfile.is_file():
        raise ImageBuildError(f"no Dockerfile in {source.directory}")
    files = collect(source.directory)
    for name, directory in source.extra.items():
        files.update(collect(directory, prefix=f"{name}/"))
    base = None
    platform = docker_platform(settings.cpu_architecture)
    args = dict(build_args or {})
    if takes_base_arg(dockerfile.read_text()) and "BASE_IMAGE" not in args:
        base = resolve_base(client or docker_client(), settings)
        args["BASE_IMAGE"] = base.ref
    directories = sorted(source.extra)
    return BuildContext(
        files=files,
        directories=directories,
        # Not hashed: the bundle is trusted only while pip runs in the build stage and is not in
        # the final image; hashing it would rebuild whenever the host's CA store is updated.
        ca_bundle=_ca_bundle(settings),
        build_args=args,
        base=base,
        platform=platform,
        content_hash=content_hash(files, directories, args, base, platform=platform),
    )


def _ca_bundle(settings: BootstrapSettings) -> bytes:
    if settings.extra_ca_bundle is None:
        return b""
    try:
        return settings.extra_ca_bundle.read_bytes()
    except OSError as exc:
        raise ImageBuildError(
            f"extra_ca_bundle [BOOTSTRAP_EXTRA_CA_BUNDLE]: cannot read "
            f"{settings.extra_ca_bundle}: {exc.strerror}"
        ) from exc


def image_tag(
    settings: BootstrapSettings,
    source: ImageSource | None = None,
    build_args: Mapping[str, str] | None = None,
) -> str:
    """The content-hash tag the image will have. Cheap: reads the context and asks the registry
    for the base image's digest (when it is not local); pulls and builds nothing."""
    return build_context(settings, source or ImageSource(), build_args).tag


def write_context(context: BuildContext, directory: Path) -> None:
    """Lay the context out in `directory` for the engine, with the modes that were hashed."""
    for name in context.directories:
        (directory / name).mkdir(parents=True, exist_ok=True)
    for name, (data, executable) in context.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if executable else 0o644)
    (directory / CA_FILE).write_bytes(context.ca_bundle)
