"""The embedded default's moto keeps and returns SQS queue attributes as AWS does (the observer
module's queue declares its redrive and access policy inline; without this every plan shows a
diff)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ec2.models.nat_gateways import NatGatewayBackend
from moto.s3.models import FakeBucket
from moto.sqs.models import Queue

from bootstrap_local import aws_like

# What `aws_like.patch()` replaces, as moto has it (captured before any test patches it).
STOCK = [
    (FakeBucket, "get_permission", FakeBucket.get_permission),
    (NatGatewayBackend, "delete_nat_gateway", NatGatewayBackend.delete_nat_gateway),
    (Queue, "attributes", Queue.__dict__["attributes"]),
    (Queue, "_set_attributes", Queue.__dict__["_set_attributes"]),
]
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": "*",
            }
        ],
    }
)


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the original comes back afterwards)."""
    for owner, name, original in STOCK:
        monkeypatch.setattr(owner, name, original)
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def queue_with_policies(sqs: Any) -> tuple[str, str]:
    """(queue URL, the compact RedrivePolicy it was created with), its access policy inline."""
    dead = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5}, separators=(",", ":"))
    url = sqs.create_queue(
        QueueName="events", Attributes={"RedrivePolicy": redrive, "Policy": POLICY}
    )["QueueUrl"]
    return url, redrive


def attributes(sqs: Any, url: str) -> dict[str, str]:
    answer: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    return answer


def test_stock_moto_spaces_the_redrive_policy(sqs: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop that part."""
    url, redrive = queue_with_policies(sqs)
    returned = attributes(sqs, url)["RedrivePolicy"]
    assert returned != redrive and json.loads(returned) == json.loads(redrive)


def test_stock_moto_clears_the_policy_a_set_attributes_call_omits(sqs: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop that part."""
    url, _ = queue_with_policies(sqs)
    assert attributes(sqs, url)["Policy"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    assert "Policy" not in attributes(sqs, url)


def test_patched_queue_attributes_are_kept_and_returned_as_aws_does(sqs: Any) -> None:
    aws_like.patch()
    aws_like.patch()  # a second patch must not wrap the first
    url, redrive = queue_with_policies(sqs)
    assert attributes(sqs, url)["RedrivePolicy"] == redrive
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "60"})
    after = attributes(sqs, url)
    assert after["VisibilityTimeout"] == "60"
    assert json.loads(after["Policy"]) == json.loads(POLICY)
    assert after["RedrivePolicy"] == redrive
    # A call that names Policy still changes it.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert not attributes(sqs, url).get("Policy")
