"""The local registry: the embedded default's stand-in for ECR's registry endpoint.

moto emulates ECR's API but not its registry endpoint, so images for the local stack go to
Debian's `docker-registry` (distribution) on 127.0.0.1, behind htpasswd auth whose only user is
the one ECR's `get_authorization_token` hands out. That way the image stage logs in with ECR
credentials exactly as on AWS, and a wrong credential fails here as it would there.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.docker_engine import INSTALL_HINT, DockerEngineError
from bootstrap_local import processes
from bootstrap_local.settings import LocalSettings

# The user ECR's authorization token names; the registry's only htpasswd user.
REGISTRY_USER = "AWS"
REGISTRY = "registry"
REGISTRY_BINARY = "docker-registry"


def registry_dir(local: LocalSettings) -> Path:
    return local.state_dir / "registry"


def registry_url(local: LocalSettings) -> str:
    return f"http://127.0.0.1:{local.registry_port}"


def emulated_ecr_password(settings: BootstrapSettings) -> str:
    """The password in the emulated ECR's authorization token (moto: `<account>-auth-token`)."""
    try:
        return aws.ecr_login(aws.client(settings, "ecr")).password
    except Exception as exc:  # botocore raises several unrelated types for "not reachable"
        raise DockerEngineError(
            "cannot read an ECR authorization token from the emulator "
            f"to set the local registry's password; start the emulator first ({type(exc).__name__})"
        ) from exc


def _status(local: LocalSettings, password: str | None = None) -> int | None:
    """HTTP status of GET /v2/ (with credentials if given); None when nothing answers."""
    auth = (REGISTRY_USER, password) if password is not None else None
    try:
        return httpx.get(f"{registry_url(local)}/v2/", auth=auth, timeout=2).status_code
    except httpx.HTTPError:
        return None


def _htpasswd(password: str) -> str:
    try:
        import bcrypt  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        if not shutil.which("htpasswd"):
            raise DockerEngineError(
                f"htpasswd is missing (apache2-utils) for the local registry's auth; {INSTALL_HINT}"
            ) from exc
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


def _write_config(local: LocalSettings, password: str) -> Path:
    root = registry_dir(local)
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
        f"http:\n  addr: 127.0.0.1:{local.registry_port}\n"
        f"  secret: {secrets.token_hex(16)}\n"
        f"auth:\n  htpasswd:\n    realm: bootstrap-flows\n    path: {htpasswd}\n"
    )
    config.chmod(0o600)
    return config


def registry_up(
    settings: BootstrapSettings,
    local: LocalSettings,
    password: str | None = None,
    timeout: float = 30,
) -> str:
    """Start (or confirm) the local registry; return its host (`127.0.0.1:<port>`).

    `password` defaults to the emulated ECR's token password, read from the emulator.
    """
    host = f"127.0.0.1:{local.registry_port}"
    if password is None:
        password = emulated_ecr_password(settings)
    if processes.running_pid(local.state_dir, REGISTRY):
        if _status(local, password) == 200:
            return host
        # Running with another password (the emulator was reset): restart with the current one.
        registry_down(local)
    if _status(local) is not None:
        raise DockerEngineError(
            f"port {local.registry_port} is taken by a process this stack did not start; "
            "stop it or choose another port (BOOTSTRAP_LOCAL_REGISTRY_PORT)"
        )
    binary = shutil.which(REGISTRY_BINARY)
    if not binary:
        raise DockerEngineError(f"`{REGISTRY_BINARY}` is not installed; {INSTALL_HINT}")
    config = _write_config(local, password)
    processes.start(
        local.state_dir,
        REGISTRY,
        [binary, "serve", str(config)],
        # 401 without credentials: up, and auth is on.
        ready=lambda: _status(local) == 401,
        timeout=timeout,
        env=dict(os.environ),
        cwd=PROJECT_ROOT,
        error=DockerEngineError,
    )
    return host


def registry_down(local: LocalSettings) -> bool:
    """Stop the registry this stack started (by its PID); True if one was running."""
    return processes.stop(local.state_dir, REGISTRY, grace=10.0)


def registry_running(local: LocalSettings) -> bool:
    running = processes.running_pid(local.state_dir, REGISTRY) is not None
    return running and _status(local) == 401


def register_in_ecr(
    settings: BootstrapSettings,
    repository_name: str,
    tag: str,
    digest: str,
    manifest: str,
    media_type: str,
) -> None:
    """Record an image pushed to this registry in moto's ECR, so the tag check sees it.

    On AWS this is the push's last step (PutImage sets the tag), and an IMMUTABLE repository
    refuses there a tag it holds for another image. Here the registry has already moved the
    tag: it is put back on ECR's image, so a refused push changes nothing, as on AWS.
    """
    ecr = aws.client(settings, "ecr")
    try:
        ecr.put_image(
            repositoryName=repository_name,
            imageManifest=manifest,
            imageManifestMediaType=media_type,
            imageTag=tag,
            imageDigest=digest,
        )
    except ecr.exceptions.ImageAlreadyExistsException:
        pass  # this very image under this tag: pushed before, nothing to record
    except ecr.exceptions.ImageTagAlreadyExistsException as exc:
        # Here, not at the top: bootstrap_flows.image imports Prefect, which the CLI must not
        # import at start (tests/unit/local/test_cli_imports.py).
        from bootstrap_flows.image.errors import ImagePushError

        _restore_tag(settings, ecr, repository_name, tag)
        # What `docker push` prints for ECR's refusal.
        message = exc.response.get("Error", {}).get("Message")
        raise ImagePushError(
            f"push of {repository_name}:{tag} refused: tag invalid: {message}"
        ) from exc
    except (ClientError, BotoCoreError) as exc:
        raise DockerEngineError(
            f"registering {repository_name}:{tag} in the emulated ECR failed: {exc}"
        ) from exc


def _restore_tag(settings: BootstrapSettings, ecr: Any, repository_name: str, tag: str) -> None:
    """Point the registry's `tag` back at the image ECR holds for it (its manifest, byte for
    byte: the registry still has that manifest and its layers)."""
    from bootstrap_flows.image.push import MANIFEST_TYPES  # see register_in_ecr

    held = ecr.batch_get_image(
        repositoryName=repository_name,
        imageIds=[{"imageTag": tag}],
        acceptedMediaTypes=list(MANIFEST_TYPES),
    )["images"][0]
    host = resolve(settings).registry_host
    response = httpx.put(
        f"http://{host}/v2/{repository_name}/manifests/{tag}",
        content=held["imageManifest"].encode(),
        headers={"Content-Type": held["imageManifestMediaType"]},
        auth=(REGISTRY_USER, emulated_ecr_password(settings)),
        timeout=30,
    )
    if response.status_code != 201:
        raise DockerEngineError(
            f"registry {host} did not take {repository_name}:{tag} back to ECR's image "
            f"{held['imageId']['imageDigest']}: HTTP {response.status_code} {response.text[:200]}"
        )
