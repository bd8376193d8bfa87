"""The Docker build: run it through the SDK, follow its event stream, turn a failure into one
readable ImageBuildError that names the step, its last output and the build arguments it used.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker

from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image.base import FALLBACK_BASE, ensure_fallback_base, pull_base
from bootstrap_flows.image.context import BuildContext, build_context, write_context
from bootstrap_flows.image.engine import docker_client, inspect, stream_error
from bootstrap_flows.image.errors import ImageBuildError
from bootstrap_flows.image.models import BuiltImage, ImageSource, LoggerLike
from bootstrap_flows.safety.locks import file_lock

HASH_LABEL = "org.bootstrap-flows.content-hash"
# Builds use the host's network: on machines whose package index is only reachable through a
# proxy on the host side, the default bridge cannot reach it.
BUILD_NETWORK = "host"

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The legacy builder repeats the whole RUN line in its error; the step already names it.
_COMMAND_FAILED = re.compile(r"^The command .* returned a non-zero code: (\d+)$", re.DOTALL)


def shorten(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failure_message(
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


class BuildLog:
    """Follows the build's event stream: the current step, its last output, the image id."""

    def __init__(self, logger: LoggerLike, build_args: Mapping[str, str]) -> None:
        self.logger = logger
        self.build_args = build_args
        self.step: str | None = None
        # Only the failing step's tail is worth showing; earlier steps succeeded.
        self.output: deque[str] = deque(maxlen=15)
        self.image_id: str | None = None
        self.ran_a_step = False

    def feed(self, event: Mapping[str, Any]) -> None:
        failure = stream_error(event)
        if failure:
            raise ImageBuildError(self.failure(failure))
        for line in _ANSI.sub("", str(event.get("stream", ""))).splitlines():
            self._line(line.rstrip())
        if "status" in event:
            self.logger.debug("build | %s %s", event.get("id", ""), event["status"])
        aux = event.get("aux")
        if isinstance(aux, dict) and "ID" in aux:
            self.image_id = str(aux["ID"])

    def failure(self, error: str) -> str:
        return failure_message(self.step, error, self.output, self.build_args)

    def _line(self, text: str) -> None:
        if not text.strip():
            return
        if match := _STEP.match(text):
            self.step = f"step {match[1]}/{match[2]} `{shorten(match[3])}`"
            self.output.clear()
            self.logger.info("build %s", self.step)
            return
        if text.lstrip().startswith("---> Running in"):
            self.ran_a_step = True
            return
        if text.lstrip().startswith(("Removing intermediate container", "---> ")):
            return
        self.output.append(text)
        self.logger.debug("build | %s", text)


def _run_build(
    client: docker.DockerClient,
    directory: Path,
    name: str,
    context: BuildContext,
    logger: LoggerLike,
) -> tuple[str, bool]:
    """Run the build; return the image id and whether every step came from the cache."""
    log = BuildLog(logger, context.build_args)
    try:
        events = client.api.build(
            path=str(directory),
            dockerfile="Dockerfile",
            tag=name,
            buildargs=context.build_args,
            labels={HASH_LABEL: context.content_hash},
            # The tasks' architecture, not this machine's (an Apple Silicon laptop builds arm64).
            platform=context.platform,
            network_mode=BUILD_NETWORK,
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for event in events:
            log.feed(event)
    except docker.errors.APIError as exc:
        raise ImageBuildError(log.failure(str(exc.explanation))) from exc
    except docker.errors.DockerException as exc:
        raise ImageBuildError(log.failure(str(exc))) from exc
    if log.image_id is None:
        raise ImageBuildError(log.failure("the engine reported no image id"))
    return log.image_id, not log.ran_a_step


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
    client = docker_client()
    context = build_context(settings, source, build_args, client)
    # Runs on one machine that need the same image at once (environments bootstrapped side by
    # side; the suite's first bootstraps) wait for one build: the engine's classic builder would
    # run every step once per caller (the worker image, three callers at once: three builds in
    # 107 s each here; with this lock one build, and all three had it after 68 s).
    with file_lock(_build_lock(source, context)):
        name = f"{source.local_repository}:{context.tag}"
        existing = inspect(client, name)
        if existing and (existing["Config"].get("Labels") or {}).get(HASH_LABEL) == (
            context.content_hash
        ):
            logger.info("Image %s is already built here", name)
            return _built(context, name, existing, True, time.monotonic() - started, 0.0)

        context, base_seconds = _prepare_base(settings, source, build_args, client, context, logger)
        name = f"{source.local_repository}:{context.tag}"
        logger.info("Building %s", name)
        with tempfile.TemporaryDirectory(prefix="bootstrap-image-") as temporary:
            directory = Path(temporary)
            write_context(context, directory)
            image_id, cached = _run_build(client, directory, name, context, logger)
        info = inspect(client, image_id)
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


def _build_lock(source: ImageSource, context: BuildContext) -> Path:
    key = hashlib.sha256(f"{source.local_repository}\0{context.content_hash}".encode())
    return Path(tempfile.gettempdir()) / f"bootstrap-flows-build-{key.hexdigest()[:16]}.lock"


def _prepare_base(
    settings: BootstrapSettings,
    source: ImageSource,
    build_args: Mapping[str, str] | None,
    client: docker.DockerClient,
    context: BuildContext,
    logger: LoggerLike,
) -> tuple[BuildContext, float]:
    """Put the context's base on this machine: the context to build, the fallback's seconds."""
    base = context.base
    if base is not None and base.fallback:
        logger.warning(
            "Base image %s cannot be pulled (%s); building from %s instead",
            settings.worker_base_image,
            base.reason,
            FALLBACK_BASE,
        )
        return context, ensure_fallback_base(logger, client, context.platform)
    if base is not None and not base.local:
        pull_base(client, base.ref, logger, context.platform)
        # The pull may have fetched other content than the registry reported a moment ago.
        return build_context(settings, source, build_args, client), 0.0
    return context, 0.0


def _built(
    context: BuildContext,
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
