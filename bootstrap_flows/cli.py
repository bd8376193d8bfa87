"""`bootstrap-flows`: the product's commands, and those of installed plugins.

bootstrap-flows deploy              register bootstrap/<env>, teardown/<env>, drift-check/<env>
                                    for every configured environment (environments/<env>.env)
                                    on PREFECT_API_URL; delete those of other environments
bootstrap-flows outputs ENV [--registry-password]   what a user deploying flows to ENV's pool
                                    needs (buckets, pool, ECR, worker image), as shell exports
bootstrap-flows operator-policy ENV [--account-id ID] [--parts]   the IAM policy the identity
                                    that runs bootstrap, drift-check and teardown of ENV needs, as
                                    JSON (--parts: as the managed policies the operator module
                                    creates, each under IAM's 6,144-character limit)

Other packages add commands through the entry point group `bootstrap_flows.commands` (the
embedded default adds `quickstart` and `local`): each entry is a function that adds its
subcommands to the parser and sets `run` on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points

from bootstrap_flows.errors import BootstrapError
from bootstrap_flows.prefect_side import registration

COMMANDS_GROUP = "bootstrap_flows.commands"


def report(registered: registration.Registered) -> None:
    print(f"Registered: {', '.join(registered.deployments) or 'nothing'}")
    for deployment, cron in registered.schedules.items():
        print(f"Scheduled: {deployment} ({cron})")
    if registered.removed:
        print(f"Removed (environment not configured): {', '.join(registered.removed)}")


def _deploy(args: argparse.Namespace) -> int:
    report(registration.register())
    return 0


def _operator_policy(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from bootstrap_flows.aws_side import clients as aws
    from bootstrap_flows.config.settings import load_settings
    from bootstrap_flows.safety import operator_policy

    settings = load_settings(environment=args.environment)
    # The account is a setting or a flag; only without both is AWS asked who we are.
    account = args.account_id or settings.aws_account_id
    if account is None:
        try:
            account = str(aws.client(settings, "sts").get_caller_identity()["Account"])
        except (BotoCoreError, ClientError) as exc:
            raise operator_policy.OperatorPolicyError(
                f"cannot ask AWS for the account ({exc}): pass --account-id or set aws_account_id"
            ) from exc
    document = operator_policy.render(settings, account)
    if args.parts:
        # What IAM accepts as managed policies: the whole document is over IAM's size limit.
        print(
            json.dumps(
                operator_policy.parts(document, operator_policy.statements_per_part()), indent=2
            )
        )
    else:
        print(json.dumps(document, indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    """The product's commands plus every installed plugin's."""
    main_parser = argparse.ArgumentParser(
        prog="bootstrap-flows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main_parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "deploy", help="register the configured environments' deployments"
    ).set_defaults(run=_deploy)
    # Its arguments are its own (bootstrap_flows/outputs.py), parsed there.
    commands.add_parser("outputs", help="values for deploying flows", add_help=False)
    policy = commands.add_parser(
        "operator-policy",
        help="the least-privilege IAM policy of the identity that runs the flows (JSON)",
    )
    policy.add_argument("environment", help="the environment, e.g. dev (environments/dev.env)")
    policy.add_argument(
        "--account-id",
        default=None,
        help="the account (12 digits); default: setting aws_account_id, else STS's answer",
    )
    policy.add_argument(
        "--parts",
        action="store_true",
        help="print a JSON list of policies small enough for IAM (the operator module's parts)",
    )
    policy.set_defaults(run=_operator_policy)
    for plugin in entry_points(group=COMMANDS_GROUP):
        plugin.load()(commands)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    main_parser = parser()
    known, rest = main_parser.parse_known_args(argv)
    if known.command == "outputs":
        # Imported only here: it imports Prefect, which reads its settings (PREFECT_API_URL)
        # at import, and plugins' commands may set that first.
        from bootstrap_flows import outputs

        return outputs.main(rest)
    args = main_parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (BootstrapError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
