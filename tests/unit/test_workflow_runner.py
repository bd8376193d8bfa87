"""tests/support/workflow_runner.py, the runner the pipeline test runs release.yml with: it
passes values the way GitHub does (env files, step and job outputs, `needs`), stops where GitHub
stops, and refuses what it does not understand."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.workflow_runner import Context, Runner, WorkflowRunnerError, run_workflow

WORKFLOW = """\
on: push
jobs:
  first:
    runs-on: ubuntu-24.04
    outputs:
      word: ${{ steps.say.outputs.word }}
    env:
      GREETING: ${{ vars.GREETING }}
    steps:
      - uses: actions/checkout@0000000000000000000000000000000000000000 # v1.0.0
      - id: say
        run: |
          echo "word=$GREETING-$GITHUB_SHA" >> "$GITHUB_OUTPUT"
          echo "LATER=from-env-file" >> "$GITHUB_ENV"
      - name: skipped
        if: vars.SKIP == 'no'
        run: exit 1
      - name: reads the env file
        env:
          TOKEN: ${{ secrets.TOKEN }}
        run: |
          test "$LATER/$TOKEN" = "from-env-file/s3cret"
          echo "$TOKEN" >> "$GITHUB_STEP_SUMMARY"
      - name: fails
        run: test "$FAIL" != yes
  second:
    needs: first
    runs-on: ubuntu-24.04
    steps:
      - id: got
        env:
          WORD: ${{ needs.first.outputs.word }}
        run: echo "word=$WORD" >> "$GITHUB_OUTPUT"
"""


def runner(tmp_path: Path, fail: bool) -> Runner:
    env = {"PATH": "/usr/bin:/bin", "FAIL": "yes" if fail else "no"}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Runner(tmp_path, env, {"actions/checkout": lambda given, env: {}}, scratch)


def contexts() -> dict[str, Context]:
    variables = {"GREETING": "hi", "SKIP": "yes"}
    return {job: Context(variables, {"TOKEN": "s3cret"}, "abc") for job in ("first", "second")}


def test_values_flow_between_steps_and_jobs(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yml"
    path.write_text(WORKFLOW)
    test_runner = runner(tmp_path, fail=False)
    jobs = run_workflow(test_runner, path, contexts())
    assert [job.succeeded for job in jobs.values()] == [True, True]
    assert jobs["first"].outputs == {"word": "hi-abc"}
    assert [step.ran for step in jobs["first"].steps] == [True, True, False, True, True]
    assert test_runner.summary.read_text() == "s3cret\n"


def test_a_failed_step_stops_its_job_and_the_jobs_that_need_it(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yml"
    path.write_text(WORKFLOW)
    jobs = run_workflow(runner(tmp_path, fail=True), path, contexts())
    assert list(jobs) == ["first"]
    failed = jobs["first"].failed_step()
    assert failed is not None and failed.name == "fails" and failed.returncode == 1


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        (("actions/checkout", "actions/cache"), "no stand-in for action actions/cache"),
        (("vars.SKIP == 'no'", "always()"), "condition not understood"),
        (("secrets.TOKEN", "github.event.pull_request.title"), "expression not understood"),
    ],
)
def test_what_it_does_not_understand_is_refused(
    tmp_path: Path, change: tuple[str, str], refused: str
) -> None:
    path = tmp_path / "workflow.yml"
    path.write_text(WORKFLOW.replace(*change))
    with pytest.raises(WorkflowRunnerError, match=refused):
        run_workflow(runner(tmp_path, fail=False), path, contexts())
