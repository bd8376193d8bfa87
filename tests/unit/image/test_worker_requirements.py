"""The worker image installs exactly the versions the project pins."""

from __future__ import annotations

import tomllib

from bootstrap_flows.config.settings import PROJECT_ROOT


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
