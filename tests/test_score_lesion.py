"""Lesion-wise metrics through ``segeval score``: opt-in, per-case values, pooled values, gates and lesions.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.metrics.lesion import LesionOptions, lesion_metrics
from segeval.options import LesionPreset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "lesions3d"


def _write(path: Path, array: np.ndarray, spacing=(1.0, 1.0, 1.5)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))


@pytest.fixture
def two_cases(tmp_path):
    """Case a: label 1 with two lesions (one found, one missed) and a false positive; label 2 absent from both.
    Case b: label 1 found exactly, label 2 with one lesion found."""
    gt_a, pred_a = np.zeros((12, 24, 24), np.uint8), np.zeros((12, 24, 24), np.uint8)
    gt_a[2:6, 2:8, 2:8] = 1
    gt_a[2:6, 14:20, 14:20] = 1
    pred_a[2:6, 2:8, 3:8] = 1
    pred_a[8:10, 2:4, 20:22] = 1
    gt_b, pred_b = np.zeros((12, 24, 24), np.uint8), np.zeros((12, 24, 24), np.uint8)
    gt_b[3:7, 3:9, 3:9] = 1
    pred_b[3:7, 3:9, 3:9] = 1
    gt_b[7:11, 14:20, 14:20] = 2
    pred_b[7:11, 14:20, 15:21] = 2
    for name, gt, pred in (("a", gt_a, pred_a), ("b", gt_b, pred_b)):
        _write(tmp_path / "gts" / f"{name}.nii.gz", gt)
        _write(tmp_path / "preds" / f"{name}.nii.gz", pred)
    return tmp_path, {"a": (pred_a, gt_a), "b": (pred_b, gt_b)}


def _value(result, case, cls, metric):
    rows = result.per_case
    row = rows[(rows["case"] == case) & (rows["class"] == str(cls)) & (rows["metric"] == metric)]
    return float(row["value"].iloc[0]), row["status"].iloc[0]


def test_default_run_has_no_lesion_metric(two_cases):
    folder, _ = two_cases
    result = segeval.score(folder / "preds", folder / "gts")
    assert not result.per_case["metric"].str.startswith("lesion").any()
    assert result.lesions is None
    assert sorted(p.name for p in result.write(folder / "out").values()) == [
        "per_case.csv",
        "summary.csv",
        "summary.json",
    ]


def test_per_case_values_are_the_kernel_values(two_cases):
    folder, arrays = two_cases
    result = segeval.score(folder / "preds", folder / "gts", metrics=["lesion"], labels=[0, 1, 2])
    for case, (pred, gt) in arrays.items():
        for label in (1, 2):
            expected = lesion_metrics(pred == label, gt == label, (1.5, 1.0, 1.0)).values
            for name in ("lesion_tp", "lesion_fp", "lesion_fn", "lesion_f1", "pq", "lesion_dice", "lesion_hd95"):
                value, status = _value(result, case, label, name)
                np.testing.assert_equal(value, expected[name][0])
                assert status == expected[name][1]
    # label 2 is absent from both masks of case a: counts 0, ratios NaN (both_empty)
    assert _value(result, "a", 2, "lesion_tp") == (0.0, "ok")
    assert np.isnan(_value(result, "a", 2, "lesion_f1")[0])
    # the background is not computed (include_background off)
    assert not ((result.per_case["class"] == "0") & (result.per_case["metric"] == "lesion_f1")).any()


def test_pooled_values_come_from_summed_counts(two_cases):
    folder, _ = two_cases
    result = segeval.score(folder / "preds", folder / "gts", metrics=["lesion_f1", "lesion_recall", "lesion_tp"])
    summary = result.summary.set_index(["class", "metric"])
    # label 1: case a TP 1, FN 1, FP 1; case b TP 1 -> recall 2/3, precision 2/3, F1 2/3; mean of F1 (0.5 + 1) / 2
    assert summary.loc[("1", "lesion_recall"), "pooled"] == pytest.approx(2 / 3)
    assert summary.loc[("1", "lesion_f1"), "pooled"] == pytest.approx(2 / 3)
    assert summary.loc[("1", "lesion_f1"), "mean"] == pytest.approx(0.75)
    assert summary.loc[("1", "lesion_tp"), "pooled"] == 2
    assert result.metric("lesion_f1", 1, statistic="pooled") == pytest.approx(2 / 3)
    assert set(result.per_case["metric"]) >= {"lesion_f1", "lesion_recall", "lesion_tp"}
    assert "lesion_dice" not in set(result.per_case["metric"])  # only what was named


def test_gates_ask_for_lesion_metrics(two_cases):
    folder, _ = two_cases
    result = segeval.score(folder / "preds", folder / "gts", gates=["lesion_f1[1]>=0.7", "lesion_f1[1].pooled>=0.7"])
    mean, pooled = result.gates
    assert (mean.value, mean.passed) == (pytest.approx(0.75), True)
    assert (pooled.value, pooled.passed) == (pytest.approx(2 / 3), False)


def test_brats_preset_scores_absent_classes_as_perfect(two_cases):
    folder, arrays = two_cases
    result = segeval.score(
        folder / "preds", folder / "gts", metrics=["lesion_dice", "lesion_hd95"], lesion_preset="brats2023-gli"
    )
    assert _value(result, "a", 2, "lesion_dice") == (1.0, "both_empty")
    assert _value(result, "a", 2, "lesion_hd95") == (0.0, "both_empty")
    pred, gt = arrays["a"]
    expected = lesion_metrics(pred == 1, gt == 1, (1.5, 1.0, 1.0), LesionOptions.preset(LesionPreset.BRATS2023_GLI))
    assert _value(result, "a", 1, "lesion_dice")[0] == pytest.approx(expected.values["lesion_dice"][0])


def test_lesions_csv_beside_per_case_csv(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["score", str(SAMPLE / "preds"), str(SAMPLE / "gts"), "--metrics", "lesion", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    lesions = pd.read_csv(out / "lesions.csv")
    assert list(lesions.columns[:5]) == ["case", "class", "class_name", "side", "lesion_id"]
    assert set(lesions["status"]) <= {"matched", "missed", "false_positive", "ignored"}
    assert {"matched", "missed", "false_positive"} <= set(lesions["status"])
    # volumes in mm³: 1 × 1 × 1.5 mm voxels
    np.testing.assert_allclose(lesions["volume_mm3"], lesions["volume_voxels"] * 1.5)
    per_case = pd.read_csv(out / "per_case.csv")
    tp = per_case[per_case["metric"] == "lesion_tp"].set_index(["case", "class"])["value"]
    matched = lesions[(lesions["side"] == "reference") & (lesions["status"] == "matched")]
    found = matched.groupby(["case", lesions["class"].astype(str)]).size()
    assert found.to_dict() == tp[tp > 0].astype(int).to_dict()
    assert "lesions.csv" in (out / "summary.json").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lesion-connectivity", "8"], "--lesion-connectivity 8 does not fit 3-D"),
        (["--lesion-dilation", "2", "--lesion-dilation-mm", "3"], "not both"),
        (["--lesion-matching", "best"], "--lesion-matching expects one of overlap, iou, assignment"),
    ],
)
def test_bad_lesion_options_are_one_line_errors(args, message):
    result = CliRunner().invoke(
        app, ["score", str(SAMPLE / "preds"), str(SAMPLE / "gts"), "--metrics", "lesion_f1", *args]
    )
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_region_is_scored_from_its_union_masks(two_cases):
    folder, arrays = two_cases
    result = segeval.score(folder / "preds", folder / "gts", metrics=["lesion_f1", "lesion_tp"], regions=["any=1,2"])
    for case, (pred, gt) in arrays.items():
        expected = lesion_metrics(pred > 0, gt > 0, (1.5, 1.0, 1.0)).values
        assert _value(result, case, "any", "lesion_tp")[0] == expected["lesion_tp"][0]
        assert _value(result, case, "any", "lesion_f1")[0] == pytest.approx(expected["lesion_f1"][0])
    assert "any" in set(result.lesions["class"])
    gate = segeval.score(folder / "preds", folder / "gts", regions=["any=1,2"], gates=["lesion_f1[any]>=0"])
    assert gate.gates[0].passed


def test_world_centroids_agree_with_simpleitk(tmp_path):
    """An oblique, anisotropic NIfTI: centroid_mm_xyz is SimpleITK's physical point of centroid_index_zyx."""
    gt = np.zeros((10, 20, 30), np.uint8)
    gt[2:5, 3:9, 4:12] = 1
    gt[6:9, 12:18, 20:27] = 1
    angle = np.deg2rad(20)
    direction = (np.cos(angle), -np.sin(angle), 0.0, np.sin(angle), np.cos(angle), 0.0, 0.0, 0.0, -1.0)
    for side in ("gts", "preds"):
        image = sitk.GetImageFromArray(gt)
        image.SetSpacing((0.7, 0.9, 2.0))
        image.SetOrigin((12.5, -40.0, 7.25))
        image.SetDirection(direction)
        (tmp_path / side).mkdir()
        sitk.WriteImage(image, str(tmp_path / side / "a.nii.gz"))
    result = segeval.score(tmp_path / "preds", tmp_path / "gts", metrics=["lesion_tp"])
    reference = sitk.ReadImage(str(tmp_path / "gts" / "a.nii.gz"))
    rows = result.lesions
    assert len(rows) == 4
    for _, row in rows.iterrows():
        index_zyx = [float(v) for v in row["centroid_index_zyx"].split()]
        world = reference.TransformContinuousIndexToPhysicalPoint(index_zyx[::-1])
        np.testing.assert_allclose([float(v) for v in row["centroid_mm_xyz"].split()], world, atol=1e-3)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({}, {"dilation_iterations": 3, "min_voxels": 50, "connectivity": 26, "convention": "deepmind"}),
        ({"lesion_min_voxels": 0}, {"min_voxels": 0, "dilation_iterations": 3}),
        ({"lesion_min_mm3": 20.0}, {"min_voxels": 0, "min_mm3": 20.0}),
        ({"lesion_dilation_mm": 2.0}, {"dilation_iterations": 0, "dilation_mm": 2.0}),
        ({"lesion_matching": "iou", "lesion_connectivity": 6}, {"matching": "iou", "connectivity": 6}),
    ],
)
def test_lesion_options_given_with_a_preset_override_it(overrides, expected):
    from segeval.config import ScoreConfig

    options = ScoreConfig(metrics=("lesion",), lesion_preset="brats2023-gli", **overrides).lesion_options()
    assert {name: getattr(options, name) for name in expected} == expected
    plain = ScoreConfig(metrics=("lesion",), convention="medpy").lesion_options()
    assert (plain.dilation_iterations, plain.min_voxels, plain.convention, plain.both_empty_perfect) == (
        0,
        0,
        "medpy",
        False,
    )
