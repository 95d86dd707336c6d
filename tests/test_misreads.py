"""No silent misreads: a prediction is never turned into wrong numbers with exit code 0.

Each test drives the CLI or ``segeval.score``; expected values come from NumPy on the arrays.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import segeval
from segeval.cli import app

runner = CliRunner()


def _dice(pred: np.ndarray, gt: np.ndarray) -> float:
    return 2 * float((pred & gt).sum()) / float(pred.sum() + gt.sum())


def _folders(tmp_path, preds: dict[str, np.ndarray], gts: dict[str, np.ndarray], suffix: str):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    for folder, arrays in (("p", preds), ("g", gts)):
        for name, array in arrays.items():
            path = tmp_path / folder / f"{name}{suffix}"
            if suffix == ".png":
                Image.fromarray(array).save(path)
            else:
                np.save(path, array)
    return tmp_path / "p", tmp_path / "g"


def _three_labels() -> np.ndarray:
    gt = np.zeros((23, 37), np.uint8)
    gt[2:10, 3:15], gt[12:20, 18:30] = 1, 2
    return gt


def test_a_float_label_map_with_a_few_fractional_values_fails_naming_file_values_and_pred_kind(tmp_path):
    gt = _three_labels()
    pred = gt.astype(np.float32)
    pred[0:3, 0:3] = 1.5  # a few non-integer values: no longer a label map
    p, g = _folders(tmp_path, {"case": pred}, {"case": gt}, ".npy")
    result = runner.invoke(app, ["score", str(p), str(g), "--format", "quiet"])
    assert result.exit_code == 3, result.stderr
    reason = " ".join(result.stderr.split())
    assert "case.npy" in reason and "not all integers" in reason and "--pred-kind" in reason
    assert "0 to 2" in reason and "4 distinct values" in reason  # what was seen: value range and distinct values


def test_an_8_bit_probability_png_is_a_probability_for_score_and_losses(tmp_path):
    rng = np.random.default_rng(0)
    gt = np.zeros((23, 37), np.uint8)
    gt[4:18, 6:30] = 1
    probability = np.clip(gt * 0.7 + rng.random(gt.shape) * 0.45, 0, 1)
    pred = np.round(probability * 255).astype(np.uint8)  # p × 255, about 100 distinct grey levels
    p, g = _folders(tmp_path, {"case": pred}, {"case": gt}, ".png")
    result = segeval.score(p, g)
    assert result.labels == [0, 1]  # not one class per grey level
    assert result.cases[0].pred_kind == "probs" and "value / 255" in " ".join(result.cases[0].notes)
    expected = _dice(pred / 255.0 >= 0.5, gt.astype(bool))
    assert result.metric("dice", 1) == pytest.approx(expected)

    losses = runner.invoke(app, ["losses", str(p), str(g), "--loss", "dice", "--format", "json"])
    assert losses.exit_code == 0, losses.stderr
    document = json.loads(losses.stdout)
    assert document["cases"][0]["pred_kind"] == "probs"
    soft = pred / 255.0
    soft_dice = 2 * (soft * gt).sum() / (soft.sum() + gt.sum())
    assert document["summary"][0]["mean"] == pytest.approx(1 - soft_dice, rel=1e-4)


def test_a_prediction_with_many_more_values_than_the_label_set_fails_with_a_hint(tmp_path):
    gt = _three_labels()
    pred = (np.arange(gt.size).reshape(gt.shape) % 60).astype(np.uint8)  # 60 values against labels 0, 1, 2
    p, g = _folders(tmp_path, {"case": pred}, {"case": gt}, ".png")
    result = runner.invoke(app, ["score", str(p), str(g), "--format", "json"])
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["labels"] == []  # no phantom classes
    reason = document["failed"][0]["error"]
    assert "case.png" in reason and "60 distinct values" in reason and "not a label map" in reason


def test_a_label_map_with_a_false_positive_class_is_still_a_label_map(tmp_path):
    gt = _three_labels()
    pred = gt.copy()
    pred[0:2, 30:36] = 3  # a class absent from this case's ground truth
    p, g = _folders(tmp_path, {"case": pred}, {"case": gt}, ".png")
    result = segeval.score(p, g)
    assert result.labels == [0, 1, 2, 3] and not result.failed
    assert result.metric("dice", 3) == 0.0


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--threshold", "nan"], 2, "--threshold must be a finite number"),
        (["--threshold", "inf"], 2, "--threshold must be a finite number"),
        (["--threshold", "2", "--pred-kind", "probs"], 2, "--threshold must be in (0, 1) for probabilities"),
        (["--threshold", "-1", "--pred-kind", "probs"], 2, "--threshold must be in (0, 1) for probabilities"),
        (["--threshold", "-1"], 3, "--threshold -1 is outside (0, 1)"),  # auto: inferred probabilities fail
        (["--threshold", "-1", "--pred-kind", "logits"], 0, None),  # any finite cut of a logit is allowed
    ],
)
def test_threshold_is_validated(tmp_path, args, exit_code, message):
    gt = np.zeros((23, 37), np.uint8)
    gt[4:18, 6:30] = 1
    probability = (gt * 0.8 + 0.1).astype(np.float32)
    p, g = _folders(tmp_path, {"case": probability}, {"case": gt}, ".npy")
    result = runner.invoke(app, ["score", str(p), str(g), "--format", "quiet", *args])
    assert result.exit_code == exit_code, result.stderr
    if message is not None:
        assert message in " ".join(result.stderr.split())


def test_negative_labels_are_an_input_error_unless_declared(tmp_path):
    gt = _three_labels()
    pred = gt.astype(np.int16)
    pred[0, 0:4] = -1
    p, g = _folders(tmp_path, {"case": pred}, {"case": gt}, ".npy")
    undeclared = segeval.score(p, g)
    assert undeclared.failed and "negative label value -1" in undeclared.failed[0].error
    assert "case.npy" in undeclared.failed[0].error
    declared = segeval.score(p, g, labels=[-1, 0, 1, 2])
    assert not declared.failed and declared.labels == [-1, 0, 1, 2]


def test_stray_prediction_values_are_warned_with_their_files_and_recorded(tmp_path):
    gt = _three_labels()
    stray = gt.copy()
    stray[0:2, 30:36] = 7
    p, g = _folders(tmp_path, {"a": gt.copy(), "b": stray}, {"a": gt, "b": gt}, ".png")
    result = runner.invoke(app, ["score", str(p), str(g), "--out", str(tmp_path / "r"), "--format", "quiet"])
    assert result.exit_code == 0, result.stderr
    warning = " ".join(result.stderr.split())
    assert "warning: prediction values found in no ground truth were scored as classes: 7 (b)" in warning
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["stray_labels"] == {"7": ["b"]} and summary["warnings"]
    declared = runner.invoke(app, ["score", str(p), str(g), "--labels", "0,1,2,7", "--format", "quiet"])
    assert "no ground truth" not in declared.stderr  # a declared label is not a stray


def test_an_ignore_index_that_no_ground_truth_holds_is_warned(tmp_path):
    gt = _three_labels()
    p, g = _folders(tmp_path, {"a": gt.copy()}, {"a": gt}, ".png")
    unused = runner.invoke(app, ["score", str(p), str(g), "--ignore-index", "9", "--format", "quiet"])
    assert unused.exit_code == 0 and "--ignore-index 9 occurs in no ground truth" in unused.stderr
    gt_with = gt.copy()
    gt_with[0, 0] = 9
    (tmp_path / "g" / "a.png").unlink()
    Image.fromarray(gt_with).save(tmp_path / "g" / "a.png")
    used = runner.invoke(app, ["score", str(p), str(g), "--ignore-index", "9", "--format", "quiet"])
    assert used.exit_code == 0 and "occurs in no ground truth" not in used.stderr


def test_0_255_masks_with_ignore_index_255_get_a_hint(tmp_path):
    gt = np.zeros((23, 37), np.uint8)
    gt[4:18, 6:30] = 255
    p, g = _folders(tmp_path, {"a": gt.copy()}, {"a": gt}, ".png")
    result = runner.invoke(app, ["score", str(p), str(g), "--ignore-index", "255", "--format", "quiet"])
    message = " ".join(result.stderr.split())
    assert "0/255 ground-truth masks and --ignore-index 255" in message and "binary masks" in message
