"""The HTML page of a ``segeval score`` report folder (``--html``, ``segeval report``).

A view of the folder (:func:`segeval.report.folder.read_folder`): every number comes from
``summary.json``, ``summary.csv``, ``per_case.csv`` and ``lesions.csv``, every picture of a case from
``thumbnails/``. Panels (docs/report.md): header (inputs, counts, configuration and sources, versions,
gates, conventions), distributions per metric and class (box, points, mean with its bootstrap interval,
pooled value), per-class summary table, confusion matrix, worst cases, per-case table, lesion table,
failed and missing cases, case details.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from segeval.errors import InputError
from segeval.report.folder import ReportFolder, read_folder
from segeval.report.html import (
    figure_svg_uri,
    number,
    plot_text,
    png_data_uri,
    render_page,
    write_page,
)
from segeval.report.thumbnails import COLOURS, class_colour

COUNT_METRICS = {"tp", "fp", "fn", "tn"}
"""Pixel counts: in per_case.csv and the summary table, neither plotted nor in the page's per-case table."""
MAX_LESION_ROWS = 5000


def write_score_page(folder: str | Path, path: str | Path) -> Path:
    """Write the page of the report folder ``folder`` to ``path`` (atomically).

    Raises
    ------
    InputError
        The folder is not a readable report (:func:`segeval.report.folder.read_folder`), or its files do
        not have the layout their schema version promises (a folder from elsewhere may be tampered with).
    """
    report = read_folder(folder)
    try:
        page = score_page(report)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InputError(f"{report.path}: not a report this segeval can show ({type(exc).__name__}: {exc})") from None
    return write_page(path, page)


def score_page(report: ReportFolder) -> str:
    """The HTML text of the page of ``report``."""
    summary = report.summary
    metrics_info = summary.get("metrics") or {}
    per_case = report.per_case
    case_index = {str(entry["case"]): i for i, entry in enumerate(summary.get("cases") or [])}
    directed = [m for m in dict.fromkeys(per_case["metric"]) if (metrics_info.get(m) or {}).get("direction") != "none"]
    return render_page(
        "score.html.j2",
        title="segeval report",
        version=summary.get("segeval_version", "?"),
        created=summary.get("created"),
        schema_version=summary["schema_version"],
        inputs=[(k, v) for k, v in (summary.get("inputs") or {}).items() if v is not None],
        source=str(report.path),
        counts=summary.get("counts") or {},
        config=config_rows(summary),
        versions=list((summary.get("versions") or {}).items()),
        gates=(summary.get("gates") or {}).get("results") or [],
        gates_passed=(summary.get("gates") or {}).get("passed", True),
        conventions=conventions(summary),
        warnings=summary.get("warnings") or [],
        figures=distribution_figures(report, directed),
        summary_rows=summary_rows(report.table),
        confusion=confusion_view(summary),
        worst=worst_view(report, case_index),
        table=case_table(report, case_index),
        lesions=lesion_view(report.lesions),
        failed=summary.get("failed") or [],
        missing=summary.get("missing") or {"pred": [], "gt": []},
        missing_policy=summary.get("missing_pred_policy", ""),
        cases=case_details(summary),
        units=summary.get("units") or {},
    )


def config_rows(summary: dict) -> list[tuple[str, str, str]]:
    """(setting, value, where it came from) of every setting; ``default`` when no source set it."""
    sources = summary.get("config_sources") or {}
    rows = []
    for key, value in (summary.get("config") or {}).items():
        shown = "" if value is None else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append((key, shown, sources.get(key, "default")))
    return rows


def conventions(summary: dict) -> str:
    """The empty-mask and averaging conventions of the run, in one line."""
    config = summary.get("config") or {}
    empty = config.get("empty_score")
    empty_text = (
        "a class absent from both prediction and reference is NaN (left out of means)"
        if empty is None
        else f"a class absent from both sides scores {empty:g}"
    )
    background = "includes" if config.get("include_background") else "leaves out"
    distance = summary.get("distance") or {}
    parts = [
        f"Empty masks: {empty_text}; absent from one side only scores 0",
        f"mean_dice {background} the background (label 0); pixel accuracy, MPA, mIoU and FWIoU include every class",
        "mean = average of the per-case values; pooled = the metric of the confusion matrix summed over all cases",
    ]
    if distance.get("metrics"):
        parts.append(
            f"distances: {distance.get('convention')} convention, one empty side gives {distance.get('empty_policy')}"
        )
    return "; ".join(parts) + "."


