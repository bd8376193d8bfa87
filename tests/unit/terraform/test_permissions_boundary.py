"""Every IAM role the Terraform creates carries the permissions boundary the settings name.

Accounts whose SCPs require a boundary on every role refuse a role created without one
(issue 23). Checked here without AWS: every `aws_iam_role` of every module and stack sets
`permissions_boundary = var.permissions_boundary_arn`; every stack passes its variable to every
module that takes it; the Python variable builders hand the setting to every stack that declares
it, and no stack a variable it does not declare. The roles as IAM holds them after a real apply:
tests/integration/test_iam_policies.py.

Parsed as test_module_docs.py parses: `terraform fmt` (the static checks enforce it) starts a
block at column 0 and closes it with the next `}` at column 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.terraform.platform_stack import platform_variables
from bootstrap_flows.terraform.server_stack import server_variables
from bootstrap_flows.terraform.worker_stack import worker_variables
from tests.support.samples import IMAGE, OUTPUTS

TERRAFORM = Path(__file__).parents[3] / "infrastructure" / "terraform"
VARIABLE = "permissions_boundary_arn"
BOUNDARY = "arn:aws:iam::123456789012:policy/acme-boundary"
_BLOCK = re.compile(
    r'^(resource|module|variable) "([^"]+)"(?: "([^"]+)")? \{\n(.*?)^\}', re.M | re.S
)
_SOURCE = re.compile(r'^  source\s*=\s*"([^"]+)"$', re.M)
_SETS_BOUNDARY = re.compile(r"^  permissions_boundary\s*=\s*var\.permissions_boundary_arn$", re.M)
_PASSES = re.compile(rf"^  {VARIABLE}\s*=\s*var\.{VARIABLE}$", re.M)

pytestmark = pytest.mark.usefixtures("clean_env")


def _blocks(root: Path, kind: str) -> list[tuple[str, str]]:
    """(label, body) of every `kind` block of a root's .tf files; a resource's label is
    `type.name`."""
    found = []
    for path in sorted(root.glob("*.tf")):
        for match in _BLOCK.finditer(path.read_text()):
            if match[1] == kind:
                label = f"{match[2]}.{match[3]}" if match[3] else match[2]
                found.append((label, match[4]))
    return found


def _declares(root: Path) -> set[str]:
    return {name for name, _ in _blocks(root, "variable")}


def _roots(kind: str) -> list[Path]:
    return sorted(p for p in (TERRAFORM / kind).iterdir() if p.is_dir())


def _roles(root: Path) -> list[tuple[str, str]]:
    return [
        (label, body)
        for label, body in _blocks(root, "resource")
        if label.startswith("aws_iam_role.")
    ]


def test_every_role_of_every_module_and_stack_carries_the_boundary() -> None:
    with_roles = {}
    for root in _roots("modules") + _roots("stacks"):
        roles = _roles(root)
        if not roles:
            continue
        with_roles[root.name] = len(roles)
        assert VARIABLE in _declares(root), f"{root.name} creates roles without {VARIABLE}"
        for label, body in roles:
            assert _SETS_BOUNDARY.search(body), (
                f"{root.name}: {label} has no `permissions_boundary = var.{VARIABLE}`"
            )
    # The roles this check covers: a module that gains one is checked without a change here.
    assert with_roles == {"ci": 1, "iam": 3, "network": 1, "prefect_server": 2}


@pytest.mark.parametrize("stack", _roots("stacks"), ids=lambda p: p.name)
def test_every_stack_passes_the_boundary_to_every_module_that_takes_it(stack: Path) -> None:
    takers = []
    for name, body in _blocks(stack, "module"):
        source = _SOURCE.search(body)
        assert source, f"{stack.name}: module {name} has no source"
        module = (stack / source[1]).resolve()
        if VARIABLE in _declares(module):
            takers.append(name)
            assert _PASSES.search(body), f"{stack.name}: module {name} is not given {VARIABLE}"
    # A stack declares the variable exactly when something in it takes it.
    assert (VARIABLE in _declares(stack)) == bool(takers or _roles(stack)), stack.name


def _settings(**values: Any) -> BootstrapSettings:
    return load_settings(
        environment="prod",
        prefect_server="aws",
        server_certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/example",
        **values,
    )


BUILDERS: dict[str, Callable[[BootstrapSettings], dict[str, Any]]] = {
    "platform": platform_variables,
    # As bootstrap runs it after the server stack: aimed at that server.
    "worker": lambda settings: worker_variables(
        settings.aimed_at(api_url="https://prefect.example.com/api"), OUTPUTS, IMAGE
    ),
    "server": lambda settings: server_variables(settings, OUTPUTS, IMAGE),
}


@pytest.mark.parametrize("stack", sorted(BUILDERS))
def test_the_setting_reaches_every_stack_that_declares_it(stack: str) -> None:
    declared = _declares(TERRAFORM / "stacks" / stack)
    variables = BUILDERS[stack](_settings(permissions_boundary_arn=BOUNDARY))
    # Terraform only warns about a value of an undeclared variable: it would be dropped quietly.
    assert set(variables) <= declared, f"{stack}: not declared: {set(variables) - declared}"
    if VARIABLE in declared:
        assert variables[VARIABLE] == BOUNDARY
        assert BUILDERS[stack](_settings())[VARIABLE] is None  # unset: no boundary
