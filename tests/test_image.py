"""The image stage against a real engine, a real registry with htpasswd auth and moto's ECR.

Slow tests need dockerd (scripts/install-docker.sh): a missing engine fails them, it does not
skip them. They start moto and registries on free ports and stop them by PID.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from bootstrap_flows import aws, docker_engine, image
from bootstrap_flows.local import registry
from bootstrap_flows.settings import PROJECT_ROOT, BootstrapSettings, load_settings

FIXTURES = Path(__file__).parent / "fixtures" / "images"
LOG = logging.getLogger("test_image")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ca_bundle() -> str | None:
    # Behind the TLS-intercepting proxy pip inside the build needs the host's bundle.
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _settings(state: Path, moto_port: int, registry_port: int | None = None) -> BootstrapSettings:
    return load_settings(
        environment="local",
        local_state_dir=state,
        local_moto_port=moto_port,
        local_registry_port=registry_port or _free_port(),
        extra_ca_bundle=_ca_bundle(),
        worker_base_image="prefecthq/prefect:3.8.8-python3.11",
        base_image_fallback="os-packages",
        registry_host_override=None,
    )


def _tiny(tmp_path: Path, name: str = "scratch") -> image.ImageSource:
    directory = tmp_path / name
    shutil.copytree(FIXTURES / name, directory)
    return image.ImageSource(
        directory=directory, extra={}, local_repository=f"bootstrap-flows-test/{name}"
    )


# --- no Docker needed ---------------------------------------------------------------------------


def test_tag_follows_the_context(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "state", 1024)
    source = _tiny(tmp_path)
    tag = image.image_tag(settings, source)
    assert len(tag) == image.TAG_LENGTH and int(tag, 16) >= 0
    assert image.image_tag(settings, source) == tag, "the same content must give the same tag"

    (source.directory / "hello.txt").write_text("changed\n")
    changed = image.image_tag(settings, source)
    assert changed != tag

    (source.directory / "README.md").write_text("docs are not image content\n")
    assert image.image_tag(settings, source) == changed

    assert image.image_tag(settings, source, {"GREETING": "hi"}) != changed

    (source.directory / "hello.txt").chmod(0o755)
    assert image.image_tag(settings, source) != changed, "the executable bit goes into the image"


def test_tag_covers_extra_folders(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "state", 1024)
    flows = tmp_path / "deployments"
    flows.mkdir()
    source = _tiny(tmp_path).model_copy(update={"extra": {"deployments": flows}})
    empty = image.image_tag(settings, source)
    (flows / "e2e.py").write_text("print('flow')\n")
    with_flow = image.image_tag(settings, source)
    assert with_flow != empty
    (flows / "__pycache__").mkdir()
    (flows / "__pycache__" / "e2e.cpython-311.pyc").write_bytes(b"\0")
    assert image.image_tag(settings, source) == with_flow, "bytecode is not flow code"


def test_worker_requirements_match_the_project_pins() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    pins = {
        line.split("==")[0]: line.split("==")[1]
        for line in pyproject["project"]["dependencies"]
        if "==" in line
    }
    lines = (PROJECT_ROOT / "worker" / "requirements.txt").read_text().splitlines()
    wanted = [line for line in lines if line and not line.startswith("#")]
    assert any(line.startswith("prefect==") for line in wanted)
    assert any(line.startswith("prefect-aws==") for line in wanted)
    for line in wanted:
        name, version = line.split("==")
        assert pins.get(name) == version, (
            f"{name}: worker pins {version}, pyproject {pins.get(name)}"
        )


# --- servers: moto, registries, the engine -----------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    return docker_engine.ensure_docker()


@pytest.fixture(scope="module")
def moto_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, f"moto exited; see {log}"
            assert time.monotonic() < deadline, f"moto did not start; see {log}"
            time.sleep(0.3)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


class Stack:
    """One test's settings, its own registry and ECR repository, and what to clean up."""

    def __init__(self, settings: BootstrapSettings, engine: docker.DockerClient) -> None:
        self.settings = settings
        self.engine = engine
        self.repository_name = f"prefect-local/test-{uuid.uuid4().hex[:8]}"
        ecr = aws.client(settings, "ecr")
        repository = ecr.create_repository(repositoryName=self.repository_name)["repository"]
        self.repository_url = str(repository["repositoryUri"])
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        self.token = str(token)
        self.password = base64.b64decode(token).decode().partition(":")[2]
        self.images: list[str] = []

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.settings.local_registry_port}"

    def ensure(self, source: image.ImageSource) -> image.ImageResult:
        result = image.ensure_image(
            self.settings, self.repository_name, self.repository_url, LOG, source=source
        )
        if result.built:
            self.images += [result.built.local_name, f"{self.host}/{self.repository_name}"]
        return result

    def build(self, source: image.ImageSource) -> image.BuiltImage:
        built = image.build_image(self.settings, LOG, source=source)
        self.images += [built.local_name, f"{self.host}/{self.repository_name}"]
        return built


