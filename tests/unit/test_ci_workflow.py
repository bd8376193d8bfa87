"""examples/github-actions/deploy.yml: valid against GitHub's workflow schema (schemastore's,
as check-jsonschema ships it, offline), asks for exactly the OIDC token and read access, pins
every action to a commit, keeps expressions out of shell scripts, and every variable or secret
it reads is one the README tells the user to set.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap_flows.config.settings import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "github-actions"
WORKFLOW = EXAMPLE / "deploy.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
# A full commit SHA, then the version it is, as Dependabot writes such pins.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
CONTEXT = re.compile(r"\$\{\{\s*(vars|secrets)\.([A-Z0-9_]+)\s*\}\}")


def schema_errors(path: Path) -> str:
    """check-jsonschema's report for `path` against schemastore's github-workflow schema
    ("" when valid)."""
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if result.returncode == 0 else result.stdout + result.stderr


def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def steps() -> list[dict[str, Any]]:
    return [step for job in workflow()["jobs"].values() for step in job["steps"]]


def test_the_workflow_is_valid_against_githubs_schema() -> None:
    assert schema_errors(WORKFLOW) == ""


@pytest.mark.parametrize(
    ("broken", "by"),
    [
        (("id-token: write", "id-token: writ"), "'writ' is not one of"),
        (("    runs-on: ubuntu-24.04\n", ""), "'runs-on' is a required property"),
        (
            ("        uses: actions/checkout", "        usess: actions/checkout"),
            "steps[0]: 'uses' is a required property",
        ),
    ],
)
def test_the_schema_check_refuses_a_broken_workflow(
    tmp_path: Path, broken: tuple[str, str], by: str
) -> None:
    text = WORKFLOW.read_text()
    assert broken[0] in text
    copy = tmp_path / "deploy.yml"
    copy.write_text(text.replace(broken[0], broken[1]))
    errors = schema_errors(copy)
    assert by in errors


def test_it_asks_for_the_oidc_token_and_read_access_only() -> None:
    # Nothing for the workflow; the job asks for its own (zizmor: excessive-permissions).
    assert workflow()["permissions"] == {}
    for name, job in workflow()["jobs"].items():
        assert job["permissions"] == {"id-token": "write", "contents": "read"}, name
        # An environment would change the token's subject, which the role refuses.
        assert "environment" not in job, name


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    lines = [line.strip() for line in WORKFLOW.read_text().splitlines()]
    uses = [line.removeprefix("uses:").strip() for line in lines if line.startswith("uses:")]
    assert len(uses) == len([step for step in steps() if "uses" in step]) == 4
    assert [pin for pin in uses if not PINNED.match(pin)] == []


def test_the_role_comes_from_a_repository_variable_and_no_key_is_used() -> None:
    (assume,) = [s for s in steps() if s.get("uses", "").startswith("aws-actions/configure-aws")]
    assert assume["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(assume["with"])


def test_no_expression_is_expanded_inside_a_shell_script() -> None:
    # Values reach scripts through `env:`, so none can inject shell code.
    scripts = [step["run"] for step in steps() if "run" in step]
    assert scripts and [script for script in scripts if "${{" in script] == []


def test_the_readme_names_every_variable_and_secret_the_workflow_reads() -> None:
    read = set(CONTEXT.findall(WORKFLOW.read_text()))
    readme = (EXAMPLE / "README.md").read_text()
    told = {
        ("vars" if kind == "variable" else "secrets", name)
        for name, kind in re.findall(r"^\| `([A-Z0-9_]+)` \| (variable|secret) \|", readme, re.M)
    }
    assert read == told
    assert {name for _, name in read} >= {
        "AWS_ROLE_ARN",
        "AWS_REGION",
        "ECR_REPOSITORY",
        "PREFECT_CODE_BUCKET",
        "PREFECT_API_URL",
        "PREFECT_API_KEY",
    }
    # Credentials are secrets, never plain variables (those show in logs and to every reader).
    assert ("secrets", "PREFECT_API_KEY") in read and ("secrets", "PREFECT_API_AUTH_STRING") in read
