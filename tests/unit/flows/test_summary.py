"""The bootstrap summary's markdown, rendered from a typed result (the artifact's text)."""

from __future__ import annotations

from bootstrap_flows.flows.summary import BootstrapResult, render
from bootstrap_flows.image import PushedImage
from bootstrap_flows.prefect_side.blocks import StorageBlocks
from bootstrap_flows.prefect_side.e2e import E2EResult
from bootstrap_flows.prefect_side.e2e_storage import StorageE2EResult
from tests.support.samples import IMAGE, OUTPUTS, WORKER


def result(applied: bool) -> BootstrapResult:
    return BootstrapResult(
        environment="local",
        target_prefect="https://prefect.example.com/api",
        orchestrator_prefect="http://127.0.0.1:4200/api",
        applied={"platform": applied, "worker": False},
        plan_counts={"platform": {"add": 41, "change": 0, "destroy": 0}, "worker": {}},
        platform=OUTPUTS,
        image=PushedImage(
            uri=IMAGE,
            digest=IMAGE.split("@")[1],
            tag="abc",
            skipped=not applied,
            size_bytes=1,
            push_seconds=1.0,
        ),
        worker=WORKER,
        work_pool="ecs-work-pool",
        work_pool_change="created",
        worker_name="worker-1",
        e2e=E2EResult(
            flow_run_id="run-1",
            state="Completed",
            task_arn="arn:task/1",
            image=IMAGE,
            image_digest="sha256:" + "a" * 64,
            seconds=14.6,
        ),
        storage=StorageBlocks(
            credentials="aws-credentials/prefect-local",
            code="s3-bucket/prefect-local-code",
            results="s3-bucket/prefect-local-results",
            code_bucket="prefect-local-code-123456789012",
            results_bucket="prefect-local-results-123456789012",
        ),
        storage_e2e=StorageE2EResult(
            flow_run_id="run-2",
            state="Completed",
            seconds=21.2,
            code_uri="s3://prefect-local-code-123456789012/bootstrap-e2e/0a/storage_e2e_flow.py",
            result_uri="s3://prefect-local-results-123456789012/5e1f",
            result={"flow_run_id": "run-2", "code_sha256": "0a"},
        ),
        timings={"preflight": 0.51, "platform": 93.04},
    )


def test_headline_names_stacks_image_pool_worker_and_e2e_run() -> None:
    markdown = render(result(applied=True))
    headline = markdown.split("## ", 1)[0]
    assert headline.startswith("# Bootstrap of `local`")
    assert "**Stacks:** platform: applied (add 41); worker: no changes" in headline
    assert f"**Image:** `{IMAGE}` (pushed)" in headline
    assert "**Work pool:** `ecs-work-pool` (created); **worker online:** `worker-1`" in headline
    assert (
        "**Prefect:** worker, pool and e2e run on `https://prefect.example.com/api`; "
        "bootstrap ran on `http://127.0.0.1:4200/api`"
    ) in headline
    assert "run `run-1` Completed in 15 s on task `arn:task/1`" in headline
    assert (
        "**Storage:** code `s3-bucket/prefect-local-code` (bucket "
        "`prefect-local-code-123456789012`), results `s3-bucket/prefect-local-results`"
    ) in headline
    assert (
        "**storage test flow:** run `run-2` Completed in 21 s; code pulled from "
        "`s3://prefect-local-code-123456789012/bootstrap-e2e/0a/storage_e2e_flow.py`; result "
        "read back from `s3://prefect-local-results-123456789012/5e1f`: "
        '`{"code_sha256": "0a", "flow_run_id": "run-2"}`'
    ) in headline


def test_a_promoted_image_says_where_it_passed() -> None:
    promoted = result(applied=True)
    promoted = promoted.model_copy(
        update={"image": promoted.image.model_copy(update={"promoted_from": "staging"})}
    )
    assert f"**Image:** `{IMAGE}` (promoted from `staging`, digest checked; pushed)" in render(
        promoted
    )


def test_tables_hold_timings_and_every_output() -> None:
    markdown = render(result(applied=False))
    assert "(already in ECR)" in markdown
    assert "| preflight | 0.5 s |\n| platform | 93.0 s |" in markdown
    for name in (*OUTPUTS.model_dump(), *WORKER.model_dump()):
        assert f"| `{name}` |" in markdown
    assert "| `private_subnet_ids` | `subnet-priv1, subnet-priv2` |" in markdown
