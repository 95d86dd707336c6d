"""The HTML pages of ``segeval losses analyze --html`` and ``segeval losses sweep --html``.

Views of the analysis and sweep results (the same tables their report folders hold): the gradient-share
bars with their reference lines explained, the heat maps and the anatomy table; the sweep as small
multiples per loss family (inline SVG whose curves a legend shows one at a time, hover names a curve),
the response matrix and the degraded examples.
"""

from __future__ import annotations

from pathlib import Path

from segeval.report.html import figure_png, figure_svg, figure_svg_uri, number, render_page, write_page

SHARE_CAPTION = (
    "Share of the gradient magnitude |dL/dz| that each loss puts on foreground vs background pixels (left), "
    "on hard vs easy pixels (middle: p_t, the predicted probability of the reference class, below the "
    "threshold) and by distance to the reference boundary (right). The dashed lines mark the share of pixels "
    "that are foreground (left) and hard (middle): where a loss that weighs every pixel alike would sit. A bar "
    "reaching past its line puts more than its pixel share of gradient there."
)


def write_analysis_page(result, path: str | Path) -> Path:
    """Write the page of a :class:`segeval.analysis.analyze.AnalysisResult` to ``path`` (atomically)."""
    from segeval.analysis import plots
    from segeval.report.schema import versions

    summary = result.summary
    columns = [c for c in summary.columns if c != "status"]
    share = None
    if (summary["n"] > 0).any():
        share = {"uri": figure_svg_uri(plots.share_chart(summary, result.options)), "caption": SHARE_CAPTION}
    heatmaps = None
    if result.maps is not None and result.maps.magnitudes:
        where = result.maps.case + (f", slice {result.maps.slice_index}" if result.maps.slice_index is not None else "")
        heatmaps = {"uri": figure_png(plots.gradient_heatmaps(result.maps)), "case": where}
    document = result.to_dict()
    return write_page(
        path,
        render_page(
            "losses.html.j2",
            title="segeval loss analysis",
            version=document["segeval_version"],
            created=document["created"],
            kind="analysis",
            facts=[(k, v) for k, v in (result.inputs or {}).items() if v is not None]
            + [
                ("cases", f"{len(result.cases)} ({len(result.failed)} failed)"),
                ("losses", str(len(result.losses))),
                ("hard pixel", document["definitions"]["hard"]),
                ("distance bands", ", ".join(f"{b:g}" for b in result.options.bands_mm) + f" {result.options.unit}"),
            ],
            definitions=list(document["definitions"].items()),
            share=share,
            heatmaps=heatmaps,
            table={"columns": columns, "rows": _rows(summary[columns])},
            failed=[(entry["case"], entry["error"]) for entry in document["failed"]],
            sweep=None,
            warnings=result.warnings,
            versions=list(versions().items()),
        ),
    )


def write_sweep_page(result, path: str | Path) -> Path:
    """Write the page of a :class:`segeval.analysis.sweep.SweepResult` to ``path`` (atomically)."""
    from matplotlib import colormaps

    from segeval.analysis import plots
    from segeval.report.schema import versions

    table = result.table
    document = result.to_dict()
    families = plots.loss_families(table.loc[table["kind"] == "loss", "name"])
    palette = colormaps["tab10"]
    legends = [
        {
            "family": family,
            "curves": [
                (name, _hex(palette(i % 10)), ["solid", "dashed", "dotted"][(i // 10) % 3])
                for i, name in enumerate(names)
            ],
        }
        for family, names in families.items()
    ]
    ok = table[table["status"] == "ok"]
    strongest = ok[ok["level_index"] == ok.groupby("degradation")["level_index"].transform("max")]
    matrix = strongest.pivot_table(index=["kind", "name"], columns="degradation", values="response", sort=False)
    matrix = matrix.reindex(columns=[d for d in dict.fromkeys(table["degradation"]) if d in matrix.columns])
    matrix = matrix.reset_index().drop(columns="kind")
    sweep = {
        "svg": figure_svg(plots.sweep_lines(table)),
        "legends": legends,
        "matrix": figure_svg_uri(plots.sweep_matrix(table)),
        "examples": figure_png(plots.sweep_examples(result.examples)) if result.examples else None,
    }
    return write_page(
        path,
        render_page(
            "losses.html.j2",
            title="segeval loss sweep",
            version=document["segeval_version"],
            created=document["created"],
            kind="sweep",
            facts=[
                ("reference", document["source"]),
                ("shape", "×".join(map(str, document["shape"]))),
                ("spacing (mm)", "×".join(f"{s:g}" for s in document["spacing_mm"])),
                ("losses", str(len(result.losses))),
            ],
            definitions=list(document["definitions"].items()),
            share=None,
            heatmaps=None,
            table={"columns": list(matrix.columns), "rows": _rows(matrix)},
            failed=[],
            sweep=sweep,
            warnings=[],
            versions=list(versions().items()),
        ),
    )


def _rows(frame) -> list[list[str]]:
    """Table cells: numbers by :func:`segeval.report.html.number` (NaN empty), anything else as text."""
    return [[number(v) if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]


def _hex(rgba) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])