@pytest.fixture
def stack(tmp_path: Path, moto_port: int, engine: docker.DockerClient) -> Iterator[Stack]:
    settings = _settings(tmp_path / "state", moto_port)
    result = Stack(settings, engine)
    try:
        yield result
    finally:
        registry.registry_down(settings)
        for name in result.images:
            for tagged in engine.api.images(name=name, quiet=False) or []:
                for repo_tag in tagged.get("RepoTags") or []:
                    if repo_tag.startswith(name):
                        engine.api.remove_image(repo_tag, force=True)


def _registry_manifest(stack: Stack, reference: str) -> httpx.Response:
    return httpx.get(
        f"http://{stack.host}/v2/{stack.repository_name}/manifests/{reference}",
        auth=("AWS", stack.password),
        headers={"Accept": ", ".join(image.MANIFEST_TYPES)},
        timeout=10,
    )


# --- build and push -----------------------------------------------------------------------------


@pytest.mark.slow
def test_build_push_and_read_back(tmp_path: Path, stack: Stack) -> None:
    registry.registry_up(stack.settings)
    source = _tiny(tmp_path)

    first = stack.ensure(source)

    assert first.built is not None and not first.image.skipped
    assert first.image.tag == first.built.tag == image.image_tag(stack.settings, source)
    digest = first.image.digest
    assert first.image.uri == f"{stack.host}/{stack.repository_name}@{digest}"
    response = _registry_manifest(stack, first.image.tag)
    assert response.status_code == 200
    assert response.headers["docker-content-digest"] == digest
    assert "sha256:" + hashlib.sha256(response.content).hexdigest() == digest
    assert first.image.size_bytes and first.image.size_bytes > 0
    described = aws.client(stack.settings, "ecr").describe_images(
        repositoryName=stack.repository_name, imageIds=[{"imageTag": first.image.tag}]
    )["imageDetails"][0]
    assert described["imageDigest"] == digest

    # Nothing to build or push: the registry may even be down, only ECR is asked.
    registry.registry_down(stack.settings)
    stack.engine.api.remove_image(first.built.local_name, force=True)
    second = stack.ensure(source)
    assert second.built is None and second.image.skipped
    assert second.image.digest == digest and second.image.uri == first.image.uri
    assert second.image.size_bytes == first.image.size_bytes


@pytest.mark.slow
def test_push_skips_a_tag_ecr_already_has(tmp_path: Path, stack: Stack) -> None:
    registry.registry_up(stack.settings)
    built = stack.build(_tiny(tmp_path))
    pushed = image.push_image(
        stack.settings, built, stack.repository_name, stack.repository_url, LOG
    )
    again = image.push_image(
        stack.settings, built, stack.repository_name, stack.repository_url, LOG
    )
    assert not pushed.skipped and again.skipped and again.digest == pushed.digest


@pytest.mark.slow
def test_rebuild_comes_from_cache(tmp_path: Path, stack: Stack) -> None:
    source = _tiny(tmp_path)
    first = stack.build(source)
    second = stack.build(source)
    assert second.cached and second.image_id == first.image_id
    assert second.build_seconds < 5


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_failing_step_is_one_readable_error(tmp_path: Path, stack: Stack) -> None:
    source = _tiny(tmp_path, "failing")
    with pytest.raises(image.ImageBuildError) as caught:
        stack.build(source)
    message = str(caught.value)
    assert "step 3/" in message and "RUN printf" in message
    assert "exited with code 3" in message
    assert "step output visible" in message, "the step's output helps the reader"
    assert "\x1b[" not in message


@pytest.mark.slow
def test_missing_base_image_names_the_from_step(tmp_path: Path, stack: Stack) -> None:
    source = _tiny(tmp_path, "failing")
    with pytest.raises(image.ImageBuildError) as caught:
        image.build_image(
            stack.settings,
            LOG,
            source=source,
            build_args={"BASE_IMAGE": "bootstrap-flows-test/no-such-base:1"},
        )
    message = str(caught.value)
    assert "step 2/" in message and "FROM" in message
    assert "no-such-base" in message


