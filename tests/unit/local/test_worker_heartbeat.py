"""The embedded default's `bootstrap` worker gives its flow runs the heartbeat the crash
automation expects."""

from __future__ import annotations

from bootstrap_flows.config.settings import load_settings
from bootstrap_flows.prefect_side.crash_detection import HEARTBEAT_ENV, HEARTBEAT_SECONDS
from bootstrap_local import stack
from bootstrap_local.settings import load_local_settings


def test_the_worker_sets_the_flow_run_heartbeat() -> None:
    settings, local = load_settings(environment="local"), load_local_settings()
    assert stack.worker_env(settings, local)[HEARTBEAT_ENV] == str(HEARTBEAT_SECONDS)
    assert stack.worker_env(settings, local)["PREFECT_API_URL"] == local.prefect_api_url
    assert stack._worker(settings, local).env == stack.worker_env(settings, local)
