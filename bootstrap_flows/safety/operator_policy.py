"""The operator's least-privilege policy for one environment: what the identity that runs
bootstrap, drift-check (with and without remediation) and teardown needs, scoped to the
environment's names, account and region (issue 23).

One copy: the template `infrastructure/terraform/modules/operator/policy.json.tftpl`, which
the `operator` module renders with Terraform's `templatefile` and this module renders with the
same names for `bootstrap-flows operator-policy <env>`. The template uses only `${name}`
placeholders (no Terraform directives), so both renderings are the same text. Why each grant is
there, and which ones no recorded call uses, is in that module's README.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.environments import PROJECT_ROOT
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.errors import BootstrapError

MODULE = PROJECT_ROOT / "infrastructure" / "terraform" / "modules" / "operator"
TEMPLATE = MODULE / "policy.json.tftpl"
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
ACCOUNT = re.compile(r"^[0-9]{12}$")
# The module's split into managed policies (IAM holds at most 6,144 characters in one), read
# from its main.tf so the command prints the parts the module creates.
PER_PART = re.compile(r"^\s*statements_per_part\s*=\s*([0-9]+)\s*$", re.M)


class OperatorPolicyError(BootstrapError):
    """The policy cannot be rendered: a missing template or a bad account ID."""


def names(settings: BootstrapSettings, account_id: str) -> dict[str, str]:
    """The template's variables for an environment (the operator module's inputs)."""
    if not ACCOUNT.match(account_id):
        raise OperatorPolicyError(f"account ID {account_id!r} is not 12 digits")
    return {
        "name_prefix": settings.name_prefix,
        "environment": settings.environment,
        "stack": settings.stack_name,
        "account_id": account_id,
        "region": settings.aws_region,
        "partition": aws.partition(settings.aws_region),
        "state_bucket": settings.state_bucket_name(account_id),
    }


def render_text(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """The template with every placeholder replaced; an unknown placeholder is an error."""
    try:
        text = template.read_text()
    except OSError as exc:
        raise OperatorPolicyError(f"cannot read the operator policy template: {exc}") from exc
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in values})
    if unknown:
        raise OperatorPolicyError(f"{template}: unknown placeholders {unknown}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def render(settings: BootstrapSettings, account_id: str) -> dict[str, Any]:
    """The operator policy document for `settings`' environment in `account_id`."""
    document: dict[str, Any] = json.loads(render_text(names(settings, account_id)))
    return document


def statements_per_part(main_tf: Path = MODULE / "main.tf") -> int:
    """How many statements the operator module puts in each managed policy it creates."""
    try:
        found = PER_PART.search(main_tf.read_text())
    except OSError as exc:
        raise OperatorPolicyError(f"cannot read the operator module: {exc}") from exc
    if found is None:
        raise OperatorPolicyError(f"{main_tf}: no `statements_per_part = <n>` in its locals")
    return int(found[1])


def parts(document: dict[str, Any], per_part: int) -> list[dict[str, Any]]:
    """The policy as the module creates it: managed policies of `per_part` statements each,
    every statement once, in order."""
    statements = document["Statement"]
    return [
        {"Version": document["Version"], "Statement": statements[start : start + per_part]}
        for start in range(0, len(statements), per_part)
    ]
