"""The HTML page of ``segeval compare A B --html FILE``: what changed between two reports.

A view of the comparison (:class:`segeval.quality.compare.Comparison`: the mean changes with their
bootstrap intervals and Wilcoxon p-values, the limit verdicts, the cases of one side only) and of the two
per-case tables it paired: each common case's change of the ranking metric (Dice's foreground mean, or
the first metric with a direction), sorted, regressions first.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from segeval.report.html import figure_svg_uri, new_figure, number, plot_text, render_page, write_page

BETTER, WORSE = "#0072b2", "#d55e00"


def write_compare_page(comparison, baseline, current, path: str | Path) -> Path:
    """Write the page of ``comparison`` of the reports ``baseline`` and ``current`` to ``path`` (atomically)."""
    from segeval import __version__

    metric, deltas = case_deltas(baseline, current, comparison)
    changes = change_rows(comparison.table)
    return write_page(
        path,
        render_page(
            "compare.html.j2",
            title="segeval comparison",
            version=__version__,
            created=None,
            baseline=comparison.baseline,
            current=comparison.current,
            n_common=len(comparison.common_cases),
            only_baseline=comparison.only_baseline,
            only_current=comparison.only_current,
            gates=[g.as_dict() for g in comparison.gates],
            passed=comparison.passed,
            changes=changes,
            n_regressions=sum(1 for row in changes if row["verdict"] == "worse"),
            metric=metric,
            deltas=deltas,
            figure=delta_figure(metric, deltas) if deltas else None,
        ),
    )


def _direction(higher_is_better) -> int:
    """+1 when a rise is better, -1 when a fall is, 0 without a direction (NaN from a CSV is no direction)."""
    if higher_is_better is None or (isinstance(higher_is_better, float) and math.isnan(higher_is_better)):
        return 0
    return 1 if bool(higher_is_better) else -1


def change_rows(table: pd.DataFrame) -> list[dict]:
    """The mean changes, regressions first: a change whose interval excludes 0 in the worse direction, then
    other worse changes, by size; then the rest."""
    rows = []
    for _, row in table.iterrows():
        sign = _direction(row["higher_is_better"])
        delta, low, high = (float(row[k]) for k in ("delta", "ci_low", "ci_high"))
        signed = sign * delta if math.isfinite(delta) else 0.0
        certain = math.isfinite(low) and math.isfinite(high) and (low > 0 or high < 0)
        verdict = "worse" if signed < 0 else "better" if signed > 0 else ""
        rows.append(
            {
                "class": str(row["class"]),
                "name": str(row["class_name"]),
                "metric": str(row["metric"]),
                "n": int(row["n_pairs"]),
                "baseline": number(float(row["baseline_mean"])),
                "current": number(float(row["current_mean"])),
                "delta": number(delta),
                "interval": f"[{number(low)}, {number(high)}]" if math.isfinite(low) and math.isfinite(high) else "",
                "p": number(float(row["p_value"]), 3),
                "verdict": verdict,
                "certain": certain,
                "order": (verdict != "worse", not certain, signed),
            }
        )
    rows.sort(key=lambda r: r["order"])
    return rows


def case_deltas(baseline, current, comparison) -> tuple[str | None, list[dict]]:
    """Each common case's change (current − baseline) of the ranking metric, regressions first.

    The metric is ``dice`` (each case's mean over the current report's foreground classes) when both
    reports have it, else the first metric of the comparison with a direction.
    """
    table = comparison.table
    directed = table[table["higher_is_better"].map(_direction) != 0]
    if directed.empty:
        return None, []
    metric = "dice" if (directed["metric"] == "dice").any() else str(directed["metric"].iloc[0])
    sign = _direction(directed.loc[directed["metric"] == metric, "higher_is_better"].iloc[0])
    common = set(comparison.common_cases)
    foreground = {str(v) for v in current.foreground_labels}

    def per_case(report) -> pd.Series:
        rows = report.per_case[(report.per_case["metric"] == metric) & report.per_case["case"].isin(common)]
        rows = rows[rows["status"] != "failed"]
        chosen = rows[rows["class"].astype(str).isin(foreground)]
        chosen = chosen if not chosen.empty else rows
        return chosen.groupby("case")["value"].mean()

    before, after = per_case(baseline), per_case(current)
    both = before.index.intersection(after.index)
    change = (after[both] - before[both]).dropna()
    order = (sign * change).sort_values(kind="stable")
    return metric, [
        {
            "case": case,
            "baseline": float(before[case]),
            "current": float(after[case]),
            "delta": float(change[case]),
            "verdict": "worse" if sign * change[case] < 0 else "better" if sign * change[case] > 0 else "",
        }
        for case in order.index
    ]


def delta_figure(metric: str, deltas: list[dict]):
    """Per-case changes sorted from the largest regression to the largest gain, coloured by their sign."""
    values = np.array([d["delta"] for d in deltas])
    colours = [WORSE if d["verdict"] == "worse" else BETTER for d in deltas]
    figure = new_figure(9.0, 2.6, layout=None)
    figure.subplots_adjust(left=0.08, right=0.99, top=0.88, bottom=0.17)
    ax = figure.subplots()
    ax.bar(np.arange(values.size), values, width=1.0, color=colours, linewidth=0)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlim(-0.5, values.size - 0.5)
    ax.set_xlabel(f"{values.size} paired case(s), from the largest regression to the largest gain", fontsize=8)
    ax.set_ylabel(f"change of {plot_text(metric)}", fontsize=8)
    ax.set_title(f"per-case change of {plot_text(metric)} (current - baseline)", fontsize=9)
    ax.tick_params(labelsize=7)
    return {
        "uri": figure_svg_uri(figure),
        "alt": f"Bar chart of the change of {metric} for each of {values.size} paired cases, sorted; "
        f"{sum(d['verdict'] == 'worse' for d in deltas)} got worse, {sum(d['verdict'] == 'better' for d in deltas)} "
        "got better.",
    }
