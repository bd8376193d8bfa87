"""The alerts settings group: the notification block the environment's alert automations send
to (prefect_side/alerts.py) and their delays; one group of `settings.BootstrapSettings` beside
those of `groups`."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

# Prefect's block slugs: `<block-type-slug>/<block-document-name>`, e.g. `slack-webhook/ops`.
# Both parts: lowercase letters, digits and dashes (what Prefect accepts for either name).
_BLOCK_SLUG = re.compile(r"^[a-z0-9-]+/[a-z0-9-]+$")


class Alerts(BaseModel):
    """Notifications: the block the environment's automations send to, and their delays."""

    notification_block: str | None = Field(
        None,
        description="Prefect notification block the environment's alert automations send to, "
        "as `<block-type-slug>/<name>` (e.g. `slack-webhook/ops`). Unset: no automations.",
    )
    alert_worker_unhealthy_minutes: int = Field(
        10, ge=1, le=1440, description="Minutes the ECS pool may be without a worker."
    )
    alert_run_pending_minutes: int = Field(
        15, ge=1, le=1440, description="Minutes a flow run on the pool may stay Pending or Late."
    )

    @field_validator("notification_block")
    @classmethod
    def _block_slug(cls, value: str | None) -> str | None:
        if value is not None and not _BLOCK_SLUG.match(value):
            raise ValueError(
                f"{value!r} is not a block slug: write `<block-type-slug>/<name>` as `prefect "
                "block ls` shows it, e.g. 'slack-webhook/ops' or 'custom-webhook/ops'"
            )
        return value
