"""The baselines: what a user does by hand, one command after another, timed step by step.

The manual procedure the seeds describe (state bucket, `terraform init/plan/apply` of the
platform, the API secret, `docker build`, registry login and `docker push`, `terraform apply`
of the worker, `prefect work-pool create` with the template filled from the outputs,
`prefect deploy` and `prefect deployment run --watch` of the test flow), and bare Terraform on
initialised stacks: `plan`, `plan -refresh-only -detailed-exitcode`, `destroy`. Files a user
would write once beforehand (var files, the pool template, prefect.yaml) are written untimed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve
from bootstrap_flows.image.push import push_repository
from bootstrap_flows.prefect_side import e2e, work_pool
from bootstrap_flows.terraform import platform_stack, stacks, worker_stack
from bootstrap_flows.terraform.platform_stack import PlatformOutputs
from bootstrap_flows.terraform.state_backend import ensure_state_bucket

LOG = logging.getLogger("bench.manual")
REPO = Path(__file__).resolve().parents[1]
BOTH = (platform_stack.STACK, worker_stack.STACK)
# Not bootstrap's e2e deployment: the two sides share one Prefect server.
MANUAL_DEPLOYMENT = "manual-e2e"


class StepFailed(RuntimeError):
    """A command of the procedure failed; the message carries its tail of output."""


@dataclass
class Steps:
    """Seconds per step, in order."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.seconds[name] = round(time.monotonic() - started, 2)

    @property
    def total(self) -> float:
        return round(sum(self.seconds.values()), 2)


def run(
    command: list[str], env: dict[str, str], stdin: str | None = None, ok: tuple[int, ...] = (0,)
) -> str:
    done = subprocess.run(
        command, env=env, input=stdin, capture_output=True, text=True, check=False, cwd=REPO
    )
    if done.returncode not in ok:
        tail = (done.stdout[-1500:] + done.stderr[-1500:]).strip()
        raise StepFailed(f"{' '.join(command[:4])} ... exited {done.returncode}:\n{tail}")
    return done.stdout


