"""No secret anywhere it should not be (issue 11 §6).

Bootstraps a fresh environment (`leak`) whose worker credential is a recognisable canary, then
looks for the canary everywhere it could have leaked, as is and in the encodings that would
hide it from a plain grep (base64, as in a Basic auth header; deflated members of Terraform's
plan files; gzipped registry blobs and image layers).

The target is a Prefect server of its own whose auth string *is* the canary (the session's local
server has no auth at all, so it would accept any credential and prove nothing): the worker can
only come online, and the e2e run can only complete, if the canary really reached them through
the path it must take (environment → Secrets Manager → ECS `secrets` → the container).

Where the canary may be, and why:
- the Secrets Manager secret bootstrap writes it into: its one home in AWS;
- the environment of the containers of this environment's ECS tasks (the worker, the e2e flow
  run), where ECS puts a container's `secrets`;
- the environment of the target Prefect server, whose own auth string it is.
The embedded default keeps a generated credential in `<state dir>/prefect-auth-string`, but only
when settings give none; here it comes from BOOTSTRAP_PREFECT_API_AUTH_STRING, so that file (and
every other one under the state directory) must not hold it.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings, load_settings
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.summary import BootstrapResult
from bootstrap_local.ecs_runtime.spec import CLUSTER_LABEL
from bootstrap_local.settings import load_local_settings
from tests.support.leak_search import Hit, Scanner, encodings, no_hits, reader
from tests.support.servers import prefect_server

pytestmark = pytest.mark.slow

# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()

ENVIRONMENT = "leak"
POOL = "leak-pool"
OVERRIDES = {"target": "emulator", "work_pool_name": POOL}
BIN = Path(sys.executable).parent

# The fake credential: its password part is what gives it away, in whatever wrapping.
CANARY_PASSWORD = f"LEAKCANARY{secrets.token_hex(16)}"
CANARY = f"worker:{CANARY_PASSWORD}"


@dataclass
class Leak:
    """What the searches need: the bootstrap's result, settings and the target server."""

    settings: BootstrapSettings
    result: BootstrapResult
    flow_run_id: str  # bootstrap's run, on the orchestrator
    target_home: Path
    target_pid: int


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(encodings(CANARY_PASSWORD))


@pytest.fixture(scope="module")
def leak(
    local_stack: BootstrapSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Leak]:
    home = tmp_path_factory.mktemp("leak-target-prefect")
    with prefect_server(home, CANARY) as (url, process):
        # Secrets by environment, never by parameters (Prefect stores those in clear); only
        # while bootstrap runs, so nothing the searches start inherits the canary.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("BOOTSTRAP_PREFECT_API_URL", url)
            patch.setenv("BOOTSTRAP_PREFECT_API_AUTH_STRING", CANARY)
            settings = load_settings(environment=ENVIRONMENT, **OVERRIDES)
            state = bootstrap(environment=ENVIRONMENT, overrides=OVERRIDES, return_state=True)
        result: BootstrapResult = state.result()
        # The worker came online and the e2e run completed on a server that accepts only the
        # canary: it took the path it must take.
        assert result.e2e.state == "Completed"
        try:
            yield Leak(settings, result, str(state.state_details.flow_run_id), home, process.pid)
        finally:
            # Else the worker would poll a server that is gone for the rest of the session.
            aws.client(settings, "ecs").update_service(
                cluster=result.platform.cluster_arn,
                service=result.worker.service_name,
                desiredCount=0,
            )


def own_container_ids(leak: Leak) -> set[str]:
    """Containers of this environment's ECS tasks (the worker's, the e2e run's)."""
    with contextlib.closing(docker.from_env()) as engine:
        found = engine.containers.list(
            all=True, filters={"label": f"{CLUSTER_LABEL}={leak.result.platform.cluster_arn}"}
        )
        return {str(container.id) for container in found}


# --- the searches ----------------------------------------------------------------------------


