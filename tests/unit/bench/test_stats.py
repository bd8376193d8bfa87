"""The benchmark's pure helpers: medians, spreads, pair ratios, targets, tables."""

from __future__ import annotations

import pytest

from bench.prefect_cost import covered_seconds, start_overhead
from bench.report import calls_table, results
from bench.stats import TARGETS, case_result, overhead_table, pair_ratios, summarize, table


def test_summary_is_median_and_min_max() -> None:
    s = summarize([3.0, 1.0, 10.0])
    assert s is not None
    assert (s.median, s.low, s.high, s.n) == (3.0, 1.0, 10.0, 3)
    assert s.show() == "3.0 s (1.0-10.0)"
    assert summarize([]) is None
    one = summarize([2.0])
    assert one is not None and one.show() == "2.0 s"


def test_ratios_pair_each_repetition() -> None:
    assert pair_ratios([10.0, 30.0], [5.0, 10.0]) == [2.0, 3.0]
    # An unfinished pair (baseline missing or zero) gives no ratio.
    assert pair_ratios([10.0, 4.0], [0.0]) == []


def test_targets_are_judged_on_the_median_pair_ratio() -> None:
    met = case_result("drift", ("ours", "bare"), [11.0, 12.0, 30.0], [10.0, 10.0, 10.0])
    assert met.ratio is not None and met.ratio.median == 1.2
    assert met.met is True
    missed = case_result("cold", ("ours", "manual"), [110.0], [100.0])
    assert missed.met is False
    assert case_result("other", ("a", "b"), [1.0], [1.0]).met is None


def test_table_shows_both_sides_the_ratio_and_the_verdict() -> None:
    rows = table([case_result("rerun", ("re-run", "plan"), [13.0, 12.0], [10.0, 10.0])])
    line = rows.splitlines()[2]
    assert line.startswith("| rerun: re-run | 12.5 s (12.0-13.0) | plan: 10.0 s (10.0-10.0) |")
    assert "1.25x (1.20-1.30)" in line and "met (<= 1.3x)" in line
    failed = table([case_result("teardown", ("t", "d"), [], [])]).splitlines()[2]
    assert "failed" in failed and "| - | - |" in failed


def test_the_worst_pair_is_shown_next_to_the_median() -> None:
    # The slowest sample of ours (20 s) is not the worst pair: its baseline was slow too.
    found = case_result("rerun", ("re-run", "plan"), [10.0, 20.0, 12.0], [10.0, 25.0, 8.0])
    assert found.worst == (12.0, 8.0)
    line = table([found]).splitlines()[2]
    assert "| 12.0 s / 8.0 s = 1.50x |" in line
    assert case_result("rerun", ("a", "b"), [], []).worst is None


def test_first_and_cold_targets() -> None:
    # Issue 27: nothing cached, ours may overlap the build with the apply; warm cache, parity.
    assert TARGETS["first"] == 0.7 and TARGETS["cold"] == 1.0
    assert case_result("first", ("ours", "manual"), [140.0], [200.0]).met is True
    assert case_result("first", ("ours", "manual"), [150.0], [200.0]).met is False


def test_calls_table_gives_medians_and_the_most_per_case() -> None:
    def calls(orchestrator: int, target: int, ec2: int, logs: int) -> dict[str, object]:
        prefect = {"orchestrator": orchestrator, "target": target}
        return {"prefect": prefect, "aws": {"ec2": ec2, "s3": 1}, "log_lines": logs, "events": 9}

    samples = {
        "rerun": {
            "ours": [
                {"seconds": 1.0, "calls": calls(100, 20, 3, 50)},
                {"error": "boom"},
                {"seconds": 1.0, "calls": calls(140, 30, 5, 70)},
            ],
            "baseline": [{"seconds": 1.0}],
        },
        "drift": {"ours": [{"seconds": 1.0}], "baseline": [{"seconds": 1.0}]},
    }
    rows = calls_table(samples).splitlines()
    assert (
        rows[2] == "| rerun | 145 (max 170) | 25 (max 30) | 5 (max 6) | 60 (max 70) | 9 (max 9) |"
    )
    assert len(rows) == 3  # no calls recorded for drift: no row


def test_results_drop_pairs_where_a_side_failed() -> None:
    samples = {
        "drift": {
            "ours": [{"seconds": 12.0}, {"error": "boom"}, {"seconds": 14.0}],
            "baseline": [{"seconds": 10.0}, {"seconds": 9.0}, {"seconds": 10.0}],
        }
    }
    [found] = results(samples)
    assert found.ours is not None and found.ours.n == 2
    assert found.ratio is not None and found.ratio.median == pytest.approx(1.3)


def test_overhead_table_judges_each_stage() -> None:
    text = overhead_table({"plan platform": [0.1, 0.3], "apply platform": [0.9]}, [0.2])
    assert "| apply platform | 0.90 s, 0.90 s | missed (< 0.5 s) |" in text
    assert "| plan platform | 0.20 s, 0.30 s | met (< 0.5 s) |" in text
    assert "flow run outside its tasks" in text


def test_union_of_intervals_counts_overlaps_once() -> None:
    assert covered_seconds([(0, 10), (5, 12), (20, 25), (21, 22)]) == 17
    assert covered_seconds([]) == 0


def test_start_overhead_begins_when_the_last_upstream_ended() -> None:
    # Pending at 0, upstream ended at 8, Running at 8.25: Prefect's own cost is 0.25 s.
    assert start_overhead(0.0, 8.25, [3.0, 8.0]) == 0.25
    assert start_overhead(1.0, 1.5, []) == 0.5
    assert start_overhead(5.0, 4.0, []) == 0.0
