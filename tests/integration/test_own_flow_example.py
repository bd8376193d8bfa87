"""examples/own-flow, run the way README's "Deploy your own flow" tells a user to, on the
embedded default: after a bootstrap of `local`, only the commands a user types (bootstrap-flows,
prefect, docker), each in a subprocess with the user's environment, each one timed (printed at
the end of the module: `pytest -s` or `-rA` shows the numbers).

Both ways: flow.py's code pushed to the code bucket by `prefect deploy` and pulled by the flow
run's ECS task; report.py in an image built FROM the worker image and pushed to the stack's
repository. Each run must end Completed on the ECS pool with its result (computed from the
parameters given here) in the results bucket.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.teardown import teardown
from bootstrap_flows.prefect_side.e2e_storage import decode_result, result_location
from bootstrap_flows.safety.refusal import PreflightError

# Shares the worker's `local` environment with the other modules of tests/schedule.py's SHARED.
pytestmark = pytest.mark.slow

EXAMPLE = PROJECT_ROOT / "examples" / "own-flow"
BIN = Path(sys.executable).parent
NUMBERS = [2, 3, 5]
SQUARES = [4, 9, 25]
RUN_TIMEOUT = 300


@dataclass
class User:
    """A user's shell in a copy of the example: their environment, and each command's time."""

    settings: BootstrapSettings
    project: Path
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    # Results bucket keys of the runs read back (deleted at the end).
    results: list[str] = field(default_factory=list)

    def run(self, label: str, *command: str, stdin: str | None = None) -> str:
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=self.project,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT + 120,
            check=False,
        )
        self.timings[label] = time.monotonic() - started
        shown = " ".join(shlex.quote(part) for part in command)
        assert done.returncode == 0, (
            f"{shown} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def export(self, script: str) -> None:
        """What `eval "$(bootstrap-flows outputs local)"` does to the user's shell."""
        for line in script.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "export":
                name, _, value = words[1].partition("=")
                self.env[name] = value

    def run_flow(self, label: str, deployment: str) -> FlowRun:
        """`prefect deployment run ... --watch` (exits 0 only on Completed); the run it made."""
        out = self.run(
            label,
            "prefect",
            "deployment",
            "run",
            deployment,
            "--params",
            f'{{"numbers": {NUMBERS}}}',
            "--watch",
            "--watch-timeout",
            str(RUN_TIMEOUT),
        )
        (run_id,) = [
            line.split("UUID:", 1)[1].strip() for line in out.splitlines() if "UUID:" in line
        ]
        with get_client(sync_client=True) as client:
            return client.read_flow_run(UUID(run_id))


@pytest.fixture(scope="module")
def user(
    local_stack: BootstrapSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[User]:
    # A finished bootstrap of `local` (a no-change re-run when an earlier module left it up).
    started = time.monotonic()
    bootstrap(environment="local")
    bootstrapped = time.monotonic() - started
    project = tmp_path_factory.mktemp("user") / "own-flow"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    # This machine's TLS-intercepting proxy: pip in the image build must trust its CA, as the
    # example's Dockerfile explains.
    ca_bundle = os.environ.get("SSL_CERT_FILE")
    if ca_bundle and Path(ca_bundle).is_file():
        shutil.copy(ca_bundle, project / "extra-ca.pem")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # What README tells a user of the embedded default to export (moto takes any keys).
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # The user's own docker login, kept out of this machine's ~/.docker.
        "DOCKER_CONFIG": str(tmp_path_factory.mktemp("docker-config")),
    }
    shell = User(
        local_stack, project, env, {"bootstrap/local (in-process, for the setup)": bootstrapped}
    )
    shell.export(shell.run("bootstrap-flows outputs local", "bootstrap-flows", "outputs", "local"))
    yield shell
    print("\nown-flow example, command durations:")
    for label, seconds in shell.timings.items():
        print(f"  {seconds:7.1f} s  {label}")
    _forget(shell)