def test_the_secret_and_the_worker_container_hold_it(leak: Leak) -> None:
    """The allowed places: the searches below would prove nothing if the canary went nowhere."""
    secret = aws.client(leak.settings, "secretsmanager").get_secret_value(
        SecretId=leak.result.platform.prefect_api_secret_arn
    )
    assert secret["SecretString"] == CANARY
    with contextlib.closing(docker.from_env()) as engine:
        environments = [
            engine.containers.get(container_id).attrs["Config"]["Env"] or []
            for container_id in own_container_ids(leak)
        ]
    assert any(f"PREFECT_API_AUTH_STRING={CANARY}" in env for env in environments)


def test_not_in_any_terraform_state_version(leak: Leak, scanner: Scanner) -> None:
    s3 = aws.client(leak.settings, "s3")
    hits: list[Hit] = []
    state_objects = 0
    for bucket in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                key, version_id = version["Key"], version["VersionId"]
                body = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"]
                hits += scanner.stream(f"s3://{bucket}/{key} version {version_id}", body)
                state_objects += key.endswith(f"/{ENVIRONMENT}.tfstate")
    assert state_objects >= 2, "no state of the platform and worker stacks found"
    assert not hits, no_hits(hits, "S3 (Terraform state)")


def test_not_in_the_terraform_work_dirs_and_plan_files(leak: Leak, scanner: Scanner) -> None:
    """Var files, saved plans (zip archives), TF_DATA_DIR, drift-check's work dirs."""
    root = leak.settings.environment_dir
    plans = sorted(p.parent.name for p in root.rglob("*.tfplan"))
    assert {"platform", "worker"} <= set(plans), plans
    hits = scanner.tree(root)
    assert not hits, no_hits(hits, "Terraform's work directories")
    assert not scanner.unreadable, scanner.unreadable


def test_not_in_the_local_stack_logs(leak: Leak, scanner: Scanner) -> None:
    run = LOCAL.state_dir / "run"
    logs = sorted(p.name for p in run.glob("*.log"))
    assert {"moto.log", "ecs-runtime.log", "worker.log"} <= set(logs), logs
    hits = scanner.tree(run)
    assert not hits, no_hits(hits, "the local stack's logs")


def test_not_in_any_other_file_of_the_state_dir(leak: Leak, scanner: Scanner) -> None:
    """The orchestrator's Prefect database, the registry's blobs, PostgreSQL, the Prefect client's
    home, other environments, and the embedded default's own auth-string file."""
    state_dir = LOCAL.state_dir
    searched = (leak.settings.environment_dir, state_dir / "run")  # by the two tests above
    hits = scanner.tree(state_dir, skip=lambda path: any(path.is_relative_to(d) for d in searched))
    assert not hits, no_hits(hits, f"files under {state_dir}")
    assert not scanner.unreadable, scanner.unreadable


def test_not_in_cloudwatch_logs(leak: Leak, scanner: Scanner) -> None:
    logs = aws.client(leak.settings, "logs")
    hits: list[Hit] = []
    events = 0
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            name = group["logGroupName"]
            for streams in logs.get_paginator("describe_log_streams").paginate(logGroupName=name):
                for stream in streams["logStreams"]:
                    token: str | None = None
                    while True:
                        extra = {"nextToken": token} if token else {}
                        answer = logs.get_log_events(
                            logGroupName=name,
                            logStreamName=stream["logStreamName"],
                            startFromHead=True,
                            **extra,
                        )
                        events += len(answer["events"])
                        where = f"log group {name}, stream {stream['logStreamName']}"
                        hits += scanner.data(
                            where, "\n".join(e["message"] for e in answer["events"])
                        )
                        if answer["nextForwardToken"] == token:
                            break
                        token = answer["nextForwardToken"]
    assert events > 0, "no CloudWatch log events at all: the worker's logs were not shipped"
    assert not hits, no_hits(hits, "CloudWatch logs")


