"""``segeval compare BASELINE CURRENT``: what changed between two reports, and is it real?

For every (class, metric) with values in both reports, over the cases present in both:
the change of the mean, a bootstrap confidence interval of the mean paired difference
(current − baseline) and the two-sided p-value of a paired Wilcoxon signed-rank test. Counts and
volumes are left out (they have no better direction). ``max_drop``/``max_rise`` limits turn the
changes into gates with the same verdicts and exit codes as ``--gate``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from segeval.errors import InputError, UsageError
from segeval.gate import Gate, GateResult, canonical_metric, metric_direction, resolve_class, verdict
from segeval.stats import bootstrap_mean_ci, wilcoxon_p

COMPARISON_COLUMNS = [
    "class",
    "class_name",
    "metric",
    "n_pairs",
    "baseline_mean",
    "current_mean",
    "delta",
    "ci_low",
    "ci_high",
    "p_value",
    "higher_is_better",
]
_LIMIT = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_\-]*)\s*(?:\[(?P<cls>[^\]]+)\])?\s*=\s*(?P<value>[0-9.eE+-]+)\s*$"
)
SKIPPED_FAMILIES = {"tp", "fp", "fn", "tn", "ref_volume", "pred_volume"}


@dataclass
class Report:
    """A report read back from disk (or taken from a fresh result)."""

    per_case: pd.DataFrame
    labels: list[int]
    class_names: list[str]
    foreground_labels: list[int]
    source: str


@dataclass
class Comparison:
    """The outcome of comparing two reports."""

    table: pd.DataFrame
    worst_cases: pd.DataFrame
    only_baseline: list[str]
    only_current: list[str]
    gates: list[GateResult] = field(default_factory=list)
    baseline: str = ""
    current: str = ""

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def as_dict(self) -> dict:
        return {
            "baseline": self.baseline,
            "current": self.current,
            "changes": self.table.to_dict(orient="records"),
            "worst_cases": self.worst_cases.to_dict(orient="records"),
            "only_in_baseline": self.only_baseline,
            "only_in_current": self.only_current,
            "gates": [g.as_dict() for g in self.gates],
        }


def read_report(path: str | Path) -> Report:
    """Read a report folder, its ``summary.json`` or its ``per_case.csv``.

    Raises
    ------
    InputError
        A missing or unreadable report, naming the file.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    per_case_path = folder / "per_case.csv" if path.is_dir() or path.name == "summary.json" else path
    if not per_case_path.is_file():
        raise InputError(
            f"{per_case_path}: no per_case.csv report here",
            hint="give a folder written by segeval score --out, or its summary.json / per_case.csv",
        )
    try:
        per_case = pd.read_csv(per_case_path, dtype={"class": str, "case": str}, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{per_case_path}: cannot read report ({exc})") from None
    expected = {"case", "class", "class_name", "metric", "value", "status"}
    if not expected <= set(per_case.columns):
        raise InputError(f"{per_case_path}: not a segeval per_case.csv (columns {list(per_case.columns)})")
    labels, names, foreground = _labels_from(folder / "summary.json", per_case)
    return Report(
        per_case=per_case, labels=labels, class_names=names, foreground_labels=foreground, source=str(per_case_path)
    )


def _labels_from(summary_path: Path, per_case: pd.DataFrame) -> tuple[list[int], list[str], list[int]]:
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
            labels = [int(v) for v in summary["labels"]]
            include_background = bool(summary.get("config", {}).get("include_background", False))
            return labels, list(summary["class_names"]), [v for v in labels if include_background or v != 0]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    pairs = per_case[per_case["class"] != "all"][["class", "class_name"]].drop_duplicates()
    labels = [int(v) for v in pairs["class"]]
    return labels, list(pairs["class_name"]), [v for v in labels if v != 0]


def parse_limits(items: list[str] | tuple[str, ...], kind: str) -> list[Gate]:
    """``["dice=0.01", "hd95[liver]=0.5"]`` → gates on the change of the mean (``delta``).

    ``kind`` is ``"drop"`` (the mean may fall by at most the value) or ``"rise"``.
    """
    gates = []
    for item in items:
        match = _LIMIT.match(item)
        if match is None:
            raise UsageError(f"cannot parse --max-{kind} {item!r}", hint="write METRIC[CLASS]=AMOUNT, e.g. dice=0.01")
        metric = canonical_metric(match["metric"])
        amount = float(match["value"])
        if amount < 0:
            raise UsageError(f"--max-{kind} {item!r}: the amount must be >= 0")
        cls = match["cls"].strip() if match["cls"] else None
        target = f"{metric}[{cls}]" if cls else metric
        expression = f"{target}.delta >= {-amount:g}" if kind == "drop" else f"{target}.delta <= {amount:g}"
        gates.append(
            Gate(
                expression=expression,
                metric=metric,
                class_=cls,
                statistic="delta",
                comparator=">=" if kind == "drop" else "<=",
                threshold=-amount if kind == "drop" else amount,
                source=f"--max-{kind}",
            )
        )
    return gates


def compare_reports(
    baseline: Report, current: Report, *, level: float = 0.95, limits: list[Gate] | None = None
) -> Comparison:
    """Paired comparison of two reports; see the module docstring."""
    base = _usable(baseline.per_case)
    cur = _usable(current.per_case)
    base_cases, cur_cases = set(base["case"]), set(cur["case"])
    merged = base.merge(cur, on=["case", "class", "metric"], suffixes=("_base", "_cur"))
    rows = []
    for (cls, metric), group in merged.groupby(["class", "metric"], sort=False):
        rows.append(
            _change_row(
                cls,
                group["class_name_cur"].iloc[0],
                metric,
                group["value_base"].to_numpy(float),
                group["value_cur"].to_numpy(float),
                level,
            )
        )
    for metric in sorted(set(merged["metric"])):
        if (merged[merged["metric"] == metric]["class"] == "all").all():
            continue
        b, c = _foreground_means(merged, metric, current.foreground_labels)
        rows.append(_change_row("foreground", "foreground mean", metric, b, c, level))
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    comparison = Comparison(
        table=table,
        worst_cases=_worst_cases(merged, current.foreground_labels),
        only_baseline=sorted(base_cases - cur_cases),
        only_current=sorted(cur_cases - base_cases),
        baseline=baseline.source,
        current=current.source,
    )
    for gate in limits or []:
        comparison.gates.append(_limit_verdict(gate, table, current))
    return comparison


def _usable(per_case: pd.DataFrame) -> pd.DataFrame:
    rows = per_case[(per_case["status"] != "failed") & ~per_case["metric"].isin(SKIPPED_FAMILIES)]
    return rows[["case", "class", "class_name", "metric", "value"]].astype({"class": str})


def _foreground_means(merged: pd.DataFrame, metric: str, foreground: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rows = merged[(merged["metric"] == metric) & merged["class"].isin({str(v) for v in foreground})]
    means = rows.groupby("case")[["value_base", "value_cur"]].mean()
    return means["value_base"].to_numpy(float), means["value_cur"].to_numpy(float)


def _change_row(cls, name, metric, base: np.ndarray, cur: np.ndarray, level: float) -> dict:
    both = ~np.isnan(base) & ~np.isnan(cur)
    diff = cur[both] - base[both]
    low, high = bootstrap_mean_ci(diff, level) if level > 0 else (math.nan, math.nan)
    try:
        better = metric_direction(metric)
    except UsageError:
        better = None
    return {
        "class": cls,
        "class_name": name,
        "metric": metric,
        "n_pairs": int(both.sum()),
        "baseline_mean": float(base[both].mean()) if both.any() else math.nan,
        "current_mean": float(cur[both].mean()) if both.any() else math.nan,
        "delta": float(diff.mean()) if diff.size else math.nan,
        "ci_low": low,
        "ci_high": high,
        "p_value": wilcoxon_p(diff),
        "higher_is_better": better,
    }


def _worst_cases(merged: pd.DataFrame, foreground: list[int], limit: int = 10) -> pd.DataFrame:
    """Cases whose foreground-mean Dice fell the most (or mean of the first per-class metric without Dice)."""
    metric = "dice" if "dice" in set(merged["metric"]) else next(iter(sorted(set(merged["metric"]))), None)
    columns = ["case", "metric", "baseline", "current", "delta"]
    if metric is None:
        return pd.DataFrame(columns=columns)
    rows = merged[(merged["metric"] == metric) & merged["class"].isin({str(v) for v in foreground})]
    if rows.empty:
        rows = merged[merged["metric"] == metric]
    means = rows.groupby("case")[["value_base", "value_cur"]].mean()
    better = metric_direction(metric)
    delta = means["value_cur"] - means["value_base"]
    order = delta.sort_values(ascending=better is not False).dropna().head(limit)
    return pd.DataFrame(
        {
            "case": order.index,
            "metric": metric,
            "baseline": means.loc[order.index, "value_base"].values,
            "current": means.loc[order.index, "value_cur"].values,
            "delta": order.values,
        },
        columns=columns,
    )


def _limit_verdict(gate: Gate, table: pd.DataFrame, current: Report) -> GateResult:
    if gate.class_ is None:
        rows = table[(table["metric"] == gate.metric) & (table["class"].isin(["foreground", "all"]))]
    else:
        cls = resolve_class(gate.class_, current.labels, current.class_names)
        rows = table[(table["metric"] == gate.metric) & (table["class"] == cls)]
    if rows.empty:
        return verdict(gate, math.nan, note=f"{gate.metric} is not in both reports")
    return verdict(gate, float(rows["delta"].iloc[0]))


def report_from_result(result) -> Report:
    """A :class:`Report` view of a fresh :class:`segeval.api.ScoreResult`."""
    return Report(
        per_case=result.per_case,
        labels=result.labels,
        class_names=result.class_names,
        foreground_labels=result.foreground_labels,
        source="this run",
    )


def comparison_markdown(comparison: Comparison) -> str:
    """A Markdown page of a comparison: changes of the foreground and case-level means, limits, worst cases."""
    from segeval.report.ci import _table
    from segeval.report.render import format_number

    lines = [
        f"## segeval compare: {'✅ passed' if comparison.passed else '❌ failed'}",
        "",
        f"Baseline `{comparison.baseline}`, current `{comparison.current}`.",
        "",
    ]
    rows = comparison.table[comparison.table["class"].isin(["foreground", "all"])]
    lines += _table(
        ["class", "metric", "n", "baseline", "current", "delta", "95% CI", "p"],
        [
            [
                r["class"],
                r["metric"],
                r["n_pairs"],
                r["baseline_mean"],
                r["current_mean"],
                r["delta"],
                f"[{format_number(r['ci_low'])}, {format_number(r['ci_high'])}]",
                r["p_value"],
            ]
            for _, r in rows.iterrows()
        ],
    )
    if comparison.gates:
        lines += ["", "### Limits", ""]
        lines += _table(
            ["limit", "delta", "result"],
            [[g.gate.expression, g.value, "pass" if g.passed else "**FAIL**"] for g in comparison.gates],
        )
    if not comparison.worst_cases.empty:
        lines += ["", "### Cases that got most worse", ""]
        lines += _table(
            ["case", "metric", "baseline", "current", "delta"], comparison.worst_cases.head(10).values.tolist()
        )
    if comparison.only_baseline or comparison.only_current:
        lines += [
            "",
            f"Cases only in the baseline: {', '.join(comparison.only_baseline) or 'none'}; "
            f"only in the current report: {', '.join(comparison.only_current) or 'none'}.",
        ]
    return "\n".join(lines) + "\n"
