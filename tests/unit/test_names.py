"""The AWS names made from name_prefix and environment: Python derives each as Terraform does, and
settings refuse exactly the prefixes and environments Terraform's validation blocks refuse.

The values are generated from AWS's rules (config/names.py): for every derived name, the
prefix/environment lengths that make it AWS's maximum and one more, each start AWS forbids, and
a character (or a run of one) the rule refuses; plus the settings' own rule's boundaries. For
each, Python's verdict (load_settings) must equal Terraform's: every `validation` condition the
values reach, in the stacks bootstrap applies and the modules they call, evaluated by
`terraform console` in one process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from bootstrap_flows.config.environments import ENVIRONMENT_MAX, PREFIX_MAX
from bootstrap_flows.config.names import (
    DERIVED,
    Derived,
    Owner,
    clash,
    problem,
    rules,
    stack_prefix,
)
from bootstrap_flows.config.settings import SettingsError, load_settings
from tests.support.hcl import UNKNOWN, Scope, evaluate_all, stack

# Settings from the test's own values only (no BOOTSTRAP_* of the session, no env file).
pytestmark = pytest.mark.usefixtures("clean_env")
Case = tuple[str, str, bool]  # name_prefix, environment, with the server stack
BASE = ("prefect", "dev")
# Characters to try inside a prefix, the settings' own ones first (a doubled hyphen is the
# one RDS refuses and the settings allow).
CHARACTERS = "-_.A/ +@"
SERVER = {
    "prefect_server": "aws",
    "server_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0b1c",
}
REMOTE = {
    "prefect_api_url": "https://prefect.example.invalid/api",
    "prefect_api_auth_string": "worker:password",
}


def _word(letter: str, length: int) -> str:
    return letter * length


def _lengths(derived: Derived, server: bool) -> Iterator[Case]:
    """The prefix and environment that make the name AWS's maximum long, and one more."""
    fixed = len(derived.name("", ""))
    for total in (rules()[derived.kind].max - fixed, rules()[derived.kind].max - fixed + 1):
        prefix = min(PREFIX_MAX, total - 2)
        environment = total - prefix
        if prefix >= 2 and 2 <= environment <= ENVIRONMENT_MAX:
            yield _word("p", prefix), _word("e", environment), server


def _starts(derived: Derived, server: bool) -> Iterator[Case]:
    for bad in rules()[derived.kind].not_start:
        prefix = next(
            c for c in (bad.rstrip("-"), f"{bad}ab") if derived.name(c, "dev").startswith(bad)
        )
        yield prefix, "dev", server


def _characters(derived: Derived, server: bool) -> Iterator[Case]:
    """The first character (or run of two) the rule refuses inside the prefix."""
    rule = rules()[derived.kind]
    for run in (c * n for c in CHARACTERS for n in (1, 2)):
        if rule.problem(derived.name(f"ab{run}cd", "dev")):
            yield f"ab{run}cd", "dev", server
            return


def generated() -> list[Case]:
    cases: dict[Case, None] = {}
    for server in (False, True):
        cases[(*BASE, server)] = None
        for derived in DERIVED:
            if derived.server and not server:
                continue
            for make in (_lengths, _starts, _characters):
                cases.update(dict.fromkeys(make(derived, server)))
        # The settings' own rule (and the stacks' name_prefix and environment variables).
        for prefix, environment in (
            (_word("p", PREFIX_MAX), "dev"),
            (_word("p", PREFIX_MAX + 1), "dev"),
            ("pp", _word("e", ENVIRONMENT_MAX)),
            ("pp", _word("e", ENVIRONMENT_MAX + 1)),
            ("ab-", "dev"),
            ("1ab", "dev"),
            ("prefect", "1ab"),
            ("prefect", "de-"),
            ("a", "dev"),
            ("prefect", "d"),
        ):
            cases[(prefix, environment, server)] = None
    # Each pair with and without the server stack: what only the server's names refuse is
    # accepted without it.
    return list(dict.fromkeys((p, e, server) for p, e, _ in cases for server in (False, True)))


def _python_accepts(case: Case) -> bool:
    prefix, environment, server = case
    try:
        load_settings(name_prefix=prefix, environment=environment, **(SERVER if server else REMOTE))
    except SettingsError:
        return False
    return True


def _stacks(server: bool) -> tuple[str, ...]:
    return ("platform", "worker", "server") if server else ("platform", "worker")


def _terraform_conditions(case: Case) -> list[str]:
    """Every validation condition the case's prefix and environment reach, resolved: the stacks'
    own variables', and those of each module input made from them."""
    prefix, environment, server = case
    found = []
    for name in _stacks(server):
        values = {"name_prefix": json.dumps(prefix), "environment": json.dumps(environment)}
        scope = stack(name, values)
        for variable in values:
            found += [scope.resolve(c) for c in scope.conditions(variable)]
        for module in _module_calls(scope):
            called = scope.module(module)
            for variable, (expression, _) in called.inputs.items():
                if _made_from_names(scope, expression):
                    found += [called.resolve(c) for c in called.conditions(variable)]
    return found


def _module_calls(scope: Scope) -> list[str]:
    return re.findall(r'^module "(\w+)" \{', scope.main, re.MULTILINE)


