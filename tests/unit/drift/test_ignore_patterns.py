"""`drift_ignore` patterns: refused in settings when fnmatch would take them for something else."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from bootstrap_flows.config.validation import drift_ignore_patterns


@pytest.mark.parametrize(
    "pattern",
    [
        "aws_ecs_service.*:desired_count",
        "aws_ecs_service.*",
        "module.network.aws_nat_gateway.this[[]0]",  # a literal '[' written as '[[]'
        "aws_iam_role.[!x]*:tags*",
        "*[]]*",  # ']' right after '[' is a member of the class, as fnmatch reads it
        "aws_s3_bucket.*:[!]]*",
    ],
)
def test_patterns_fnmatch_can_read_pass(pattern: str) -> None:
    assert drift_ignore_patterns([pattern]) == [pattern]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("aws_ecs_service.[unclosed", "no ']' closes"),
        ("aws_ecs_service.*:tags[", "no ']' closes"),
        ("a[]", "no ']' closes"),  # the ']' is the class's member: still open
        ("a[!]", "no ']' closes"),
        (":desired_count", "address glob (before the colon) is empty"),
        ("", "address glob (before the colon) is empty"),
        (" aws_ecs_service.*", "spaces around it"),
    ],
)
def test_patterns_that_would_ignore_nothing_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(ValueError, match="is not a pattern") as refused:
        drift_ignore_patterns(["aws_ecs_service.*", pattern])
    assert why in str(refused.value) and repr(pattern) in str(refused.value)


def test_the_refused_pattern_would_match_only_itself() -> None:
    """Why it is refused: fnmatch reads an unclosed '[' literally, never as a class."""
    assert fnmatchcase("aws_ecs_service.[unclosed", "aws_ecs_service.[unclosed")
    assert not fnmatchcase("aws_ecs_service.u", "aws_ecs_service.[unclosed")
