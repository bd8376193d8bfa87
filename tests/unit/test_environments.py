"""Environment files: which one a run reads, in which order, which environments are configured.

Refusals of a file's content (a secret, another environment's name) are rows of the README's
refused-inputs table (tests/unit/test_refused_inputs.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap_flows.config import environments
from bootstrap_flows.config.settings import PROJECT_ROOT, SettingsError, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")

REMOTE = {"prefect_api_url": "https://prefect.example.com/api", "prefect_api_key": "k"}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environments directory of the test's own, and a generic env file beside it."""
    directory = tmp_path / "environments"
    directory.mkdir()
    monkeypatch.setenv("BOOTSTRAP_ENVIRONMENTS_DIR", str(directory))
    monkeypatch.setenv("BOOTSTRAP_ENV_FILE", str(tmp_path / "generic.env"))
    return directory


def write(path: Path, *lines: str) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def test_sources_strongest_first(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        folder.parent / "generic.env",
        "BOOTSTRAP_AZ_COUNT=2",
        "BOOTSTRAP_NAT_MODE=none",
        "BOOTSTRAP_WORKER_COUNT=4",
        "BOOTSTRAP_E2E_TIMEOUT=100",
    )
    write(
        folder / "qa.env",
        "BOOTSTRAP_NAT_MODE=per_az",
        "BOOTSTRAP_WORKER_COUNT=3",
        "BOOTSTRAP_E2E_TIMEOUT=200",
    )
    monkeypatch.setenv("BOOTSTRAP_WORKER_COUNT", "2")
    monkeypatch.setenv("BOOTSTRAP_E2E_TIMEOUT", "300")
    settings = load_settings(environment="qa", e2e_timeout=400, **REMOTE)
    assert settings.az_count == 2  # the generic file beats the default
    assert settings.nat_mode == "per_az"  # the environment's file beats the generic one
    assert settings.worker_count == 2  # a variable beats both files
    assert settings.e2e_timeout == 400  # a parameter beats everything
    assert settings.log_retention_days == 14  # the default


def test_each_environment_reads_its_own_file(folder: Path) -> None:
    write(folder / "qa.env", "BOOTSTRAP_WORK_POOL_NAME=qa-pool")
    write(folder / "uat.env", "BOOTSTRAP_WORK_POOL_NAME=uat-pool")
    assert load_settings(environment="qa", **REMOTE).work_pool_name == "qa-pool"
    assert load_settings(environment="uat", **REMOTE).work_pool_name == "uat-pool"
    assert load_settings(environment="sit", **REMOTE).work_pool_name == "ecs-work-pool"


@pytest.mark.parametrize("source", ["variable", "generic file"])
def test_environment_named_outside_the_parameters(
    source: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(folder / "qa.env", "BOOTSTRAP_TARGET=emulator", "BOOTSTRAP_WORK_POOL_NAME=qa-pool")
    if source == "variable":
        monkeypatch.setenv("BOOTSTRAP_ENVIRONMENT", "qa")
    else:
        write(folder.parent / "generic.env", "BOOTSTRAP_ENVIRONMENT=qa")
    settings = load_settings()
    assert (settings.environment, settings.work_pool_name) == ("qa", "qa-pool")


def test_a_bad_name_picks_no_file(folder: Path) -> None:
    # `../generic` would name the generic file as an environment's: refused as a name instead.
    write(folder.parent / "generic.env", "BOOTSTRAP_PREFECT_API_KEY=pnu_fine-in-generic")
    with pytest.raises(SettingsError, match=r"environment \[BOOTSTRAP_ENVIRONMENT\]: '\.\./gen"):
        load_settings(environment="../generic")


def test_secrets_belong_in_the_generic_file(folder: Path) -> None:
    write(folder.parent / "generic.env", "BOOTSTRAP_PREFECT_API_KEY=pnu_fine-in-generic")
    write(folder / "qa.env", "BOOTSTRAP_PREFECT_API_URL=https://prefect.example.com/api")
    settings = load_settings(environment="qa")
    assert settings.prefect_api_key is not None
    assert settings.prefect_api_key.get_secret_value() == "pnu_fine-in-generic"


@pytest.mark.parametrize(
    ("name", "lines", "configured"),
    [
        ("local", [], True),  # the emulator is local's default target
        ("qa", ["BOOTSTRAP_TARGET=emulator"], True),
        ("qa", ["BOOTSTRAP_AWS_REGION=eu-west-1"], False),  # where AWS is: not said
        ("qa", ["# BOOTSTRAP_AWS_ACCOUNT_ID=111111111111"], False),
        ("qa", ["BOOTSTRAP_AWS_ACCOUNT_ID=111111111111"], True),
        ("local", ["BOOTSTRAP_TARGET=aws"], False),
    ],
)
def test_configured(folder: Path, name: str, lines: list[str], configured: bool) -> None:
    write(folder / f"{name}.env", *lines)
    assert environments.is_configured(name) is configured
    assert environments.is_configured("missing") is False


def test_checkout_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples load, and only `local` is configured: a fresh quick start schedules nothing
    for an environment nobody set up."""
    monkeypatch.setenv("BOOTSTRAP_ENVIRONMENTS_DIR", str(PROJECT_ROOT / "environments"))
    names = environments.environment_names()
    assert names == ["dev", "local", "prod", "staging"]
    assert [name for name in names if environments.is_configured(name)] == ["local"]
    loaded = {name: load_settings(environment=name, **REMOTE) for name in names}
    assert len({s.work_pool_name for s in loaded.values()}) == len(names)
    assert len({s.vpc_cidr for s in loaded.values() if s.environment != "local"}) == 3
    assert loaded["local"].target == "emulator"
    assert (loaded["prod"].promote_from, loaded["prod"].require_approval) == ("staging", True)
    assert not loaded["staging"].require_approval
    for name in names:
        text = (PROJECT_ROOT / "environments" / f"{name}.env").read_text()
        assert "AUTH_STRING=" not in text and "API_KEY=" not in text
