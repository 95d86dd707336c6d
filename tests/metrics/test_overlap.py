"""Overlap metrics: hand-computed cases, a float64 NumPy reference, and invariants (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segeval.metrics.catalog import Level, confusion_metrics
from segeval.metrics.confusion import class_matrix, joint_histograms
from segeval.status import STATUS_CODES as STATUSES


def class_metrics(cm, empty_score=np.nan):
    return confusion_metrics(cm, Level.CLASS, empty_score=empty_score)


def case_metrics(cm, foreground, empty_score=np.nan):
    return confusion_metrics(cm, Level.CASE, empty_score=empty_score, foreground=foreground)


def lung_grid():
    """The 10×10 grid of docs/worked-examples.md: GT rows 1-5, cols 2-5 (20 px); a good and a bad prediction."""
    gt = np.zeros((10, 10), np.int64)
    gt[1:6, 2:6] = 1
    good = gt.copy()
    good[1, 5] = 0  # 19 of the 20 pixels
    bad = np.zeros((10, 10), np.int64)
    for r, c in [(1, 4), (2, 3), (2, 4), (3, 2), (3, 3), (6, 3), (7, 2)]:  # 5 inside, 2 outside
        bad[r, c] = 1
    return gt, good, bad


def confusion(pred: np.ndarray, gt: np.ndarray, labels) -> np.ndarray:
    (counts,) = joint_histograms([torch.from_numpy(pred)], [torch.from_numpy(gt)])
    return class_matrix(counts, np.asarray(labels))


def reference_counts(pred, gt, label):
    """TP, FP, FN, TN of one class by boolean masks, float64."""
    p, g = pred == label, gt == label
    return (float(np.sum(p & g)), float(np.sum(p & ~g)), float(np.sum(~p & g)), float(np.sum(~p & ~g)))


def reference_class(pred, gt, label):
    tp, fp, fn, tn = reference_counts(pred, gt, label)
    div = lambda a, b: a / b if b else math.nan  # noqa: E731
    return {
        "dice": div(2 * tp, 2 * tp + fp + fn),
        "iou": div(tp, tp + fp + fn),
        "precision": div(tp, tp + fp),
        "recall": div(tp, tp + fn),
        "specificity": div(tn, tn + fp),
        "volume_similarity": (1 - abs(fn - fp) / (2 * tp + fp + fn)) if (2 * tp + fp + fn) else math.nan,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


@pytest.mark.parametrize(
    "which, dice, iou",
    [("good", 38 / 39, 19 / 20), ("bad", 10 / 27, 5 / 22)],
)
def test_worked_example_grid_dice_and_iou(which, dice, iou):
    gt, good, bad = lung_grid()
    metrics = class_metrics(confusion(good if which == "good" else bad, gt, [0, 1]))
    assert metrics["dice"][0][1] == pytest.approx(dice, abs=1e-15)
    assert metrics["iou"][0][1] == pytest.approx(iou, abs=1e-15)


def test_worked_example_grid_bad_prediction_counts_by_hand():
    gt, _, bad = lung_grid()
    metrics = class_metrics(confusion(bad, gt, [0, 1]))
    assert [metrics[k][0][1] for k in ("tp", "fp", "fn", "tn")] == [5, 2, 15, 78]
    assert metrics["precision"][0][1] == pytest.approx(5 / 7)
    assert metrics["recall"][0][1] == pytest.approx(5 / 20)
    assert metrics["specificity"][0][1] == pytest.approx(78 / 80)
    assert metrics["volume_similarity"][0][1] == pytest.approx(1 - 13 / 27)


def test_miou_is_tp_over_tp_fp_fn_not_the_blog_formula():
    # A blog post writes mIoU per class as TP / (FP + FN - TP) (docs/metrics.md); the definition is TP / (TP + FP + FN).
    gt, _, bad = lung_grid()
    cm = confusion(bad, gt, [0, 1])
    iou_bg = 78 / (78 + 15 + 2)
    iou_fg = 5 / (5 + 2 + 15)
    assert case_metrics(cm, np.array([False, True]))["miou"][0] == pytest.approx((iou_bg + iou_fg) / 2)
    assert (iou_bg + iou_fg) / 2 != pytest.approx((78 / (15 + 2 - 78) + 5 / (2 + 15 - 5)) / 2)


def test_case_metrics_by_hand_three_classes():
    # rows = reference, columns = prediction
    cm = np.array([[50, 2, 3], [4, 20, 1], [0, 5, 15]])
    m = case_metrics(cm, np.array([False, True, True]))
    total = cm.sum()
    assert m["pixel_accuracy"][0] == pytest.approx(85 / total)
    assert m["mean_pixel_accuracy"][0] == pytest.approx((50 / 55 + 20 / 25 + 15 / 20) / 3)
    ious = [50 / (55 + 54 - 50), 20 / (25 + 27 - 20), 15 / (20 + 19 - 15)]
    assert m["miou"][0] == pytest.approx(np.mean(ious))
    assert m["fwiou"][0] == pytest.approx((55 * ious[0] + 25 * ious[1] + 20 * ious[2]) / total)
    dices = [2 * 20 / (25 + 27), 2 * 15 / (20 + 19)]
    assert m["mean_dice"][0] == pytest.approx(np.mean(dices))
    with_bg = case_metrics(cm, np.array([True, True, True]))["mean_dice"][0]
    assert with_bg == pytest.approx(np.mean([2 * 50 / (55 + 54), *dices]))


def test_empty_policy_per_metric():
    # class 1: absent from both; class 2: only in the prediction; class 3: only in the reference
    gt = np.array([[0, 0, 3, 3]])
    pred = np.array([[0, 2, 0, 0]])
    metrics = class_metrics(confusion(pred, gt, [0, 1, 2, 3]))
    status = {k: [STATUSES[s] for s in v[1][:]] for k, v in metrics.items()}
    dice = metrics["dice"][0]
    assert math.isnan(dice[1]) and status["dice"][1] == "both_empty"
    assert dice[2] == 0.0 and status["dice"][2] == "ref_empty"
    assert dice[3] == 0.0 and status["dice"][3] == "pred_empty"
    assert math.isnan(metrics["precision"][0][3]) and status["precision"][3] == "pred_empty"
    assert metrics["precision"][0][2] == 0.0
    assert math.isnan(metrics["recall"][0][2]) and status["recall"][2] == "ref_empty"
    scored = class_metrics(confusion(pred, gt, [0, 1, 2, 3]), empty_score=1.0)
    assert scored["dice"][0][1] == 1.0 and scored["iou"][0][1] == 1.0
    assert scored["dice"][0][2] == 0.0  # one-sided absence stays 0 whatever the empty score


def test_specificity_nan_when_class_fills_the_reference():
    gt = np.ones((3, 3), np.int64)
    metrics = class_metrics(confusion(gt, gt, [1]))
    assert math.isnan(metrics["specificity"][0][0])
    assert STATUSES[metrics["specificity"][1][0]] == "ref_full"


def test_case_means_skip_both_empty_classes():
    gt = np.array([[0, 1, 1, 0]])
    cm = confusion(gt, gt, [0, 1, 2])
    m = case_metrics(cm, np.array([False, True, True]))
    assert m["miou"][0] == 1.0 and m["mean_dice"][0] == 1.0 and m["mean_pixel_accuracy"][0] == 1.0
    none_valid = case_metrics(
        confusion(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64), [0, 1]), np.array([False, True])
    )
    assert math.isnan(none_valid["mean_dice"][0]) and STATUSES[none_valid["mean_dice"][1]] == "no_valid_class"


def test_large_and_negative_label_values_use_the_sparse_path():
    gt = np.array([[-1, 5000, 5000], [7, 7, -1]])
    pred = np.array([[-1, 5000, 7], [7, 7, 5000]])
    (counts,) = joint_histograms([torch.from_numpy(pred)], [torch.from_numpy(gt)])
    assert counts.values.tolist() == [-1, 7, 5000]
    cm = class_matrix(counts, np.array([-1, 7, 5000]))
    assert cm.tolist() == [[1, 0, 1], [0, 2, 0], [0, 1, 1]]


def test_batched_histograms_equal_single_ones():
    rng = np.random.default_rng(3)
    preds = [rng.integers(0, 4, size=s) for s in [(7, 9), (5, 3, 4), (11,)]]
    gts = [rng.integers(0, 5, size=p.shape) for p in preds]
    batched = joint_histograms([torch.from_numpy(p) for p in preds], [torch.from_numpy(g) for g in gts])
    for p, g, counts in zip(preds, gts, batched):
        (single,) = joint_histograms([torch.from_numpy(p)], [torch.from_numpy(g)])
        np.testing.assert_array_equal(counts.values, single.values)
        np.testing.assert_array_equal(counts.cm, single.cm)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(37, 23), (5, 8, 13), (64, 64)])
def test_random_multiclass_against_numpy_reference(seed, shape):
    rng = np.random.default_rng(seed)
    labels = [0, 1, 2, 4]
    gt = rng.choice(labels, size=shape, p=[0.6, 0.2, 0.15, 0.05])
    pred = np.where(rng.random(shape) < 0.7, gt, rng.choice(labels, size=shape))
    metrics = class_metrics(confusion(pred, gt, labels))
    for j, label in enumerate(labels):
        expected = reference_class(pred, gt, label)
        for name, value in expected.items():
            got = metrics[name][0][j]
            assert (math.isnan(value) and math.isnan(got)) or got == pytest.approx(value, rel=1e-12), (name, label)
    # FCN case metrics from per-class reference counts
    counts = {c: reference_counts(pred, gt, c) for c in labels}
    total = gt.size
    ious = [
        counts[c][0] / (counts[c][0] + counts[c][1] + counts[c][2])
        for c in labels
        if counts[c][0] + counts[c][1] + counts[c][2]
    ]
    cm = confusion(pred, gt, labels)
    m = case_metrics(cm, np.array([c != 0 for c in labels]))
    assert m["pixel_accuracy"][0] == pytest.approx(np.mean(pred == gt), rel=1e-12)
    assert m["miou"][0] == pytest.approx(np.mean(ious), rel=1e-12)
    freq_iou = sum(
        (counts[c][0] + counts[c][2]) / total * counts[c][0] / (counts[c][0] + counts[c][1] + counts[c][2])
        for c in labels
        if counts[c][0] + counts[c][2]
    )
    assert m["fwiou"][0] == pytest.approx(freq_iou, rel=1e-12)


label_maps = arrays(np.int64, st.tuples(st.integers(1, 9), st.integers(1, 9)), elements=st.integers(0, 3))


@settings(max_examples=60, deadline=None)
@given(label_maps)
def test_identity_gives_perfect_scores(gt):
    labels = [0, 1, 2, 3]
    metrics = class_metrics(confusion(gt, gt, labels))
    present = np.isin(labels, np.unique(gt))
    for name in ("dice", "iou", "precision", "recall", "volume_similarity"):
        assert np.all(metrics[name][0][present] == 1.0)
        assert np.all(np.isnan(metrics[name][0][~present]))
    m = case_metrics(confusion(gt, gt, labels), np.array([False, True, True, True]))
    assert m["pixel_accuracy"][0] == 1.0 and m["miou"][0] == 1.0 and m["fwiou"][0] == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_symmetry_between_prediction_and_reference(data):
    gt = data.draw(label_maps)
    pred = data.draw(arrays(np.int64, gt.shape, elements=st.integers(0, 3)))
    labels = [0, 1, 2, 3]
    forward = class_metrics(confusion(pred, gt, labels))
    backward = class_metrics(confusion(gt, pred, labels))
    for name in ("dice", "iou", "volume_similarity"):
        np.testing.assert_array_equal(forward[name][0], backward[name][0])
    np.testing.assert_array_equal(forward["precision"][0], backward["recall"][0])
    np.testing.assert_array_equal(forward["fp"][0], backward["fn"][0])


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_permuting_label_values_permutes_per_class_results(data):
    gt = data.draw(label_maps)
    pred = data.draw(arrays(np.int64, gt.shape, elements=st.integers(0, 3)))
    perm = np.array(data.draw(st.permutations([0, 1, 2, 3])))
    labels = [0, 1, 2, 3]
    original = class_metrics(confusion(pred, gt, labels))
    permuted = class_metrics(confusion(perm[pred], perm[gt], labels))
    for name in ("dice", "iou", "precision", "recall", "tp", "fp", "fn", "tn"):
        np.testing.assert_array_equal(permuted[name][0][perm], original[name][0])
    fg = np.ones(4, dtype=bool)
    a = case_metrics(confusion(pred, gt, labels), fg)
    b = case_metrics(confusion(perm[pred], perm[gt], labels), fg)
    for name in ("pixel_accuracy", "miou", "fwiou", "mean_pixel_accuracy", "mean_dice"):
        assert a[name][0] == pytest.approx(b[name][0], nan_ok=True)


def test_parallel_cpu_bincount_equals_the_single_threaded_one(monkeypatch):
    import segeval.metrics.confusion as confusion_module

    rng = np.random.default_rng(5)
    pred, gt = rng.integers(0, 6, size=(41, 37)), rng.integers(0, 6, size=(41, 37))
    (single,) = joint_histograms([torch.from_numpy(pred)], [torch.from_numpy(gt)])
    monkeypatch.setattr(confusion_module, "PARALLEL_BINCOUNT_MIN", 16)
    monkeypatch.setattr(confusion_module, "BINCOUNT_THREADS", 3)
    (parallel,) = joint_histograms([torch.from_numpy(pred)], [torch.from_numpy(gt)])
    np.testing.assert_array_equal(parallel.cm, single.cm)
