"""The benchmark's record: JSON under bench/results/ and the tables printed at the end."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.stats import CaseResult, case_result, overhead_table, summarize, table

RESULTS = Path(__file__).parent / "results"
LABELS = {
    "first": ("first bootstrap, nothing cached", "manual procedure, nothing cached"),
    "cold": ("cold bootstrap", "manual procedure"),
    "rerun": ("no-change re-run", "terraform plan, both stacks"),
    "drift": ("drift-check, clean", "plan -refresh-only, both stacks"),
    "teardown": ("teardown", "terraform destroy, both stacks"),
}


def results(samples: dict[str, dict[str, list[dict[str, Any]]]]) -> list[CaseResult]:
    """Per case: seconds of every repetition that succeeded on both sides, paired."""
    found = []
    for case, sides in samples.items():
        pairs = [
            (o["seconds"], b["seconds"])
            for o, b in zip(sides.get("ours", []), sides.get("baseline", []), strict=False)
            if "error" not in o and "error" not in b
        ]
        found.append(case_result(case, LABELS[case], [o for o, _ in pairs], [b for _, b in pairs]))
    return found


def prefect_tables(costs: list[dict[str, Any]]) -> str:
    per_stage: dict[str, list[float]] = {}
    for cost in costs:
        for stage, seconds in cost["stages"].items():
            per_stage.setdefault(stage, []).append(seconds)
    flows = [cost["outside_tasks_per_stage"] for cost in costs]
    return overhead_table(per_stage, flows)


def _median_max(values: list[float]) -> str:
    found = summarize(values)
    if found is None:
        return "-"
    return f"{found.median:g}" if found.n == 1 else f"{found.median:g} (max {found.high:g})"


def calls_table(samples: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    """Per case, what one of ours' runs costs in requests: Prefect Cloud rate-limits HTTP
    requests per account, and log lines with events in a second bucket (medians, max)."""
    lines = [
        "| case | Prefect requests | of them to the target | AWS API calls | log lines | events |",
        "|---|---|---|---|---|---|",
    ]
    for case, sides in samples.items():
        counted = [s["calls"] for s in sides.get("ours", []) if "calls" in s]
        if not counted:
            continue
        prefect = [float(sum(c["prefect"].values())) for c in counted]
        target = [float(c["prefect"].get("target", 0)) for c in counted]
        aws = [float(sum(c["aws"].values())) for c in counted]
        logs = [float(c["log_lines"]) for c in counted if c.get("log_lines") is not None]
        events = [float(c["events"]) for c in counted if c.get("events") is not None]
        cells = [_median_max(v) for v in (prefect, target, aws, logs, events)]
        lines.append(f"| {case} | {' | '.join(cells)} |")
    return "\n".join(lines)


def result_path() -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"


def write(record: dict[str, Any], path: Path) -> Path:
    """(Re)write the record; called after every repetition, so a cut-short run leaves its data."""
    computed = results(record["samples"])
    record["summary"] = [dataclasses.asdict(r) | {"met": r.met} for r in computed]
    path.write_text(json.dumps(record, indent=2, default=str))
    return path


def render(record: dict[str, Any]) -> str:
    machine = record["machine"]
    head = (
        f"{machine['cores']} cores, {machine['memory_gib']} GiB; load average at start "
        f"{record['load_start']}, at end {record.get('load_end')}; "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    )
    parts = [head, "", table(results(record["samples"])), "", calls_table(record["samples"])]
    if record.get("prefect_costs"):
        parts += ["", prefect_tables(record["prefect_costs"])]
    return "\n".join(parts)
