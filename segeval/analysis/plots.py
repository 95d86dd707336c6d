"""Figures of the loss analyses, drawn with matplotlib's Agg canvas.

Figures are built as :class:`matplotlib.figure.Figure` objects on an Agg canvas (never through
``pyplot``), so the global backend of the calling program is left alone. :func:`save_figure`
writes them as palette PNGs (256 colours) atomically: a temporary file beside the target, then a
rename.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from segeval.report.html import new_figure
from segeval.status import Status

__all__ = [
    "bench_chart",
    "gradient_heatmaps",
    "save_figure",
    "share_chart",
    "sweep_examples",
    "sweep_lines",
    "sweep_matrix",
]


def save_figure(figure, path: str | Path) -> Path:
    """Render ``figure`` and write it to ``path`` as a 256-colour PNG, atomically."""
    from PIL import Image

    path = Path(path)
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3])).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG", optimize=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _grid(n: int, columns: int) -> tuple[int, int]:
    columns = max(1, min(columns, n))
    return math.ceil(n / columns), columns


def gradient_heatmaps(maps, *, columns: int = 6, dynamic_range: float = 1e4):
    """Per-pixel gradient magnitude of each loss beside the reference and the prediction.

    Each loss panel is scaled to its own maximum (colour = :math:`m_i / \\max_j m_j` on a log
    scale over ``dynamic_range``); the white line is the reference boundary.

    Parameters
    ----------
    maps : segeval.analysis.analyze.CaseMaps
    """
    from matplotlib.colors import LogNorm

    names = list(maps.magnitudes)
    rows, cols = _grid(len(names) + 2, columns)
    height, width = maps.reference.shape
    aspect = maps.spacing_mm[0] / maps.spacing_mm[1]
    panel = 1.9
    figure = new_figure(cols * panel + 0.8, rows * panel * min(2.0, max(0.5, height * aspect / width)) + 0.5)
    axes = figure.subplots(rows, cols, squeeze=False)
    where = f"{maps.case}" + (f", slice {maps.slice_index}" if maps.slice_index is not None else "")
    figure.suptitle(f"|dL/dz| per pixel ({where}); each panel scaled to its own maximum", fontsize=9)
    levels = np.unique(maps.reference)
    contour_levels = (levels[:-1] + levels[1:]) / 2.0 if levels.size > 1 else None
    ax_list = axes.ravel()
    ax_list[0].imshow(maps.reference, cmap="tab10", vmin=0, vmax=9, interpolation="nearest", aspect=aspect)
    ax_list[0].set_title("reference", fontsize=8)
    ax_list[1].imshow(maps.foreground_probability, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect=aspect)
    ax_list[1].set_title("prediction: P(foreground)", fontsize=8)
    image = None
    for ax, name in zip(ax_list[2:], names):
        magnitude = maps.magnitudes[name]
        top = float(magnitude.max())
        shown = magnitude / top if top > 0 else np.zeros_like(magnitude)
        image = ax.imshow(
            np.clip(shown, 1.0 / dynamic_range, 1.0),
            cmap="magma",
            norm=LogNorm(vmin=1.0 / dynamic_range, vmax=1.0),
            interpolation="nearest",
            aspect=aspect,
        )
        ax.set_title(name if top > 0 else f"{name} (zero)", fontsize=8)
    for ax in ax_list[: len(names) + 2]:
        if contour_levels is not None:
            ax.contour(maps.reference, levels=contour_levels, colors="white", linewidths=0.5, alpha=0.8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in ax_list[len(names) + 2 :]:
        ax.set_axis_off()
    if image is not None:
        bar = figure.colorbar(image, ax=axes, shrink=0.6, pad=0.01)
        bar.set_label("|dL/dz| / max (log)", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return figure


def _stacked(ax, labels: list[str], parts: list[np.ndarray], names: list[str], colors, title: str) -> None:
    y = np.arange(len(labels))
    left = np.zeros(len(labels))
    for values, name, color in zip(parts, names, colors):
        values = np.nan_to_num(np.asarray(values, dtype=float))
        ax.barh(y, values, left=left, color=color, label=name, height=0.75)
        left += values
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(
        fontsize=6,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.5 / max(len(labels), 1) - 0.02),
        ncols=min(len(names), 4),
        frameon=False,
    )


def share_chart(summary: pd.DataFrame, options):
    """Share of the gradient magnitude per loss: FG vs BG, hard vs easy, and by distance band.

    ``summary`` is :func:`segeval.analysis.analyze.summarize_anatomy`'s table (means over cases);
    the dashed lines mark the share of pixels (``fg_fraction``, ``hard_fraction``), where a loss
    that weighs every pixel alike would sit.
    """
    from matplotlib import colormaps

    table = summary[summary["n"] > 0]
    labels = table["loss"].tolist()
    figure = new_figure(10.5, 1.8 + 0.2 * len(labels))
    axes = figure.subplots(1, 3, sharey=True)
    _stacked(
        axes[0],
        labels,
        [table["fg_share"], table["bg_share"]],
        ["foreground", "background"],
        ["#d95f02", "#7570b3"],
        "share of |dL/dz|: FG vs BG",
    )
    _stacked(
        axes[1],
        labels,
        [table["hard_share"], table["easy_share"]],
        [f"hard (p_t < {options.hard_threshold:g})", "easy"],
        ["#e7298a", "#66a61e"],
        "share of |dL/dz|: hard vs easy",
    )
    bands = options.band_names()
    colors = colormaps["viridis"](np.linspace(0.0, 0.9, len(bands)))
    _stacked(
        axes[2],
        labels,
        [table[b] for b in bands],
        [b.removeprefix("band_") for b in bands],
        colors,
        "share of |dL/dz| by distance to boundary",
    )
    for ax, column in ((axes[0], "fg_fraction"), (axes[1], "hard_fraction")):
        if column in table and table[column].notna().any():
            ax.axvline(float(table[column].mean()), color="black", linestyle="--", linewidth=0.8)
    return figure


def _response_scale(values: pd.Series) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.abs().max()) if len(finite) else 0.0


def sweep_lines(table: pd.DataFrame):
    """Small multiples: one row of panels per loss family, one column per degradation; in each panel the
    family's losses (colours repeat only across families) and, in black, 1 - Dice (dashed) and HD95 (dotted).

    ``table`` is :class:`segeval.analysis.sweep.SweepResult`'s ``table``; ``response`` is scaled per
    loss so that its largest reaction over the whole sweep is 1, and is positive when the prediction
    looks worse (the hard Dice's sign is flipped; see :mod:`segeval.analysis.sweep`). Each line carries
    the id ``c-NAME--DEGRADATION`` in SVG output, for the HTML page's legend.
    """
    from matplotlib import colormaps

    degradations = list(dict.fromkeys(table["degradation"]))
    families = loss_families(table.loc[table["kind"] == "loss", "name"])
    metrics = list(dict.fromkeys(table.loc[table["kind"] == "metric", "name"]))
    palette = colormaps["tab10"](np.arange(10))
    rows, cols = max(1, len(families)), len(degradations)
    figure = new_figure(cols * 2.5 + 2.4, rows * 2.1 + 0.5)
    axes = figure.subplots(rows, cols, squeeze=False, sharex="col", sharey=True)
    ok = table[table["status"] == Status.OK.value]
    lowest = pd.to_numeric(ok["response"], errors="coerce").min()
    bottom = min(-0.1, float(lowest) - 0.05) if np.isfinite(lowest) else -1.05
    for row, (family, names) in enumerate(families.items() or [("", [])]):
        handles = {}
        for col, degradation in enumerate(degradations):
            ax = axes[row, col]
            part = ok[ok["degradation"] == degradation]
            curves = [("loss", name, i) for i, name in enumerate(names)] + [("metric", m, 0) for m in metrics]
            for kind, name, index in curves:
                curve = part[(part["kind"] == kind) & (part["name"] == name)]
                if curve.empty:
                    continue
                if kind == "loss":
                    style = dict(
                        color=palette[index % 10], linestyle=["-", "--", ":"][(index // 10) % 3], linewidth=1.1
                    )
                else:
                    style = dict(color="black", linestyle="--" if name == "hard_dice" else ":", linewidth=1.6)
                (line,) = ax.plot(curve["level"], curve["response"], marker=".", markersize=3, **style)
                line.set_gid(f"c-{name}--{degradation}")
                handles[name if kind == "loss" else f"{name} (metric)"] = line
            ax.axhline(0, color="grey", linewidth=0.5)
            if degradation == "imbalance":
                ax.set_xscale("log")
                if row == 0:
                    ax.invert_xaxis()
            if row == rows - 1:
                ax.set_xlabel(
                    "foreground fraction" if degradation == "imbalance" else _level_unit(degradation), fontsize=8
                )
            if row == 0:
                ax.set_title(degradation, fontsize=9)
            ax.set_ylim(bottom, 1.05)
            ax.tick_params(labelsize=7)
        axes[row, 0].set_ylabel(f"{family}\nresponse", fontsize=8)
        axes[row, -1].legend(
            list(handles.values()),
            list(handles),
            fontsize=6,
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
            frameon=False,
        )
    return figure


def loss_families(names) -> dict[str, list[str]]:
    """Loss names grouped by catalog family, in catalog family order (an unknown name goes to ``other``)."""
    from segeval.errors import UnknownNameError
    from segeval.losses.catalog import loss_spec

    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        try:
            family = loss_spec(name).family.value
        except UnknownNameError:  # a table from another version of the catalog
            family = "other"
        groups.setdefault(family, []).append(name)
    order = ["distribution", "region", "boundary", "compound", "other"]
    return {family: groups[family] for family in sorted(groups, key=lambda f: order.index(f) if f in order else 99)}


def _level_unit(degradation: str) -> str:
    return {
        "shift": "shift (px)",
        "erode": "erosion (px)",
        "dilate": "dilation (px)",
        "fp_blobs": "false-positive blobs",
        "drop_object": "small objects dropped",
    }.get(degradation, "level")


def sweep_matrix(table: pd.DataFrame):
    """Losses × degradations: the response at each degradation's strongest level (red = worse)."""
    degradations = list(dict.fromkeys(table["degradation"]))
    keys = list(dict.fromkeys(zip(table["kind"], table["name"])))
    names = [name if kind == "loss" else f"{name} (metric)" for kind, name in keys]
    values = np.full((len(names), len(degradations)), np.nan)
    for j, degradation in enumerate(degradations):
        part = table[(table["degradation"] == degradation) & (table["status"] == Status.OK.value)]
        if part.empty:
            continue
        last = part[part["level_index"] == part["level_index"].max()]
        for i, (kind, name) in enumerate(keys):
            hit = last[(last["kind"] == kind) & (last["name"] == name)]["response"]
            if len(hit):
                values[i, j] = float(hit.iloc[0])
    figure = new_figure(2.4 + 0.9 * len(degradations), 1.6 + 0.2 * len(names))
    ax = figure.subplots()
    image = ax.imshow(values, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(degradations)), degradations, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    for i in range(len(names)):
        for j in range(len(degradations)):
            if np.isfinite(values[i, j]):
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=5.5,
                    color="white" if abs(values[i, j]) > 0.6 else "black",
                )
    ax.set_title("response at the strongest level", fontsize=9)
    figure.colorbar(image, ax=ax, shrink=0.5).ax.tick_params(labelsize=7)
    return figure


