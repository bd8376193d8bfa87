"""The summary artifact: what bootstrap made, where, and how long each stage took."""

from __future__ import annotations

import json
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from bootstrap_flows.image import PushedImage
from bootstrap_flows.prefect_side import e2e
from bootstrap_flows.prefect_side.blocks import StorageBlocks
from bootstrap_flows.prefect_side.e2e_storage import StorageE2EResult
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.server_stack import ServerOutputs
from bootstrap_flows.terraform.worker_stack import WorkerOutputs


class BootstrapResult(BaseModel):
    environment: str
    # The Prefect the worker (pool, heartbeat, e2e run) lives on, and the one running bootstrap.
    target_prefect: str
    orchestrator_prefect: str
    applied: dict[str, bool]
    plan_counts: dict[str, dict[str, int]]
    platform: PlatformOutputs
    # The server stack's outputs when the environment runs a Prefect server of its own.
    server: ServerOutputs | None = None
    image: PushedImage
    worker: WorkerOutputs
    work_pool: str
    work_pool_change: str
    worker_name: str
    e2e: e2e.E2EResult
    # The blocks users point their flows at, and the run that proved them.
    storage: StorageBlocks
    storage_e2e: StorageE2EResult
    timings: dict[str, float] = Field(default_factory=dict)


def _table(values: dict[str, Any]) -> str:
    return "\n".join(
        f"| `{name}` | `{', '.join(map(str, v)) if isinstance(v, list) else v}` |"
        for name, v in values.items()
    )


def _outputs(stack: str, outputs: BaseModel) -> str:
    return f"## {stack} outputs\n| output | value |\n|---|---|\n{_table(outputs.model_dump())}\n\n"


def _storage(result: BootstrapResult) -> str:
    run, blocks = result.storage_e2e, result.storage
    returned = json.dumps(run.result, sort_keys=True)
    return (
        f"**Storage:** code `{blocks.code}` (bucket `{blocks.code_bucket}`), results "
        f"`{blocks.results}` (bucket `{blocks.results_bucket}`, the pool's default); "
        f"credentials `{blocks.credentials}`\n\n"
        f"**storage test flow:** run `{run.flow_run_id}` {run.state} in {run.seconds:.0f} s; "
        f"code pulled from `{run.code_uri}`; result read back from `{run.result_uri}`: "
        f"`{returned}`\n\n"
    )


def render(result: BootstrapResult) -> str:
    """The summary as markdown: the headline first (the quick start prints it), then tables."""
    timings = "\n".join(
        f"| {stage} | {seconds:.1f} s |" for stage, seconds in result.timings.items()
    )
    stacks_line = "; ".join(
        f"{stack}: {'applied' if applied else 'no changes'}"
        + (
            f" ({', '.join(f'{k} {v}' for k, v in result.plan_counts[stack].items() if v)})"
            if applied
            else ""
        )
        for stack, applied in result.applied.items()
    )
    return (
        f"# Bootstrap of `{result.environment}`\n\n"
        f"**Stacks:** {stacks_line}\n\n"
        f"**Image:** `{result.image.uri}` "
        f"({_image_origin(result.image)})\n\n"
        f"**Prefect:** worker, pool and e2e run on `{result.target_prefect}`; "
        f"bootstrap ran on `{result.orchestrator_prefect}`\n\n"
        f"**Work pool:** `{result.work_pool}` ({result.work_pool_change}); "
        f"**worker online:** `{result.worker_name}`\n\n"
        f"**e2e test flow:** run `{result.e2e.flow_run_id}` {result.e2e.state} in "
        f"{result.e2e.seconds:.0f} s on task `{result.e2e.task_arn}` "
        f"(image `{result.e2e.image_digest}`)\n\n"
        f"{_storage(result)}"
        f"## Stage timings\n| stage | time |\n|---|---|\n{timings}\n\n"
        + _outputs("Platform", result.platform)
        + (_outputs("Server", result.server) if result.server else "")
        + _outputs("Worker", result.worker)
    )


@task(name="summary", cache_policy=NO_CACHE)
def summary(result: BootstrapResult) -> str:
    markdown = render(result)
    create_markdown_artifact(
        markdown=markdown,
        key=f"{result.environment}-bootstrap-summary",
        description=f"Bootstrap summary of {result.environment}",
    )
    return markdown


def _image_origin(image: PushedImage) -> str:
    where = "already in ECR" if image.skipped else "pushed"
    if image.promoted_from:
        where = f"promoted from `{image.promoted_from}`, digest checked; {where}"
    return where
