"""The embedded default hands this machine's provider mirror to every process it starts, so a
`bootstrap` worker started by `bootstrap-flows local up` by hand finds it (issue 24)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap_flows.config.settings import load_settings
from bootstrap_local import provider_mirror, stack
from bootstrap_local.settings import load_local_settings


def _mirror(root: Path) -> Path:
    (root / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    return root


def test_the_first_candidate_holding_the_aws_provider_is_found(tmp_path: Path) -> None:
    empty, mirror = tmp_path / "empty", _mirror(tmp_path / "mirror")
    empty.mkdir()
    assert provider_mirror.find((tmp_path / "missing", empty, mirror)) == mirror
    assert provider_mirror.find((empty,)) is None


def test_a_mirror_given_as_the_setting_wins(tmp_path: Path) -> None:
    found = (_mirror(tmp_path / "found"),)
    assert provider_mirror.environment(None, found) == {provider_mirror.VARIABLE: str(found[0])}
    assert provider_mirror.environment(tmp_path / "given", found) == {}  # kept as given


def test_the_bootstrap_worker_started_without_the_setting_gets_the_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `local up` in a shell that never sourced scripts/env.sh gives the worker."""
    monkeypatch.delenv(provider_mirror.VARIABLE, raising=False)
    monkeypatch.setattr(provider_mirror, "CANDIDATES", (_mirror(tmp_path / "opt"),))
    settings, local = load_settings(environment="local"), load_local_settings()
    assert settings.terraform_provider_mirror is None
    env = stack._worker(settings, local).env
    assert env[provider_mirror.VARIABLE] == str(tmp_path / "opt")
    # In the worker's flow runs, settings read it as the product's setting.
    monkeypatch.setenv(provider_mirror.VARIABLE, env[provider_mirror.VARIABLE])
    assert load_settings(environment="local").terraform_provider_mirror == tmp_path / "opt"
