"""When a new role becomes assumable (bootstrap_local/ecs_runtime/roles.py: IAM's eventual
consistency, which moto does not have)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bootstrap_local.ecs_runtime.roles import propagated

CREATED = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def test_a_role_is_assumable_only_once_iam_has_propagated_it() -> None:
    assert not propagated(CREATED, 5.0, now=CREATED)
    assert not propagated(CREATED, 5.0, now=CREATED + timedelta(seconds=4.9))
    assert propagated(CREATED, 5.0, now=CREATED + timedelta(seconds=5))
    assert propagated(CREATED, 0.0, now=CREATED)
