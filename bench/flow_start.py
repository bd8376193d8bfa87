"""Flow-run start on the ECS pool, broken down: N runs of one deployment, creation to Running.

Runs the bench environment's e2e deployment (bootstrap made it; its code is in the worker image)
N times, one after another, and splits each run's wait from creation to Running:

- `pickup`: created -> Pending (the worker's next poll claims it; it polls every 5 s),
- `task_definition`: Pending -> prefect-aws's "Using ECS task definition" (looked up, reused or
  registered: `registered` says which),
- `run_task`: "Creating ECS task run" -> "Created ECS task" (the RunTask call),
- `image_pull`: what the local ECS runtime spent making the image present (its log line; the
  layers are already in the local Docker here, so this is not Fargate's pull: the JSON's
  `image` holds the compressed size Fargate downloads),
- `container_start`: RunTask's answer -> the runtime's container running, minus the pull
  (secrets, log stream, `docker run`),
- `engine_start`: container running -> the flow run's Running state (Python, Prefect and the
  flow's import inside the container).

And counts the deployment's task-definition revisions before and after: the target is none new
after the first run while nothing changed.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.image.push import MANIFEST_TYPES, manifest_size
from bootstrap_flows.prefect_side import e2e, target_prefect
from bootstrap_flows.terraform import stacks, worker_stack

RUN_TIMEOUT = 300.0
# prefect-aws 0.7.12's worker lines (flow-run logs), and the local ECS runtime's.
MARKS = {
    "registering": "Registering ECS task definition",
    "using": "Using ECS task definition",
    "creating": "Creating ECS task run",
    "created": "Created ECS task",
}
_RUNTIME_LINE = re.compile(r"^(\S+ \S+) INFO \S+: task (\S+) (image ready in ([\d.]+) s|runs in)")


def measure(
    settings: BootstrapSettings, account: str, runs: int, runtime_log: Path
) -> dict[str, Any]:
    """The case's JSON: the image's compressed size, each run's breakdown, the revisions."""
    bucket = settings.state_bucket_name(account)
    image_uri = str(stacks.read_outputs(settings, worker_stack.STACK, bucket)["image_uri"])
    deployment_id = e2e.deploy_e2e(settings, image_uri)
    family = f"prefect_{settings.work_pool_name}_{deployment_id}"
    before = _revisions(settings, family)
    samples = []
    for _ in range(runs):
        samples.append(_one_run(settings, deployment_id, runtime_log))
        samples[-1]["revisions_after"] = len(_revisions(settings, family))
    return {
        "image": _image_size(settings, image_uri),
        "deployment_id": str(deployment_id),
        "revisions_before": len(before),
        "revisions_after": len(_revisions(settings, family)),
        "runs": samples,
    }


def _one_run(settings: BootstrapSettings, deployment_id: UUID, runtime_log: Path) -> dict[str, Any]:
    with target_prefect.client(settings) as client:
        run = client.create_flow_run_from_deployment(deployment_id, tags=["bench-flow-start"])
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (run.state and run.state.is_final()) and time.monotonic() < deadline:
            time.sleep(1.0)  # a bench, not a product wait: the breakdown comes from timestamps
            run = client.read_flow_run(run.id)
        states = client.read_flow_run_states(run.id)
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200
        )
    first = {s.type.value: s.timestamp.timestamp() for s in reversed(states)}
    marks: dict[str, float] = {}
    for line in sorted(logs, key=lambda entry: entry.timestamp):
        for key, text in MARKS.items():
            if key not in marks and line.message.startswith(text):
                marks[key] = line.timestamp.timestamp()
    task_arn = str(run.infrastructure_pid or "").rpartition("::")[2]
    runtime = _runtime_marks(runtime_log, task_arn)
    return _breakdown(run.created.timestamp() if run.created else 0.0, first, marks, runtime) | {
        "flow_run_id": str(run.id),
        "state": run.state.name if run.state else None,
        "task_arn": task_arn,
        "registered": "registering" in marks,
    }


