"""Every `validation` block of every variable bootstrap passes to a stack, against what settings
accept and refuse: Terraform must take every value set settings accept, and refuse each value
settings refuse, so no run passes settings and then stops in Terraform's validation after the
state bucket was made.

The cases are generated from the settings model: each number's bounds (`ge`/`le`) and one past
them, each choice of a `Literal` and one that is none, and the names of test_names.py. Which stack
variables a setting reaches is found by changing it and seeing which variables change. All
conditions go through `terraform console` in a few processes (tests/support/hcl.py).
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from annotated_types import Ge, Le

from bootstrap_flows.config.settings import BootstrapSettings, SettingsError, load_settings
from bootstrap_flows.terraform.platform_stack import platform_variables
from bootstrap_flows.terraform.server_stack import server_variables
from bootstrap_flows.terraform.worker_stack import worker_variables
from tests.support.hcl import evaluate_all, stack
from tests.support.samples import IMAGE, OUTPUTS
from tests.unit.test_names import generated

# Settings from the test's own values only (no BOOTSTRAP_* of the session, no env file).
pytestmark = pytest.mark.usefixtures("clean_env")
# Platform outputs as AWS writes them (the stacks check their shape too).
REAL_OUTPUTS = OUTPUTS.model_copy(
    update={
        "vpc_id": "vpc-0123456789abcdef0",
        "public_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        "private_subnet_ids": ["subnet-0123456789abcdef2", "subnet-0123456789abcdef3"],
        "worker_security_group_id": "sg-0123456789abcdef0",
        "log_group_name": "/ecs/prefect-prod",
        "observer_queue_name": "prefect-prod-ecs-task-events",
    }
)
# A value settings cannot hold, for a `Literal` setting.
NOT_A_CHOICE = "neither"
# vpc_cidr's bounds are in its validator's message, not its field: /16 to /24.
CIDRS = {"10.0.0.0/16": True, "10.0.0.0/24": True, "10.0.0.0/15": False, "10.0.0.0/25": False}


def _literal(value: Any) -> str:
    """An HCL expression for a JSON value; `${` and `%{` escaped, as HCL templates read them."""
    text = json.dumps(json.dumps(value)).replace("${", "$${").replace("%{", "%%{")
    return f"jsondecode({text})"


# What bootstrap passes each stack, as it runs them (the worker aimed at the server stack's URL).
BUILDERS: dict[str, Callable[[BootstrapSettings], dict[str, Any]]] = {
    "platform": platform_variables,
    "worker": lambda settings: worker_variables(
        settings.aimed_at(api_url="https://prefect.example.com/api"), REAL_OUTPUTS, IMAGE
    ),
    "server": lambda settings: server_variables(settings, REAL_OUTPUTS, IMAGE),
}


def _variables(settings: BootstrapSettings) -> dict[str, dict[str, Any]]:
    """Each stack's variables; the server stack's only when settings ask for it."""
    stacks = BUILDERS if settings.prefect_server == "aws" else ("platform", "worker")
    return {name: BUILDERS[name](settings) for name in stacks}


# A worker of an external Prefect, and one with the server stack: every stack is passed values.
BASES: dict[str, dict[str, Any]] = {
    "external": {
        "prefect_api_url": "https://prefect.example.com/api",
        "prefect_api_auth_string": "worker:password",
    },
    "server": {
        "prefect_server": "aws",
        "server_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/example",
    },
}


def _settings(base: str = "external", **values: Any) -> BootstrapSettings:
    return load_settings(**{"environment": "prod", **BASES[base], **values})


def _conditions(
    variables: dict[str, dict[str, Any]], only: set[tuple[str, str]] | None = None
) -> list[tuple[str, str, str]]:
    """(stack, variable, condition resolved over the values) of every validation block of every
    variable passed (or of those in `only`)."""
    found = []
    for name, values in variables.items():
        scope = stack(name, {key: _literal(value) for key, value in values.items()})
        for variable in values:
            if only is None or (name, variable) in only:
                found += [(name, variable, scope.resolve(c)) for c in scope.conditions(variable)]
    return found


def _bounds(field: str) -> Iterator[tuple[Any, bool]]:
    """A setting's generated values and whether settings take each."""
    info = BootstrapSettings.model_fields[field]
    for rule in info.metadata:
        if isinstance(rule, Ge):
            low = typing.cast(int, rule.ge)
            yield from ((low, True), (low - 1, False))
        if isinstance(rule, Le):
            high = typing.cast(int, rule.le)
            yield from ((high, True), (high + 1, False))
    if typing.get_origin(info.annotation) is typing.Literal:
        yield from ((choice, True) for choice in typing.get_args(info.annotation))
        yield NOT_A_CHOICE, False
    if field == "vpc_cidr":
        yield from CIDRS.items()


def _settings_or_none(base: str = "external", **values: Any) -> BootstrapSettings | None:
    try:
        return _settings(base, **values)
    except SettingsError:
        return None


def _cases() -> list[tuple[str, Any, bool]]:
    return [
        (field, value, accepted)
        for field in sorted(BootstrapSettings.model_fields)
        if field != "prefect_server"  # the bases take each choice
        for value, accepted in _bounds(field)
    ]


def test_generated_values_are_what_settings_say() -> None:
    cases = _cases()
    assert {field for field, _, _ in cases} >= {"az_count", "nat_mode", "worker_count", "vpc_cidr"}
    for field, value, accepted in cases:
        assert (_settings_or_none(**{field: value}) is not None) == accepted, (field, value)


def test_terraform_takes_every_value_set_settings_take() -> None:
    accepted = [
        settings
        for base in BASES
        for field, value, ok in _cases()
        if ok and (settings := _settings_or_none(base, **{field: value}))
    ]
    accepted += [
        settings
        for prefix, environment, _ in generated()
        for base in BASES
        if (settings := _settings_or_none(base, name_prefix=prefix, environment=environment))
    ]
    checks = [(settings, c) for settings in accepted for c in _conditions(_variables(settings))]
    answers = evaluate_all([condition for _, (_, _, condition) in checks])
    refused = [
        (f"{stack_name}.{variable}", settings.name_prefix, settings.environment)
        for (settings, (stack_name, variable, _)), ok in zip(checks, answers, strict=True)
        if not ok
    ]
    assert not refused, refused
    assert len({stack_name for _, (stack_name, _, _) in checks}) == 3 and len(checks) > 1000


def test_terraform_refuses_each_value_settings_refuse() -> None:
    base = _variables(_settings())
    checks = []
    for field, value, accepted in _cases():
        if accepted:
            continue
        # The variables the setting reaches: those that change when it changes.
        other = next(v for v, ok in _bounds(field) if ok and v != getattr(_settings(), field))
        changed = {
            (name, key)
            for name, values in _variables(_settings(**{field: other})).items()
            for key, new in values.items()
            if new != base[name][key]
        }
        reached = {(name, key) for name, key in changed if base[name][key] is not None}
        if not reached:
            continue  # a setting no stack variable takes (checked by settings alone)
        variables = {
            name: {**values, **{key: value for n, key in reached if n == name}}
            for name, values in base.items()
        }
        checks.append(((field, value), _conditions(variables, reached)))
    flat = [condition for _, conditions in checks for _, _, condition in conditions]
    answers = iter(evaluate_all(flat))
    accepted_by_terraform = [
        (case, sorted({f"{n}.{v}" for n, v, _ in conditions}))
        for case, conditions in checks
        if all([next(answers) for _ in conditions])
    ]
    assert not accepted_by_terraform, accepted_by_terraform
    assert len(checks) >= 6
