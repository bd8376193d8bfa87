"""Terraform's failures, and the one a person can act on: a state lock someone else holds.

Apart from the runner so the lock's holder record (lock_holder.py) can name them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bootstrap_flows.errors import BootstrapError


class TerraformError(BootstrapError):
    """A terraform command failed; the message carries Terraform's own diagnostics."""


class StalePlan(TerraformError):
    """The saved plan no longer matches the state (another apply ran since): nothing applied."""


# The summary of Terraform's diagnostic when another process holds the state lock.
LOCK_ERROR = "Error acquiring the state lock"
# Go's time.String(): "2006-01-02 15:04:05.999999999 -0700 MST".
_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? ([+-]\d{4})")
_OPERATIONS = {"OperationTypeApply": "apply", "OperationTypePlan": "plan"}


@dataclass(frozen=True)
class LockInfo:
    """Terraform's record of a state lock: the `Lock Info:` block of its lock error."""

    id: str
    path: str
    operation: str
    who: str
    version: str
    created: datetime | None
    backend_error: str

    @property
    def release_command(self) -> str:
        """What releases the lock: bootstrap's backend is S3 with `use_lockfile`."""
        if "S3" in self.backend_error and "/" in self.path:
            return f"aws s3 rm s3://{self.path}.tflock"
        # Any other backend: Terraform's own command, from the stack's initialized directory.
        return f"terraform force-unlock -force {self.id}"


def parse_lock_info(text: str) -> LockInfo | None:
    """The lock named in a "state lock" diagnostic (None for any other error)."""
    if LOCK_ERROR not in text or "Lock Info:" not in text:
        return None
    head, block = text.split("Lock Info:", 1)
    fields: dict[str, str] = {}
    for line in block.splitlines():
        key, colon, value = line.strip().partition(":")
        if not colon:
            if fields:
                break  # the block ends at the first line that is not `Key: value`
            continue
        fields[key.strip()] = value.strip()
    created = _GO_TIME.search(fields.get("Created", ""))
    return LockInfo(
        id=fields.get("ID", "?"),
        path=fields.get("Path", "?"),
        operation=fields.get("Operation", "?"),
        who=fields.get("Who", "?"),
        version=fields.get("Version", "?"),
        created=(
            datetime.strptime(" ".join(created.groups()), "%Y-%m-%d %H:%M:%S %z")
            if created
            else None
        ),
        backend_error=head.split("Error message:", 1)[-1].strip(),
    )


def describe_state_lock(stack: str, lock: LockInfo, now: datetime | None = None) -> str:
    """Who holds the stack's state lock, why it is most likely stale, how to release it."""
    operation = _OPERATIONS.get(lock.operation, lock.operation)
    since = "at an unknown time"
    if lock.created is not None:
        age = int(((now or datetime.now(UTC)) - lock.created).total_seconds())
        ago = f"{age} s" if age < 120 else f"{age // 60} min"
        since = f"since {lock.created.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({ago} ago)"
    return (
        f"the {stack} stack's Terraform state {lock.path} is locked: lock {lock.id}, taken by "
        f"{lock.who} for a terraform {operation} (Terraform {lock.version}) {since}.\n"
        "It is most likely stale: bootstrap and teardown run Terraform only while they hold the "
        "environment's lock, and this run holds it, so no other bootstrap or teardown of this "
        "environment is applying; a run killed in the middle of an apply leaves Terraform's lock "
        "behind (its flow run shows Crashed).\n"
        "If no one runs terraform on this state by hand, release the lock with:\n"
        f"    {lock.release_command}\n"
        "and run bootstrap again: it plans against the state as it is."
        + (
            # Terraform persists the state at most every 20 s during an apply (not tunable lower).
            " An apply killed after it began creating resources can leave those of its last "
            "20 s out of the state: the next bootstrap finds them in AWS and imports them "
            "(`Adopting <address> <- <id>` in its log) instead of creating them twice."
            if operation == "apply"
            else ""
        )
    )


class StateLocked(TerraformError):
    """The stack's state lock is held by someone else; the message says who and how to free it."""

    def __init__(self, stack: str, lock: LockInfo, kept: str | None = None) -> None:
        message = describe_state_lock(stack, lock)
        if kept is not None:
            # Why this run did not release it itself (lock_holder.py): its holder may be alive.
            message += f"\nThis run did not release it: {kept}."
        super().__init__(message)
        self.stack = stack
        self.lock = lock
        self.kept = kept
