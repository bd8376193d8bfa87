"""`bootstrap-flows`: run the embedded default, or manage its local stack.

bootstrap-flows quickstart          local stack up, deploy, run bootstrap/local, wait, report
bootstrap-flows local up|down|status
bootstrap-flows local certificate HOST   import a self-signed certificate into the emulator's
                                         ACM and print its ARN (for BOOTSTRAP_PREFECT_SERVER=aws)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from uuid import UUID

from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.local import certificate
from bootstrap_flows.local import stack as local_stack
from bootstrap_flows.settings import PROJECT_ROOT, BootstrapSettings, load_settings


def deploy_all(settings: BootstrapSettings) -> None:
    """`prefect deploy --all` from prefect.yaml, against the local Prefect server."""
    # prefect.yaml's drift-check schedules read the cron expression from the environment.
    env = {**local_stack.child_env(settings), "BOOTSTRAP_DRIFT_SCHEDULE": settings.drift_schedule}
    result = subprocess.run(
        [str(local_stack.BIN / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"prefect deploy --all failed:\n{result.stdout}\n{result.stderr}")


def run_and_wait(deployment: str, timeout: float = 1800) -> tuple[UUID, str]:
    """Run a deployment, wait for its final state; return (flow run id, state name)."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    flow_run: FlowRun = run_deployment(deployment, timeout=timeout)  # type: ignore[assignment]
    state = (flow_run.state.name if flow_run.state else None) or "Unknown"
    return flow_run.id, state


def summary_headline(flow_run_id: UUID) -> str:
    """The top of the run's summary artifact (stacks, image, pool, e2e run), as plain text."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    for artifact in artifacts:
        if (artifact.key or "").endswith("-bootstrap-summary"):
            top = str(artifact.data).split("## ", 1)[0]
            return "\n".join(line.replace("**", "") for line in top.splitlines() if line.strip())
    return ""


def quickstart() -> int:
    settings = load_settings(environment="local")
    print("Starting the local stack (emulated AWS, Prefect server, bootstrap worker) ...")
    ui = local_stack.up(settings)
    os.environ["PREFECT_API_URL"] = settings.local_prefect_api_url
    print(f"Prefect UI: {ui}")
    print("Registering deployments (prefect deploy --all) ...")
    deploy_all(settings)
    print("Running bootstrap/local; watch it in the UI ...")
    run_id, state = run_and_wait("bootstrap/local")
    print(f"bootstrap/local finished: {state}")
    headline = summary_headline(run_id)
    if headline:
        print(headline)
    print(f"Flow run: {ui}/runs/flow-run/{run_id}")
    print("Stop the local stack with: bootstrap-flows local down")
    return 0 if state == "Completed" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bootstrap-flows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("quickstart", help="run bootstrap/local on the embedded default")
    local = commands.add_parser("local", help="manage the embedded default's local stack")
    local.add_argument("action", choices=["up", "down", "status", "certificate"])
    local.add_argument("host", nargs="?", default="prefect.local.example", help="certificate's")
    args = parser.parse_args(argv)
    try:
        if args.command == "quickstart":
            return quickstart()
        settings = load_settings(environment="local")
        if args.action == "up":
            print(f"Local stack up; Prefect UI: {local_stack.up(settings)}")
        elif args.action == "certificate":
            print(certificate.import_self_signed(settings, args.host))
        elif args.action == "down":
            print(f"Stopped: {', '.join(local_stack.down(settings)) or 'nothing was running'}")
        else:
            for service, pid in local_stack.status(settings).items():
                print(f"{service:8} {f'running (pid {pid})' if pid else 'stopped'}")
        return 0
    except (BootstrapError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