@pytest.mark.slow
def test_no_fallback_means_a_clear_error(tmp_path: Path, stack: Stack) -> None:
    settings = stack.settings.model_copy(
        update={
            "worker_base_image": "bootstrap-flows-test/unpullable:1",
            "base_image_fallback": "none",
        }
    )
    with pytest.raises(image.ImageBuildError, match="cannot be pulled.*BASE_IMAGE_FALLBACK"):
        image.build_image(settings, LOG, source=_tiny(tmp_path, "failing"))


@pytest.mark.slow
def test_wrong_registry_password(
    tmp_path: Path, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    registry.registry_up(stack.settings, password="not-the-ecr-token")
    built = stack.build(_tiny(tmp_path))
    with pytest.raises(image.ImagePushError, match="rejected the ECR credentials") as caught:
        image.push_image(stack.settings, built, stack.repository_name, stack.repository_url, LOG)
    assert stack.password not in str(caught.value)
    assert stack.password not in caplog.text and stack.token not in caplog.text


@pytest.mark.slow
def test_stopped_registry(tmp_path: Path, stack: Stack) -> None:
    registry.registry_up(stack.settings)
    registry.registry_down(stack.settings)
    assert not registry.registry_running(stack.settings)
    built = stack.build(_tiny(tmp_path))
    with pytest.raises(image.ImagePushError, match="is the local registry running") as caught:
        image.push_image(stack.settings, built, stack.repository_name, stack.repository_url, LOG)
    assert stack.host in str(caught.value)


@pytest.mark.slow
def test_ecr_token_never_logged(
    tmp_path: Path, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    registry.registry_up(stack.settings)
    result = stack.ensure(_tiny(tmp_path))
    assert not result.image.skipped
    assert "push layer" in caplog.text and "Pushed" in caplog.text
    assert stack.password not in caplog.text
    assert stack.token not in caplog.text


@pytest.mark.slow
def test_registry_restarts_with_the_current_password(stack: Stack) -> None:
    registry.registry_up(stack.settings, password="stale")
    host = registry.registry_up(stack.settings)
    assert host == stack.host
    answer = httpx.get(f"http://{host}/v2/", auth=("AWS", stack.password), timeout=5)
    assert answer.status_code == 200
    assert httpx.get(f"http://{host}/v2/", timeout=5).status_code == 401


# --- the real worker image ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def worker_image(tmp_path_factory: pytest.TempPathFactory) -> image.BuiltImage:
    docker_engine.ensure_docker()
    settings = _settings(tmp_path_factory.mktemp("worker-state"), 1024)
    return image.build_image(settings, LOG)


def _run(engine: docker.DockerClient, built: image.BuiltImage, *command: str, **kw: Any) -> str:
    output = engine.containers.run(
        built.image_id, list(command), remove=True, network_mode="none", stderr=True, **kw
    )
    return bytes(output).decode()


@pytest.mark.slow
def test_worker_image_runs_prefect_as_non_root(
    engine: docker.DockerClient, worker_image: image.BuiltImage
) -> None:
    assert _run(engine, worker_image, "id", "-u").strip() != "0"
    version = _run(engine, worker_image, "prefect", "version")
    assert "3.8.8" in version and "prefect-aws:        0.7.12" in version
    config = engine.api.inspect_image(worker_image.image_id)["Config"]
    assert config["Env"] and not any(
        "PIP_CERT" in env or "CA_BUNDLE" in env for env in config["Env"]
    )
    assert config["Labels"][image.HASH_LABEL] == worker_image.content_hash


@pytest.mark.slow
def test_worker_image_has_the_ecs_worker(
    engine: docker.DockerClient, worker_image: image.BuiltImage
) -> None:
    assert "--pool" in _run(engine, worker_image, "prefect", "worker", "start", "--help")
    found = _run(
        engine,
        worker_image,
        "python",
        "-c",
        "from prefect.plugins import load_prefect_collections;"
        "from prefect.workers.base import BaseWorker;"
        "from prefect.utilities.dispatch import lookup_type;"
        "load_prefect_collections(); print(lookup_type(BaseWorker, 'ecs').__name__)",
    )
    assert found.strip().endswith("ECSWorker")
    assert _run(engine, worker_image, "ls", "-d", "/opt/prefect/deployments").strip()


@pytest.mark.slow
def test_worker_entrypoint_needs_a_pool(
    engine: docker.DockerClient, worker_image: image.BuiltImage
) -> None:
    with pytest.raises(docker.errors.ContainerError) as caught:
        engine.containers.run(worker_image.image_id, remove=True, network_mode="none")
    assert caught.value.exit_status == 64
    assert b"PREFECT_WORK_POOL" in (caught.value.stderr or b"")
