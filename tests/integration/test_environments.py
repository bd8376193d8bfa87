"""Environments from one code, on the embedded default: what the quick start registers, and a
second environment bootstrapped with the image that passed in the first (promotion).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound

from bootstrap_flows.aws_side import clients as aws
from bootstrap_flows.config.settings import PROJECT_ROOT, BootstrapSettings
from bootstrap_flows.flows.bootstrap import bootstrap
from bootstrap_flows.flows.summary import BootstrapResult
from bootstrap_flows.flows.teardown import teardown
from bootstrap_flows.image.promote import variable_name
from bootstrap_flows.image.push import MANIFEST_TYPES
from bootstrap_flows.prefect_side import registration
from bootstrap_local.cli import deploy_all
from bootstrap_local.settings import load_local_settings
from tests.integration.test_bootstrap_flow import run_logs
from tests.support.workflow_runner import Action, Context, JobRun, Provided, Runner, run_workflow

# Shares the worker's `local` environment with the other modules of tests/schedule.py's SHARED.
pytestmark = pytest.mark.slow

# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()

CHECKOUT = PROJECT_ROOT / "environments"
VARIABLE = "BOOTSTRAP_ENVIRONMENTS_DIR"
PROMOTED = "prom"


def registered() -> dict[str, list[tuple[str, bool]]]:
    """Every deployment of the three flows on the test's Prefect, with its schedules."""
    names = FlowFilter(name=FlowFilterName(any_=list(registration.FLOWS)))
    with get_client(sync_client=True) as client:
        flows = {flow.id: flow.name for flow in client.read_flows(flow_filter=names)}
        deployments = client.read_deployments(flow_filter=names)
    return {
        f"{flows[d.flow_id]}/{d.name}": [
            (str(getattr(s.schedule, "cron", s.schedule)), s.active) for s in d.schedules
        ]
        for d in deployments
    }


