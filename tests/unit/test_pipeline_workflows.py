"""The staged pipeline's workflows (examples/github-actions/pull-request.yml, release.yml): their
shape. That they work is shown by running their steps
(tests/integration/test_environments.py, the pipeline test).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_ci_workflow import CONTEXT, EXAMPLE, PINNED

RELEASE = EXAMPLE / "release.yml"
PULL_REQUEST = EXAMPLE / "pull-request.yml"
SCRIPT = re.compile(r"\.github/scripts/([\w.-]+)")
OIDC_AND_READ = {"id-token": "write", "contents": "read"}


def jobs(path: Path) -> dict[str, dict[str, Any]]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    assert loaded["permissions"] == {}, "each job asks for its own permissions"
    found: dict[str, dict[str, Any]] = loaded["jobs"]
    return found


def scripts(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_production_runs_after_staging_behind_its_environment() -> None:
    staging, production = jobs(RELEASE).values()
    assert list(jobs(RELEASE)) == ["staging", "production"]
    assert (staging["environment"], production["environment"]) == ("staging", "production")
    assert production["needs"] == "staging" and "needs" not in staging
    assert staging["permissions"] == production["permissions"] == OIDC_AND_READ
    # Production builds nothing: it copies what staging's job says passed.
    assert not [run for run in scripts(production) if "docker build" in run or "build-image" in run]
    assert set(staging["outputs"]) == {"image", "tag"}
    promote = [s for s in production["steps"] if "promote-image.sh" in s.get("run", "")]
    assert [s["env"]["SOURCE_IMAGE"] for s in promote] == ["${{ needs.staging.outputs.image }}"]


def test_the_smoke_test_is_the_last_step_of_staging() -> None:
    staging = jobs(RELEASE)["staging"]
    assert staging["steps"][-1]["run"] == '.github/scripts/run-deployment.sh "$SMOKE_DEPLOYMENT"'


@pytest.mark.parametrize("path", [RELEASE, PULL_REQUEST], ids=lambda path: path.name)
def test_no_terraform_in_the_runner_and_no_expression_in_a_script(path: Path) -> None:
    runs = [run for job in jobs(path).values() for run in scripts(job)]
    assert runs
    assert [run for run in runs if "terraform" in run or "${{" in run] == []


@pytest.mark.parametrize("path", [RELEASE, PULL_REQUEST], ids=lambda path: path.name)
def test_every_script_a_step_calls_is_shipped(path: Path) -> None:
    called = {
        name for job in jobs(path).values() for run in scripts(job) for name in SCRIPT.findall(run)
    }
    assert called
    shipped = {script.name for script in (EXAMPLE / "scripts").glob("*.sh")}
    assert called <= shipped


@pytest.mark.parametrize("path", [RELEASE, PULL_REQUEST], ids=lambda path: path.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    lines = [line.strip() for line in path.read_text().splitlines()]
    uses = [line.removeprefix("uses:").strip() for line in lines if line.startswith("uses:")]
    assert uses and [pin for pin in uses if not PINNED.match(pin)] == []


def test_pull_requests_get_no_cloud_credentials() -> None:
    for name, job in jobs(PULL_REQUEST).items():
        assert job["permissions"] == {"contents": "read"}, name
        assert not [s for s in job["steps"] if "aws-actions" in s.get("uses", "")], name


def test_the_readme_names_every_variable_and_secret_the_pipeline_reads() -> None:
    read = {pair for path in (RELEASE, PULL_REQUEST) for pair in CONTEXT.findall(path.read_text())}
    readme = (EXAMPLE / "README.md").read_text()
    told = {
        ("vars" if kind == "variable" else "secrets", name)
        for name, kind in re.findall(
            r"^\| `([A-Z0-9_]+)` \| (?:environment |repository )?(variable|secret) \|", readme, re.M
        )
    }
    assert read <= told, read - told
