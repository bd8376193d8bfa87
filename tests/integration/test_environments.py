"""Environments from one code, on the embedded default: what the quick start registers, and a
second environment bootstrapped with the image that passed in the first (promotion). On those
two, the staged pipeline of examples/github-actions run job by job (release.yml with a staging
and a production role of the ci module, pull-request.yml), and the two roles proven by the
calls their jobs made (tests/support/ci_roles.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
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
from bootstrap_local import processes
from bootstrap_local.cli import deploy_all
from bootstrap_local.registry import REGISTRY
from tests.integration.test_bootstrap_flow import run_logs
from tests.support.ci_roles import JobCalls, Place, ci_roles
from tests.support.pipeline import (
    BIN,
    FLOWS_FOLDER,
    LOCAL,
    PRODUCTION,
    SMOKE,
    Pipeline,
    checkout,
    exports,
    installed,
    pull_request_tools,
    shell,
)
from tests.support.workflow_runner import Action, Context, Runner, run_workflow

# Shares the worker's `local` environment with the other modules of tests/schedule.py's SHARED.
pytestmark = pytest.mark.slow


CHECKOUT = PROJECT_ROOT / "environments"
VARIABLE = "BOOTSTRAP_ENVIRONMENTS_DIR"
PROMOTED = PRODUCTION


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


def test_a_check_due_while_one_runs_is_skipped(local_stack: BootstrapSettings) -> None:
    """Two drift-check/local runs at once on the `bootstrap` worker (as when a check outlasts its
    schedule's period): one checks, the other is Cancelled by Prefect's deployment concurrency
    limit (CANCEL_NEW) instead of waiting its turn. The deployment is the one the test above
    registered; what the check finds depends on what ran before, so only skipping is asserted."""
    from prefect.deployments import run_deployment

    runs = [run_deployment("drift-check/local", timeout=0) for _ in range(2)]
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 600
        states = [run.state for run in runs]
        while time.monotonic() < deadline and not all(s and s.is_final() for s in states):
            time.sleep(2)
            states = [client.read_flow_run(run.id).state for run in runs]
    said = [(s.name, s.message) for s in states if s]
    assert len(said) == 2 and all(s and s.is_final() for s in states), said
    skipped = [(name, message) for name, message in said if name == "Cancelled"]
    assert skipped == [("Cancelled", "Deployment concurrency limit reached.")], said


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


@pytest.fixture(scope="module")
def pipeline(
    promoted: dict[str, Any],
    local_stack: BootstrapSettings,
    tmp_path_factory: pytest.TempPathFactory,
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
        out = exports(env, environment)
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
    account = aws.client(local_stack, "sts").get_caller_identity()["Account"]
    places = {
        environment: Place(out["ECR_REPOSITORY"], out["PREFECT_CODE_BUCKET"])
        for environment, out in variables.items()
    }
    aws_env = aws.aws_environment(local_stack)
    region = local_stack.aws_region
    with ci_roles(aws_env, region, account, root, places["local"], places[PROMOTED]) as roles:
        # Each GitHub environment's AWS_ROLE_ARN: its role of the ci module.
        variables["local"]["AWS_ROLE_ARN"] = roles["staging"]
        variables[PROMOTED]["AWS_ROLE_ARN"] = roles["production"]
        jobs = JobCalls(processes.log_file(LOCAL.state_dir, REGISTRY))
        yield Pipeline(env, variables, given, root, jobs)
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_deployment(client.read_deployment_by_name(SMOKE).id)
    # The code push_to_s3 pushed is the flows' repository's, which teardown leaves alone (it
    # deletes only bootstrap's objects), so a bucket holding it would not be destroyed.
    s3 = aws.client(local_stack, "s3")
    for place in places.values():
        listed = s3.list_object_versions(Bucket=place.bucket, Prefix=f"{FLOWS_FOLDER}/")
        versions = listed.get("Versions", []) + listed.get("DeleteMarkers", [])
        for version in versions:
            key, version_id = version["Key"], version["VersionId"]
            s3.delete_object(Bucket=place.bucket, Key=key, VersionId=version_id)
    listed = shell(env, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
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


def test_a_pull_request_runs_the_flows_tests_the_lint_and_stagings_drift_check(
    pipeline: Pipeline,
) -> None:
    """pull-request.yml's jobs in order on this module's environments: the flows' tests, zizmor
    on the workflows, and a drift check of staging (`local`) through bootstrap-flows' own
    deployment, with no AWS credentials in any job (none is given on a pull request)."""
    repo = checkout(pipeline.root, broken=False, name="pull-request")
    scratch = pipeline.root / "runner-pull-request"
    scratch.mkdir()
    env = {k: v for k, v in pipeline.env.items() if not k.startswith("AWS_")}
    nothing: Action = lambda given, env: {}  # noqa: E731 (checkout, Python: already here)
    actions = {"actions/checkout": nothing, "actions/setup-python": nothing}
    provided = pull_request_tools() | installed()
    runner = Runner(repo, env, actions, scratch, provided=provided)
    variables = {
        "BOOTSTRAP_API_URL": pipeline.variables["local"]["BOOTSTRAP_API_URL"],
        "STAGING_BOOTSTRAP_ENVIRONMENT": "local",
    }
    context = Context(variables, pipeline.secrets, secrets.token_hex(20))
    started = time.monotonic()
    jobs = run_workflow(
        runner,
        repo / ".github" / "workflows" / "pull-request.yml",
        {job: context for job in ("tests", "lint", "drift-check")},
    )
    print(f"pull-request workflow: {time.monotonic() - started:.1f} s")
    timings = {f"{j.name}: {s.name}": s.seconds for j in jobs.values() for s in j.steps if s.ran}
    print("\n".join(f"  {t:6.1f} s  {name}" for name, t in timings.items()))
    assert list(jobs) == ["tests", "lint", "drift-check"]
    for job in jobs.values():
        failed = job.failed_step()
        assert failed is None, f"{job.name}: {failed and failed.name}:\n{failed and failed.output}"
    ran = {step.name: step for job in jobs.values() for step in job.steps}
    assert "1 passed" in ran["Run the flows' tests"].output
    not_run = [s.name for j in jobs.values() for s in j.steps if not s.ran]
    expected = ["Install the flows' requirements", "Install actionlint and zizmor", "actionlint"]
    assert not_run == [*expected, "Install Prefect"]
    summary = runner.summary.read_text()
    assert "### `drift-check/local`" in summary, summary
    assert "finished successfully in 'Completed'" in summary, summary


def test_the_ci_roles_made_every_call_and_need_every_grant(
    pipeline: Pipeline, local_stack: BootstrapSettings
) -> None:
    """Last: both releases above ran with the roles of the ci module. Every call their jobs
    made (the emulator's recording, and the registry requests of their `docker` commands as
    ECR authorizes them) is allowed by the job's role, and every grant was used or the
    module's Terraform says when it is (tests/support/ci_roles.py)."""
    roles = [pipeline.variables[e]["AWS_ROLE_ARN"] for e in ("local", PROMOTED)]
    iam = aws.client(local_stack, "iam")
    findings = pipeline.jobs.check(iam, LOCAL.aws_endpoint, local_stack.aws_region, roles)
    uses = {roles[0]: "staging's jobs", roles[1]: "production's job"}
    print(findings.report(uses))  # per role: calls, grants, what went unrecorded and why
    assert set(pipeline.jobs.keys.values()) == set(roles)
    assert findings.denials(set()) == [], findings.report(uses)
    assert findings.unexplained(roles) == [], findings.report(uses)
    # Production read staging's repository (the promotion) and wrote only its own.
    staging = pipeline.variables["local"]["ECR_REPOSITORY"]
    calls = findings.checks[roles[1]].calls
    read = {c.action for c in calls if c.params.get("repositoryName") == staging}
    assert read and read <= {"BatchGetImage", "GetDownloadUrlForLayer"}, read