# ----------------------------------------------------------------------------- figures


def distribution_figures(report: ReportFolder, metrics: list[str]) -> list[dict]:
    """One panel per class-level metric (a box per class) and one of the case-level metrics together, drawn as
    one figure (one layout pass)."""
    per_case, table = report.per_case, report.table
    usable = per_case[(per_case["status"] != "failed") & per_case["value"].notna()]
    plotted = [m for m in metrics if m not in COUNT_METRICS and (per_case["metric"] == m).any()]
    case_level = [m for m in plotted if set(per_case.loc[per_case["metric"] == m, "class"]) == {"all"}]
    distance = set((report.summary.get("distance") or {}).get("metrics") or [])
    unit = (report.summary.get("units") or {}).get("distance", "")
    panels = []
    for metric in [m for m in plotted if m not in case_level]:
        groups = []
        for (cls, name), rows in usable[usable["metric"] == metric].groupby(["class", "class_name"], sort=False):
            groups.append((name if name == cls else f"{cls}: {name}", rows["value"].to_numpy(float), (cls, metric)))
        if groups:
            panels.append((metric + (f" ({unit})" if metric in distance and unit else ""), groups))
    if case_level:
        groups = [
            (m, usable.loc[(usable["metric"] == m) & (usable["class"] == "all"), "value"].to_numpy(float), ("all", m))
            for m in case_level
        ]
        panels.append(("case-level metrics", groups))
    if not panels or usable.empty:
        return []
    counts = "; ".join(
        f"{title}: {', '.join(f'{label} {len(v)}' for label, v, _ in groups)}" for title, groups in panels
    )
    return [
        {
            "title": "per-case values of each metric",
            "uri": figure_svg_uri(distribution_figure(panels, table)),
            "alt": "Distributions over cases, one panel per metric (boxes: quartiles, dots: cases, diamond: mean "
            f"with bootstrap interval, cross: pooled value). Cases per box: {counts}.",
        }
    ]


def distribution_figure(panels: list[tuple[str, list]], table: pd.DataFrame, columns: int = 3):
    """Box and points of each group, its mean with the bootstrap interval and its pooled value (from summary.csv)."""
    from segeval.report.html import new_figure

    width = max(len(groups) for _, groups in panels)
    cols = min(columns, len(panels))
    rows = math.ceil(len(panels) / cols)
    height = rows * 2.6
    figure = new_figure(cols * (1.4 + 0.75 * width), height, layout=None)
    figure.subplots_adjust(left=0.06, right=0.99, top=1 - 0.3 / height, bottom=0.6 / height, wspace=0.18, hspace=0.6)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    rng = np.random.default_rng(0)
    legend_done = False
    for ax, (title, groups) in zip(axes, panels):
        labels = _panel(ax, groups, table, rng)
        ax.set_title(plot_text(title), fontsize=9)
        if labels and not legend_done:
            ax.legend(fontsize=7, loc="lower left")
            legend_done = True
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    return figure


