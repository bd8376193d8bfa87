"""How the flow puts every check's findings together."""

from __future__ import annotations

from bootstrap_flows.flows.drift_check import assemble
from tests.unit.drift.shown import finding


def test_assemble_drops_echoes_and_ignored_and_orders_by_kind() -> None:
    never = finding("stack.worker", "(resource)", kind="pending")
    tag = finding("module.network.aws_vpc.this", "tags.Owner", "(none)", "me")
    retention = finding("aws_cloudwatch_log_group.this", "retention_in_days", "14", "30")
    echo = finding("aws_cloudwatch_log_group.this", "retention_in_days", "14", "30", kind="pending")
    code = finding("aws_sqs_queue.new", "(resource)", "present", "absent", kind="pending")
    pool = finding("work_pool.ecs", "cpu", "512", "1024", kind="prefect")
    image = finding("ecr_image.r", "imageDigest", kind="image")
    found = {
        "drift platform": [tag, retention],
        "pending platform": [echo, code],
        "image": [image],
        "work pool": [pool],
    }
    kept, ignored = assemble([never], found, ["aws_vpc.*:tags.*"])
    assert kept == [retention, code, never, pool, image]
    assert ignored == 1
