"""Overlap metrics from confusion matrices, with an explicit empty-mask policy.

Every function takes :class:`ClassCounts` of confusion matrices of shape (..., C, C) (rows =
reference, columns = prediction), works in float64 and returns ``(values, codes)``: two arrays of
equal shape, the codes indexing :data:`segeval.status.STATUS_CODES`.

Empty-mask policy (docs/metrics.md):

- Dice, IoU, volume similarity: class absent from both sides → ``empty_score`` (NaN by default,
  status ``both_empty``); absent from one side only → 0 (status ``ref_empty``/``pred_empty``).
- Precision: no predicted pixel of the class → NaN (``pred_empty``), or ``empty_score`` when the
  reference is empty too. Recall: no reference pixel → NaN (``ref_empty``), or ``empty_score``
  when the prediction is empty too. Specificity: no reference-negative pixel → NaN (``ref_full``).
- Case-level metrics of a case whose every reference pixel is ignored: NaN (``no_valid_pixel``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segeval.status import CODE, Status

OK, BOTH_EMPTY, REF_EMPTY, PRED_EMPTY = (
    CODE[s] for s in (Status.OK, Status.BOTH_EMPTY, Status.REF_EMPTY, Status.PRED_EMPTY)
)
REF_FULL, NO_VALID_PIXEL, NO_VALID_CLASS = (
    CODE[s] for s in (Status.REF_FULL, Status.NO_VALID_PIXEL, Status.NO_VALID_CLASS)
)

Values = tuple[np.ndarray, np.ndarray]
"""``(values, status codes)`` of equal shape."""


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

    @property
    def valid(self) -> np.ndarray:
        """Pixels that count in the case (every valid pixel is a TP or an FP of some class), shape (...)."""
        return self.tp.sum(axis=-1) + self.fp.sum(axis=-1)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den == 0`` (callers then set the policy value)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _overlap_policy(values: np.ndarray, c: ClassCounts, empty_score: float) -> Values:
    status = np.full(values.shape, OK, dtype=np.int8)
    ref_empty, pred_empty = c.ref == 0, c.pred == 0
    status[ref_empty & ~pred_empty] = REF_EMPTY
    status[pred_empty & ~ref_empty] = PRED_EMPTY
    status[ref_empty & pred_empty] = BOTH_EMPTY
    values = values.copy()
    values[ref_empty & pred_empty] = empty_score
    return values, status


def counts_ok(values: np.ndarray) -> Values:
    """A count or volume: always status ``ok``."""
    return values, np.zeros(values.shape, dtype=np.int8)


def dice(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Dice similarity coefficient :math:`2TP / (2TP + FP + FN)` (Dice 1945, doi:10.2307/1932409)."""
    return _overlap_policy(ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn), c, empty_score)


def iou(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Intersection over union (Jaccard index) :math:`TP / (TP + FP + FN)`."""
    return _overlap_policy(ratio(c.tp, c.tp + c.fp + c.fn), c, empty_score)


def volume_similarity(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Volume similarity :math:`1 - |FN - FP| / (2TP + FP + FN)` (Taha & Hanbury 2015, doi:10.1186/s12880-015-0068-x)."""
    return _overlap_policy(1 - ratio(np.abs(c.fn - c.fp), 2 * c.tp + c.fp + c.fn), c, empty_score)


def precision(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Precision (positive predictive value) :math:`TP / (TP + FP)`."""
    values = ratio(c.tp, c.pred)
    status = np.where(c.pred == 0, PRED_EMPTY, OK).astype(np.int8)
    both = (c.pred == 0) & (c.ref == 0)
    values[both], status[both] = empty_score, BOTH_EMPTY
    return values, status


def recall(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Recall (sensitivity, true-positive rate) :math:`TP / (TP + FN)`."""
    values = ratio(c.tp, c.ref)
    status = np.where(c.ref == 0, REF_EMPTY, OK).astype(np.int8)
    both = (c.pred == 0) & (c.ref == 0)
    values[both], status[both] = empty_score, BOTH_EMPTY
    return values, status


def specificity(c: ClassCounts) -> Values:
    """Specificity (true-negative rate) :math:`TN / (TN + FP)`; NaN when the class fills the reference."""
    den = c.tn + c.fp
    return ratio(c.tn, den), np.where(den == 0, REF_FULL, OK).astype(np.int8)


def _class_mean(values: np.ndarray) -> Values:
    """Mean over the last axis of the non-NaN values; ``no_valid_class`` when there is none."""
    valid = ~np.isnan(values)
    count = valid.sum(axis=-1)
    mean = ratio(np.where(valid, values, 0.0).sum(axis=-1), count)
    return mean, np.where(count == 0, NO_VALID_CLASS, OK).astype(np.int8)


def _case_status(c: ClassCounts, codes: np.ndarray) -> np.ndarray:
    return np.where(c.valid == 0, NO_VALID_PIXEL, codes).astype(np.int8)


# Case-level metrics (Long et al. 2015, FCN, doi:10.1109/CVPR.2015.7298965). With n_ij the pixels of
# reference class i predicted as j, t_i = sum_j n_ij and N = sum_i t_i:


def pixel_accuracy(c: ClassCounts) -> Values:
    """Pixel accuracy :math:`\\sum_i n_{ii} / N`."""
    return ratio(c.tp.sum(axis=-1), c.valid), _case_status(c, np.zeros(c.valid.shape, dtype=np.int8))


def mean_pixel_accuracy(c: ClassCounts) -> Values:
    """Mean pixel accuracy: the mean of :math:`n_{ii} / t_i` over the classes present in the reference."""
    mean, codes = _class_mean(ratio(c.tp, c.ref))
    return mean, _case_status(c, codes)


def mean_iou(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """mIoU: the mean of the per-class IoU over the classes that have a value (both-empty classes count
    only when ``empty_score`` is set)."""
    mean, codes = _class_mean(iou(c, empty_score)[0])
    return mean, _case_status(c, codes)


def frequency_weighted_iou(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """FWIoU :math:`\\sum_i t_i \\, IoU_i / N`."""
    weighted = np.where(c.ref > 0, c.ref * np.nan_to_num(iou(c, empty_score)[0]), 0.0).sum(axis=-1)
    return ratio(weighted, c.valid), _case_status(c, np.zeros(c.valid.shape, dtype=np.int8))


def mean_dice(c: ClassCounts, foreground: np.ndarray, empty_score: float = np.nan) -> Values:
    """Mean Dice: the mean of the per-class Dice over the ``foreground`` classes (bool, shape (C,)) with a value."""
    mean, codes = _class_mean(dice(c, empty_score)[0][..., foreground])
    return mean, _case_status(c, codes)
