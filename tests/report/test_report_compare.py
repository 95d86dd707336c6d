"""``segeval compare A B --html``: the page of the changes, regressions first, cases of one side listed."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from segeval.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Baseline: four perfect cases; current: case_1 and case_2 lose rows of foreground, case_3 is missing,
    ``<b>new`` exists only in the current report."""
    root = tmp_path_factory.mktemp("cmp")
    gt = np.zeros((20, 30), np.uint8)
    gt[4:16, 4:26] = 1
    for side in ("gts", "base", "cur"):
        (root / side).mkdir()
    for i in range(4):
        Image.fromarray(gt).save(root / "gts" / f"case_{i}.png")
        Image.fromarray(gt).save(root / "base" / f"case_{i}.png")
        pred = gt.copy()
        pred[4 : 4 + 3 * i, 4:26] = 0
        if i != 3:
            Image.fromarray(pred).save(root / "cur" / f"case_{i}.png")
    Image.fromarray(gt).save(root / "gts" / "<b>new.png")
    Image.fromarray(gt).save(root / "cur" / "<b>new.png")
    for preds, out in (("base", "A"), ("cur", "B")):
        args = ["score", str(root / preds), str(root / "gts"), "--out", str(root / out), "-f", "quiet"]
        result = runner.invoke(app, [*args, "--allow-missing", "--skip-missing"])
        assert result.exit_code == 0, result.output
    return root


def test_compare_page_lists_regressions_first_and_one_sided_cases(reports):
    page_path = reports / "cmp.html"
    result = runner.invoke(app, ["compare", str(reports / "A"), str(reports / "B"), "--html", str(page_path)])
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    assert "<b>new" not in page and "&lt;b&gt;new" in page
    one_side = page[page.index('id="one-side"') :]
    assert "case_3" in one_side.split("Only in the current report")[0]
    assert "&lt;b&gt;new" in one_side.split("Only in the current report")[1]
    changes = page[page.index('id="change-table"') : page.index('id="cases"')]
    first_row = re.search(r"<tbody>\s*<tr>(.*?)</tr>", changes, flags=re.S)[1]
    assert "worse" in first_row
    deltas = page[page.index('id="delta-table"') :]
    cases = re.findall(r"<tr><td>(case_\d)</td>", deltas)
    assert cases == ["case_2", "case_1", "case_0"]  # the largest drop of Dice first


def test_compare_html_into_a_folder_is_a_usage_error(reports):
    result = runner.invoke(app, ["compare", str(reports / "A"), str(reports / "B"), "--html", str(reports)])
    assert result.exit_code == 2 and "is a folder" in result.output
