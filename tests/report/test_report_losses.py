"""Loss pages and the sweep figure: small multiples per loss family, curves that a legend can pick out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from typer.testing import CliRunner

from segeval.analysis import plots
from segeval.analysis.sweep import run_sweep
from segeval.cli import app
from segeval.losses.catalog import loss_spec

ROOT = Path(__file__).resolve().parents[2]
LOSSES = ["bce", "ce", "nll", "dice", "iou", "boundary", "combo"]


@pytest.fixture(scope="module")
def sweep():
    return run_sweep(shape=(32, 32), losses=LOSSES, degradations=["shift", "dilate"])


def test_sweep_figure_has_one_row_per_family_and_distinct_colours_within_a_row(sweep):
    figure = plots.sweep_lines(sweep.table)
    families = plots.loss_families(LOSSES)
    assert list(families) == ["distribution", "region", "boundary", "compound"]
    rows = [figure.axes[i * 2 : i * 2 + 2] for i in range(len(families))]
    for (family, names), axes in zip(families.items(), rows):
        for ax, degradation in zip(axes, ["shift", "dilate"]):
            gids = {line.get_gid(): to_hex(line.get_color()) for line in ax.get_lines() if line.get_gid()}
            losses = {gid[2:].split("--")[0] for gid in gids} - {"hard_dice", "hd95"}
            assert losses == set(names)
            assert all(loss_spec(name).family.value == family for name in losses)
            colours = [gids[f"c-{name}--{degradation}"] for name in names]
            assert len(set(colours)) == len(colours)  # bce, ce and nll can be told apart


def test_sweep_page_carries_curve_ids_and_a_legend_per_family(sweep, tmp_path):
    from segeval.report.html_losses import write_sweep_page

    page = write_sweep_page(sweep, tmp_path / "sweep.html").read_text()
    for name in LOSSES:
        assert f'id="c-{name}--shift"' in page and f'data-curve="{name}"' in page
    assert len(re.findall(r'class="legend" data-figure="sweep-lines"', page)) == 4


def test_losses_analyze_html_explains_the_share_bars(tmp_path):
    page = tmp_path / "analysis.html"
    data = ROOT / "sample_data" / "npy_probs"
    args = ["losses", "analyze", str(data / "preds"), str(data / "gts"), "--loss", "dice"]
    result = CliRunner().invoke(app, [*args, "--html", str(page), "-f", "quiet"])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "The dashed lines mark the share of pixels" in text and 'id="loss-table"' in text
