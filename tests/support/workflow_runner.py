"""Run a GitHub Actions workflow's jobs here, the way a runner would: each job in the order of
its `needs`, each `run:` step's script as written in the workflow file, through `bash -eo
pipefail` (GitHub's default shell on Linux) in the checkout, with the environment a runner
gives it: the workflow's, job's and step's `env:` with their `${{ }}` expressions evaluated,
GITHUB_SHA, GITHUB_ENV, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files read back after each step.

A `uses:` step cannot run here (no GitHub, no OIDC): the caller names a stand-in for each action
the workflow uses, and an action without one stops the run. Only the expressions the pipeline's
workflows use are understood (`vars.*`, `secrets.*`, `steps.<id>.outputs.*`,
`needs.<job>.outputs.*`, `github.sha`, `github.run_id`; `if: vars.X == 'literal'`); anything else
is refused, so a workflow that grows past this runner fails its test instead of being
half-run.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONDITION = re.compile(r"^vars\.([A-Za-z0-9_]+) == '([^']*)'$")
STEP_TIMEOUT = 900

# A stand-in for an action: gets the step's `with:` (evaluated) and the job's environment,
# returns the step's outputs.
Action = Callable[[dict[str, str], dict[str, str]], dict[str, str]]
# A stand-in for a `run:` script whose effect the machine already has (installing pinned
# packages into the environment the tests run in): checks it, raises if it does not hold.
Provided = Callable[[str], None]


class WorkflowRunnerError(Exception):
    """The workflow uses something this runner does not do."""


@dataclass
class Context:
    """What a job's expressions can read."""

    vars: Mapping[str, str]
    secrets: Mapping[str, str]
    sha: str
    needs: dict[str, dict[str, str]] = field(default_factory=dict)
    steps: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, expression: str) -> str:
        head, _, rest = expression.partition(".")
        if head in ("vars", "secrets") and re.fullmatch(r"[A-Za-z0-9_]+", rest):
            return (self.vars if head == "vars" else self.secrets).get(rest, "")
        if expression == "github.sha":
            return self.sha
        if expression == "github.run_id":
            return "1"
        scoped = re.fullmatch(r"(steps|needs)\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if scoped:
            kind, name, output = scoped.groups()
            return (self.steps if kind == "steps" else self.needs).get(name, {}).get(output, "")
        raise WorkflowRunnerError(f"expression not understood by this runner: {expression}")

    def evaluate(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.value(match.group(1)), text)

    def holds(self, condition: str | None) -> bool:
        if condition is None:
            return True
        match = CONDITION.match(condition.strip())
        if not match:
            raise WorkflowRunnerError(f"condition not understood by this runner: {condition}")
        return self.vars.get(match.group(1), "") == match.group(2)


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int = 0
    output: str = ""
    seconds: float = 0.0


@dataclass
class JobRun:
    name: str
    steps: list[StepRun]
    outputs: dict[str, str]

    @property
    def succeeded(self) -> bool:
        return all(step.returncode == 0 for step in self.steps)

    def failed_step(self) -> StepRun | None:
        return next((step for step in self.steps if step.returncode != 0), None)


def _key_values(path: Path) -> dict[str, str]:
    """NAME=value lines of a GITHUB_ENV / GITHUB_OUTPUT file (the one-line form)."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "<<" in line.split("=", 1)[0]:
            raise WorkflowRunnerError(f"multi-line value not supported by this runner: {line}")
        name, sep, value = line.partition("=")
        if sep:
            found[name] = value
    return found


@dataclass
class Runner:
    """One checkout of the flows' repository and the machine's environment around it."""

    checkout: Path
    base_env: dict[str, str]
    actions: dict[str, Action]
    scratch: Path
    provided: dict[str, Provided] = field(default_factory=dict)
    summary: Path = field(init=False)

    def __post_init__(self) -> None:
        self.summary = self.scratch / "step-summary.md"
        self.summary.touch()

    def _action(self, step: dict[str, Any], context: Context, env: dict[str, str]) -> StepRun:
        uses = str(step["uses"]).split("@", 1)[0]
        if uses not in self.actions:
            raise WorkflowRunnerError(f"no stand-in for action {uses}")
        given = {k: context.evaluate(str(v)) for k, v in (step.get("with") or {}).items()}
        outputs = self.actions[uses](given, env)
        if "id" in step:
            context.steps[str(step["id"])] = outputs
        return StepRun(str(step.get("name", uses)), ran=True)

    def _script(self, step: dict[str, Any], context: Context, env: dict[str, str]) -> StepRun:
        script = str(step["run"])
        for prefix, check in self.provided.items():
            if script.startswith(prefix):
                check(script)
                return StepRun(str(step.get("name", script)), ran=False)
        files = {name: self.scratch / name for name in ("env", "output")}
        for path in files.values():
            path.write_text("")
        step_env = {k: context.evaluate(str(v)) for k, v in (step.get("env") or {}).items()}
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=self.checkout,
            env={
                **env,
                **step_env,
                "GITHUB_ENV": str(files["env"]),
                "GITHUB_OUTPUT": str(files["output"]),
                "GITHUB_STEP_SUMMARY": str(self.summary),
            },
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        env.update(_key_values(files["env"]))
        if "id" in step:
            context.steps[str(step["id"])] = _key_values(files["output"])
        return StepRun(
            str(step.get("name", script)),
            ran=True,
            returncode=done.returncode,
            output=done.stdout + done.stderr,
            seconds=round(time.monotonic() - started, 1),
        )

    def run_job(self, workflow: dict[str, Any], name: str, context: Context) -> JobRun:
        """The job's steps in order, stopping at the first that fails (as GitHub does)."""
        job = workflow["jobs"][name]
        env = dict(self.base_env, GITHUB_SHA=context.sha)
        for scope in (workflow, job):
            env.update({k: context.evaluate(str(v)) for k, v in (scope.get("env") or {}).items()})
        runs: list[StepRun] = []
        for step in job["steps"]:
            if not context.holds(step.get("if")):
                runs.append(StepRun(str(step.get("name", "")), ran=False))
                continue
            run = (
                self._action(step, context, env)
                if "uses" in step
                else self._script(step, context, env)
            )
            runs.append(run)
            if run.returncode != 0:
                break
        outputs = {k: context.evaluate(str(v)) for k, v in (job.get("outputs") or {}).items()}
        return JobRun(name, runs, outputs)


def needs(job: dict[str, Any]) -> list[str]:
    wanted = job.get("needs", [])
    return [wanted] if isinstance(wanted, str) else list(wanted)


def run_workflow(
    runner: Runner,
    path: Path,
    contexts: Mapping[str, Context],
) -> dict[str, JobRun]:
    """Every job of the workflow whose `needs` all succeeded, in the file's order (which must
    respect `needs`); a job after a failed one is not run, as on GitHub."""
    workflow: dict[str, Any] = yaml.safe_load(path.read_text())
    done: dict[str, JobRun] = {}
    for name, job in workflow["jobs"].items():
        required = needs(job)
        if any(need not in done for need in required):
            missing = [need for need in required if need not in done]
            if all(need in workflow["jobs"] for need in missing):
                continue  # a job it needs did not run or failed
            raise WorkflowRunnerError(f"job {name} needs unknown jobs {missing}")
        context = contexts[name]
        context.needs = {need: done[need].outputs for need in required}
        run = runner.run_job(workflow, name, context)
        done[name] = run
        if not run.succeeded:
            break
    return done