def test_quick_start_schedules_only_configured_environments(
    local_stack: BootstrapSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a machine that registered an environment which is no longer configured.
    before = tmp_path / "environments"
    before.mkdir()
    shutil.copy(CHECKOUT / "local.env", before)
    (before / "gone.env").write_text("BOOTSTRAP_TARGET=emulator\nBOOTSTRAP_WORK_POOL_NAME=gone\n")
    monkeypatch.setenv(VARIABLE, str(before))
    deploy_all(local_stack, LOCAL)
    assert registered()["drift-check/gone"] == [("*/30 * * * *", True)]

    # The quick start with the checkout's environments: local's three, nothing else.
    monkeypatch.setenv(VARIABLE, str(CHECKOUT))
    result = deploy_all(local_stack, LOCAL)
    assert result.environments == ["local"]
    assert result.removed == ["bootstrap/gone", "drift-check/gone", "teardown/gone"]
    assert registered() == {
        "bootstrap/local": [],
        "teardown/local": [],
        "drift-check/local": [("*/30 * * * *", True)],
    }
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("teardown/local")
        assert deployment.parameters == {"environment": "local", "confirm": "local"}
        # A scheduled drift check would race the promotion test's bootstraps for the lock.
        client.pause_deployment(client.read_deployment_by_name("drift-check/local").id)


def _bootstrap(environment: str) -> tuple[BootstrapResult, str]:
    state: State[Any] = bootstrap(environment=environment, return_state=True)
    logs = run_logs(state.state_details.flow_run_id) if state.state_details.flow_run_id else ""
    assert state.is_completed(), logs[-3000:]
    result = state.result()
    assert isinstance(result, BootstrapResult)
    return result, logs


@pytest.fixture(scope="module")
def promoted(
    local_stack: BootstrapSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """`local` bootstrapped (its image passes e2e), then `prom` promoted from it."""
    folder = tmp_path_factory.mktemp("environments")
    shutil.copy(CHECKOUT / "local.env", folder)
    (folder / f"{PROMOTED}.env").write_text(
        "BOOTSTRAP_TARGET=emulator\n"
        f"BOOTSTRAP_WORK_POOL_NAME={PROMOTED}-pool\n"
        "BOOTSTRAP_PROMOTE_FROM=local\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(VARIABLE, str(folder))
        source, _ = _bootstrap("local")
        started = time.monotonic()
        result, logs = _bootstrap(PROMOTED)
        seconds = round(time.monotonic() - started, 1)
        print(f"bootstrap of {PROMOTED} promoted from local: {seconds} s")
        yield {"source": source, "result": result, "logs": logs, "seconds": seconds}
        teardown(environment=PROMOTED, confirm=PROMOTED)


def test_promoted_environment_runs_the_tested_digest(
    promoted: dict[str, Any], local_stack: BootstrapSettings
) -> None:
    source: BootstrapResult = promoted["source"]
    result: BootstrapResult = promoted["result"]
    digest = source.image.digest
    assert result.image.digest == digest
    registry = f"127.0.0.1:{LOCAL.registry_port}"
    assert result.image.uri == f"{registry}/prefect-{PROMOTED}-worker@{digest}"
    assert not result.image.skipped  # copied, not found
    assert "Promoting from local: not building" in promoted["logs"]
    assert f"Copying {source.image.uri} to {registry}/prefect-{PROMOTED}-worker" in promoted["logs"]
    # ECR of the promoted environment holds it under the same content tag.
    ecr = aws.client(local_stack, "ecr")
    images = ecr.describe_images(repositoryName=f"prefect-{PROMOTED}-worker")["imageDetails"]
    assert [(i["imageDigest"], i.get("imageTags")) for i in images] == [
        (digest, [source.image.tag])
    ]
    # Its e2e test flow passed with that digest: recorded for the next promotion.
    with get_client(sync_client=True) as client:
        passed = {
            name: client.read_variable_by_name(variable_name(name)) for name in ("local", PROMOTED)
        }
    values = {n: v.value for n, v in passed.items() if v is not None and isinstance(v.value, dict)}
    assert values[PROMOTED]["digest"] == values["local"]["digest"] == digest
    assert values[PROMOTED]["code"] == values["local"]["code"]
    assert str(result.e2e.flow_run_id) == values[PROMOTED]["flow_run_id"]


# --- the staged pipeline (examples/github-actions/release.yml), run on these two -----------------

PIPELINE = PROJECT_ROOT / "examples" / "github-actions"
OWN_FLOW = PROJECT_ROOT / "examples" / "own-flow"
BIN = Path(sys.executable).parent
SMOKE = "own-flow-report/pipeline-smoke"
# The flows' repository's prefect.yaml: the smoke test is own-flow's report in its own image.
FLOWS_PREFECT_YAML = """\
name: pipeline-flows
prefect-version: 3.9.1
pull:
  - prefect.deployments.steps.set_working_directory:
      directory: /opt/prefect/own-flow
deployments:
  - name: pipeline-smoke
    entrypoint: report.py:own_flow_report
    parameters: {numbers: [2, 3, 5]}
    work_pool:
      name: "{{ $PREFECT_WORK_POOL }}"
      job_variables:
        image: "{{ $FLOW_IMAGE }}"
"""
BROKEN = 'raise RuntimeError("smoke test: the report is broken")'


def _shell(env: dict[str, str], *command: str, stdin: str | None = None) -> str:
    done = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def _checkout(root: Path, broken: bool) -> Path:
    """The flows' repository as a runner checks it out: own-flow's image flow, the pipeline's
    workflow and scripts where the example README says to copy them."""
    repo = root / ("broken" if broken else "good")
    names = ("Dockerfile", ".dockerignore", "flow.py", "report.py", "requirements.txt")
    repo.mkdir()
    for name in names:
        shutil.copy(OWN_FLOW / name, repo / name)
    ca_bundle = os.environ.get("SSL_CERT_FILE")  # this machine's proxy (own-flow's Dockerfile)
    if ca_bundle and Path(ca_bundle).is_file():
        shutil.copy(ca_bundle, repo / "extra-ca.pem")
    (repo / "prefect.yaml").write_text(FLOWS_PREFECT_YAML)
    if broken:
        report = (repo / "report.py").read_text()
        (repo / "report.py").write_text(report.replace("print(table)", BROKEN))
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(PIPELINE / "release.yml", repo / ".github" / "workflows")
    shutil.copytree(PIPELINE / "scripts", repo / ".github" / "scripts")
    return repo


@dataclass
class Pipeline:
    """The runner's machine: its environment, the stand-ins of the actions, each environment's
    repository variables (from `bootstrap-flows outputs`, as README tells a user to set them)."""

    # Not in a failure's report: the machine's whole environment, and secrets.
    env: dict[str, str] = field(repr=False)
    variables: dict[str, dict[str, str]]
    secrets: dict[str, str] = field(repr=False)
    root: Path
    passwords: dict[str, str] = field(default_factory=dict, repr=False)

    def password(self, environment: str) -> str:
        """The registry's password, for reading it back (asked once per environment)."""
        if environment not in self.passwords:
            asked = ("bootstrap-flows", "outputs", environment, "--registry-password")
            self.passwords[environment] = _shell(self.env, *asked).strip()
        return self.passwords[environment]

    def actions(self) -> dict[str, Action]:
        def credentials(given: dict[str, str], env: dict[str, str]) -> dict[str, str]:
            # The OIDC exchange: here the emulator's keys, which the base env already holds.
            env.update(AWS_REGION=given["aws-region"], AWS_DEFAULT_REGION=given["aws-region"])
            return {}

        def ecr_login(given: dict[str, str], env: dict[str, str]) -> dict[str, str]:
            environment = env["BOOTSTRAP_ENVIRONMENT"]
            password = _shell(env, "bootstrap-flows", "outputs", environment, "--registry-password")
            registry = self.variables[environment]["ECR_REGISTRY"]
            login = ("docker", "login", "--username", "AWS", "--password-stdin", registry)
            _shell(env, *login, stdin=password)
            return {"registry": registry}

        def nothing(given: dict[str, str], env: dict[str, str]) -> dict[str, str]:
            return {}  # the checkout is the runner's directory; Python is this one

        return {
            "actions/checkout": nothing,
            "actions/setup-python": nothing,
            "aws-actions/configure-aws-credentials": credentials,
            "aws-actions/amazon-ecr-login": ecr_login,
        }

    def release(self, sha: str, broken: bool = False) -> tuple[dict[str, JobRun], Runner]:
        repo = _checkout(self.root, broken)
        scratch = self.root / f"runner-{sha[:8]}"
        scratch.mkdir()
        runner = Runner(repo, self.env, self.actions(), scratch, provided=_installed())
        contexts = {
            job: Context(self.variables[environment], self.secrets, sha)
            for job, environment in (("staging", "local"), ("production", PROMOTED))
        }
        return run_workflow(
            runner, repo / ".github" / "workflows" / "release.yml", contexts
        ), runner


def _installed() -> dict[str, Provided]:
    """`pip install` of the workflow's pins: this environment must already have exactly them."""

    def check(script: str) -> None:
        pins = dict(re.findall(r'"([\w-]+)==([\w.]+)"', script))
        assert pins and {n: version(n) for n in pins} == pins, script

    return {"python -m pip install ": check}


def _exports(env: dict[str, str], environment: str) -> dict[str, str]:
    exported: dict[str, str] = {}
    for line in _shell(env, "bootstrap-flows", "outputs", environment).splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            name, _, value = words[1].partition("=")
            exported[name] = value
    return exported


@pytest.fixture(scope="module")
def pipeline(
    promoted: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("pipeline")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DOCKER_CONFIG": str(root / "docker-config"),
    }
    api = os.environ["PREFECT_API_URL"]
    variables = {}
    for environment in ("local", PROMOTED):
        out = _exports(env, environment)
        variables[environment] = {
            **{name: out[name] for name in ("AWS_REGION", "ECR_REPOSITORY", "ECR_REGISTRY")},
            "WORKER_IMAGE": out["WORKER_IMAGE"],
            "PREFECT_CODE_BUCKET": out["PREFECT_CODE_BUCKET"],
            "PREFECT_WORK_POOL": out["PREFECT_WORK_POOL"],
            "PREFECT_API_URL": api,
            "BOOTSTRAP_API_URL": api,
            "BOOTSTRAP_ENVIRONMENT": environment,
            "SMOKE_DEPLOYMENT": SMOKE,
        }
    auth = os.environ.get("PREFECT_API_AUTH_STRING", "")
    given = {"PREFECT_API_AUTH_STRING": auth, "BOOTSTRAP_API_AUTH_STRING": auth}
    yield Pipeline(env, variables, given, root)
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_deployment(client.read_deployment_by_name(SMOKE).id)
    listed = _shell(env, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
    flows = [image for image in listed.split() if ":flows-" in image]
    subprocess.run(["docker", "image", "rm", *flows], capture_output=True, check=False)


def _registry_digest(pipeline: Pipeline, environment: str, tag: str) -> str | None:
    """The digest the registry serves for `tag` in the environment's repository, or None."""
    out = pipeline.variables[environment]
    response = httpx.get(
        f"http://{out['ECR_REGISTRY']}/v2/{out['ECR_REPOSITORY']}/manifests/{tag}",
        auth=("AWS", pipeline.password(environment)),
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
        timeout=30,
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return "sha256:" + hashlib.sha256(response.content).hexdigest()


def _deployed() -> tuple[str | None, str, str]:
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(SMOKE)
    image = str((deployment.job_variables or {}).get("image"))
    return deployment.version, image, str(deployment.work_pool_name)


def test_the_release_pipeline_promotes_what_passed_staging(pipeline: Pipeline) -> None:
    sha = secrets.token_hex(20)
    started = time.monotonic()
    jobs, runner = pipeline.release(sha)
    seconds = round(time.monotonic() - started, 1)
    print(f"release pipeline, staging and production: {seconds} s")
    timings = {f"{j.name}: {s.name}": s.seconds for j in jobs.values() for s in j.steps if s.ran}
    print("\n".join(f"  {t:6.1f} s  {name}" for name, t in timings.items()))
    assert list(jobs) == ["staging", "production"]
    for job in jobs.values():
        failed = job.failed_step()
        assert failed is None, f"{job.name}: {failed and failed.name}:\n{failed and failed.output}"
    staging = jobs["staging"]
    local, prom = pipeline.variables["local"], pipeline.variables[PROMOTED]
    digest = staging.outputs["image"].split("@", 1)[1]
    tag = f"flows-{sha}"
    assert staging.outputs == {
        "image": f"{local['ECR_REGISTRY']}/{local['ECR_REPOSITORY']}@{digest}",
        "tag": tag,
    }
    # Staging's repository serves what was smoke-tested; production's the same digest.
    assert _registry_digest(pipeline, "local", tag) == digest
    assert _registry_digest(pipeline, PROMOTED, tag) == digest
    # The same commit's deployment, pinned to that digest in production's repository, on its
    # pool. (One Prefect serves both environments here, so production's deploy replaced
    # staging's deployment of the same name; with one Prefect workspace per environment, as on
    # AWS, each keeps its own.)
    assert _deployed() == (
        sha,
        f"{prom['ECR_REGISTRY']}/{prom['ECR_REPOSITORY']}@{digest}",
        prom["PREFECT_WORK_POOL"],
    )
    skipped = [s.name for j in jobs.values() for s in j.steps if not s.ran]
    assert skipped == ["Install Prefect", "Apply the platform (bootstrap/<env>)"] * 2
    summary = runner.summary.read_text()
    assert f"### `{SMOKE}`" in summary and "finished successfully in 'Completed'" in summary
    assert "flow run: http" in summary


def test_a_failing_smoke_test_stops_before_production(pipeline: Pipeline) -> None:
    sha = secrets.token_hex(20)
    started = time.monotonic()
    jobs, runner = pipeline.release(sha, broken=True)
    print(f"release pipeline with a failing smoke test: {time.monotonic() - started:.1f} s")
    assert list(jobs) == ["staging"]  # production never started
    failed = jobs["staging"].failed_step()
    assert failed is not None and failed.name == "Smoke test", failed
    assert "Flow run finished in state 'Failed'" in failed.output
    assert "- Flow run finished in state 'Failed'." in runner.summary.read_text()
    assert _registry_digest(pipeline, PROMOTED, f"flows-{sha}") is None
    deployed_version, _, pool = _deployed()
    assert (deployed_version, pool) == (sha, pipeline.variables["local"]["PREFECT_WORK_POOL"])