def _breakdown(
    created: float, states: dict[str, float], marks: dict[str, float], runtime: dict[str, float]
) -> dict[str, Any]:
    pending, running = states.get("PENDING"), states.get("RUNNING")
    pull = runtime.get("pull_seconds")
    started = runtime.get("container_running")

    def span(start: float | None, end: float | None, minus: float | None = None) -> float | None:
        if start is None or end is None:
            return None
        return round(end - start - (minus or 0.0), 3)

    return {
        "total": span(created, running),
        "pickup": span(created, pending),
        "task_definition": span(pending, marks.get("using")),
        "run_task": span(marks.get("creating"), marks.get("created")),
        "image_pull": round(pull, 3) if pull is not None else None,
        "container_start": span(marks.get("created"), started, pull),
        "engine_start": span(started, running),
    }


def _runtime_marks(log: Path, task_arn: str) -> dict[str, float]:
    """The runtime's own lines for the task: its pull seconds, when its container ran."""
    found: dict[str, float] = {}
    if not task_arn or not log.is_file():
        return found
    for line in log.read_text(errors="replace").splitlines():
        match = _RUNTIME_LINE.match(line)
        if not match or match.group(2) != task_arn:
            continue
        if match.group(4):
            found["pull_seconds"] = float(match.group(4))
        else:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            found["container_running"] = when.astimezone().timestamp()
    return found


def _revisions(settings: BootstrapSettings, family: str) -> list[str]:
    ecs = aws.client(settings, "ecs")
    arns: list[str] = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    return arns


def _image_size(settings: BootstrapSettings, image_uri: str) -> dict[str, Any]:
    """What Fargate pulls: the pushed layers' compressed sizes and the config's, summed from
    the stored manifest (moto's imageSizeInBytes is the config's size alone)."""
    repository, _, digest = image_uri.partition("@")
    images = aws.client(settings, "ecr").batch_get_image(
        repositoryName=repository.split("/", 1)[1],
        imageIds=[{"imageDigest": digest}],
        acceptedMediaTypes=list(MANIFEST_TYPES),
    )["images"]
    manifest = json.loads(images[0]["imageManifest"])
    return {
        "uri": image_uri,
        "compressed_bytes": manifest_size(manifest),
        "layers": len(manifest.get("layers", [])),
    }


PARTS = ("pickup", "task_definition", "run_task", "image_pull", "container_start", "engine_start")


def table(repetitions: list[dict[str, Any]]) -> str:
    """Medians per part, the first run of each repetition apart from the rest."""
    if not repetitions:
        return ""
    runs = [run for rep in repetitions for run in rep["runs"]]
    firsts = [rep["runs"][0] for rep in repetitions if rep["runs"]]
    rest = [run for rep in repetitions for run in rep["runs"][1:]]
    lines = ["| flow-run start (s) | " + " | ".join(("total", *PARTS)) + " |"]
    lines.append("|---" * (len(PARTS) + 2) + "|")
    for label, group in (("first run", firsts), ("later runs", rest), ("all", runs)):
        cells = [_median([run.get(part) for run in group]) for part in ("total", *PARTS)]
        lines.append(f"| {label} (n={len(group)}) | " + " | ".join(cells) + " |")
    new = sum(rep["revisions_after"] - rep["revisions_before"] for rep in repetitions)
    registered = sum(1 for run in runs if run.get("registered"))
    sizes = {rep["image"]["compressed_bytes"] for rep in repetitions}
    lines.append(
        f"\ntask-definition revisions added: {new} ({registered} registrations in "
        f"{len(runs)} runs); image compressed: {sorted(s for s in sizes if s)} bytes"
    )
    return "\n".join(lines)


def _median(values: list[float | None]) -> str:
    known = sorted(v for v in values if v is not None)
    if not known:
        return "-"
    middle = len(known) // 2
    value = known[middle] if len(known) % 2 else (known[middle - 1] + known[middle]) / 2
    return f"{value:.2f}"
