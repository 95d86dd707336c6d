"""Overlap metrics from confusion matrices, with an explicit empty-mask policy.

Every function takes confusion matrices of shape (..., C, C) (rows = reference, columns =
prediction), works in float64 and returns ``(values, status)``: two arrays of equal shape, the
status holding an index into :data:`STATUSES`.

Empty-mask policy (docs/metrics.md):

- Dice, IoU, volume similarity: class absent from both sides → ``empty_score`` (NaN by default,
  status ``both_empty``); absent from one side only → 0 (status ``ref_empty``/``pred_empty``).
- Precision: no predicted pixel of the class → NaN (``pred_empty``), or ``empty_score`` when the
  reference is empty too. Recall: no reference pixel → NaN (``ref_empty``), or ``empty_score``
  when the prediction is empty too. Specificity: no reference-negative pixel → NaN (``ref_full``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATUSES = ("ok", "both_empty", "ref_empty", "pred_empty", "ref_full", "no_valid_pixel", "no_valid_class")
OK, BOTH_EMPTY, REF_EMPTY, PRED_EMPTY, REF_FULL, NO_VALID_PIXEL, NO_VALID_CLASS = range(len(STATUSES))

CLASS_METRICS = ("dice", "iou", "precision", "recall", "specificity", "volume_similarity", "tp", "fp", "fn", "tn")
CASE_METRICS = ("pixel_accuracy", "mean_pixel_accuracy", "miou", "fwiou", "mean_dice")


@dataclass(frozen=True)
class ClassCounts:
    """Per-class pixel counts, each of shape (..., C), float64."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray

    @classmethod
    def from_confusion(cls, cm: np.ndarray) -> ClassCounts:
        cm = np.asarray(cm, dtype=np.float64)
        tp = np.diagonal(cm, axis1=-2, axis2=-1).copy()
        fp = cm.sum(axis=-2) - tp
        fn = cm.sum(axis=-1) - tp
        total = cm.sum(axis=(-2, -1))[..., None]
        return cls(tp=tp, fp=fp, fn=fn, tn=total - tp - fp - fn)

    @property
    def ref(self) -> np.ndarray:
        """Reference (ground-truth) pixels of each class, TP + FN."""
        return self.tp + self.fn

    @property
    def pred(self) -> np.ndarray:
        """Predicted pixels of each class, TP + FP."""
        return self.tp + self.fp


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den == 0`` (callers then set the policy value)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _set_overlap_policy(values: np.ndarray, c: ClassCounts, empty_score: float) -> tuple[np.ndarray, np.ndarray]:
    status = np.full(values.shape, OK, dtype=np.int8)
    ref_empty, pred_empty = c.ref == 0, c.pred == 0
    status[ref_empty & ~pred_empty] = REF_EMPTY
    status[pred_empty & ~ref_empty] = PRED_EMPTY
    status[ref_empty & pred_empty] = BOTH_EMPTY
    values = values.copy()
    values[ref_empty & pred_empty] = empty_score
    return values, status


