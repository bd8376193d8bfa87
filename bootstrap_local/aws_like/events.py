"""EventBridge delivers to an SQS queue only where the queue's access policy lets it, as AWS.

moto 5.2.6 sends a matching event to every SQS target whatever the queue's policy says. On AWS
EventBridge is the service principal `events.amazonaws.com`: it delivers only if the queue's
resource policy allows it `sqs:SendMessage` (here with the rule's ARN as `aws:SourceArn`, the
condition infrastructure/terraform/modules/observer sets); otherwise the invocation fails and
the event is dropped (counted in the rule's FailedInvocations metric). That policy is what lets
ECS's task events reach the Prefect ECS observer, so it is held to it here
(tests/unit/local/test_moto_events.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.events.models import Rule
from moto.sqs.models import sqs_backends

from bootstrap_local.iam_policy import Request, trusts

EVENTS = "events.amazonaws.com"
logger = logging.getLogger("bootstrap_local.aws_like")


def delivery_allowed(policy: str | None, queue_arn: str, rule_arn: str, account: str) -> bool:
    """Whether a queue with access policy `policy` takes EventBridge's delivery for a rule."""
    if not policy:
        return False  # no resource policy: no service principal may send
    request = Request(
        "sqs:SendMessage", queue_arn, {"aws:SourceArn": rule_arn, "aws:SourceAccount": account}
    )
    return trusts(json.loads(policy), EVENTS, request)


def event_targets_like_aws() -> None:
    """SQS targets receive an event only as the queue's policy allows (module docstring)."""
    rule_class: Any = Rule  # moto's models are loosely typed; patched by name below
    if getattr(rule_class._send_to_sqs_queue, "aws_like", False):
        return
    send = rule_class._send_to_sqs_queue

    def _send_to_sqs_queue(
        rule: Any, resource_id: str, event: dict[str, Any], group_id: str | None = None
    ) -> None:
        queue = sqs_backends[rule.account_id][rule.region_name].get_queue(resource_id)
        if not delivery_allowed(queue.policy, queue.queue_arn, rule.arn, rule.account_id):
            logger.warning(
                "EventBridge rule %s: %s's policy does not let events.amazonaws.com send "
                "(FailedInvocations); event dropped",
                rule.arn,
                queue.queue_arn,
            )
            return
        send(rule, resource_id, event, group_id)

    _send_to_sqs_queue.__dict__["aws_like"] = True
    rule_class._send_to_sqs_queue = _send_to_sqs_queue
