"""Fixtures for the fast tests (no servers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from defaults and the test's own arguments only: no BOOTSTRAP_* from the session
    (the suite's top conftest.py sets ports and a credential for the servers) and no env file."""
    for name in list(os.environ):
        if name.startswith("BOOTSTRAP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BOOTSTRAP_ENV_FILE", "/nonexistent")
    monkeypatch.setenv("BOOTSTRAP_ENVIRONMENTS_DIR", "/nonexistent")


@pytest.fixture
def environments_folder(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environments directory with `local` (the emulator) and `dev` (an AWS account, Prefect
    Cloud; its key by environment variable), as BOOTSTRAP_ENVIRONMENTS_DIR."""
    directory = tmp_path / "environments"
    directory.mkdir()
    monkeypatch.setenv("BOOTSTRAP_ENVIRONMENTS_DIR", str(directory))
    (directory / "local.env").write_text("BOOTSTRAP_TARGET=emulator\n")
    (directory / "dev.env").write_text(
        "BOOTSTRAP_AWS_ACCOUNT_ID=111111111111\n"
        "BOOTSTRAP_PREFECT_API_URL=https://prefect.example.com/api\n"
        "BOOTSTRAP_WORK_POOL_NAME=dev-pool\n"
        'BOOTSTRAP_DRIFT_SCHEDULE="0 3 * * *"\n'
    )
    monkeypatch.setenv("BOOTSTRAP_PREFECT_API_KEY", "pnu_test")
    return directory
