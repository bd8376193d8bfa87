"""Static checks of every module and stack: fmt, validate, checkov (skips live in code)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_flows.terraform.runner import Terraform

TERRAFORM = PROJECT_ROOT / "infrastructure" / "terraform"
ROOTS = sorted(
    p
    for kind in ("modules", "stacks", "examples")
    for p in TERRAFORM.glob(f"{kind}/*")
    if p.is_dir()
)
CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"


def test_fmt_clean() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_validate(root: Path, tmp_path: Path) -> None:
    for required in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (root / required).is_file(), f"{root.name} lacks {required}"
    mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
    terraform = Terraform(root, tmp_path, provider_mirror=Path(mirror) if mirror else None)
    terraform.init(backend_config=None)
    result = subprocess.run(
        ["terraform", f"-chdir={root}", "validate", "-no-color"],
        env=terraform.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    not CHECKOV.exists() and not os.environ.get("CI"), reason="scripts/test.sh installs checkov"
)
def test_checkov_passes_with_reasons_in_code() -> None:
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    # Every skip carries a reason after the check id.
    for path in TERRAFORM.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert line.split("checkov:skip=", 1)[1].count(":") >= 1, f"{path}: {line}"