class BareStack:
    """One stack of one environment driven by the terraform CLI, in a data dir of its own."""

    def __init__(self, settings: BootstrapSettings, stack: str, work: Path) -> None:
        runner = stacks.stack_terraform(settings, stack, LOG, work_dir=work / stack)
        self.settings, self.stack, self.env = settings, stack, runner.env
        self.chdir = f"-chdir={runner.stack_dir}"
        self.var_file = work / stack / "bare.tfvars.json"
        self.plan_file = work / stack / "bare.tfplan"

    def tf(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        return run(["terraform", self.chdir, *args, "-no-color"], self.env, ok=ok)

    def init(self, bucket: str, variables: dict[str, Any]) -> None:
        self.var_file.write_text(json.dumps(variables))
        config = stacks.backend_config(self.settings, bucket, self.stack)
        self.tf(
            "init",
            "-input=false",
            "-reconfigure",
            *[f"-backend-config={k}={v}" for k, v in config.items()],
        )

    def plan(self, *extra: str) -> None:
        # -detailed-exitcode: 2 means "changes", which a user reads as success too.
        self.tf("plan", "-input=false", f"-var-file={self.var_file}", *extra, ok=(0, 2))

    def outputs(self) -> dict[str, Any]:
        shown = json.loads(self.tf("output", "-json"))
        return {name: value["value"] for name, value in shown.items()}


def bare_stacks(settings: BootstrapSettings, work: Path) -> dict[str, BareStack]:
    return {stack: BareStack(settings, stack, work) for stack in BOTH}


def bare_plans(bare: dict[str, BareStack], steps: Steps, *extra: str) -> None:
    """`terraform plan` (with `extra`) of both stacks, one after the other, as a user runs them."""
    for stack, terraform in bare.items():
        with steps(f"plan {stack}"):
            terraform.plan("-detailed-exitcode", *extra)


def bare_destroy(bare: dict[str, BareStack], steps: Steps) -> None:
    """`terraform destroy` of the worker stack, then the platform (the reverse of applying)."""
    for stack in reversed(BOTH):
        terraform = bare[stack]
        with steps(f"destroy {stack}"):
            terraform.tf(
                "destroy", "-input=false", "-auto-approve", f"-var-file={terraform.var_file}"
            )


def _docker_env(config: Path) -> dict[str, str]:
    # A config dir of the bench's own: `docker login` stores the token there, not in ~/.docker.
    return {**os.environ, "DOCKER_CONFIG": str(config)}


def _push(
    settings: BootstrapSettings,
    platform: PlatformOutputs,
    context: Path,
    base: str,
    steps: Steps,
    no_cache: bool,
) -> str:
    repository = push_repository(
        settings, platform.ecr_repository_name, platform.ecr_repository_url
    )
    image = f"{repository}:manual"
    with tempfile.TemporaryDirectory(prefix="bench-docker-") as config:
        env = _docker_env(Path(config))
        with steps("docker build"):
            run(
                [
                    "docker",
                    "build",
                    "-q",
                    *(["--no-cache"] if no_cache else []),
                    "-t",
                    image,
                    "--build-arg",
                    f"BASE_IMAGE={base}",
                    str(context),
                ],
                env,
            )
        with steps("registry login + docker push"):
            user, password, _ = aws.ecr_login(aws.client(settings, "ecr"))
            host = repository.split("/", 1)[0]
            run(["docker", "login", "-u", user, "--password-stdin", host], env, stdin=password)
            run(["docker", "push", "-q", image], env)
        # The worker stack takes an image by digest (content-addressed), as a user copies it
        # from the push.
        with steps("docker inspect (digest)"):
            pushed = run(["docker", "inspect", "--format", "{{json .RepoDigests}}", image], env)
    digests = [d for d in json.loads(pushed) if d.startswith(f"{repository}@")]
    if not digests:
        raise StepFailed(f"docker push of {image} left no digest for {repository}")
    return str(digests[0])


def _prefect_yaml(settings: BootstrapSettings, image: str, where: Path) -> Path:
    deployment = {
        "name": MANUAL_DEPLOYMENT,
        "entrypoint": e2e.ENTRYPOINT,
        "work_pool": {"name": settings.work_pool_name, "job_variables": {"image": image}},
        "pull": [
            {"prefect.deployments.steps.set_working_directory": {"directory": e2e.IMAGE_CODE_DIR}}
        ],
    }
    path = where / "prefect.yaml"
    path.write_text(json.dumps({"name": "bench-manual", "deployments": [deployment]}))
    return path


def manual_bootstrap(
    settings: BootstrapSettings,
    account: str,
    work: Path,
    context: Path,
    base: str,
    no_cache: bool = False,
) -> Steps:
    """The seeds' procedure, cold, in `settings.environment`; returns its timed steps.

    `no_cache`: `docker build --no-cache`, a user's first build on a new machine."""
    steps, bare = Steps(), bare_stacks(settings, work)
    platform_tf = bare[platform_stack.STACK]
    with steps("state bucket"):
        bucket = ensure_state_bucket(settings, account, LOG)
    with steps("terraform init platform"):
        platform_tf.init(bucket, platform_stack.platform_variables(settings))
    with steps("terraform plan platform"):
        platform_tf.tf(
            "plan",
            "-input=false",
            f"-var-file={platform_tf.var_file}",
            f"-out={platform_tf.plan_file}",
        )
    with steps("terraform apply platform"):
        platform_tf.tf("apply", "-input=false", str(platform_tf.plan_file))
        platform = PlatformOutputs.model_validate(platform_tf.outputs())
    credential = resolve(settings).prefect_credential
    assert credential is not None, "the embedded default always has a worker credential"
    with steps("put API secret"):
        platform_stack.store_api_secret(
            settings, platform.prefect_api_secret_arn, credential.get_secret_value()
        )
    image = _push(settings, platform, context, base, steps, no_cache)
    worker_tf = bare[worker_stack.STACK]
    with steps("terraform init worker"):
        worker_tf.init(bucket, worker_stack.worker_variables(settings, platform, image))
    with steps("terraform apply worker"):
        worker_tf.tf("apply", "-input=false", "-auto-approve", f"-var-file={worker_tf.var_file}")
    _pool_deploy_and_run(settings, platform, image, work, steps)
    return steps


def _pool_deploy_and_run(
    settings: BootstrapSettings, platform: PlatformOutputs, image: str, work: Path, steps: Steps
) -> None:
    """The procedure's Prefect half: the pool from the outputs, the test flow deployed and run."""
    template = work / "pool-template.json"
    owned = work_pool.owned_defaults(settings, platform, image)
    template.write_text(json.dumps(work_pool.desired_template(None, owned)))
    prefect = [str(REPO / ".venv/bin/prefect"), "--no-prompt"]
    env = dict(os.environ)
    with steps("prefect work-pool create"):
        run(
            [
                *prefect,
                "work-pool",
                "create",
                settings.work_pool_name,
                "--type",
                "ecs",
                "--base-job-template",
                str(template),
                "--overwrite",
            ],
            env,
        )
    with steps("prefect deploy"):
        yaml = _prefect_yaml(settings, image, work)
        run([*prefect, "deploy", "--prefect-file", str(yaml), "--name", MANUAL_DEPLOYMENT], env)
    with steps("prefect deployment run --watch"):
        name = f"{e2e.FLOW_NAME}/{MANUAL_DEPLOYMENT}"
        out = run(
            [
                *prefect,
                "deployment",
                "run",
                name,
                "--watch",
                "--watch-timeout",
                str(settings.e2e_timeout),
            ],
            env,
        )
        if "Completed" not in out:
            raise StepFailed(f"the e2e run did not complete:\n{out[-1500:]}")
