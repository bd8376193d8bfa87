"""One Terraform floor: every `required_version` and every "install Terraform >= X" says the one
preflight checks (bootstrap_flows.terraform.runner.MIN_TERRAFORM)."""

from __future__ import annotations

import re
from pathlib import Path

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_flows.terraform.runner import MIN_TERRAFORM, MIN_TERRAFORM_TEXT

_REQUIRED = re.compile(r'^\s*required_version\s*=\s*"([^"]*)"', re.MULTILINE)
_INSTALL = re.compile(r"Terraform >= ([0-9.]+)")


def _tf_files() -> list[Path]:
    roots = (PROJECT_ROOT / "infrastructure" / "terraform", PROJECT_ROOT / "tests" / "fixtures")
    return sorted(p for root in roots for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def test_every_required_version_is_the_floor() -> None:
    found = {
        str(path.relative_to(PROJECT_ROOT)): value
        for path in _tf_files()
        for value in _REQUIRED.findall(path.read_text())
    }
    # Every module, stack and example declares it (a root without one would accept any).
    versions = {p.parent for p in (PROJECT_ROOT / "infrastructure" / "terraform").rglob("*.tf")}
    declared = {(PROJECT_ROOT / name).parent for name in found}
    assert versions <= declared, sorted(str(p) for p in versions - declared)
    assert {
        name: value for name, value in found.items() if value != f">= {MIN_TERRAFORM_TEXT}"
    } == {}


def test_the_s3_lockfile_needs_the_floor() -> None:
    # `use_lockfile` (stacks.backend_config) is the stacks' only state lock; Terraform 1.10.0
    # is the first release that knows the argument (1.9 refuses it at init).
    assert MIN_TERRAFORM >= (1, 10)


def test_every_install_hint_names_the_floor() -> None:
    texts = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "scripts").glob("*.sh"))]
    hints = {
        f"{path.name}: {hint}"
        for path in texts
        for hint in _INSTALL.findall(path.read_text())
        if hint != MIN_TERRAFORM_TEXT
    }
    assert hints == set()
