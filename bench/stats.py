"""Pure helpers of the benchmark: medians, spreads, ratios, targets and the table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# Issues 13 and 27's targets: ours / baseline at most this (Prefect's overhead: seconds per
# stage). Cold is a warm build cache: the image build, which ours overlaps with the platform
# apply, takes 0.1 s there, so only `first` (nothing cached) can show that overlap.
TARGETS: dict[str, float] = {
    "first": 0.7,
    "cold": 1.0,
    "rerun": 1.3,
    "drift": 1.2,
    "teardown": 1.1,
}
PREFECT_OVERHEAD_TARGET = 0.5


@dataclass(frozen=True)
class Summary:
    """Median and min-max of one side of a case, in seconds."""

    median: float
    low: float
    high: float
    n: int

    def show(self) -> str:
        if self.n == 1:
            return f"{self.median:.1f} s"
        return f"{self.median:.1f} s ({self.low:.1f}-{self.high:.1f})"


def summarize(samples: Sequence[float]) -> Summary | None:
    """None for no samples (a case that did not run or failed every time)."""
    if not samples:
        return None
    return Summary(statistics.median(samples), min(samples), max(samples), len(samples))


def pair_ratios(ours: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """ours / baseline of each interleaved pair (same repetition, same load)."""
    return [o / b for o, b in zip(ours, baseline, strict=False) if b > 0]


@dataclass(frozen=True)
class CaseResult:
    case: str
    ours_label: str
    baseline_label: str
    ours: Summary | None
    baseline: Summary | None
    ratio: Summary | None  # of the per-repetition pairs
    # The pair with the highest ratio (ours s, baseline s): a median hides the run people recall.
    worst: tuple[float, float] | None = None

    @property
    def target(self) -> float | None:
        return TARGETS.get(self.case)

    @property
    def met(self) -> bool | None:
        """Median pair ratio within the target (None: no target or no ratio)."""
        if self.target is None or self.ratio is None:
            return None
        return self.ratio.median <= self.target


def case_result(
    case: str, labels: tuple[str, str], ours: Sequence[float], baseline: Sequence[float]
) -> CaseResult:
    pairs = [(o, b) for o, b in zip(ours, baseline, strict=False) if b > 0]
    worst = max(pairs, key=lambda pair: pair[0] / pair[1], default=None)
    ratios = pair_ratios(ours, baseline)
    return CaseResult(
        case, labels[0], labels[1], summarize(ours), summarize(baseline), summarize(ratios), worst
    )


def show_worst(worst: tuple[float, float] | None) -> str:
    if worst is None:
        return "-"
    ours, baseline = worst
    return f"{ours:.1f} s / {baseline:.1f} s = {ours / baseline:.2f}x"


def verdict(met: bool | None, target: float | None, ratio: Summary | None) -> str:
    if met is None:
        return "-"
    assert target is not None and ratio is not None
    return f"{'met' if met else 'missed'} (<= {target:g}x)"


def table(results: Sequence[CaseResult]) -> str:
    """A Markdown table: medians (min-max) of each side, the pair ratio, the worst pair, the
    target."""
    lines = [
        "| case | ours | baseline | ratio (median of pairs) | worst pair | target |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        ours = r.ours.show() if r.ours else "failed"
        base = r.baseline.show() if r.baseline else "failed"
        ratio = "-"
        if r.ratio is not None:
            ratio = f"{r.ratio.median:.2f}x"
            if r.ratio.n > 1:
                ratio += f" ({r.ratio.low:.2f}-{r.ratio.high:.2f})"
        lines.append(
            f"| {r.case}: {r.ours_label} | {ours} | {r.baseline_label}: {base} | {ratio} "
            f"| {show_worst(r.worst)} | {verdict(r.met, r.target, r.ratio)} |"
        )
    return "\n".join(lines)


def overhead_table(per_stage: dict[str, list[float]], flow_overhead: list[float]) -> str:
    """Prefect's own seconds per stage (median, max) against the target."""
    lines = ["| stage | Prefect overhead (median, max) | target |", "|---|---|---|"]
    rows = [*sorted(per_stage.items()), ("flow run outside its tasks", flow_overhead)]
    for stage, samples in rows:
        s = summarize(samples)
        if s is None:
            continue
        ok = "met" if s.median < PREFECT_OVERHEAD_TARGET else "missed"
        lines.append(
            f"| {stage} | {s.median:.2f} s, {s.high:.2f} s | {ok} (< {PREFECT_OVERHEAD_TARGET} s) |"
        )
    return "\n".join(lines)
