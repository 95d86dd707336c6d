"""End to end through segeval.score on files: per-case values, summaries and pooled values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import segeval


def _value(result, case, cls, metric):
    rows = result.per_case
    row = rows[(rows["case"] == case) & (rows["class"] == str(cls)) & (rows["metric"] == metric)]
    assert len(row) == 1, (case, cls, metric)
    return float(row["value"].iloc[0])


@pytest.fixture
def brats_like(tmp_path):
    """Five random 2-D cases with labels 0, 1, 2, 4 (BraTS-style, non-consecutive), odd shapes."""
    rng = np.random.default_rng(7)
    (tmp_path / "p").mkdir()
    (tmp_path / "g").mkdir()
    cases = {}
    for i in range(5):
        shape = (31 + i, 17 + 2 * i)
        gt = rng.choice([0, 1, 2, 4], size=shape, p=[0.55, 0.2, 0.15, 0.1]).astype(np.uint8)
        pred = np.where(rng.random(shape) < 0.75, gt, rng.choice([0, 1, 2, 4], size=shape)).astype(np.uint8)
        if i == 3:
            pred[pred == 4] = 0  # a class missing from one prediction
        Image.fromarray(gt).save(tmp_path / "g" / f"case_{i}.png")
        np.save(tmp_path / "p" / f"case_{i}.npy", pred)
        cases[f"case_{i}"] = (pred, gt)
    return tmp_path, cases


def test_per_case_values_match_numpy(brats_like):
    root, cases = brats_like
    result = segeval.score(root / "p", root / "g")
    assert result.labels == [0, 1, 2, 4]
    for name, (pred, gt) in cases.items():
        for label in (0, 1, 2, 4):
            p, g = pred == label, gt == label
            tp, fp, fn = np.sum(p & g), np.sum(p & ~g), np.sum(~p & g)
            assert _value(result, name, label, "dice") == pytest.approx(2 * tp / (2 * tp + fp + fn))
            assert _value(result, name, label, "tp") == tp
        assert _value(result, name, "all", "pixel_accuracy") == pytest.approx(np.mean(pred == gt))


def test_summary_mean_and_pooled_differ_and_match_their_definitions(brats_like):
    root, cases = brats_like
    result = segeval.score(root / "p", root / "g")
    per_case_dice = [2 * np.sum((p == 2) & (g == 2)) / (np.sum(p == 2) + np.sum(g == 2)) for p, g in cases.values()]
    tp = sum(np.sum((p == 2) & (g == 2)) for p, g in cases.values())
    sizes = sum(np.sum(p == 2) + np.sum(g == 2) for p, g in cases.values())
    assert result.metric("dice", 2) == pytest.approx(np.mean(per_case_dice))
    assert result.metric("dice", 2, "pooled") == pytest.approx(2 * tp / sizes)
    assert result.metric("dice", 2, "std") == pytest.approx(np.std(per_case_dice, ddof=1))
    assert result.metric("dice", 2, "median") == pytest.approx(np.median(per_case_dice))
    all_pred = np.concatenate([p.ravel() for p, _ in cases.values()])
    all_gt = np.concatenate([g.ravel() for _, g in cases.values()])
    assert result.metric("pixel_accuracy", statistic="pooled") == pytest.approx(np.mean(all_pred == all_gt))


def test_declared_labels_names_and_background_option(brats_like):
    root, cases = brats_like
    result = segeval.score(root / "p", root / "g", labels=(0, 1, 2, 4), class_names=("bg", "ncr", "ed", "et"))
    assert result.class_names == ["bg", "ncr", "ed", "et"]
    assert set(result.summary["class_name"]) == {"bg", "ncr", "ed", "et", "all"}
    pred, gt = cases["case_0"]
    dices = {c: 2 * np.sum((pred == c) & (gt == c)) / (np.sum(pred == c) + np.sum(gt == c)) for c in (0, 1, 2, 4)}
    assert _value(result, "case_0", "all", "mean_dice") == pytest.approx(np.mean([dices[c] for c in (1, 2, 4)]))
    with_bg = segeval.score(root / "p", root / "g", include_background=True)
    assert _value(with_bg, "case_0", "all", "mean_dice") == pytest.approx(np.mean(list(dices.values())))


def test_ignore_index_excludes_reference_pixels(tmp_path):
    gt = np.array([[0, 1, 1, 255], [0, 1, 255, 255]], np.uint8)
    pred = np.array([[0, 1, 0, 1], [1, 1, 0, 0]], np.uint8)
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    Image.fromarray(gt).save(tmp_path / "g" / "a.png")
    Image.fromarray(pred).save(tmp_path / "p" / "a.png")
    result = segeval.score(tmp_path / "p", tmp_path / "g", ignore_index=255)
    assert result.labels == [0, 1]
    # valid pixels: gt 0,1,1 / 0,1 ; pred 0,1,0 / 1,1 → class 1: tp 2, fp 1, fn 1
    assert _value(result, "a", 1, "dice") == pytest.approx(4 / 6)
    assert _value(result, "a", "all", "pixel_accuracy") == pytest.approx(3 / 5)


def test_empty_score_option_sets_both_empty_classes(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    np.save(tmp_path / "g" / "a.npy", np.zeros((4, 5), np.uint8))
    np.save(tmp_path / "p" / "a.npy", np.zeros((4, 5), np.uint8))
    default = segeval.score(tmp_path / "p", tmp_path / "g", num_classes=2)
    assert math.isnan(_value(default, "a", 1, "dice"))
    rows = default.per_case
    assert rows[(rows["class"] == "1") & (rows["metric"] == "dice")]["status"].iloc[0] == "both_empty"
    assert default.summary.query("metric == 'dice' and `class` == '1'")["n_nan"].iloc[0] == 1
    ones = segeval.score(tmp_path / "p", tmp_path / "g", num_classes=2, empty_score=1.0)
    assert _value(ones, "a", 1, "dice") == 1.0


def test_missing_prediction_counts_as_empty(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    gt = np.zeros((6, 7), np.uint8)
    gt[2:4, 2:5] = 1
    np.save(tmp_path / "g" / "a.npy", gt)
    np.save(tmp_path / "g" / "b.npy", gt)
    np.save(tmp_path / "p" / "a.npy", gt)
    result = segeval.score(tmp_path / "p", tmp_path / "g", allow_missing=True)
    assert result.missing_pred == ["b"]
    assert _value(result, "b", 1, "dice") == 0.0
    assert result.metric("dice", 1) == pytest.approx(0.5)
    skipped = segeval.score(tmp_path / "p", tmp_path / "g", skip_missing=True)
    assert [r.case for r in skipped.cases] == ["a"]


def test_volumes_in_mm_from_nifti_spacing(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    gt = np.zeros((4, 6, 5), np.uint8)
    gt[1:3, 2:5, 1:4] = 1  # 18 voxels
    for side in ("p", "g"):
        (tmp_path / side).mkdir()
        image = sitk.GetImageFromArray(gt)
        image.SetSpacing((0.8, 0.7, 2.5))  # x, y, z
        sitk.WriteImage(image, str(tmp_path / side / "vol.nii.gz"))
    result = segeval.score(tmp_path / "p", tmp_path / "g")
    assert result.cases[0].spacing_mm == pytest.approx((2.5, 0.7, 0.8))
    assert _value(result, "vol", 1, "ref_volume") == pytest.approx(18 * 0.8 * 0.7 * 2.5, rel=1e-6)


def test_written_reports_round_trip_through_pandas(brats_like, tmp_path):
    root, _ = brats_like
    result = segeval.score(root / "p", root / "g")
    paths = result.write(tmp_path / "reports")
    per_case = pd.read_csv(paths["per_case"])
    assert list(per_case.columns) == ["case", "class", "class_name", "metric", "value", "status"]
    assert len(per_case) == len(result.per_case)
    np.testing.assert_allclose(per_case["value"].to_numpy(), result.per_case["value"].to_numpy(), rtol=0, atol=0)
    summary = pd.read_csv(paths["summary"])
    assert list(summary.columns) == [
        "class",
        "class_name",
        "metric",
        "mean",
        "std",
        "median",
        "q25",
        "q75",
        "min",
        "max",
        "n",
        "n_nan",
        "pooled",
        "ci_low",
        "ci_high",
    ]
