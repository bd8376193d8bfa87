"""`python -m bootstrap_local.ecs_runtime`: the local stack starts the runtime this way.

It runs until SIGTERM or SIGINT, then stops every container it started (see `runtime.py`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterable
from types import FrameType

from bootstrap_flows import docker_engine
from bootstrap_flows.config.settings import SettingsError, load_settings
from bootstrap_local.ecs_runtime.errors import EcsRuntimeError
from bootstrap_local.ecs_runtime.runtime import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_SHUTDOWN_GRACE,
    EcsRuntime,
    heartbeat_file,
    logger,
)
from bootstrap_local.settings import load_local_settings


def _arguments(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bootstrap_local.ecs_runtime",
        description="Run emulated ECS tasks and services as local Docker containers. "
        "Settings come from BOOTSTRAP_* variables and the env file.",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_INTERVAL,
        help=f"seconds between passes (default {DEFAULT_POLL_INTERVAL})",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=DEFAULT_SHUTDOWN_GRACE,
        help="seconds containers get to exit on shutdown before SIGKILL "
        f"(default {DEFAULT_SHUTDOWN_GRACE})",
    )
    return parser.parse_args(list(argv) if argv is not None else None)


def main(argv: Iterable[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request at INFO: one per pass would bury what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        local = load_local_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2

    stop = threading.Event()

    def request_shutdown(signum: int, frame: FrameType | None) -> None:
        logger.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_shutdown)
    signal.signal(signal.SIGINT, request_shutdown)
    try:
        runtime = EcsRuntime(settings, local, poll_interval=args.poll_interval)
        runtime.start()
    except (EcsRuntimeError, docker_engine.DockerEngineError) as exc:
        print(f"ecs-runtime: {exc}", file=sys.stderr)
        return 1
    heartbeat = heartbeat_file(local)
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    logger.info("ECS runtime up (instance %s, AWS at %s)", runtime.instance, runtime.endpoint)
    try:
        runtime.run(stop, heartbeat)
    finally:
        runtime.shutdown(args.shutdown_grace)
        heartbeat.unlink(missing_ok=True)
        logger.info("ECS runtime stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
