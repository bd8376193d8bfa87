"""Fixtures for the fast tests (no servers)."""

from __future__ import annotations

import os

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
