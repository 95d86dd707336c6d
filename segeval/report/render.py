"""Terminal output of ``segeval score``: the one place where numbers are rounded.

``table`` is a rich table on a terminal and plain aligned text otherwise (CI logs); ``json`` is
summary.json; ``csv`` is summary.csv; ``quiet`` prints nothing. Results go to stdout; warnings and
errors go to stderr (see :mod:`segeval.cli`).
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table

from segeval.report.writers import json_text


def format_number(value: float, digits: int = 4) -> str:
    """``value`` rounded for display: ``nan`` and ``0.0000`` are printed, never blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def render(result, fmt: str, console: Console) -> None:
    """Print ``result`` (a :class:`segeval.pipeline.result.ScoreResult`) on ``console`` in format ``fmt``."""
    if fmt == "quiet":
        return
    if fmt == "json":
        console.file.write(json_text(result.to_dict()))
        return
    if fmt == "csv":
        console.file.write(result.summary.to_csv(index=False))
        return
    for table in summary_tables(result, rich_box=console.is_terminal):
        console.print(table)


def summary_tables(result, *, rich_box: bool) -> list[Table]:
    """Two tables: per-class means (with the pooled Dice) and case-level metrics (mean and pooled)."""
    style = box.SIMPLE_HEAD if rich_box else None
    summary = result.summary
    columns = table_metrics(summary["metric"].unique())
    per_class = Table(
        title=f"Per class: mean over {int(_count(result))} scored case(s)",
        box=style,
        title_justify="left",
        pad_edge=False,
    )
    per_class.add_column("class")
    per_class.add_column("name")
    for name in columns:
        per_class.add_column(name, justify="right")
    per_class.add_column("dice pooled", justify="right")
    per_class.add_column("dice n_nan", justify="right")
    class_rows = summary[summary["class"] != "all"]
    for (label, name), rows in class_rows.groupby(["class", "class_name"], sort=False):
        by_metric = rows.set_index("metric")
        per_class.add_row(
            str(label),
            str(name),
            *(format_number(by_metric.at[m, "mean"]) if m in by_metric.index else "-" for m in columns),
            format_number(by_metric.at["dice", "pooled"]),
            str(int(by_metric.at["dice", "n_nan"])),
        )
    case_level = Table(title="Per case (FCN definitions)", box=style, title_justify="left", pad_edge=False)
    for column in ("metric", "mean", "std", "median", "min", "max", "pooled", "n_nan"):
        case_level.add_column(column, justify="left" if column == "metric" else "right")
    for _, row in summary[summary["class"] == "all"].iterrows():
        case_level.add_row(
            row["metric"],
            *(format_number(row[k]) for k in ("mean", "std", "median", "min", "max", "pooled")),
            str(int(row["n_nan"])),
        )
    return [per_class, case_level]


def table_metrics(computed) -> list[str]:
    """The per-class table's metric columns: the catalog's table metrics in catalog order, then the distance
    metrics among ``computed`` in the order they were computed."""
    from segeval.metrics.catalog import CATALOG, resolve_metric

    shown = [spec.name for spec in CATALOG if spec.in_table and not spec.needs_distances]
    return shown + [name for name in computed if resolve_metric(name).needs_distances]


def _count(result) -> int:
    return sum(1 for record in result.cases if record.scored)


def render_gates(gates, console: Console) -> None:
    """The gate table: value, threshold, margin and verdict of each gate."""
    table = Table(
        title="Quality gates",
        box=box.SIMPLE_HEAD if console.is_terminal else None,
        title_justify="left",
        pad_edge=False,
    )
    for column in ("gate", "value", "threshold", "margin", "result", "source"):
        table.add_column(column, justify="left" if column in ("gate", "result", "source") else "right")
    for result in gates:
        verdict = "pass" if result.passed else "FAIL" + (f" ({result.note})" if result.note else "")
        if console.is_terminal:
            verdict = f"[green]{verdict}[/]" if result.passed else f"[bold red]{verdict}[/]"
        table.add_row(
            result.gate.expression,
            format_number(result.value),
            f"{result.gate.threshold:g}",
            format_number(result.margin),
            verdict,
            result.gate.source,
        )
    console.print(table)


def render_comparison(comparison, console: Console, *, classes: tuple[str, ...] = ("foreground", "all")) -> None:
    """Changes of the means versus a baseline (foreground means and case-level metrics by default)."""
    table = Table(
        title=f"Change versus baseline {comparison.baseline}",
        box=box.SIMPLE_HEAD if console.is_terminal else None,
        title_justify="left",
        pad_edge=False,
    )
    for column in ("class", "metric", "n", "baseline", "current", "delta", "ci_low", "ci_high", "p"):
        table.add_column(column, justify="left" if column in ("class", "metric") else "right")
    rows = comparison.table if not classes else comparison.table[comparison.table["class"].isin(classes)]
    for _, row in rows.iterrows():
        table.add_row(
            str(row["class"]),
            row["metric"],
            str(row["n_pairs"]),
            format_number(row["baseline_mean"]),
            format_number(row["current_mean"]),
            format_number(row["delta"]),
            format_number(row["ci_low"]),
            format_number(row["ci_high"]),
            format_number(row["p_value"]),
        )
    console.print(table)
    if comparison.only_baseline or comparison.only_current:
        console.print(
            f"cases only in the baseline: {len(comparison.only_baseline)}; "
            f"only in the current report: {len(comparison.only_current)}",
            markup=False,
        )
    if not comparison.worst_cases.empty:
        worst = Table(
            title="Cases that got most worse",
            box=box.SIMPLE_HEAD if console.is_terminal else None,
            title_justify="left",
            pad_edge=False,
        )
        for column in ("case", "metric", "baseline", "current", "delta"):
            worst.add_column(column, justify="left" if column in ("case", "metric") else "right")
        for _, row in comparison.worst_cases.head(5).iterrows():
            worst.add_row(
                str(row["case"]),
                row["metric"],
                format_number(row["baseline"]),
                format_number(row["current"]),
                format_number(row["delta"]),
            )
        console.print(worst)
