"""Run the benchmark: each case against its baseline, interleaved, N times; JSON + table.

    source scripts/env.sh && .venv/bin/python -m bench.run --repeat 3
    .venv/bin/python -m bench.run --repeat 1 --cases drift

Starts its own embedded default (moto, registry, Prefect, ECS runtime) on ports of its own and a
state dir of its own, and stops it at the end. One repetition: ours first bootstrap (nothing
cached, cases.py says what stays) and its teardown, the manual procedure likewise, ours cold
bootstrap, the manual procedure, ours no-change re-run, bare plans, ours drift-check, bare
refresh-only plans, ours teardown, bare destroy of the manual stacks. Cases that are not
selected are not timed; the ones they need to run (a bootstrap before a re-run) still are run,
untimed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

CASES = ("first", "cold", "rerun", "drift", "teardown", "prefect", "flow_start")
WARM = {"rerun", "drift", "prefect", "flow_start"}  # cases that need the environment up
STATE_DIR = Path(tempfile.mkdtemp(prefix="bootstrap-bench-"))
PORT = int(os.environ.get("BENCH_PORT_BASE", "4760"))
os.environ.update(
    {
        "BOOTSTRAP_ENV_FILE": "/nonexistent",
        "BOOTSTRAP_WORK_DIR": str(STATE_DIR),
        "BOOTSTRAP_LOCAL_STATE_DIR": str(STATE_DIR),
        "BOOTSTRAP_LOCAL_MOTO_PORT": str(PORT),
        "BOOTSTRAP_LOCAL_PREFECT_PORT": str(PORT + 1),
        "BOOTSTRAP_LOCAL_REGISTRY_PORT": str(PORT + 2),
        "BOOTSTRAP_LOCAL_POSTGRES_PORT": str(PORT + 3),
        "BOOTSTRAP_LOCAL_SERVER_PORT": str(PORT + 4),
        # Its own, too: the default (10053) is taken while a test's stack runs beside the bench.
        "BOOTSTRAP_LOCAL_DNS_PORT": str(PORT + 5),
        "BOOTSTRAP_AZ_COUNT": "2",  # as the tests run it
        # The environments are not named `local`: say where AWS is.
        "BOOTSTRAP_TARGET": "emulator",
        "PREFECT_API_URL": f"http://127.0.0.1:{PORT + 1}/api",
        "PREFECT_HOME": str(STATE_DIR / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
)

from bench import cases, flow_start, machine, report  # noqa: E402
from bench.prefect_cost import flow_run_costs, log_lines, run_events  # noqa: E402
from bootstrap_flows import call_counts  # noqa: E402
from bootstrap_flows.aws_side import clients as aws  # noqa: E402
from bootstrap_local import stack as local_stack  # noqa: E402
from bootstrap_local.processes import log_file  # noqa: E402
from bootstrap_local.settings import load_local_settings  # noqa: E402

LOG = logging.getLogger("bench")
FLOW_RUNS = int(os.environ.get("BENCH_FLOW_RUNS", "5"))  # flow_start: runs per repetition


class Bench:
    def __init__(self, selected: set[str], baseline: cases.Baseline) -> None:
        self.selected, self.baseline = selected, baseline
        self.samples: dict[str, dict[str, list[dict[str, Any]]]] = {
            c: {"ours": [], "baseline": []}
            for c in CASES
            if c in selected and c not in ("prefect", "flow_start")
        }
        self.flow_starts: list[dict[str, Any]] = []  # flow_start.py: no baseline, its own JSON
        self.costs: list[dict[str, Any]] = []

    def time(self, case: str, side: str, run: Callable[[], cases.Sample]) -> cases.Sample | None:
        """Run one side; record it when the case is selected. Failures are recorded, not fatal."""
        call_counts.take()  # what ran before this sample is not its
        try:
            sample = run()
        except Exception as exc:
            traceback.print_exc()
            if case in self.samples:
                self.samples[case][side].append({"error": f"{type(exc).__name__}: {exc}"[:2000]})
            return None
        calls: dict[str, Any] = call_counts.take()
        if case in self.samples:
            entry = {"seconds": round(sample.seconds, 2), "steps": sample.steps}
            if side == "ours":  # the baseline's calls are in its own processes (CLI, Terraform)
                run_id = sample.flow_run_id
                entry["calls"] = calls | {
                    "log_lines": log_lines(run_id),
                    "events": run_events(run_id),
                }
            self.samples[case][side].append(entry)
            print(f"  {case:9} {side:8} {sample.seconds:7.1f} s", flush=True)
        if "prefect" in self.selected and sample.flow_run_id and case in ("cold", "rerun", "drift"):
            self.costs.append({"case": case, **flow_run_costs(sample.flow_run_id)})
        return sample

    def repetition(self, lifecycle: bool) -> None:
        b = self.baseline
        if "first" in self.selected:
            cases.first_pair(b, self.time)
        if lifecycle:
            self.time("cold", "ours", lambda: cases.ours_bootstrap(expect_changes=True))
            self.time("cold", "baseline", b.cold)
        try:
            if self.selected & WARM:
                b.init_ours()
        except Exception:
            traceback.print_exc()
        if self.selected & {"rerun", "prefect"}:
            self.time("rerun", "ours", lambda: cases.ours_bootstrap(expect_changes=False))
            self.time("rerun", "baseline", b.rerun)
        if "drift" in self.selected:
            self.time("drift", "ours", cases.ours_drift)
            self.time("drift", "baseline", b.drift)
        if "flow_start" in self.selected:  # while the environment is up
            self.flow_starts.append(
                flow_start.measure(
                    cases.settings_for(cases.OURS),
                    b.account,
                    FLOW_RUNS,
                    log_file(STATE_DIR, "ecs-runtime"),
                )
            )
        if lifecycle:
            self.time("teardown", "ours", cases.ours_teardown)
            self.time("teardown", "baseline", b.teardown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    selected = set(args.cases)
    # `first` leaves nothing up, so warm cases beside it get a cold bootstrap each repetition.
    lifecycle = bool(selected & {"cold", "teardown"} or ("first" in selected and selected & WARM))
    mirror = os.environ.get("BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR")
    record: dict[str, Any] = {
        "command": " ".join([".venv/bin/python -m bench.run", *(argv or sys.argv[1:])]),
        "repeat": args.repeat,
        "cases": sorted(selected),
        "machine": machine.describe(Path(mirror) if mirror else None),
        "load_start": machine.load_average(),
        "busy_at_start": machine.other_load(),
    }
    path = report.result_path()
    settings = cases.settings_for(cases.OURS)
    local = load_local_settings()
    local_stack.up(settings, local)
    # The flows run in this process (cases.py), so counting here counts theirs.
    call_counts.start()
    try:
        account = aws.client(settings, "sts").get_caller_identity()["Account"]
        baseline = cases.Baseline(STATE_DIR / "bench", account)
        baseline.prepare_image()
        bench = Bench(selected, baseline)
        if not lifecycle and selected & WARM:  # the warm cases need the environment up: untimed
            bench.time("setup", "ours", lambda: cases.ours_bootstrap(expect_changes=True))
        record["samples"], record["prefect_costs"] = bench.samples, bench.costs
        record["flow_start"] = bench.flow_starts
        for n in range(args.repeat):
            print(f"repetition {n + 1}/{args.repeat}", flush=True)
            bench.repetition(lifecycle)
            report.write(record | {"load_end": machine.load_average()}, path)
        if not lifecycle and selected & WARM:
            bench.time("cleanup", "ours", cases.ours_teardown)
    finally:
        record["load_end"] = machine.load_average()
        record["busy_at_end"] = machine.other_load()
        local_stack.down(local)
    report.write(record, path)
    print(report.render(record))
    print(flow_start.table(record.get("flow_start", [])))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