def _panel(ax, groups, table: pd.DataFrame, rng) -> bool:
    positions = np.arange(len(groups))
    values = [v[np.isfinite(v)] for _, v, _ in groups]
    grey = {"color": "#777777"}
    ax.boxplot(
        [v if v.size else [np.nan] for v in values],
        positions=positions,
        widths=0.5,
        showfliers=False,
        medianprops={"color": "#333333"},
        boxprops=grey,
        whiskerprops=grey,
        capprops=grey,
    )
    for x, v in zip(positions, values):
        jitter = x + rng.uniform(-0.18, 0.18, v.size)
        alpha = 0.45 if v.size > 50 else 0.8
        ax.scatter(jitter, v, s=6, color="#0072b2", alpha=alpha, linewidths=0, rasterized=v.size > 300)
    labelled = False
    for x, (_, _, (cls, metric)) in zip(positions, groups):
        row = table[(table["class"].astype(str) == cls) & (table["metric"] == metric)]
        if row.empty:
            continue
        row = row.iloc[0]
        mean, low, high = (_float(row.get(k)) for k in ("mean", "ci_low", "ci_high"))
        if math.isfinite(mean):
            error = [[max(0.0, mean - low)], [max(0.0, high - mean)]] if math.isfinite(low + high) else None
            label = None if labelled else "mean (bootstrap interval)"
            ax.errorbar(x + 0.33, mean, yerr=error, fmt="D", color="#d55e00", markersize=4, capsize=3, label=label)
        pooled = _float(row.get("pooled"))
        if math.isfinite(pooled):
            label = None if labelled else "pooled"
            ax.plot(x + 0.33, pooled, marker="x", color="black", markersize=6, linestyle="none", label=label)
        labelled = labelled or math.isfinite(mean) or math.isfinite(pooled)
    rotation = 20 if len(groups) > 3 else 0
    ax.set_xticks(positions, [plot_text(label) for label, _, _ in groups], fontsize=7, rotation=rotation)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", linewidth=0.3)
    return labelled


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# ----------------------------------------------------------------------------- tables


def summary_rows(table: pd.DataFrame) -> list[list[str]]:
    """summary.csv's rows for the page: class, name, metric, mean, interval, pooled, median, n, n_nan."""
    rows = []
    for _, row in table.iterrows():
        if row["metric"] in COUNT_METRICS:
            continue
        low, high = _float(row.get("ci_low")), _float(row.get("ci_high"))
        interval = f"[{number(low)}, {number(high)}]" if math.isfinite(low) and math.isfinite(high) else ""
        rows.append(
            [
                str(row["class"]),
                str(row["class_name"]),
                str(row["metric"]),
                number(_float(row["mean"])),
                interval,
                number(_float(row.get("pooled"))),
                number(_float(row.get("median"))),
                number(_float(row.get("n"))),
                number(_float(row.get("n_nan"))),
            ]
        )
    return rows


def case_table(report: ReportFolder, case_index: dict[str, int]) -> dict:
    """The per-case table's data: one row per (case, class): case, class, name, the case's status, its index
    in ``cases`` (for its details), then one value per metric (``None`` when empty). The page draws it."""
    per_case = report.per_case
    metrics = list(dict.fromkeys(m for m in per_case["metric"] if m not in COUNT_METRICS))
    shown = per_case[per_case["metric"].isin(metrics)]
    wide = shown.pivot_table(
        index=["case", "class", "class_name"], columns="metric", values="value", sort=False, dropna=False
    )
    wide = wide.reindex(columns=metrics)
    statuses = {str(entry["case"]): entry.get("status", "ok") for entry in report.summary.get("cases") or []}
    keys = shown[["case", "class", "class_name"]].drop_duplicates()
    values = wide.reindex(pd.MultiIndex.from_frame(keys)).to_numpy(float)
    rows = []
    for (case, cls, name), row in zip(keys.itertuples(index=False), values):
        numbers = [float(v) if math.isfinite(v) else None for v in row]
        rows.append([case, cls, name, statuses.get(case, "ok"), case_index.get(case), *numbers])
    classes = list(dict.fromkeys((cls, name) for _, cls, name in keys.itertuples(index=False)))
    return {
        "metrics": metrics,
        "data": {
            "columns": ["case", "class", "class_name", "status", "case_index", *metrics],
            "first_value": 5,
            "rows": rows,
        },
        "classes": classes,
        "statuses": sorted({row[3] for row in rows}),
        "first_value": 5,
        "n_rows": len(rows),
    }


