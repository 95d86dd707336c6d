"""Overlap metrics cross-checked against an independent library: MONAI.

Random multi-class label maps (2-D and 3-D, some classes absent on one side or both), one-hot encoded
for MONAI; segeval's values come from ``confusion_metrics`` on confusion matrices built with NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

monai_metrics = pytest.importorskip("monai.metrics")
torch = pytest.importorskip("torch")

from segeval.metrics.catalog import Level, confusion_metrics  # noqa: E402

N_CLASSES = 4

# segeval name -> MONAI ``compute_confusion_matrix_metric`` name
CONFUSION_NAMES = {
    "recall": "sensitivity",
    "specificity": "specificity",
    "precision": "precision",
    "dice": "f1 score",
    "iou": "threat score",
}


def _label_maps(rng: np.random.Generator, shape: tuple[int, ...], batch: int) -> tuple[np.ndarray, np.ndarray]:
    """(pred, ref) of shape (batch, *shape): blocky references, predictions with noise and dropped classes."""
    coarse = rng.integers(0, N_CLASSES, size=(batch, *(s // 4 for s in shape)))
    ref = coarse
    for axis in range(1, len(shape) + 1):
        ref = np.repeat(ref, 4, axis=axis)
    pred = ref.copy()
    noisy = rng.random(pred.shape) < 0.25
    pred[noisy] = rng.integers(0, N_CLASSES, size=int(noisy.sum()))
    pred[0][pred[0] == 3] = 2  # class 3 missing from one prediction
    ref[1][ref[1] == 1] = 0  # class 1 missing from one reference
    pred[2][pred[2] == 2] = 0
    ref[2][ref[2] == 2] = 0  # class 2 missing from both
    return pred, ref


def _confusion(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(batch, C, C) confusion matrices, rows = reference, columns = prediction."""
    cm = np.zeros((pred.shape[0], N_CLASSES, N_CLASSES), dtype=np.int64)
    case = np.broadcast_to(np.arange(pred.shape[0]).reshape(-1, *([1] * (pred.ndim - 1))), pred.shape)
    np.add.at(cm, (case.ravel(), ref.ravel(), pred.ravel()), 1)
    return cm


def _one_hot(labels: np.ndarray) -> torch.Tensor:
    """(batch, *shape) labels → (batch, C, *shape) float one-hot, MONAI's layout."""
    return torch.from_numpy(np.moveaxis(np.eye(N_CLASSES, dtype=np.float32)[labels], -1, 1).copy())


@pytest.mark.parametrize("shape", [(24, 36), (8, 12, 16)], ids=["2d", "3d"])
def test_overlap_metrics_match_monai(shape):
    pred, ref = _label_maps(np.random.default_rng(7 + len(shape)), shape, batch=5)
    y_pred, y = _one_hot(pred), _one_hot(ref)
    ours = confusion_metrics(_confusion(pred, ref), Level.CLASS)

    monai_cm = monai_metrics.get_confusion_matrix(y_pred, y, include_background=True)
    compared = 0
    for name, monai_name in CONFUSION_NAMES.items():
        theirs = monai_metrics.compute_confusion_matrix_metric(monai_name, monai_cm).double().numpy()
        mine = ours[name][0]
        both = np.isfinite(theirs) & np.isfinite(mine)
        np.testing.assert_allclose(mine[both], theirs[both], rtol=1e-6, err_msg=name)
        # both undefined together, except where segeval's empty-mask policy gives 0 (one side empty)
        assert not (np.isfinite(mine) & np.isnan(theirs) & (mine != 0)).any(), name
        assert not (np.isnan(mine) & np.isfinite(theirs)).any(), name
        compared += int(both.sum())
    assert compared > 0.8 * len(CONFUSION_NAMES) * pred.shape[0] * N_CLASSES

    # DiceMetric / MeanIoU with ignore_empty=False score a class absent from both sides 1: segeval's empty_score=1
    scored = confusion_metrics(_confusion(pred, ref), Level.CLASS, empty_score=1.0)
    dice = monai_metrics.DiceMetric(include_background=True, reduction="none", ignore_empty=False)(y_pred, y)
    iou = monai_metrics.MeanIoU(include_background=True, reduction="none", ignore_empty=False)(y_pred, y)
    np.testing.assert_allclose(scored["dice"][0], dice.double().numpy(), rtol=1e-6)
    np.testing.assert_allclose(scored["iou"][0], iou.double().numpy(), rtol=1e-6)
    # the random maps exercise every empty-mask case: absent from the prediction, the reference, both
    counts = _confusion(pred, ref)
    ref_n, pred_n = counts.sum(axis=2), counts.sum(axis=1)
    assert ((ref_n > 0) & (pred_n == 0)).any() and ((ref_n == 0) & (pred_n > 0)).any()
    assert ((ref_n == 0) & (pred_n == 0)).any()
