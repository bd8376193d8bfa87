"""Benchmark: the bootstrap flow against bare Terraform on the same stack, same machine, same run.

Baseline = what a user does by hand: `terraform init`, `plan -out`, `apply` of the platform stack,
then a no-change `plan`. Ours = the whole `bootstrap` flow (platform, image, worker service, pool,
worker online, e2e run) cold, then re-run with nothing to change. Both run against one moto
server on the embedded default; the ratio is ours / baseline: what the rest of the chain and
the orchestration cost on top of the platform's Terraform.

    .venv/bin/python bench/bootstrap_bench.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATE_DIR = Path(tempfile.mkdtemp(prefix="bootstrap-bench-"))
os.environ.update(
    {
        "BOOTSTRAP_ENV_FILE": "/nonexistent",
        "BOOTSTRAP_LOCAL_STATE_DIR": str(STATE_DIR),
        "BOOTSTRAP_LOCAL_MOTO_PORT": os.environ.get("BENCH_MOTO_PORT", "4766"),
        "BOOTSTRAP_LOCAL_PREFECT_PORT": os.environ.get("BENCH_PREFECT_PORT", "4700"),
        "BOOTSTRAP_LOCAL_REGISTRY_PORT": os.environ.get("BENCH_REGISTRY_PORT", "4701"),
        "BOOTSTRAP_AZ_COUNT": "2",
    }
)
os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{os.environ['BOOTSTRAP_LOCAL_PREFECT_PORT']}/api"
os.environ["PREFECT_HOME"] = str(STATE_DIR / "prefect-client")

from bootstrap_flows import aws  # noqa: E402
from bootstrap_flows.flows.bootstrap import bootstrap  # noqa: E402
from bootstrap_flows.local import stack as local_stack  # noqa: E402
from bootstrap_flows.settings import load_settings  # noqa: E402
from bootstrap_flows.terraform import platform_stack, stacks  # noqa: E402
from bootstrap_flows.terraform.state_backend import ensure_state_bucket  # noqa: E402


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.monotonic() - start


def bare_terraform() -> tuple[float, float]:
    """Cold init+plan+apply and a no-change plan, the way a user runs them by hand."""
    import logging

    settings = load_settings(name_prefix="bare")
    bucket = ensure_state_bucket(settings, "123456789012", logging.getLogger("bench"))
    terraform = stacks.stack_terraform(settings, platform_stack.STACK, logging.getLogger("bench"))
    env = terraform.env
    chdir = f"-chdir={terraform.stack_dir}"
    var_file = STATE_DIR / "bare.tfvars.json"
    var_file.write_text(json.dumps(platform_stack.platform_variables(settings)))
    backend = [
        f"-backend-config={k}={v}"
        for k, v in stacks.backend_config(settings, bucket, "platform").items()
    ]
    plan = str(STATE_DIR / "bare.tfplan")
    cold = timed(["terraform", chdir, "init", "-input=false", "-reconfigure", *backend], env)
    cold += timed(
        ["terraform", chdir, "plan", "-input=false", f"-var-file={var_file}", f"-out={plan}"], env
    )
    cold += timed(["terraform", chdir, "apply", "-input=false", plan], env)
    warm = timed(["terraform", chdir, "init", "-input=false", "-reconfigure", *backend], env)
    warm += timed(["terraform", chdir, "plan", "-input=false", f"-var-file={var_file}"], env)
    return cold, warm


def ours() -> tuple[float, float]:
    start = time.monotonic()
    first = bootstrap(environment="local")
    cold = time.monotonic() - start
    start = time.monotonic()
    result = bootstrap(environment="local")
    warm = time.monotonic() - start
    assert not any(result.applied.values()), "the re-run applied something"
    print("cold bootstrap stage timings:", json.dumps(first.timings))
    print("re-run stage timings:", json.dumps(result.timings))
    return cold, warm


def main() -> int:
    settings = load_settings()
    local_stack.up(settings)
    try:
        aws.client(settings, "sts").get_caller_identity()
        bare_cold, bare_warm = bare_terraform()
        our_cold, our_warm = ours()
    finally:
        local_stack.down(settings)
    print(f"{'case':32} {'baseline s':>11} {'ours s':>8} {'ratio':>6}")
    for case, base, mine in (
        ("cold apply (init+plan+apply)", bare_cold, our_cold),
        ("no-change re-run (init+plan)", bare_warm, our_warm),
    ):
        print(f"{case:32} {base:11.1f} {mine:8.1f} {mine / base:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
