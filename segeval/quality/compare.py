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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from segeval.errors import InputError, UsageError
from segeval.metrics.catalog import Better, resolve_metric
from segeval.quality.gates import Gate, GateResult, resolve_class, verdict
from segeval.stats import bootstrap_mean_ci, wilcoxon_p
from segeval.status import Status

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


@dataclass
class Report:
    """A report read back from disk (or taken from a fresh result)."""

    per_case: pd.DataFrame
    labels: list[int]
    class_names: list[str]
    foreground_labels: list[int]
    source: str
    regions: list[str] = field(default_factory=list)
    """Label regions (class-column values that are neither a label nor ``all``)."""


@dataclass
class Comparison:
    """The outcome of comparing two reports."""

    table: pd.DataFrame
    worst_cases: pd.DataFrame
    only_baseline: list[str]
    only_current: list[str]
    common_cases: list[str] = field(default_factory=list)
    """Cases scored in both reports: the pairs every change is computed on."""
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
    classes = per_case["class"].drop_duplicates().astype(str)
    regions = [c for c in classes if c != "all" and c not in {str(v) for v in labels}]
    return Report(
        per_case=per_case,
        labels=labels,
        class_names=names,
        foreground_labels=foreground,
        source=str(per_case_path),
        regions=regions,
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
    pairs = per_case[per_case["class"].astype(str).str.fullmatch(r"-?\d+")][["class", "class_name"]].drop_duplicates()
    labels = [int(v) for v in pairs["class"]]
    return labels, list(pairs["class_name"]), [v for v in labels if v != 0]


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
        common_cases=sorted(base_cases & cur_cases),
        baseline=baseline.source,
        current=current.source,
    )
    for gate in limits or []:
        comparison.gates.append(_limit_verdict(gate, table, current))
    return comparison


def _usable(per_case: pd.DataFrame) -> pd.DataFrame:
    without_direction = {m for m in per_case["metric"].unique() if _direction_of(m) is Better.NONE}
    rows = per_case[(per_case["status"] != Status.FAILED.value) & ~per_case["metric"].isin(without_direction)]
    return rows[["case", "class", "class_name", "metric", "value"]].astype({"class": str})


def _foreground_means(merged: pd.DataFrame, metric: str, foreground: list[int]) -> tuple[np.ndarray, np.ndarray]:
    rows = merged[(merged["metric"] == metric) & merged["class"].isin({str(v) for v in foreground})]
    means = rows.groupby("case")[["value_base", "value_cur"]].mean()
    return means["value_base"].to_numpy(float), means["value_cur"].to_numpy(float)


def _change_row(cls, name, metric, base: np.ndarray, cur: np.ndarray, level: float) -> dict:
    both = ~np.isnan(base) & ~np.isnan(cur)
    diff = cur[both] - base[both]
    low, high = bootstrap_mean_ci(diff, level) if level > 0 else (math.nan, math.nan)
    better = {Better.HIGHER: True, Better.LOWER: False}.get(_direction_of(metric))
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
    delta = means["value_cur"] - means["value_base"]
    order = delta.sort_values(ascending=_direction_of(metric) is not Better.LOWER).dropna().head(limit)
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
        cls = resolve_class(gate.class_, current.labels, current.class_names, current.regions)
        rows = table[(table["metric"] == gate.metric) & (table["class"] == cls)]
    if rows.empty:
        return verdict(gate, math.nan, note=f"{gate.metric} is not in both reports")
    return verdict(gate, float(rows["delta"].iloc[0]))


def _direction_of(metric: str) -> Better:
    """The catalog direction of a report's metric (``none`` for a name the catalog does not know)."""
    try:
        return resolve_metric(metric).direction.better
    except UsageError:
        return Better.NONE


def report_from_result(result) -> Report:
    """A :class:`Report` view of a fresh :class:`segeval.pipeline.result.ScoreResult`."""
    return Report(
        per_case=result.per_case,
        labels=result.labels,
        class_names=result.class_names,
        foreground_labels=result.foreground_labels,
        source="this run",
        regions=[region.name for region in result.regions],
    )
