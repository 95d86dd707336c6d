"""The confusion-matrix family end to end: opt-in by name, family or gate; the default reports unchanged;
``segeval metrics`` lists each entry with its empty branch; ignored pixels stay out of the clustering indices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.metrics.catalog import CATALOG, PARAMETRISED, Family

PNG = Path(__file__).resolve().parents[2] / "sample_data" / "png2d"
runner = CliRunner()

DEFAULT_METRICS = [
    "dice",
    "iou",
    "precision",
    "recall",
    "specificity",
    "volume_similarity",
    "tp",
    "fp",
    "fn",
    "tn",
    "ref_volume",
    "pred_volume",
    "pixel_accuracy",
    "mean_pixel_accuracy",
    "miou",
    "fwiou",
    "mean_dice",
]
CM_NAMES = [spec.name for spec in CATALOG if spec.family is Family.CM]


def _score(out: Path, *args: str) -> int:
    result = runner.invoke(
        app, ["score", str(PNG / "preds"), str(PNG / "gts"), "--out", str(out), "-f", "quiet", *args]
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cm")
    codes = {
        "default": _score(root / "default"),
        "cm": _score(root / "cm", "--metrics", "cm,fbeta2,dice_macro,mcc_weighted,iou_micro"),
        "gate": _score(root / "gate", "--gate", "mcc>=0.5"),
        "failing": _score(root / "failing", "--gate", "mcc.min>=0.99"),
    }
    return root, codes


def test_the_default_reports_hold_only_the_default_metrics(runs):
    root, codes = runs
    per_case = pd.read_csv(root / "default" / "per_case.csv")
    assert list(dict.fromkeys(per_case["metric"])) == DEFAULT_METRICS
    summary = pd.read_csv(root / "default" / "summary.csv")
    assert list(dict.fromkeys(summary["metric"])) == DEFAULT_METRICS and codes["default"] == 0


def test_asking_for_the_family_adds_rows_and_changes_none_of_the_default_ones(runs):
    root, _ = runs
    default = (root / "default" / "per_case.csv").read_text().splitlines()
    cm = (root / "cm" / "per_case.csv").read_text().splitlines()
    extra = {"fbeta2", "dice_macro", "mcc_weighted", "iou_micro", *CM_NAMES}
    assert [line for line in cm if line.split(",")[3] not in extra] == default  # the same bytes, row for row
    computed = set(pd.read_csv(root / "cm" / "per_case.csv")["metric"])
    assert extra <= computed
    summary = pd.read_csv(root / "cm" / "summary.csv").set_index(["class", "metric"])
    default_summary = pd.read_csv(root / "default" / "summary.csv").set_index(["class", "metric"])
    pd.testing.assert_frame_equal(summary.loc[default_summary.index], default_summary)
    assert summary.loc[("all", "dice_macro"), "mean"] == pytest.approx(summary.loc[("all", "mean_dice"), "mean"])


def test_a_gate_computes_its_metric_and_decides_the_exit_code(runs):
    root, codes = runs
    assert codes["gate"] == 0 and codes["failing"] == 1
    metrics = set(pd.read_csv(root / "gate" / "per_case.csv")["metric"])
    assert "mcc" in metrics and "kappa" not in metrics
    gates = json.loads((root / "gate" / "summary.json").read_text())["gates"]["results"]
    assert gates[0]["metric"] == "mcc" and gates[0]["passed"] and 0.5 < gates[0]["value"] <= 1


@pytest.mark.parametrize("name", ["fbeta0", "tp_macro", "kappa_sometimes"])
def test_a_bad_name_is_a_usage_error(name, tmp_path):
    result = runner.invoke(app, ["score", str(PNG / "preds"), str(PNG / "gts"), "--metrics", name])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_segeval_metrics_lists_every_new_entry_with_its_empty_branch():
    result = runner.invoke(app, ["metrics", "--format", "json"])
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for spec in (*(s for s in CATALOG if s.family is Family.CM), *PARAMETRISED):
        row = rows[spec.name]
        assert row["empty"] and row["formula"] and row["reference"] and row["direction"], spec.name
    assert rows["mcc"]["range"] == [-1, 1] and rows["relative_volume_difference"]["direction"] == "target(0)"
    for name in ("masd", "hd_pred_to_gt", "hd_gt_to_pred", "hdNN_pred_to_gt", "fbetaB", "METRIC_weighted"):
        assert name in rows
    table = runner.invoke(app, ["metrics"], env={"COLUMNS": "400"}).stdout
    assert "empty masks" in table and "global_consistency_error" in table


def test_ignored_pixels_stay_out_of_the_clustering_indices(tmp_path):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    gt = np.repeat(np.repeat(rng.integers(0, 3, (6, 7)), 4, 0), 4, 1).astype(np.uint8)
    pred = gt.copy()
    noise = rng.random(gt.shape) < 0.2
    pred[noise] = rng.integers(0, 3, int(noise.sum()))
    gt[rng.random(gt.shape) < 0.1] = 255
    for side, array in (("preds", pred), ("gts", gt)):
        (tmp_path / side).mkdir()
        np.save(tmp_path / side / "case.npy", array)
    result = segeval.score(tmp_path / "preds", tmp_path / "gts", labels=(0, 1, 2), ignore_index=255, metrics=["cm"])
    kept = gt != 255
    expected = {
        "adjusted_rand_index": sk.adjusted_rand_score(gt[kept], pred[kept]),
        "mutual_information": sk.mutual_info_score(gt[kept], pred[kept]),
        "multiclass_kappa": sk.cohen_kappa_score(gt[kept], pred[kept]),
    }
    for name, value in expected.items():
        assert result.metric(name) == pytest.approx(value, rel=1e-12), name
