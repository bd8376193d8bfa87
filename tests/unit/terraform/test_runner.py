"""The Terraform runner: event parsing on recorded output, and the real CLI on a tiny stack."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bootstrap_flows.terraform.runner import (
    GO_GC_PERCENT,
    INIT_STAMP,
    EventStream,
    Terraform,
    TerraformError,
    describe_diagnostic,
    parse_events,
)
from tests.support.session import FIXTURES

EVENTS = FIXTURES / "events"
TINY = FIXTURES / "tiny_stack"


def replay(name: str, stream: EventStream) -> EventStream:
    for event in parse_events((EVENTS / name).read_text().splitlines()):
        stream.handle(event)
    return stream


def test_plan_events_become_changes_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    stream = replay("plan.jsonl", EventStream(logging.getLogger("t")))
    assert [(c.address, c.action) for c in stream.changes] == [
        ('terraform_data.item["a"]', "create"),
        ('terraform_data.item["b"]', "create"),
    ]
    assert stream.counts == {"add": 2, "change": 0, "import": 0, "remove": 0}
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in caplog.text


def test_apply_events_log_each_resource_and_advance_progress(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    seen: list[tuple[int, int]] = []
    stream = EventStream(logging.getLogger("t"), total=2, progress=lambda d, t: seen.append((d, t)))
    replay("apply.jsonl", stream)
    assert seen == [(1, 2), (2, 2)]
    assert 'Creating terraform_data.item["a"] ...' in caplog.text
    assert 'terraform_data.item["b"] done in' in caplog.text
    assert stream.outputs == {"names": ["a", "b"]}


def test_error_diagnostic_is_readable() -> None:
    stream = replay("plan_error.jsonl", EventStream(logging.getLogger("t")))
    assert stream.errors[0] == "Resource precondition failed at main.tf:19: Asked to fail."
    assert describe_diagnostic({"summary": "Bad", "address": "aws_vpc.this"}) == (
        "Bad (resource aws_vpc.this)"
    )


def test_non_json_lines_are_kept_as_text() -> None:
    events = list(parse_events(["", "panic: oh no", '{"type": "version"}']))
    assert events == [{"type": "text", "@message": "panic: oh no"}, {"type": "version"}]


@pytest.fixture()
def tiny(tmp_path: Path) -> Terraform:
    stack = tmp_path / "stack"
    shutil.copytree(TINY, stack)
    return Terraform(stack_dir=stack, work_dir=tmp_path / "work")


def test_real_plan_apply_replan_and_destroy(tiny: Terraform, tmp_path: Path) -> None:
    var_file = tmp_path / "vars.json"
    var_file.write_text('{"names": ["x", "y", "z"]}')
    tiny.init()
    plan = tiny.plan(var_file=var_file)
    assert plan.has_changes and len(plan.changes) == 3
    assert tiny.show_json()["resource_changes"][0]["change"]["actions"] == ["create"]
    done: list[int] = []
    outputs = tiny.apply(plan, progress=lambda d, t: done.append(d))
    assert outputs == {"names": ["x", "y", "z"]} and done == [1, 2, 3]
    assert tiny.output() == {"names": ["x", "y", "z"]}
    again = tiny.plan(var_file=var_file)
    assert not again.has_changes and again.changes == []
    destroy = tiny.plan(var_file=var_file, destroy=True)
    assert [c.action for c in destroy.changes] == ["delete"] * 3
    tiny.apply(destroy)
    assert tiny.output() == {}


def test_real_failure_raises_one_readable_error(tiny: Terraform, tmp_path: Path) -> None:
    var_file = tmp_path / "vars.json"
    var_file.write_text('{"names": ["x", "y"], "fail": true}')
    tiny.init()
    with pytest.raises(TerraformError) as caught:
        tiny.plan(var_file=var_file)
    message = str(caught.value)
    assert message.count("Resource precondition failed") == 1
    assert "Asked to fail." in message


def test_unknown_variable_file_is_an_error(tiny: Terraform, tmp_path: Path) -> None:
    tiny.init()
    with pytest.raises(TerraformError, match="terraform plan failed"):
        tiny.plan(var_file=tmp_path / "missing.json")


def test_provider_mirror_setting_writes_cli_config(tmp_path: Path) -> None:
    terraform = Terraform(stack_dir=TINY, work_dir=tmp_path, provider_mirror=Path("/mirror"))
    config = Path(terraform.env["TF_CLI_CONFIG_FILE"]).read_text()
    assert 'path    = "/mirror"' in config
    assert terraform.env["TF_DATA_DIR"] == str(tmp_path / ".terraform")


def test_go_collects_less_often_unless_the_caller_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    assert Terraform(stack_dir=TINY, work_dir=tmp_path).env["GOGC"] == GO_GC_PERCENT == "400"
    monkeypatch.setenv("GOGC", "100")
    assert Terraform(stack_dir=TINY, work_dir=tmp_path).env["GOGC"] == "100"
    given = Terraform(stack_dir=TINY, work_dir=tmp_path, env={"GOGC": "off"})
    assert given.env["GOGC"] == "off"


def test_init_is_skipped_only_while_its_inputs_are_unchanged(
    tiny: Terraform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tiny.init()
    stamp = tiny.data_dir / INIT_STAMP
    first = stamp.read_text()
    tiny.init()
    assert "unchanged since last init" in caplog.text
    assert stamp.read_text() == first
    caplog.clear()
    main = tiny.stack_dir / "main.tf"
    main.write_text(main.read_text() + "\n# edited\n")
    tiny.init()
    assert "unchanged since last init" not in caplog.text
    assert stamp.read_text() != first
    # A data dir that lost what init made is initialised again, whatever the stamp says.
    (tiny.stack_dir / ".terraform.lock.hcl").write_text("# providers: none\n")
    caplog.clear()
    tiny.init()
    assert "unchanged since last init" not in caplog.text


def test_a_plan_names_the_steps_after_terraforms_last_line(
    tiny: Terraform, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Where a silent stall after "Plan: ..." could hide (issue 27): each step says its time.
    tiny.logger = logging.getLogger("runner-steps")
    caplog.set_level(logging.DEBUG, logger="runner-steps")
    var_file = tmp_path / "vars.json"
    var_file.write_text('{"names": ["x"]}')
    tiny.init()
    tiny.plan(var_file=var_file)
    steps = [
        r.getMessage().rsplit(": ", 1)[0] for r in caplog.records if r.levelno == logging.DEBUG
    ]
    assert steps == [
        "step terraform plan: events until its output closed",
        "step terraform plan: exit (state lock released)",
    ]