def test_not_in_ecs_task_definitions_tasks_or_services(leak: Leak, scanner: Scanner) -> None:
    """Every revision of every family: the credential comes through `secrets`, never
    `environment`; nor in a task's overrides (RunTask) or a service."""
    ecs = aws.client(leak.settings, "ecs")
    secret_arn = leak.result.platform.prefect_api_secret_arn
    hits: list[Hit] = []
    by_secret: list[str] = []
    for status in ("ACTIVE", "INACTIVE"):
        pages = ecs.get_paginator("list_task_definitions").paginate(status=status)
        for arn in [arn for page in pages for arn in page["taskDefinitionArns"]]:
            definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            hits += scanner.json(f"task definition {arn}", definition)
            for container in definition["containerDefinitions"]:
                if {"name": "PREFECT_API_AUTH_STRING", "valueFrom": secret_arn} in container.get(
                    "secrets", []
                ):
                    by_secret.append(arn)
    for cluster in ecs.list_clusters()["clusterArns"]:
        for desired in ("RUNNING", "STOPPED"):
            pages = ecs.get_paginator("list_tasks").paginate(cluster=cluster, desiredStatus=desired)
            arns = [arn for page in pages for arn in page["taskArns"]]
            for batch in (arns[i : i + 100] for i in range(0, len(arns), 100)):
                for task in ecs.describe_tasks(cluster=cluster, tasks=batch)["tasks"]:
                    hits += scanner.json(f"task {task['taskArn']}", task)
        pages = ecs.get_paginator("list_services").paginate(cluster=cluster)
        arns = [arn for page in pages for arn in page["serviceArns"]]
        for batch in (arns[i : i + 10] for i in range(0, len(arns), 10)):
            for service in ecs.describe_services(cluster=cluster, services=batch)["services"]:
                hits += scanner.json(f"service {service['serviceArn']}", service)
    # The worker's definition and the e2e run's (registered by prefect-aws) both get it by ARN.
    assert len(by_secret) >= 2, by_secret
    assert not hits, no_hits(hits, "ECS")


def test_not_in_other_secrets_or_parameters(leak: Leak, scanner: Scanner) -> None:
    """Only the Prefect API secret's value may hold it: not its name, description or tags, not
    another secret, not an SSM parameter."""
    manager = aws.client(leak.settings, "secretsmanager")
    allowed = leak.result.platform.prefect_api_secret_arn
    hits: list[Hit] = []
    for page in manager.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            hits += scanner.json(f"secret {secret['ARN']} (metadata)", secret)
            if secret["ARN"] == allowed:
                continue
            versions = manager.list_secret_version_ids(
                SecretId=secret["ARN"], IncludeDeprecated=True
            )
            for version in versions["Versions"]:
                with contextlib.suppress(manager.exceptions.ResourceNotFoundException):
                    value = manager.get_secret_value(
                        SecretId=secret["ARN"], VersionId=version["VersionId"]
                    )
                    hits += scanner.json(
                        f"secret {secret['ARN']} version {version['VersionId']}", value
                    )
    ssm = aws.client(leak.settings, "ssm")
    for page in ssm.get_paginator("describe_parameters").paginate():
        for parameter in page["Parameters"]:
            value = ssm.get_parameter(Name=parameter["Name"], WithDecryption=True)["Parameter"]
            hits += scanner.json(f"SSM parameter {parameter['Name']}", value)
    assert not hits, no_hits(hits, "Secrets Manager or SSM")


def test_not_in_any_layer_of_the_worker_image(leak: Leak, scanner: Scanner) -> None:
    """`docker save` of the image the worker runs: its config (environment, build history) and
    every file of every layer."""
    before = scanner.files
    with contextlib.closing(docker.from_env()) as engine:
        image = engine.images.get(leak.result.image.uri)
        hits = scanner.tar(f"image {leak.result.image.uri}", reader(image.save(named=False)))
    assert scanner.files - before > 1000, "the image's layers were not searched file by file"
    assert not hits, no_hits(hits, "the worker image")


