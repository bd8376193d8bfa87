"""Secrets Manager as AWS answers a create of a name scheduled for deletion.

A secret deleted with a recovery window keeps its name until the window ends. AWS refuses a
CreateSecret of that name with `InvalidRequestException` ("You can't create this secret because
a secret with this name is already scheduled for deletion."): the secret must be restored
(RestoreSecret) or the window waited out. moto answers `ResourceExistsException` ("already
exists"), which reads like a live secret. Bootstrap restores and adopts such a secret before it
plans a create (terraform/adoption_aws.py), so the emulator must refuse the create as AWS does,
or a re-bootstrap that skipped the restore would fail with the wrong reason
(tests/unit/local/test_moto_secrets.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from moto.secretsmanager.exceptions import InvalidRequestException
from moto.secretsmanager.models import SecretsManagerBackend

# AWS's own words (issue 23, as AWS answered a re-bootstrap within the window).
SCHEDULED_FOR_DELETION = (
    "You can't create this secret because a secret with this name is already scheduled for "
    "deletion."
)


def secrets_like_aws() -> None:
    """CreateSecret of a name scheduled for deletion answers as on AWS (see the docstring)."""
    current = SecretsManagerBackend.create_secret
    if not getattr(current, "aws_like", False):
        patched: Any = _creating_like_aws(current)
        SecretsManagerBackend.create_secret = patched  # type: ignore[method-assign]


def _creating_like_aws(create: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(create)
    def create_secret(backend: SecretsManagerBackend, name: str, *args: Any, **kw: Any) -> str:
        existing = backend.secrets.get(name)
        if existing is not None and existing.name == name and existing.is_deleted():
            raise InvalidRequestException(SCHEDULED_FOR_DELETION)
        return create(backend, name, *args, **kw)

    create_secret.__dict__["aws_like"] = True
    return create_secret
