"""SQS queue attributes as AWS keeps and returns them.

moto returns a queue's RedrivePolicy re-serialised with spaces, and SetQueueAttributes clears
the queue's Policy whenever the call omits it. AWS returns the compact document and changes
only the attributes passed. Without both, a queue declaring its redrive and access policy
inline (infrastructure/terraform/modules/observer) would show a diff on every plan
(tests/unit/local/test_moto_queues.py).
"""

from __future__ import annotations

import json
from typing import Any

from moto.sqs.models import Queue


def queues_like_aws() -> None:
    """Queue attributes as AWS keeps and returns them (see the module's docstring)."""
    queue_class: Any = Queue  # moto's models are loosely typed; patched by name below
    if getattr(queue_class._set_attributes, "aws_like", False):
        return
    attributes_of = queue_class.attributes.fget
    set_attributes = queue_class._set_attributes

    def attributes(queue: Any) -> dict[str, Any]:
        result: dict[str, Any] = attributes_of(queue)
        if queue.redrive_policy:
            result["RedrivePolicy"] = json.dumps(queue.redrive_policy, separators=(",", ":"))
        return result

    def _set_attributes(queue: Any, changed: dict[str, Any], now: float | None = None) -> None:
        policy = getattr(queue, "policy", None)
        set_attributes(queue, changed, now)
        if "Policy" not in changed:
            queue.policy = policy

    _set_attributes.__dict__["aws_like"] = True
    queue_class.attributes = property(attributes)
    queue_class._set_attributes = _set_attributes
