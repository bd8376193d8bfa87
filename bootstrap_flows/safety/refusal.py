"""The error every preflight check raises, in a module of its own so the checks preflight runs
(quotas, the server stack's reach) can raise it without importing preflight itself."""

from __future__ import annotations

from bootstrap_flows.errors import BootstrapError


class PreflightError(BootstrapError):
    """An input or dependency is not usable; nothing has been changed."""