def _forget(user: User) -> None:
    """Delete what the example left in the buckets and in Docker: a teardown of `local` later in
    the session must find only what bootstrap wrote (anything else stops a bucket's destroy)."""
    aws.delete_versions(user.settings, user.env["PREFECT_CODE_BUCKET"], "own-flow/")
    for key in user.results:
        aws.delete_versions(user.settings, user.env["PREFECT_RESULTS_BUCKET"], key, exact=True)
    if "FLOW_IMAGE" in user.env:
        remove = ["docker", "image", "rm", user.env["FLOW_IMAGE"]]
        subprocess.run(remove, capture_output=True, check=False)


def _result(user: User, run: FlowRun) -> Any:
    """The run's return value, read from the results bucket (plain data only)."""
    location = result_location(run)
    assert location is not None, f"run {run.id} persisted no result: {run.state}"
    key, serializer = location
    user.results.append(key)
    s3 = aws.client(user.settings, "s3")
    content = s3.get_object(Bucket=user.env["PREFECT_RESULTS_BUCKET"], Key=key)["Body"].read()
    return decode_result(content, serializer)


def _deployment(run: FlowRun) -> Any:
    assert run.deployment_id is not None
    with get_client(sync_client=True) as client:
        return client.read_deployment(run.deployment_id)


def _ran_on_the_pool(user: User, run: FlowRun) -> dict[str, Any]:
    """The run's ECS task, after checking the run is Completed on the ECS pool."""
    assert run.state is not None and run.state.is_completed(), run.state
    assert run.work_pool_name == user.env["PREFECT_WORK_POOL"] == user.settings.work_pool_name
    assert run.infrastructure_pid, f"run {run.id} has no ECS task"
    cluster, task_arn = run.infrastructure_pid.split("::", 1)
    ecs = aws.client(user.settings, "ecs")
    return dict(ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0])


def test_outputs_of_an_environment_never_bootstrapped_say_so(
    local_stack: BootstrapSettings,
) -> None:
    env = {**os.environ, "BOOTSTRAP_TARGET": "emulator"}
    done = subprocess.run(
        [str(BIN / "bootstrap-flows"), "outputs", "nowhere"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: environment 'nowhere' has no platform with storage buckets recorded in "
        "s3://prefect-nowhere-tfstate-123456789012/platform/nowhere.tfstate: run bootstrap/nowhere "
        "first\n"
    )


@pytest.fixture(scope="module")
def code_bucket_run(user: User) -> FlowRun:
    user.run(
        "prefect deploy --name code-bucket",
        "prefect",
        "--no-prompt",
        "deploy",
        "--name",
        "code-bucket",
    )
    return user.run_flow(
        "prefect deployment run own-flow/code-bucket --watch", "own-flow/code-bucket"
    )


def test_code_from_the_code_bucket_runs_completed_on_the_pool(
    user: User, code_bucket_run: FlowRun
) -> None:
    task = _ran_on_the_pool(user, code_bucket_run)
    ecs = aws.client(user.settings, "ecs")
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    # No image of its own: the worker image, where the pull step put the bucket's code.
    assert (
        definition["taskDefinition"]["containerDefinitions"][0]["image"] == user.env["WORKER_IMAGE"]
    )
    s3 = aws.client(user.settings, "s3")
    bucket = user.env["PREFECT_CODE_BUCKET"]
    pushed = s3.get_object(Bucket=bucket, Key="own-flow/flow.py")["Body"].read()
    assert pushed == (EXAMPLE / "flow.py").read_bytes()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="own-flow/")["Contents"]}
    assert (
        "own-flow/Dockerfile" not in keys and "own-flow/extra-ca.pem" not in keys
    )  # .prefectignore
    # What `prefect deploy` stored: the push step's outputs filled in, the block reference left
    # for the flow run's task to resolve.
    pull = _deployment(code_bucket_run).pull_steps or []
    assert pull[1]["prefect_aws.deployments.steps.pull_from_s3"] == {
        "requires": "prefect-aws>=0.7",
        "bucket": bucket,
        "folder": "own-flow",
        "credentials": "{{ prefect.blocks.aws-credentials.prefect-local }}",
    }
    assert _result(user, code_bucket_run) == {
        "numbers": NUMBERS,
        "squares": SQUARES,
        "total": sum(SQUARES),
    }


