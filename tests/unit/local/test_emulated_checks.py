"""Which drift checks `local down` pauses: those of environments whose AWS is the emulator."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bootstrap_local import emulated_checks


def check_of(environment: str | None) -> SimpleNamespace:
    """A drift-check deployment as Prefect's client returns it, with the fields read."""
    return SimpleNamespace(parameters={"environment": environment} if environment else {})


@pytest.mark.parametrize(
    ("environment", "paused"),
    [
        ("local", True),  # its AWS is the emulator: gone with the stack
        ("dev", False),  # real AWS: still there while the laptop sleeps
        ("nowhere", False),  # no file: not configured here
        (None, False),  # no environment parameter: not one of ours
    ],
)
def test_only_environments_on_the_emulator_are_paused(
    environments_folder: Path, environment: str | None, paused: bool
) -> None:
    assert emulated_checks.on_emulator(check_of(environment)) is paused


def test_an_environment_whose_settings_do_not_load_is_left_alone(
    environments_folder: Path,
) -> None:
    (environments_folder / "broken.env").write_text("BOOTSTRAP_AWS_REGION=mars-north-1\n")
    assert emulated_checks.on_emulator(check_of("broken")) is False
