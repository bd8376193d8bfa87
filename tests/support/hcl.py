"""Terraform's own answers for the tests that compare Python's rules with the HCL copies.

`evaluate` asks `terraform console` (no provider, no init: well under a second per call) for
many expressions at once. `Reader` follows a stack's module calls by text: a module input,
local or resource attribute becomes one expression over the stack's variables, which the
console then evaluates, so a test learns what Terraform would name a resource, or whether a
module's `validation` would pass, without a plan. It reads single-line attributes only, which is
how every name and condition in infrastructure/terraform is written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bootstrap_flows.config.names import ACCOUNT, TIMESTAMP
from bootstrap_flows.config.settings import PROJECT_ROOT

TERRAFORM = PROJECT_ROOT / "infrastructure" / "terraform"
CONDITION = re.compile(r"^\s*condition\s*=\s*(.+)$", re.MULTILINE)
_ATTRIBUTE = re.compile(r"^  (\w+)\s*=\s*(.+)$", re.MULTILINE)
_REFERENCE = re.compile(r"\b(local|var)\.(\w+)\b")
# What remains unknown after `resolve`: another module's output, a data source, a resource.
UNKNOWN = re.compile(r"\b(module|data)\.\w+|\baws_\w+\.\w+\.\w+")
# What only AWS or the apply knows, as the Python side fills it in (config/names.py).
KNOWN_AFTER_APPLY = {
    "data.aws_caller_identity.current.account_id": json.dumps(ACCOUNT),
    "data.aws_partition.current.partition": json.dumps("aws"),
    "terraform_data.final_snapshot_suffix.output": json.dumps(TIMESTAMP),
}


def evaluate(expression: str) -> Any:
    """Terraform's value of a one-line `expression` (through JSON)."""
    # A directory of its own, with no *.tf (the console needs no init): consoles in one
    # directory share its state lock, and the suite's workers run them at once.
    with tempfile.TemporaryDirectory() as empty:
        return console(expression, Path(empty))


def console(expression: str, directory: Path, *args: str) -> Any:
    """Terraform's value of a one-line `expression` in `directory`'s configuration (initialised
    if it has providers), `terraform console` given `args` (e.g. `-var-file=...`)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}
    result = subprocess.run(
        ["terraform", "console", *args],
        input=f"jsonencode({expression})\n",
        capture_output=True,
        text=True,
        check=True,
        cwd=directory,
        env=env,
    )
    return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))


# A piped console answers nothing at all for a very long line (measured: 130,000 characters
# gave no output, 60,000 did), so long lists go in several lines.
LINE_MAX = 60_000


def evaluate_all(expressions: list[str]) -> list[Any]:
    """Each expression's value, from one console process per line of them (a piped console
    prints only its last result, so a line holds one list)."""
    values: list[Any] = []
    chunk: list[str] = []
    for expression in [*expressions, ""]:
        if chunk and (not expression or sum(map(len, chunk)) + len(expression) > LINE_MAX):
            values += evaluate(f"[{', '.join(chunk)}]")
            chunk = []
        chunk.append(expression)
    assert len(values) == len(expressions)
    return values


def conditions(variable: str) -> list[tuple[Path, str]]:
    """Every `condition` of a validation block that tests `var.<variable>`, in any file."""
    found = []
    for path in sorted(TERRAFORM.rglob("variables.tf")):
        for condition in CONDITION.findall(path.read_text()):
            if re.search(rf"\bvar\.{variable}\b", condition):
                found.append((path.relative_to(TERRAFORM), condition.strip()))
    return found


def block(text: str, header: str) -> str:
    """The body of the top-level block that opens with `header` (e.g. `module "ecr"`)."""
    match = re.search(rf"^{re.escape(header)} \{{\n(.*?)^\}}", text, re.MULTILINE | re.DOTALL)
    assert match, f"no block {header!r}"
    return match.group(1)


def attributes(body: str) -> dict[str, str]:
    """A block's single-line attributes (two-space indent: not those of nested blocks)."""
    return {name: value.strip() for name, value in _ATTRIBUTE.findall(body)}


@dataclass
class Scope:
    """One directory's names: its locals, its inputs (each an expression of the caller's scope),
    and its variables' defaults and validation conditions."""

    directory: Path
    inputs: dict[str, tuple[str, Scope | None]] = field(default_factory=dict)

    @property
    def main(self) -> str:
        return (self.directory / "main.tf").read_text()

    def locals(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for body in re.findall(r"^locals \{\n(.*?)^\}", self.main, re.MULTILINE | re.DOTALL):
            found.update(attributes(body))
        return found

    def variables(self) -> dict[str, str]:
        """Each variable's block body."""
        text = (self.directory / "variables.tf").read_text()
        return dict(re.findall(r'^variable "(\w+)" \{\n(.*?)^\}', text, re.MULTILINE | re.DOTALL))

    def conditions(self, variable: str) -> list[str]:
        return [c.strip() for c in CONDITION.findall(self.variables()[variable])]

    def resolve(self, expression: str) -> str:
        """`expression` with every local and input replaced, recursively, by what it stands for:
        an expression over literals the console can evaluate."""
        for reference, value in KNOWN_AFTER_APPLY.items():
            expression = expression.replace(reference, value)
        return _REFERENCE.sub(lambda match: f"({self._lookup(*match.groups())})", expression)

    def _lookup(self, kind: str, name: str) -> str:
        if kind == "local":
            return self.resolve(self.locals()[name])
        if name in self.inputs:
            value, caller = self.inputs[name]
            return caller.resolve(value) if caller else value
        default = attributes(self.variables()[name]).get("default")
        assert default is not None, (
            f"{self.directory.name}: var.{name} is neither given nor defaulted"
        )
        return self.resolve(default)

    def module(self, name: str) -> Scope:
        """The scope of this stack's `module "<name>"` call, its inputs this scope's expressions."""
        call = attributes(block(self.main, f'module "{name}"'))
        source = (self.directory / call.pop("source").strip('"')).resolve()
        call.pop("count", None)
        return Scope(source, {key: (value, self) for key, value in call.items()})

    def attribute(self, address: str) -> str:
        """`var.<input>`, `local.<name>` or `<type>.<name>.<attribute>` here, resolved."""
        if address.startswith(("var.", "local.")):
            return self.resolve(address)
        kind, label, attribute = address.split(".")
        return self.resolve(attributes(block(self.main, f'resource "{kind}" "{label}"'))[attribute])


@cache
def stack_names() -> tuple[str, ...]:
    return tuple(sorted(path.name for path in (TERRAFORM / "stacks").iterdir()))


def stack(name: str, values: dict[str, str]) -> Scope:
    """A stack's scope with `values` (HCL literals) for its variables; others take defaults."""
    return Scope(TERRAFORM / "stacks" / name, {key: (value, None) for key, value in values.items()})
