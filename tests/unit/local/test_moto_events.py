"""EventBridge delivers an event to an SQS target only where the queue's access policy lets
`events.amazonaws.com` send it for that rule (bootstrap_local/aws_like/events.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.events.models import Rule

from bootstrap_local import aws_like
from tests.support.samples import observer_queue_policy

# As moto has it (captured at import, before any test patches it).
STOCK = Rule.__dict__["_send_to_sqs_queue"]
PATTERN = {"source": ["probe"]}


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        yield (
            boto3.client("events", region_name="us-east-1"),
            boto3.client("sqs", region_name="us-east-1"),
        )


def delivered(aws: tuple[Any, Any], policy_for: Any) -> int:
    """Messages a queue behind a rule holds after one matching event; `policy_for(rule_arn,
    queue_arn)` is the queue's access policy (None: none)."""
    events, sqs = aws
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    queue_arn = attributes["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name="r", EventPattern=json.dumps(PATTERN))["RuleArn"]
    policy = policy_for(rule_arn, queue_arn)
    if policy is not None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": queue_arn}])
    events.put_events(Entries=[{"Source": "probe", "DetailType": "t", "Detail": "{}"}])
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return len(messages)


def test_stock_moto_delivers_to_a_queue_whose_policy_lets_nobody_send(
    aws: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the patch exists. If this fails, moto holds delivery to the policy: drop the patch."""
    monkeypatch.setattr(Rule, "_send_to_sqs_queue", STOCK)
    assert delivered(aws, lambda rule, queue: None) == 1


@pytest.mark.parametrize(
    ("policy_for", "count"),
    [
        (observer_queue_policy, 1),
        (lambda rule, queue: None, 0),
        # Another rule's policy (the condition names a rule that is not this one).
        (lambda rule, queue: observer_queue_policy(rule.replace("rule/r", "rule/other"), queue), 0),
        # A policy for a person, not the service.
        (
            lambda rule, queue: observer_queue_policy(rule, queue).replace(
                '{"Service": "events.amazonaws.com"}', '{"AWS": "arn:aws:iam::123456789012:root"}'
            ),
            0,
        ),
    ],
    ids=["the-observer-modules-policy", "no-policy", "another-rules", "not-the-service"],
)
def test_an_event_reaches_the_queue_only_as_its_policy_allows(
    aws: tuple[Any, Any], policy_for: Any, count: int
) -> None:
    aws_like.patch()  # idempotent: the whole set, as the embedded default's moto runs it
    assert delivered(aws, policy_for) == count
