"""Findings, the report they make up, and the errors that carry it."""

from __future__ import annotations

import pickle

import pytest

from bootstrap_flows.drift.findings import (
    DriftCheckFailed,
    DriftDetected,
    DriftReport,
    in_report_order,
    status_of,
)
from bootstrap_flows.errors import BootstrapError
from tests.unit.drift.shown import finding


def test_identity_survives_a_new_value_fingerprint_does_not() -> None:
    first = finding("aws_vpc.this", "tags.Owner", actual="me")
    later = finding("aws_vpc.this", "tags.Owner", actual="you")
    assert first.identity == later.identity
    assert first.fingerprint != later.fingerprint
    assert finding("aws_vpc.this", "tags.Team").identity != first.identity


def test_list_elements_are_each_their_own_finding() -> None:
    one = finding("sg", "ingress[+]", "(none)", '{"from_port":22}')
    other = finding("sg", "ingress[+]", "(none)", '{"from_port":23}')
    assert one.identity != other.identity


def test_status_of_a_check() -> None:
    some = [finding("aws_vpc.this", "tags.Owner")]
    assert status_of([], []) == "clean"
    assert status_of(some, []) == "drifted"
    # A check that could not run says nothing about drift, whatever else was found.
    assert status_of(some, ["worker: boom"]) == "check-failed"
    assert status_of([], ["worker: boom"]) == "check-failed"


def test_report_order_is_by_kind_then_resource() -> None:
    image = finding("ecr_image.r", "imageDigest", kind="image")
    pool = finding("work_pool.p", "cpu", kind="prefect")
    b, a = finding("b", "x"), finding("a", "y")
    assert in_report_order([image, pool, b, a]) == [a, b, pool, image]


def test_describe_and_counts() -> None:
    drifted = DriftReport(
        environment="dev",
        status="drifted",
        findings=[finding("a", "x"), finding("b", "y"), finding("w", "z", kind="worker")],
    )
    assert drifted.counts == {"drift": 2, "pending": 0, "prefect": 0, "worker": 1, "image": 0}
    assert drifted.describe() == "dev drifted: 2 drift, 1 worker"
    failed = DriftReport(environment="dev", status="check-failed", errors=["a: x", "b: y"])
    assert failed.describe() == "drift check of dev failed: a: x; b: y"
    clean = DriftReport(environment="dev", status="clean")
    assert clean.describe() == "dev matches its code, settings and work pool"
    skipped = DriftReport(environment="dev", status="skipped", note="bootstrap ran")
    assert skipped.describe() == "bootstrap ran"


def test_drift_detected_survives_pickling() -> None:
    """Prefect pickles results; the report must come back with the exception."""
    report = DriftReport(environment="local", status="drifted")
    again = pickle.loads(pickle.dumps(DriftDetected("local drifted", report)))
    assert str(again) == "local drifted" and again.report == report


def test_drift_check_failed_survives_pickling() -> None:
    report = DriftReport(environment="local", status="check-failed", errors=["preflight: x"])
    again = pickle.loads(pickle.dumps(DriftCheckFailed("check failed", report)))
    assert type(again) is DriftCheckFailed
    assert str(again) == "check failed" and again.report == report


def test_a_failed_check_is_not_a_kind_of_drift() -> None:
    report = DriftReport(environment="local", status="check-failed")
    assert issubclass(DriftDetected, BootstrapError)
    assert issubclass(DriftCheckFailed, BootstrapError)
    assert not issubclass(DriftCheckFailed, DriftDetected)
    with pytest.raises(DriftCheckFailed):
        try:
            raise DriftCheckFailed("check failed", report)
        except DriftDetected:  # must not swallow a failed check
            pytest.fail("DriftCheckFailed was caught as DriftDetected")