def confusion_view(summary: dict) -> dict | None:
    """Row-normalised confusion matrix cells: share, count, background colour."""
    confusion = summary.get("confusion_matrix") or {}
    matrix = np.asarray(confusion.get("matrix") or [], dtype=float)
    labels = confusion.get("labels") or []
    if matrix.ndim != 2 or matrix.size == 0 or matrix.shape != (len(labels), len(labels)):
        return None
    names = summary.get("class_names") or [str(v) for v in labels]
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    rows = []
    for i, label in enumerate(labels):
        cells = []
        for j in range(len(labels)):
            share = float(shares[i, j])
            shade = round(255 - 200 * share)
            colour = (
                f"rgb({shade},{round(255 - 120 * share)},255)"
                if i == j
                else f"rgb(255,{shade},{round(255 - 170 * share)})"
            )
            cells.append({"share": share, "count": int(matrix[i, j]), "colour": colour, "dark": share > 0.6})
        rows.append({"label": label, "name": names[i] if i < len(names) else str(label), "cells": cells})
    return {"labels": labels, "names": names, "rows": rows}


def worst_view(report: ReportFolder, case_index: dict[str, int]) -> dict:
    """The worst cases with their thumbnails (as summary.json lists them), and the legend of the colours."""
    listed = report.summary.get("thumbnails")
    labels = report.summary.get("labels") or []
    names = report.summary.get("class_names") or []
    legend = [(f"reference {name}", class_colour(label)) for label, name in zip(labels, names)]
    over_images = any(isinstance(e, dict) and e.get("base") == "image" for e in (listed or {}).get("cases") or [])
    legend += [(what, colour) for what, colour in COLOURS.items() if over_images or what != "reference outline"]
    if not listed:
        return {"present": False, "cases": [], "failed": [], "legend": legend, "metric": None}
    metric = listed.get("metric", "dice")
    cls = listed.get("class")
    what = metric + (f"[{cls}]" if cls is not None else " (foreground mean)")

    def card(entry: dict) -> dict:
        case = str(entry.get("case"))
        data = report.thumbnails.get(entry.get("file"))
        slices = entry.get("slices") or None
        where = ", ".join(f"{view} {index}" for view, index in slices.items()) if isinstance(slices, dict) else ""
        return {
            "case": case,
            "index": case_index.get(case),
            "value": entry.get("value"),
            "uri": png_data_uri(data) if data else None,
            "slices": where,
            "volume": bool(slices),
            "alt": f"Overlay of case {case}: reference in grey, false negatives sky blue, false positives "
            f"vermillion, wrong class yellow" + (f"; slices {where}" if where else ""),
        }

    cases = [card(e) for e in listed.get("cases") or [] if isinstance(e, dict)]
    return {
        "present": True,
        "metric": what,
        "cases": cases,
        "failed": [card(e) for e in listed.get("failed") or [] if isinstance(e, dict)],
        "legend": legend,
        "volumes": any(c["volume"] for c in cases),
    }


def lesion_view(lesions: pd.DataFrame | None) -> dict | None:
    """``lesions.csv`` as a sortable table (its first rows when it is long)."""
    if lesions is None:
        return None
    shown = lesions.head(MAX_LESION_ROWS)
    return {
        "columns": [str(c) for c in shown.columns],
        "rows": [[number(v) if isinstance(v, float) else str(v) for v in row] for row in shown.itertuples(index=False)],
        "total": len(lesions),
    }


def case_details(summary: dict) -> list[dict]:
    """Each case's files, status, reading and geometry (the case details the page shows on request)."""
    out = []
    for entry in summary.get("cases") or []:
        spacing = entry.get("spacing_mm")
        out.append(
            {
                "case": str(entry.get("case")),
                "status": entry.get("status", ""),
                "prediction": entry.get("pred") or "",
                "ground truth": entry.get("gt") or "",
                "read as": entry.get("pred_kind") or "",
                "shape": "×".join(map(str, entry.get("shape") or [])),
                "spacing (mm)": "×".join(f"{s:g}" for s in spacing) if spacing else "",
                "notes": "; ".join([*(entry.get("notes") or []), *([entry["error"]] if entry.get("error") else [])]),
            }
        )
    return out
