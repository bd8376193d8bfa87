"""`bootstrap-flows outputs`: what the user's shell gets from its export lines."""

from __future__ import annotations

import subprocess

from bootstrap_flows.outputs import FlowOutputs, render

OUTPUTS = FlowOutputs(
    environment="dev",
    aws_region="eu-west-1",
    work_pool="dev ecs pool",
    credentials_block="aws-credentials/prefect-dev",
    code_block="s3-bucket/prefect-dev-code",
    results_block="s3-bucket/prefect-dev-results",
    code_bucket="prefect-dev-code-111111111111",
    results_bucket="prefect-dev-results-111111111111",
    ecr_repository="prefect-dev-worker",
    ecr_registry="111111111111.dkr.ecr.eu-west-1.amazonaws.com",
    worker_image="111111111111.dkr.ecr.eu-west-1.amazonaws.com/prefect-dev-worker@sha256:ab'c",
)


def test_eval_of_the_export_lines_sets_each_value_exactly() -> None:
    script = render(OUTPUTS) + '\nprintf "%s\\n" "$PREFECT_WORK_POOL" "$WORKER_IMAGE" "$AWS_REGION"'
    shown = subprocess.run(
        ["bash", "-c", 'eval "$1"', "bash", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert shown == [OUTPUTS.work_pool, OUTPUTS.worker_image, OUTPUTS.aws_region]


def test_the_names_are_the_ci_examples_repository_variables() -> None:
    exported = {
        line.split()[1].split("=", 1)[0]
        for line in render(OUTPUTS).splitlines()
        if line.startswith("export ")
    }
    # examples/github-actions/README.md asks for these under the same names.
    assert {"AWS_REGION", "ECR_REPOSITORY", "WORKER_IMAGE", "PREFECT_CODE_BUCKET"} <= exported
    assert "AWS_ROLE_ARN" not in exported
    with_ci = OUTPUTS.model_copy(update={"ci_role_arn": "arn:aws:iam::111111111111:role/x-ci"})
    assert "export AWS_ROLE_ARN=arn:aws:iam::111111111111:role/x-ci" in render(with_ci)
    assert render(OUTPUTS).splitlines()[0] == (
        "# dev: blocks aws-credentials/prefect-dev, s3-bucket/prefect-dev-code, "
        "s3-bucket/prefect-dev-results"
    )
