"""Steps inside a stage name their own durations at DEBUG (bootstrap_flows/steps.py)."""

from __future__ import annotations

import logging
import re
import time

import pytest

from bootstrap_flows.steps import step

LOGGER = logging.getLogger("steps-test")


def test_a_step_logs_its_duration_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER.name)
    with step(LOGGER, "plan platform: plan artifact"):
        time.sleep(0.05)
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    seconds = re.fullmatch(r"step plan platform: plan artifact: (\d+\.\d\d) s", record.getMessage())
    assert seconds and float(seconds.group(1)) >= 0.05


def test_a_step_that_raises_still_says_how_long_it_took(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER.name)
    with pytest.raises(RuntimeError), step(LOGGER, "terraform plan: exit"):
        raise RuntimeError("terraform crashed")
    assert caplog.records[0].getMessage().startswith("step terraform plan: exit: ")


def test_at_info_a_step_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER.name)
    with step(LOGGER, "quiet"):
        pass
    assert caplog.records == []
