"""`bootstrap-flows`: run the embedded default, or manage its local stack.

bootstrap-flows quickstart          local stack up, deploy, run bootstrap/local, wait, report
bootstrap-flows deploy              register bootstrap/<env>, teardown/<env>, drift-check/<env>
                                    for every configured environment (environments/<env>.env)
                                    on PREFECT_API_URL; delete those of other environments
bootstrap-flows outputs ENV [--registry-password]   what a user deploying flows to ENV's pool
                                    needs (buckets, pool, ECR, worker image), as shell exports
bootstrap-flows local up|down|status
bootstrap-flows local certificate HOST   import a self-signed certificate into the emulator's
                                         ACM and print its ARN (for BOOTSTRAP_PREFECT_SERVER=aws)
"""

from __future__ import annotations

import argparse
import os
import sys
from uuid import UUID

from bootstrap_flows import registration
from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.local import certificate
from bootstrap_flows.local import stack as local_stack
from bootstrap_flows.settings import BootstrapSettings, load_settings


def deploy_all(settings: BootstrapSettings) -> registration.Registered:
    """The configured environments' deployments, on the local Prefect server."""
    registered = registration.register(local_stack.child_env(settings))
    if settings.environment not in registered.environments:
        raise registration.RegistrationError(
            f"environment {settings.environment!r} is not configured: the quick start needs "
            "environments/local.env (see README, Environments)"
        )
    return registered


def report(registered: registration.Registered) -> None:
    print(f"Registered: {', '.join(registered.deployments) or 'nothing'}")
    for deployment, cron in registered.schedules.items():
        print(f"Scheduled: {deployment} ({cron})")
    if registered.removed:
        print(f"Removed (environment not configured): {', '.join(registered.removed)}")


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
    print("Registering the configured environments' deployments ...")
    report(deploy_all(settings))
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
    commands.add_parser("deploy", help="register the configured environments' deployments")
    # Its arguments are its own (bootstrap_flows/outputs.py), parsed there.
    commands.add_parser("outputs", help="values for deploying flows", add_help=False)
    local = commands.add_parser("local", help="manage the embedded default's local stack")
    local.add_argument("action", choices=["up", "down", "status", "certificate"])
    local.add_argument("host", nargs="?", default="prefect.local.example", help="certificate's")
    known, rest = parser.parse_known_args(argv)
    if known.command == "outputs":
        # Imported only here: it imports Prefect, which reads its settings (PREFECT_API_URL)
        # at import, and the other commands set that to the local stack's server first.
        from bootstrap_flows import outputs

        return outputs.main(rest)
    args = parser.parse_args(argv)
    try:
        if args.command == "quickstart":
            return quickstart()
        if args.command == "deploy":
            report(registration.register())
            return 0
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
