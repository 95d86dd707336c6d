"""Terminal output of ``segeval score``: the one place where numbers are rounded.

``table`` is a rich table on a terminal and plain aligned text otherwise (CI logs); ``json`` is
summary.json; ``csv`` is summary.csv; ``quiet`` prints nothing. Results go to stdout; warnings and
errors go to stderr (see :mod:`segeval.cli`).

Tables never cut a number or a header: :func:`fitted_tables` splits the columns of a table that is
wider than the console over several tables, each repeating the key columns. Text from the user
(file, case and class names, gates, error messages) is never read as rich markup, and its control
characters are printed as escapes (:func:`printable`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from segeval.report.writers import json_text

Cell = str | Text


def format_number(value: float, digits: int = 4) -> str:
    """``value`` rounded for display: ``nan`` and ``0.0000`` are printed, never blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def printable(text: object) -> str:
    """``str(text)`` with control and other unprintable characters written as escapes (``\\x1b``, ``\\n``)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


def fitted_tables(
    title: str | None,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Cell]],
    console: Console,
    *,
    keys: int = 1,
) -> list[Table]:
    """``rows`` as rich tables no wider than ``console``: the fewest that fit, each repeating the first ``keys``
    columns and sharing the other columns out in order.

    ``columns`` are ``(header, justify)``; right-justified columns hold numbers, which are never wrapped,
    left-justified ones hold text (names), which folds only beyond half the console width. A ``str`` cell is
    printed as it is (no markup, control characters escaped); a :class:`~rich.text.Text` cell keeps its style.
    """
    values = list(range(keys, len(columns)))
    wide = console.options.update_width(10_000)

    def fits(part: list[int]) -> bool:
        table = _table(None, columns, rows, [*range(keys), *part], console)
        return console.measure(table, options=wide).maximum <= console.width

    parts: list[list[int]] = [[]]
    for i in values:  # greedy: the fewest tables
        if parts[-1] and not fits([*parts[-1], i]):
            parts.append([])
        parts[-1].append(i)
    balanced = [part.tolist() for part in np.array_split(values, len(parts))]
    if all(fits(part) for part in balanced):
        parts = balanced
    return [
        _table(title if n == 0 else None, columns, rows, [*range(keys), *part], console) for n, part in enumerate(parts)
    ]


def _table(title: str | None, columns, rows, chosen: list[int], console: Console) -> Table:
    table = Table(
        title=None if title is None else Text(printable(title)),
        box=box.SIMPLE_HEAD if console.is_terminal else None,
        title_justify="left",
        collapse_padding=console.is_terminal,
        pad_edge=False,
    )
    for i in chosen:
        header, justify = columns[i]
        number = justify == "right"
        table.add_column(
            Text(header),
            justify=justify,
            min_width=len(header),
            max_width=None if number else max(len(header), console.width // 2),
            no_wrap=number,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(row[i] if isinstance(row[i], Text) else Text(printable(row[i])) for i in chosen))
    return table


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
    for table in summary_tables(result, console):
        console.print(table)


def summary_tables(result, console: Console) -> list[Table]:
    """Per-class means (with the pooled Dice) and case-level metrics (mean and pooled), fitted to ``console``."""
    summary = result.summary
    metrics = table_metrics(summary["metric"].unique())
    class_rows = []
    for (label, name), rows in summary[summary["class"] != "all"].groupby(["class", "class_name"], sort=False):
        by_metric = rows.set_index("metric")
        class_rows.append(
            [
                str(label),
                str(name),
                *(format_number(by_metric.at[m, "mean"]) if m in by_metric.index else "-" for m in metrics),
                format_number(by_metric.at["dice", "pooled"]),
                str(int(by_metric.at["dice", "n_nan"])),
            ]
        )
    per_class = fitted_tables(
        f"Per class: mean over {int(_count(result))} scored case(s)",
        [("class", "left"), ("name", "left"), *((m, "right") for m in (*metrics, "dice pooled", "dice n_nan"))],
        class_rows,
        console,
        keys=2,
    )
    statistics = ("mean", "std", "median", "min", "max", "pooled")
    case_rows = [
        [row["metric"], *(format_number(row[k]) for k in statistics), str(int(row["n_nan"]))]
        for _, row in summary[summary["class"] == "all"].iterrows()
    ]
    case_level = fitted_tables(
        "Per case (FCN definitions)",
        [("metric", "left"), *((c, "right") for c in (*statistics, "n_nan"))],
        case_rows,
        console,
    )
    return per_class + case_level


def table_metrics(computed) -> list[str]:
    """The per-class table's metric columns: the catalog's table metrics in catalog order, then the class-level
    metrics among ``computed`` that a run computes only when asked for (distances, the confusion-matrix family,
    lesion-wise), in the order they were computed."""
    from segeval.metrics.catalog import CATALOG, Level, resolve_metric

    shown = [spec.name for spec in CATALOG if spec.in_table and not spec.needs_distances]
    asked = [resolve_metric(name) for name in computed if name not in shown]
    return shown + [spec.name for spec in asked if spec.level is Level.CLASS and (spec.opt_in or spec.needs_distances)]


def _count(result) -> int:
    return sum(1 for record in result.cases if record.scored)


def render_gates(gates, console: Console) -> None:
    """The gate table: value, threshold, margin and verdict of each gate."""
    rows = []
    for result in gates:
        verdict = "pass" if result.passed else "FAIL" + (f" ({printable(result.note)})" if result.note else "")
        style = ("green" if result.passed else "bold red") if console.is_terminal else ""
        rows.append(
            [
                result.gate.expression,
                format_number(result.value),
                f"{result.gate.threshold:g}",
                format_number(result.margin),
                Text(verdict, style=style),
                result.gate.source,
            ]
        )
    columns = [("gate", "left"), ("value", "right"), ("threshold", "right"), ("margin", "right")]
    for table in fitted_tables("Quality gates", [*columns, ("result", "left"), ("source", "left")], rows, console):
        console.print(table)


def render_comparison(comparison, console: Console, *, classes: tuple[str, ...] = ("foreground", "all")) -> None:
    """Changes of the means versus a baseline (foreground means and case-level metrics by default)."""
    selected = comparison.table if not classes else comparison.table[comparison.table["class"].isin(classes)]
    numbers = ("baseline_mean", "current_mean", "delta", "ci_low", "ci_high", "p_value")
    rows = [
        [str(row["class"]), row["metric"], str(row["n_pairs"]), *(format_number(row[k]) for k in numbers)]
        for _, row in selected.iterrows()
    ]
    headers = ("n", "baseline", "current", "delta", "ci_low", "ci_high", "p")
    columns = [("class", "left"), ("metric", "left"), *((h, "right") for h in headers)]
    for table in fitted_tables(f"Change versus baseline {comparison.baseline}", columns, rows, console, keys=2):
        console.print(table)
    if comparison.only_baseline or comparison.only_current:
        console.print(
            f"cases only in the baseline: {len(comparison.only_baseline)}; "
            f"only in the current report: {len(comparison.only_current)}",
            markup=False,
        )
    if not comparison.worst_cases.empty:
        rows = [
            [str(row["case"]), row["metric"], *(format_number(row[k]) for k in ("baseline", "current", "delta"))]
            for _, row in comparison.worst_cases.head(5).iterrows()
        ]
        columns = [("case", "left"), ("metric", "left"), *((h, "right") for h in ("baseline", "current", "delta"))]
        for table in fitted_tables("Cases that got most worse", columns, rows, console, keys=2):
            console.print(table)
