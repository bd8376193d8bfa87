"""Preflight turns each unusable input into one message that says what to fix; nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.safety.preflight import (
    PreflightError,
    check_availability_zones,
    check_boundary_account,
    check_prefect_api,
    check_provider_mirror,
    check_terraform,
)
from tests.support.ports import free_port

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


def test_unreachable_prefect_api_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("BOOTSTRAP_LOCAL_PREFECT_PORT", str(port))
    settings = load_settings()
    with pytest.raises(PreflightError, match=f"Prefect API at http://127.0.0.1:{port}/api is not"):
        check_prefect_api(settings)


# Each refusal, with its message, is a row of the README's "Refused inputs" table and a case of
# tests/unit/test_refused_inputs.py; here: what preflight accepts.


@pytest.mark.parametrize(
    "layout",
    [
        "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws",
        "registry.terraform.io/hashicorp/aws/terraform-provider-aws_5.100.0_linux_amd64.zip",
    ],
    ids=["unpacked", "packed"],
)
def test_provider_mirror_in_either_layout(tmp_path: Path, layout: str) -> None:
    (tmp_path / layout).parent.mkdir(parents=True)
    (tmp_path / layout).write_bytes(b"")
    check_provider_mirror(tmp_path, "linux_amd64")


def test_the_zones_the_network_module_uses() -> None:
    from moto import mock_aws

    with mock_aws():
        zones = check_availability_zones(remote(aws_region="eu-west-1", az_count=2))
    assert zones == ["eu-west-1a", "eu-west-1b"]


@pytest.mark.parametrize("version", ["1.10.0", "1.10.5", "1.11.4", "2.0.0"])
def test_terraform_at_or_above_the_floor_passes(
    version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_terraform(tmp_path, monkeypatch, version)
    assert check_terraform(remote(terraform_provider_mirror=None)) == version


def test_terraform_below_the_floor_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_terraform(tmp_path, monkeypatch, "1.9.8")
    with pytest.raises(PreflightError) as refused:
        check_terraform(remote(terraform_provider_mirror=None))
    assert str(refused.value) == "terraform 1.9.8 is too old: install Terraform >= 1.10"


def _fake_terraform(tmp: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """A `terraform` first on PATH whose `version -json` answers `version`."""
    binary = tmp / "bin" / "terraform"
    binary.parent.mkdir()
    about = f'{{"terraform_version": "{version}", "platform": "linux_amd64"}}'
    binary.write_text(f"#!/bin/sh\necho '{about}'\n")
    binary.chmod(0o755)
    monkeypatch.setenv("PATH", f"{binary.parent}:/usr/bin:/bin")


OWN = "arn:aws:iam::123456789012:policy/boundary"


@pytest.mark.parametrize("boundary", [None, OWN, "arn:aws:iam::aws:policy/PowerUserAccess"])
def test_a_boundary_of_the_account_or_of_aws_passes(boundary: str | None) -> None:
    check_boundary_account(remote(permissions_boundary_arn=boundary), "123456789012")
    if boundary != OWN:  # AWS's policies, and none, are any account's
        check_boundary_account(remote(permissions_boundary_arn=boundary), "999999999999")
    else:  # the README's refused-inputs table has the refusal's row
        with pytest.raises(PreflightError, match="a policy of account 123456789012"):
            check_boundary_account(remote(permissions_boundary_arn=boundary), "999999999999")
