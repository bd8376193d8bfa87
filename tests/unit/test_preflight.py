"""Preflight turns each unusable input into one message that says what to fix; nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap_flows.preflight import (
    PreflightError,
    check_aws_identity,
    check_prefect_api,
    check_terraform,
)
from bootstrap_flows.settings import BootstrapSettings, load_settings
from tests.conftest import free_port

REMOTE = {
    "environment": "dev",
    "prefect_api_auth_string": "user:pass",
    "prefect_api_url": "https://prefect.example.invalid/api",
}


def remote(**overrides: object) -> BootstrapSettings:
    return load_settings(**{**REMOTE, **overrides})


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_api_refused_for_a_remote_environment(host: str) -> None:
    settings = remote(prefect_api_url=f"http://{host}:4200/api")
    with pytest.raises(PreflightError, match="on loopback: a Fargate task cannot reach"):
        check_prefect_api(settings)


def test_unreachable_prefect_api_is_named() -> None:
    port = free_port()
    settings = load_settings(local_prefect_port=port)
    with pytest.raises(PreflightError, match=f"Prefect API at http://127.0.0.1:{port}/api is not"):
        check_prefect_api(settings)


def test_provider_mirror_without_providers(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="holds no registry.terraform.io/ providers"):
        check_terraform(load_settings(terraform_provider_mirror=tmp_path))


def test_missing_terraform_stacks(tmp_path: Path) -> None:
    with pytest.raises(PreflightError, match="no Terraform stacks under"):
        check_terraform(load_settings(terraform_dir=tmp_path))


def test_missing_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    # No instance-metadata lookups: nothing here may leave this machine.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(PreflightError, match="no AWS credentials found: set AWS_PROFILE"):
        check_aws_identity(remote())