def dice(c: ClassCounts, empty_score: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Dice similarity coefficient :math:`2TP / (2TP + FP + FN)` (Dice 1945, doi:10.2307/1932409)."""
    return _set_overlap_policy(_ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn), c, empty_score)


def iou(c: ClassCounts, empty_score: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Intersection over union (Jaccard index) :math:`TP / (TP + FP + FN)`."""
    return _set_overlap_policy(_ratio(c.tp, c.tp + c.fp + c.fn), c, empty_score)


def volume_similarity(c: ClassCounts, empty_score: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Volume similarity :math:`1 - |FN - FP| / (2TP + FP + FN)` (Taha & Hanbury 2015, doi:10.1186/s12880-015-0068-x)."""
    return _set_overlap_policy(1 - _ratio(np.abs(c.fn - c.fp), 2 * c.tp + c.fp + c.fn), c, empty_score)


def precision(c: ClassCounts, empty_score: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Precision (positive predictive value) :math:`TP / (TP + FP)`."""
    values = _ratio(c.tp, c.pred)
    status = np.where(c.pred == 0, PRED_EMPTY, OK).astype(np.int8)
    both = (c.pred == 0) & (c.ref == 0)
    values[both], status[both] = empty_score, BOTH_EMPTY
    return values, status


def recall(c: ClassCounts, empty_score: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
    """Recall (sensitivity, true-positive rate) :math:`TP / (TP + FN)`."""
    values = _ratio(c.tp, c.ref)
    status = np.where(c.ref == 0, REF_EMPTY, OK).astype(np.int8)
    both = (c.pred == 0) & (c.ref == 0)
    values[both], status[both] = empty_score, BOTH_EMPTY
    return values, status


def specificity(c: ClassCounts) -> tuple[np.ndarray, np.ndarray]:
    """Specificity (true-negative rate) :math:`TN / (TN + FP)`; NaN when the class fills the reference."""
    den = c.tn + c.fp
    return _ratio(c.tn, den), np.where(den == 0, REF_FULL, OK).astype(np.int8)


def class_metrics(cm: np.ndarray, empty_score: float = np.nan) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every per-class metric of :data:`CLASS_METRICS` for confusion matrices (..., C, C)."""
    c = ClassCounts.from_confusion(cm)
    ok = np.zeros(c.tp.shape, dtype=np.int8)
    return {
        "dice": dice(c, empty_score),
        "iou": iou(c, empty_score),
        "precision": precision(c, empty_score),
        "recall": recall(c, empty_score),
        "specificity": specificity(c),
        "volume_similarity": volume_similarity(c, empty_score),
        "tp": (c.tp, ok),
        "fp": (c.fp, ok),
        "fn": (c.fn, ok),
        "tn": (c.tn, ok),
    }


def _nanmean(values: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    valid = ~np.isnan(values)
    count = valid.sum(axis=axis)
    mean = _ratio(np.where(valid, values, 0.0).sum(axis=axis), count)
    return mean, np.where(count == 0, NO_VALID_CLASS, OK).astype(np.int8)


def case_metrics(
    cm: np.ndarray, foreground: np.ndarray, empty_score: float = np.nan
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The case-level metrics of :data:`CASE_METRICS` for confusion matrices (..., C, C).

    Parameters
    ----------
    cm : numpy.ndarray
        Confusion matrices, shape (..., C, C).
    foreground : numpy.ndarray of bool, shape (C,)
        Classes averaged by ``mean_dice`` (all but the background unless it is included).
    empty_score : float
        Value of Dice/IoU for a class absent from both sides (NaN: excluded from the means).

    Notes
    -----
    Following Long et al. 2015 (FCN, doi:10.1109/CVPR.2015.7298965), with :math:`n_{ij}` the
    pixels of reference class i predicted as j, :math:`t_i = \\sum_j n_{ij}`, :math:`N = \\sum_i t_i`:

    - pixel accuracy :math:`\\sum_i n_{ii} / N`;
    - mean pixel accuracy :math:`\\frac{1}{|C'|} \\sum_{i \\in C'} n_{ii} / t_i` over the classes
      present in the reference (:math:`t_i > 0`);
    - mIoU: the mean of the per-class IoU :math:`n_{ii} / (t_i + \\sum_j n_{ji} - n_{ii})` over the
      classes that have a value (both-empty classes count only when ``empty_score`` is set);
    - FWIoU :math:`\\sum_i t_i \\, IoU_i / N`;
    - mean Dice: the mean of the per-class Dice over ``foreground`` classes with a value.
    """
    c = ClassCounts.from_confusion(cm)
    total = c.tp.sum(axis=-1) + c.fp.sum(axis=-1)  # every valid pixel is a TP or an FP of some class
    no_pixel = total == 0
    pa = _ratio(c.tp.sum(axis=-1), total)
    mpa, mpa_status = _nanmean(_ratio(c.tp, c.ref))
    iou_values, _ = iou(c, empty_score)
    miou, miou_status = _nanmean(iou_values)
    fwiou = _ratio(np.where(c.ref > 0, c.ref * np.nan_to_num(iou_values), 0.0).sum(axis=-1), total)
    dice_values, _ = dice(c, empty_score)
    mean_dice, mean_dice_status = _nanmean(dice_values[..., foreground])

    def status(per_class_status: np.ndarray) -> np.ndarray:
        return np.where(no_pixel, NO_VALID_PIXEL, per_class_status).astype(np.int8)

    ok = np.zeros(no_pixel.shape, dtype=np.int8)
    return {
        "pixel_accuracy": (pa, status(ok)),
        "mean_pixel_accuracy": (mpa, status(mpa_status)),
        "miou": (miou, status(miou_status)),
        "fwiou": (fwiou, status(ok)),
        "mean_dice": (mean_dice, status(mean_dice_status)),
    }