def sweep_examples(examples: dict[str, tuple[np.ndarray, np.ndarray]]):
    """One panel per degradation at its strongest level: prediction in grey, reference outlined in red."""
    names = list(examples)
    rows, cols = _grid(len(names), 6)
    figure = new_figure(cols * 1.7 + 0.2, rows * 1.8 + 0.3)
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        reference, prediction = examples[name]
        ax.imshow(prediction, cmap="gray_r", vmin=0, vmax=1.6, interpolation="nearest")
        if reference.any() and not reference.all():
            ax.contour(reference.astype(float), levels=[0.5], colors="red", linewidths=0.6)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    figure.suptitle("strongest level of each degradation (grey: prediction, red: reference)", fontsize=8)
    return figure


def bench_chart(table: pd.DataFrame):
    """Median forward+backward time (IQR as error bars) and peak memory per loss, one bar per shape.

    Losses that run a CPU distance transform are marked with ``*``.
    """
    from matplotlib import colormaps

    ok = table[table["status"] == Status.OK.value]
    losses = list(dict.fromkeys(ok["loss"]))
    shapes = list(dict.fromkeys(ok["shape"]))
    marked = {row["loss"]: bool(row["cpu_transform"]) for _, row in ok.iterrows()}
    labels = [f"{name} *" if marked.get(name) else name for name in losses]
    colors = colormaps["tab10"](np.arange(len(shapes)) % 10)
    figure = new_figure(10.0, 1.2 + 0.22 * len(losses) * max(1, len(shapes)) ** 0.5)
    axes = figure.subplots(1, 2, sharey=True)
    height = 0.8 / max(1, len(shapes))
    y = np.arange(len(losses))
    for k, shape in enumerate(shapes):
        part = ok[ok["shape"] == shape].set_index("loss").reindex(losses)
        offset = y + (k - (len(shapes) - 1) / 2) * height
        error = np.vstack(
            [
                (part["median_ms"] - part["q25_ms"]).clip(lower=0).to_numpy(float),
                (part["q75_ms"] - part["median_ms"]).clip(lower=0).to_numpy(float),
            ]
        )
        device = part["device"].dropna().iloc[0] if part["device"].notna().any() else ""
        axes[0].barh(
            offset,
            part["median_ms"],
            height=height,
            xerr=error,
            color=colors[k],
            label=f"{shape} ({device})",
            error_kw={"linewidth": 0.6},
        )
        axes[1].barh(offset, part["peak_mb"], height=height, color=colors[k])
    from matplotlib.ticker import NullFormatter

    axes[0].set_xscale("log")
    axes[0].set_xlabel("forward + backward, median ms (log)", fontsize=8)
    if (ok["peak_mb"].astype(float) > 0).any():
        axes[1].set_xscale("log")
        axes[1].set_xlabel("peak memory, MiB (log)", fontsize=8)
    else:  # --no-memory
        axes[1].set_xlabel("peak memory: not measured", fontsize=8)
    for ax in axes:
        ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].invert_yaxis()
    for ax in axes:
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", linewidth=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    axes[0].set_title("time per loss (* = CPU distance transform)", fontsize=9)
    axes[1].set_title("memory per loss", fontsize=9)
    return figure
