"""Docker for the embedded default: an engine that answers, and a registry standing in for ECR.

moto emulates ECR's API but not its registry endpoint, so images for the local stack go to
Debian's `docker-registry` (distribution) on 127.0.0.1, behind htpasswd auth whose only user is
the one ECR's `get_authorization_token` hands out. That way the image stage logs in with ECR
credentials exactly as on AWS, and a wrong credential fails here as it would there.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import docker
import httpx

from bootstrap_flows import aws, processes
from bootstrap_flows.processes import ServiceError
from bootstrap_flows.settings import PROJECT_ROOT, BootstrapSettings

REGISTRY_USER = "AWS"
REGISTRY = "registry"
REGISTRY_BINARY = "docker-registry"
INSTALL_HINT = "run scripts/install-docker.sh (root on Debian/Ubuntu) or start Docker"


class DockerEngineError(ServiceError):
    """No Docker engine, or the local registry could not start; the message says what to do."""


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def ensure_docker(timeout: float = 10) -> docker.DockerClient:
    """A client of a Docker engine that answers, or a DockerEngineError saying how to get one."""
    try:
        # version="auto": Debian's engine (API 1.41) rejects the SDK's default API version.
        client = docker.from_env(version="auto", timeout=int(timeout))
        client.ping()
    except docker.errors.DockerException as exc:
        raise DockerEngineError(
            f"no Docker engine answers at {engine_address()}; {INSTALL_HINT} ({exc})"
        ) from None
    return client


# --- the local registry ----------------------------------------------------------------------


def registry_dir(settings: BootstrapSettings) -> Path:
    return settings.local_state_dir / "registry"


def registry_url(settings: BootstrapSettings) -> str:
    return f"http://127.0.0.1:{settings.local_registry_port}"


def emulated_ecr_password(settings: BootstrapSettings) -> str:
    """The password in the emulated ECR's authorization token (moto: `<account>-auth-token`)."""
    try:
        data = aws.client(settings, "ecr").get_authorization_token()["authorizationData"][0]
    except Exception as exc:  # botocore raises several unrelated types for "not reachable"
        raise DockerEngineError(
            f"cannot read an ECR authorization token from {settings.effective_aws_endpoint_url} "
            f"to set the local registry's password; start the emulator first ({type(exc).__name__})"
        ) from None
    _, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return password


def _status(settings: BootstrapSettings, password: str | None = None) -> int | None:
    """HTTP status of GET /v2/ (with credentials if given); None when nothing answers."""
    auth = (REGISTRY_USER, password) if password is not None else None
    try:
        return httpx.get(f"{registry_url(settings)}/v2/", auth=auth, timeout=2).status_code
    except httpx.HTTPError:
        return None


def _htpasswd(password: str) -> str:
    try:
        import bcrypt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        if not shutil.which("htpasswd"):
            raise DockerEngineError(
                f"htpasswd is missing (apache2-utils) for the local registry's auth; {INSTALL_HINT}"
            ) from None
        # -i reads the password from stdin: a password never goes on a command line.
        result = subprocess.run(
            ["htpasswd", "-niB", REGISTRY_USER],
            input=password,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip() + "\n"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    return f"{REGISTRY_USER}:{hashed}\n"


def _write_config(settings: BootstrapSettings, password: str) -> Path:
    root = registry_dir(settings)
    (root / "data").mkdir(parents=True, exist_ok=True)
    htpasswd = root / "htpasswd"
    htpasswd.touch(mode=0o600)
    htpasswd.write_text(_htpasswd(password))
    config = root / "config.yml"
    # `secret` signs upload state; a fixed random one per start is fine for one instance.
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{settings.local_registry_port}\n"
        f"  secret: {secrets.token_hex(16)}\n"
        f"auth:\n  htpasswd:\n    realm: bootstrap-flows\n    path: {htpasswd}\n"
    )
    config.chmod(0o600)
    return config


def registry_up(
    settings: BootstrapSettings, password: str | None = None, timeout: float = 30
) -> str:
    """Start (or confirm) the local registry; return its host (`127.0.0.1:<port>`).

    `password` defaults to the emulated ECR's token password, read from the emulator.
    """
    host = f"127.0.0.1:{settings.local_registry_port}"
    if password is None:
        password = emulated_ecr_password(settings)
    if processes.running_pid(settings.local_state_dir, REGISTRY):
        if _status(settings, password) == 200:
            return host
        # Running with another password (the emulator was reset): restart with the current one.
        registry_down(settings)
    if _status(settings) is not None:
        raise DockerEngineError(
            f"port {settings.local_registry_port} is taken by a process this stack did not start; "
            "stop it or choose another port (BOOTSTRAP_LOCAL_REGISTRY_PORT)"
        )
    binary = shutil.which(REGISTRY_BINARY)
    if not binary:
        raise DockerEngineError(f"`{REGISTRY_BINARY}` is not installed; {INSTALL_HINT}")
    config = _write_config(settings, password)
    processes.start(
        settings.local_state_dir,
        REGISTRY,
        [binary, "serve", str(config)],
        # 401 without credentials: up, and auth is on.
        ready=lambda: _status(settings) == 401,
        timeout=timeout,
        env=dict(os.environ),
        cwd=PROJECT_ROOT,
        error=DockerEngineError,
    )
    return host


def registry_down(settings: BootstrapSettings) -> bool:
    """Stop the registry this stack started (by its PID); True if one was running."""
    return processes.stop(settings.local_state_dir, REGISTRY, grace=10.0)


def registry_running(settings: BootstrapSettings) -> bool:
    running = processes.running_pid(settings.local_state_dir, REGISTRY) is not None
    return running and _status(settings) == 401
