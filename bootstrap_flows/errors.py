"""The family tree of the package's errors.

Every error bootstrap-flows raises on purpose is a `BootstrapError`, so a caller (the CLI, a
flow's final state, a user's own script) can tell "bootstrap-flows said no, with a reason" from
a bug. Each carries one readable message that says what is wrong and how to fix it; the
underlying exception stays attached as `__cause__` unless printing it could show a secret.
"""

from __future__ import annotations


class BootstrapError(RuntimeError):
    """Base of every error bootstrap-flows raises on purpose."""


class ServiceError(BootstrapError):
    """A process or engine the run needs (Docker, a local service) is not there."""