@pytest.fixture(scope="module")
def image_run(user: User) -> FlowRun:
    registry = user.env["ECR_REGISTRY"]
    image = f"{registry}/{user.env['ECR_REPOSITORY']}:flows-own-flow-{secrets.token_hex(4)}"
    user.env["FLOW_IMAGE"] = image
    password = user.run(
        "bootstrap-flows outputs local --registry-password",
        "bootstrap-flows",
        "outputs",
        "local",
        "--registry-password",
    )
    login = ["docker", "login", "--username", "AWS", "--password-stdin", registry]
    user.run("docker login (password on stdin)", *login, stdin=password)
    worker_image = f"WORKER_IMAGE={user.env['WORKER_IMAGE']}"
    user.run(
        "docker build FROM the worker image",
        "docker",
        "build",
        "--build-arg",
        worker_image,
        "--tag",
        image,
        ".",
    )
    user.run("docker push", "docker", "push", image)
    user.run("prefect deploy --name image", "prefect", "--no-prompt", "deploy", "--name", "image")
    return user.run_flow(
        "prefect deployment run own-flow-report/image --watch", "own-flow-report/image"
    )


def test_an_image_from_the_worker_image_runs_completed_on_the_pool(
    user: User, image_run: FlowRun
) -> None:
    task = _ran_on_the_pool(user, image_run)
    ecs = aws.client(user.settings, "ecs")
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    assert (
        definition["taskDefinition"]["containerDefinitions"][0]["image"] == user.env["FLOW_IMAGE"]
    )
    # The code is in the image: the deployment neither pushed nor pulls any.
    assert _deployment(image_run).pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/prefect/own-flow"}}
    ]
    result = _result(user, image_run)
    assert result["total"] == sum(SQUARES)
    # Drawn by tabulate, which only the flow's image has: header, separator, one row a number.
    header, _, *rows = str(result["table"]).splitlines()
    assert [cell.strip() for cell in header.strip("|").split("|")] == ["n", "n²"]
    cells = [[int(cell) for cell in row.strip("|").split("|")] for row in rows]
    assert cells == [[n, n * n] for n in NUMBERS]


def _standing(settings: BootstrapSettings) -> tuple[Any, ...]:
    """What a teardown's first changes would touch: the worker service, the pool, the images."""
    ecs, ecr = aws.client(settings, "ecs"), aws.client(settings, "ecr")
    cluster = ecs.list_clusters()["clusterArns"]
    services = ecs.list_services(cluster=cluster[0])["serviceArns"] if cluster else []
    repositories = ecr.describe_repositories()["repositories"]
    images = [ecr.list_images(repositoryName=r["repositoryName"])["imageIds"] for r in repositories]
    with get_client(sync_client=True) as client:
        paused = client.read_work_pool(settings.work_pool_name).is_paused
    return services, images, paused


def test_teardown_refuses_unchanged_while_the_users_code_and_results_are_there(
    user: User, code_bucket_run: FlowRun, image_run: FlowRun
) -> None:
    """The user's code and results are never deleted, and S3 deletes no bucket holding them:
    the platform's destroy would stop there with the worker gone. Refused before the drain."""
    before = _standing(user.settings)
    with pytest.raises(PreflightError, match=r"^Teardown refused, nothing changed") as refused:
        teardown(environment="local", confirm="local")
    assert f"s3://{user.env['PREFECT_CODE_BUCKET']}/own-flow/flow.py" in str(refused.value)
    assert _standing(user.settings) == before