def _made_from_names(scope: Scope, expression: str) -> bool:
    """Whether a module input is made from name_prefix or environment (and nothing unknown)."""
    marked = stack(scope.directory.name, {"name_prefix": '"@P@"', "environment": '"@E@"'})
    try:
        resolved = marked.resolve(expression)
    except (AssertionError, KeyError):
        return False  # made from other inputs too (which have no default): not a name
    known = not UNKNOWN.search(resolved)
    return known and ("@P@" in resolved or "@E@" in resolved)


def test_generated_cases_cover_every_rule() -> None:
    cases = generated()
    python = {case: _python_accepts(case) for case in cases}
    # Every server-stack rule that can bind does: ALB length and start, RDS double hyphen.
    assert ("internal", "dev", True) in cases and not python[("internal", "dev", True)]
    assert ("ab--cd", "dev", True) in cases and not python[("ab--cd", "dev", True)]
    assert ("ab--cd", "dev", False) in cases and python[("ab--cd", "dev", False)]
    assert ("xn--ab", "dev", False) in cases and not python[("xn--ab", "dev", False)]
    assert sum(python.values()) >= 5 and len(cases) - sum(python.values()) >= 15


def test_python_and_terraform_agree_on_names() -> None:
    cases = generated()
    per_case = [_terraform_conditions(case) for case in cases]
    flat = [condition for conditions in per_case for condition in conditions]
    answers = iter(evaluate_all(flat))
    disagree = []
    for case, conditions in zip(cases, per_case, strict=True):
        verdicts = [next(answers) for _ in conditions]
        terraform = all(verdicts)
        if terraform != _python_accepts(case):
            refused_by = [c for c, ok in zip(conditions, verdicts, strict=True) if not ok]
            disagree.append((case, terraform, refused_by[:1]))
    assert not disagree, disagree


@pytest.mark.parametrize("prefix, environment", [BASE, ("ab--c9", "x1"), ("a", "b")])
def test_terraform_derives_each_name_as_python(prefix: str, environment: str) -> None:
    """Each name where Terraform makes it (stack, module call, resource attribute) against
    Python's derivation: the one copy of the naming rules is config/names.py, and this holds
    Terraform to it."""
    values = {"name_prefix": json.dumps(prefix), "environment": json.dumps(environment)}
    derived = [d for d in DERIVED if d.terraform]
    expressions = []
    for each in derived:
        stack_name, module, address = each.terraform.split(":")
        expressions.append(stack(stack_name, values).module(module).attribute(address))
    terraform = evaluate_all(expressions)
    python = [each.name(prefix, environment) for each in derived]
    assert dict(zip([d.what for d in derived], terraform, strict=True)) == dict(
        zip([d.what for d in derived], python, strict=True)
    )
    # The names Terraform does not make: Python's own (state bucket) or the operator module's.
    assert {d.what for d in DERIVED if not d.terraform} == {"state bucket", "operator policy"}


def test_one_message_names_the_resource_and_the_limit() -> None:
    message = problem("acme-platform-x", "staging-eu", server=True)
    assert message == (
        "name_prefix 'acme-platform-x' with environment 'staging-eu' makes the load balancer "
        "name 'acme-platform-x-staging-eu-server' 33 characters; AWS allows 32: shorten "
        "BOOTSTRAP_NAME_PREFIX or the environment name"
    )
    assert problem("acme-platform-x", "staging-eu", server=False) is None
    assert problem("xn--ab", "dev", server=False, state_bucket=False) == (
        "name_prefix 'xn--ab' with environment 'dev' makes the flow-code bucket name "
        "'xn--ab-dev-code-123456789012' start with 'xn--', which AWS refuses: choose another "
        "BOOTSTRAP_NAME_PREFIX"
    )


def test_the_receipts_listings_by_name_find_every_derived_role_repository_and_ecs_name() -> None:
    """cleanup/receipt.py lists task definition families by `stack_prefix` (and keeps the
    derived ones, whole, as it keeps roles and repositories)."""
    start = stack_prefix(*BASE)
    listed = [d for d in DERIVED if d.kind in ("IAM role", "ECR repository", "ECS name")]
    assert start == "prefect-dev-" and len(listed) >= 10
    assert [d.what for d in listed if not d.name(*BASE).startswith(start)] == []


def test_an_environment_named_after_anothers_server_stack_clashes_in_its_iam_names() -> None:
    """`dev` with a server stack names its roles `prefect-dev-server-…`; so does `dev-server`'s
    platform. IAM's names are the account's, so regions do not part them."""
    dev = Owner("prefect", "dev", server=True, region="us-east-1")
    found = clash(dev, Owner("prefect", "dev-server", server=False, region="eu-west-1"))
    assert found is not None and "IAM role 'prefect-dev-server-execution'" in found
    # Without the server stack, or under another prefix, nothing is shared.
    plain = Owner("prefect", "dev", server=False, region="us-east-1")
    assert clash(plain, Owner("prefect", "dev-server", server=False, region="us-east-1")) is None
    other = Owner("team", "dev-server", server=False, region="us-east-1")
    assert clash(dev, other) is None
