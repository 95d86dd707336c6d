"""Loss reports say what happened (docs/losses.md, docs/loss-analysis.md).

Rules: ``n_failed`` of ``segeval losses`` and ``segeval losses analyze`` counts the cases that could not
be read or prepared, so it equals the number of cases when every case failed; the reason names the
prediction file and says it holds a label map; the distance bands are named in pixels when the data
has no spacing and in mm when it has one.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app

runner = CliRunner()


@pytest.fixture
def label_map_predictions(files, make_labels):
    """Two cases whose predictions are label maps, not probability maps."""
    for i in range(2):
        labels = (make_labels(i) == 1).astype(np.int64)
        files.npy(f"gts/c{i}.npy", labels)
        files.npy(f"preds/c{i}.npy", labels)
    return files.root


@pytest.mark.parametrize("command", [["losses"], ["losses", "analyze"]])
def test_when_every_case_fails_every_loss_counts_them(label_map_predictions, command):
    root = label_map_predictions
    arguments = [*command, str(root / "preds"), str(root / "gts"), "-l", "dice", "-l", "ce", "--format", "json"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)["summary"]
    assert [row["n_failed"] for row in summary] == [2, 2]
    reasons = [line for line in result.stderr.splitlines() if line.startswith("failed: c0: ")]
    assert len(reasons) == 1
    assert str(root / "preds" / "c0.npy") in reasons[0] and "label map" in reasons[0], reasons


@pytest.mark.parametrize("spacing, unit", [([], "px"), (["--spacing", "0.5"], "mm")])
def test_distance_bands_are_named_in_the_unit_of_the_data(files, make_labels, spacing, unit):
    for i in range(2):
        reference = make_labels(i) == 1
        probability = np.where(np.roll(reference, 1, axis=1), 0.8, 0.1).astype(np.float32)
        files.npy(f"gts/c{i}.npy", reference.astype(np.uint8))
        files.npy(f"preds/c{i}.npy", probability)
    arguments = ["losses", "analyze", str(files.root / "preds"), str(files.root / "gts"), "-l", "dice", *spacing]
    result = runner.invoke(app, [*arguments, "--bands", "1,3", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    bands = [key for key in document["summary"][0] if key.startswith("band_")]
    assert bands == [f"band_0-1{unit}", f"band_1-3{unit}", f"band_>3{unit}"]
    assert document["definitions"]["distance"].startswith(unit)
    table = runner.invoke(app, [*arguments, "--bands", "1,3"], env={"COLUMNS": "200"})
    assert f"band_0-1{unit}" in table.stdout
