"""RDS engine versions as AWS records them.

CreateDBInstance with a major version only (`EngineVersion="16"`, how modules/prefect_server
pins PostgreSQL so RDS keeps the minor current) makes AWS pick that major's default minor and
report it (`16.x`); moto records "16" verbatim. The AWS provider reads `16.x` back as matching
the configured `16` (it compares the prefix), and that comparison is what keeps drift-check
quiet on a real account: on stock moto it is never exercised. With this patch the emulator
reports a full version too (tests/unit/local/test_moto_rds.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from moto.rds.models import RDSBackend

# The minor the emulator reports for a major-only request. Any minor of the major would do:
# AWS's default moves as versions come and go, the product must not depend on which.
DEFAULT_MINOR = {"postgres": "8"}

CreateDBInstance = Callable[[RDSBackend, dict[str, Any]], Any]


def _resolving_major_versions(create: CreateDBInstance) -> CreateDBInstance:
    @functools.wraps(create)
    def create_db_instance(backend: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
        version, minor = db_kwargs.get("engine_version"), DEFAULT_MINOR.get(db_kwargs["engine"])
        if version and minor and re.fullmatch(r"[0-9]+", version):
            db_kwargs = {**db_kwargs, "engine_version": f"{version}.{minor}"}
        return create(backend, db_kwargs)

    create_db_instance.__dict__["aws_like"] = True
    return create_db_instance


def engine_versions_like_aws() -> None:
    """A major-only engine version resolves to a minor (see the module's docstring)."""
    current = RDSBackend.create_db_instance
    if not getattr(current, "aws_like", False):
        patched: Any = _resolving_major_versions(current)
        RDSBackend.create_db_instance = patched  # type: ignore[method-assign]