def test_only_in_the_environment_of_its_own_containers(leak: Leak, scanner: Scanner) -> None:
    """Every container: the canary may be the value of PREFECT_API_AUTH_STRING in a container of
    this environment's ECS tasks, nothing else (command, labels, other variables, logs)."""
    own = own_container_ids(leak)
    hits: list[Hit] = []
    with contextlib.closing(docker.from_env()) as engine:
        for container in engine.containers.list(all=True, sparse=True):
            with contextlib.suppress(docker.errors.NotFound):
                attrs = engine.api.inspect_container(container.id)
                where = f"container {attrs['Name']} ({str(container.id)[:12]})"
                for entry in attrs["Config"].pop("Env", None) or []:
                    name, _, value = entry.partition("=")
                    if name == "PREFECT_API_AUTH_STRING" and container.id in own:
                        continue
                    hits += scanner.data(f"{where}, environment variable {name}", entry)
                hits += scanner.json(f"{where}, inspect", attrs)
                if container.id in own:
                    hits += scanner.data(f"{where}, logs", engine.api.logs(container.id))
    assert own, "no container of this environment's ECS tasks"
    assert not hits, no_hits(hits, "Docker containers")


def _session(pid: str) -> int | None:
    try:
        stat = (Path("/proc") / pid / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[3])


def test_not_on_any_command_line_nor_in_foreign_environments(leak: Leak, scanner: Scanner) -> None:
    """/proc/*/cmdline of every process; /proc/*/environ of every process but the target server
    (its own auth string) and this environment's containers (ECS `secrets`)."""
    own = own_container_ids(leak)
    hits: list[Hit] = []
    holders: set[str] = set()
    for process in [p for p in Path("/proc").iterdir() if p.name.isdigit()]:
        try:
            command = (process / "cmdline").read_bytes()
            environ = (process / "environ").read_bytes()
            cgroup = (process / "cgroup").read_text()
        except OSError:  # gone, or a kernel thread
            continue
        shown = command.replace(b"\0", b" ")[:100].decode(errors="replace")
        hits += scanner.data(f"process {process.name} command line ({shown})", command)
        if _session(process.name) == leak.target_pid:
            holder = "the target server"
        elif any(container_id in cgroup for container_id in own):
            holder = "a container of this environment's ECS tasks"
        else:
            hits += scanner.data(f"process {process.name} environment ({shown})", environ)
            continue
        if scanner.data(holder, environ):
            holders.add(holder)
    assert not hits, no_hits(hits, "processes")
    # The environments the canary may be in do hold it: the scan of /proc sees what is there.
    assert holders == {"the target server", "a container of this environment's ECS tasks"}


def test_not_in_either_prefect_database(leak: Leak, scanner: Scanner) -> None:
    """Every table of the orchestrator's and the target's database (logs, artifacts, flow and
    task runs with their parameters, variables, events, work pools, deployments, blocks), and
    the target server's home (database files, log)."""
    orchestrator = LOCAL.state_dir / "prefect" / "prefect.db"
    target = leak.target_home / "prefect.db"
    # Events reach the database in batches: wait for the last event of each run.
    wait_for_event(orchestrator, "prefect.flow-run.Completed", leak.flow_run_id)
    wait_for_event(target, "prefect.flow-run.Completed", leak.result.e2e.flow_run_id)
    hits = scanner.sqlite("orchestrator database", orchestrator)
    hits += scanner.sqlite("target database", target)
    hits += scanner.tree(leak.target_home)
    assert not hits, no_hits(hits, "the Prefect databases")


def wait_for_event(database: Path, event: str, flow_run_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    query = "SELECT 1 FROM events WHERE event = ? AND resource_id = ?"
    while True:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            if db.execute(query, (event, f"prefect.flow-run.{flow_run_id}")).fetchone():
                return
        assert time.monotonic() < deadline, f"no {event} event of {flow_run_id} in {database}"
        time.sleep(1)
