"""The build's event stream: what a failure message says, and what the stream tells us."""

from __future__ import annotations

import logging
from collections import deque

import pytest

from bootstrap_flows.image import ImageBuildError
from bootstrap_flows.image.build import BuildLog, failure_message, shorten
from bootstrap_flows.image.engine import stream_error

LOG = logging.getLogger("test_build")
RUN_FAILED = "The command '/bin/sh -c printf 'step output %s\\n' visible && exit 3' returned a non-zero code: 3"  # noqa: E501


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"stream": "Step 1/2 : FROM scratch\n"}, None),
        ({"status": "Pushing", "id": "abc"}, None),
        ({"error": " boom \n"}, "boom"),
        ({"errorDetail": {"message": "the detail"}, "error": "short"}, "the detail"),
        ({"errorDetail": None, "error": "only error"}, "only error"),
        ({"errorDetail": {"code": 1}}, "unknown error"),
        ({"error": ""}, "unknown error"),
    ],
)
def test_stream_error(event: dict[str, object], error: str | None) -> None:
    assert stream_error(event) == error


def test_failure_names_the_step_its_output_and_the_exit_code() -> None:
    message = failure_message(
        "step 3/3 `RUN printf 'step output %s\\n' visible && exit 3`",
        RUN_FAILED,
        deque(["step output visible"]),
        {"BASE_IMAGE": "bootstrap-flows/base:bookworm-py3"},
    )
    assert message.splitlines() == [
        "image build failed at step 3/3 `RUN printf 'step output %s\\n' visible && exit 3`: "
        "the command exited with code 3",
        "last output of that step:",
        "  step output visible",
    ]


def test_failure_shows_the_build_args_the_step_used() -> None:
    args = {"BASE_IMAGE": "example/base:1", "BASE": "no", "OTHER": "unused"}
    braces = failure_message("step 2/3 `FROM ${BASE_IMAGE}`", "pull access denied", deque(), args)
    assert braces == (
        "image build failed at step 2/3 `FROM ${BASE_IMAGE}` (with BASE_IMAGE=example/base:1): "
        "pull access denied"
    )
    bare = failure_message("step 2/3 `FROM $BASE_IMAGE AS build`", "x", deque(), args)
    assert "(with BASE_IMAGE=example/base:1)" in bare and "OTHER" not in bare


def test_failure_before_any_step() -> None:
    message = failure_message(None, "Cannot locate specified Dockerfile", deque(), {"A": "1"})
    assert message == "image build failed before the first step: Cannot locate specified Dockerfile"


def test_tls_failure_points_at_the_ca_bundle_setting() -> None:
    output = deque(["SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]'))"])
    message = failure_message("step 4/9 `RUN pip install`", RUN_FAILED, output, {})
    assert message.endswith(
        "set BOOTSTRAP_EXTRA_CA_BUNDLE to a PEM bundle that holds the proxy's CA"
    )
    in_error = failure_message("step 1/1 `RUN x`", "CERTIFICATE_VERIFY_FAILED", deque(), {})
    assert "BOOTSTRAP_EXTRA_CA_BUNDLE" in in_error
    assert "BOOTSTRAP_EXTRA_CA_BUNDLE" not in failure_message(None, "other", deque(), {})


def test_shorten() -> None:
    assert shorten("RUN  a \\\n    && b") == "RUN a \\ && b"
    assert shorten("x" * 120) == "x" * 120
    long = shorten("x" * 121)
    assert len(long) == 120 and long.endswith("...")


def _stream(*lines: str) -> list[dict[str, object]]:
    return [{"stream": line + "\n"} for line in lines]


def test_a_failing_step_becomes_one_readable_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log = BuildLog(LOG, {"BASE_IMAGE": "b"})
    for event in _stream(
        "Step 1/3 : ARG BASE_IMAGE",
        "Step 2/3 : FROM ${BASE_IMAGE}",
        " ---> 5d0da3dc9764",
        "Step 3/3 : RUN printf 'step output %s\\n' visible && exit 3",
        " ---> Running in 0123456789ab",
        "\x1b[1mstep output visible\x1b[0m",
        "   ",
        "Removing intermediate container 0123456789ab",
    ):
        log.feed(event)
    assert log.ran_a_step and log.image_id is None
    with pytest.raises(ImageBuildError) as caught:
        log.feed({"errorDetail": {"message": RUN_FAILED}, "error": RUN_FAILED})
    message = str(caught.value)
    assert message.startswith("image build failed at step 3/3 `RUN printf")
    assert "exited with code 3" in message
    assert message.endswith("last output of that step:\n  step output visible")
    assert "\x1b[" not in message and "0123456789ab" not in message
    assert "build step 2/3 `FROM ${BASE_IMAGE}`" in caplog.text


def test_a_cached_build_reports_its_image_and_no_step_run() -> None:
    log = BuildLog(LOG, {})
    events: list[dict[str, object]] = [
        *_stream("Step 1/2 : FROM scratch", "Step 2/2 : COPY hello.txt /hello.txt"),
        *_stream(" ---> Using cache", " ---> 3f4e1c2b9a8d", "Successfully built 3f4e1c2b9a8d"),
        {"aux": {"ID": "sha256:3f4e1c2b9a8d"}},
    ]
    for event in events:
        log.feed(event)
    assert log.image_id == "sha256:3f4e1c2b9a8d" and not log.ran_a_step
    assert list(log.output) == ["Successfully built 3f4e1c2b9a8d"]
    assert log.failure("late") == (
        "image build failed at step 2/2 `COPY hello.txt /hello.txt`: late\n"
        "last output of that step:\n  Successfully built 3f4e1c2b9a8d"
    )


def test_only_the_last_15_lines_of_a_step_are_kept() -> None:
    log = BuildLog(LOG, {})
    log.feed({"stream": "Step 1/1 : RUN seq 40\n" + "".join(f"{n}\n" for n in range(40))})
    assert list(log.output) == [str(n) for n in range(25, 40)]
