"""Every workflow under examples/github-actions/ is clean for zizmor (GitHub Actions' security
linter, offline: no GitHub token, no network) with its strictest persona, and valid against
GitHub's workflow schema. A finding that is accepted is suppressed in the workflow itself
(`# zizmor: ignore[<audit>]`) with a comment saying why, so the reason sits beside the line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bootstrap_flows.config.settings import PROJECT_ROOT
from tests.unit.test_ci_workflow import schema_errors

EXAMPLE = PROJECT_ROOT / "examples" / "github-actions"
WORKFLOWS = sorted(EXAMPLE.glob("*.yml"))
ZIZMOR = Path(sys.executable).parent / "zizmor"


def zizmor_findings(path: Path) -> list[dict[str, Any]]:
    """zizmor's findings for one workflow (pedantic: code smells too), as its JSON reports them."""
    done = subprocess.run(
        [str(ZIZMOR), "--offline", "--persona", "pedantic", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit codes: 0 clean, 10-14 findings by highest severity; anything else is zizmor failing.
    assert done.returncode == 0 or 10 <= done.returncode <= 14, done.stderr[-2000:]
    findings: list[dict[str, Any]] = json.loads(done.stdout)
    return findings


def shown(findings: list[dict[str, Any]]) -> list[str]:
    return [
        f"{f['ident']}: {f['desc']} ({f['locations'][0]['symbolic']['annotation']})"
        for f in findings
    ]


def test_the_example_workflows_are_the_expected_ones() -> None:
    # A workflow added here is linted; one renamed away is noticed.
    assert [path.name for path in WORKFLOWS] == ["deploy.yml", "pull-request.yml", "release.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_zizmor_finds_nothing(path: Path) -> None:
    assert shown(zizmor_findings(path)) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_the_workflow_is_valid_against_githubs_schema(path: Path) -> None:
    assert schema_errors(path) == ""


def test_zizmor_reports_an_unpinned_action_and_an_expression_in_a_script(tmp_path: Path) -> None:
    text = (EXAMPLE / "deploy.yml").read_text()
    pinned = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
    script = "run: prefect --no-prompt deploy --all"
    assert pinned in text and script in text
    broken = tmp_path / "deploy.yml"
    injected = "run: prefect --no-prompt deploy --name ${{ github.head_ref }}"
    broken.write_text(text.replace(pinned, "actions/checkout@v7").replace(script, injected))
    idents = {finding["ident"] for finding in zizmor_findings(broken)}
    assert {"unpinned-uses", "template-injection"} <= idents
