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
- The confusion-matrix family (MCC, kappa, F-beta, error rates, …): docs/metrics.md states each one's
  branches. Error rates are complements (FNR = 1 - recall), so a both-empty class gives ``1 - empty_score``;
  chance-corrected scores (MCC, kappa, informedness, markedness, balanced accuracy) give ``empty_score``
  when both sides are constant and equal (class absent from both, or filling both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segeval.status import CODE, Status

OK, BOTH_EMPTY, REF_EMPTY, PRED_EMPTY = (
    CODE[s] for s in (Status.OK, Status.BOTH_EMPTY, Status.REF_EMPTY, Status.PRED_EMPTY)
)
REF_FULL, PRED_FULL, NO_VALID_PIXEL, NO_VALID_CLASS = (
    CODE[s] for s in (Status.REF_FULL, Status.PRED_FULL, Status.NO_VALID_PIXEL, Status.NO_VALID_CLASS)
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
    matrix: np.ndarray | None = None
    """The (..., C, C) float64 confusion matrix the counts come from (case-level multi-class metrics)."""

    @classmethod
    def from_confusion(cls, cm: np.ndarray) -> ClassCounts:
        cm = np.asarray(cm, dtype=np.float64)
        tp = np.diagonal(cm, axis1=-2, axis2=-1).copy()
        fp = cm.sum(axis=-2) - tp
        fn = cm.sum(axis=-1) - tp
        total = cm.sum(axis=(-2, -1))[..., None]
        return cls(tp=tp, fp=fp, fn=fn, tn=total - tp - fp - fn, matrix=cm)

    def summed(self, classes: np.ndarray) -> ClassCounts:
        """The counts of the ``classes`` (bool, shape (C,)) taken as one class, shape (..., 1) (micro averages)."""
        return ClassCounts(
            *(np.sum(counts[..., classes], axis=-1, keepdims=True) for counts in (self.tp, self.fp, self.fn, self.tn))
        )

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


def _overlap_policy(values: np.ndarray, c: ClassCounts, empty_score: float, ref_empty_nan: bool = False) -> Values:
    status = np.full(values.shape, OK, dtype=np.int8)
    ref_empty, pred_empty = c.ref == 0, c.pred == 0
    status[ref_empty & ~pred_empty] = REF_EMPTY
    status[pred_empty & ~ref_empty] = PRED_EMPTY
    status[ref_empty & pred_empty] = BOTH_EMPTY
    values = values.copy()
    values[ref_empty & pred_empty] = empty_score
    if ref_empty_nan:
        values[ref_empty] = np.nan
    return values, status


def counts_ok(values: np.ndarray) -> Values:
    """A count or volume: always status ``ok``."""
    return values, np.zeros(values.shape, dtype=np.int8)


def dice(c: ClassCounts, empty_score: float = np.nan, ref_empty_nan: bool = False) -> Values:
    """Dice similarity coefficient :math:`2TP / (2TP + FP + FN)` (Dice 1945, doi:10.2307/1932409); ``ref_empty_nan``:
    NaN wherever the reference is empty (MONAI's ``ignore_empty``)."""
    return _overlap_policy(ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn), c, empty_score, ref_empty_nan)


def iou(c: ClassCounts, empty_score: float = np.nan, ref_empty_nan: bool = False) -> Values:
    """Intersection over union (Jaccard index) :math:`TP / (TP + FP + FN)`."""
    return _overlap_policy(ratio(c.tp, c.tp + c.fp + c.fn), c, empty_score, ref_empty_nan)


def volume_similarity(c: ClassCounts, empty_score: float = np.nan, ref_empty_nan: bool = False) -> Values:
    """Volume similarity :math:`1 - |FN - FP| / (2TP + FP + FN)` (Taha & Hanbury 2015, doi:10.1186/s12880-015-0068-x)."""
    return _overlap_policy(1 - ratio(np.abs(c.fn - c.fp), 2 * c.tp + c.fp + c.fn), c, empty_score, ref_empty_nan)


def precision(c: ClassCounts, empty_score: float = np.nan, ref_empty_nan: bool = False) -> Values:
    """Precision (positive predictive value) :math:`TP / (TP + FP)`."""
    values = ratio(c.tp, c.pred)
    status = np.where(c.pred == 0, PRED_EMPTY, OK).astype(np.int8)
    both = (c.pred == 0) & (c.ref == 0)
    values[both], status[both] = empty_score, BOTH_EMPTY
    if ref_empty_nan:
        values[c.ref == 0] = np.nan
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


# The confusion-matrix family, per class. Branches (docs/metrics.md): a class absent from both sides is
# ``both_empty``; one that fills the whole reference is ``ref_full``; one that fills the whole prediction only
# is ``pred_full``.


def _class_status(c: ClassCounts) -> np.ndarray:
    """``ok``, ``ref_empty``, ``pred_empty``, ``ref_full``, ``pred_full`` or ``both_empty`` for each class."""
    status = _overlap_policy(np.zeros(c.tp.shape), c, 0.0)[1]
    status[(c.tn + c.fp == 0) & (c.ref > 0)] = REF_FULL
    status[(c.tn + c.fn == 0) & (status == OK)] = PRED_FULL
    return status


def _constant_both(c: ClassCounts) -> np.ndarray:
    """Prediction and reference both constant and equal for the class: absent from both, or filling both."""
    return ((c.ref == 0) & (c.pred == 0)) | ((c.tn == 0) & (c.fp == 0) & (c.fn == 0))


def _chance_corrected(values: np.ndarray, c: ClassCounts, empty_score: float) -> Values:
    values = values.copy()
    values[_constant_both(c)] = empty_score
    return values, _class_status(c)


def fbeta(c: ClassCounts, beta: float, empty_score: float = np.nan, ref_empty_nan: bool = False) -> Values:
    """F-beta :math:`(1+\\beta^2)TP / ((1+\\beta^2)TP + \\beta^2 FN + FP)` (van Rijsbergen 1979,
    Information Retrieval, ch. 7); Dice's branches (beta = 1 is Dice)."""
    b2 = beta * beta
    return _overlap_policy(ratio((1 + b2) * c.tp, (1 + b2) * c.tp + b2 * c.fn + c.fp), c, empty_score, ref_empty_nan)


def false_positive_rate(c: ClassCounts) -> Values:
    """False-positive rate :math:`FP / (FP + TN) = 1 - specificity`; NaN (``ref_full``) without reference negative."""
    return 1 - specificity(c)[0], _class_status(c)


def false_negative_rate(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """False-negative rate :math:`FN / (TP + FN) = 1 - recall` (both empty: ``1 - empty_score``)."""
    values, status = recall(c, empty_score)
    return 1 - values, status


def false_discovery_rate(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """False-discovery rate :math:`FP / (TP + FP) = 1 - precision` (both empty: ``1 - empty_score``)."""
    values, status = precision(c, empty_score)
    return 1 - values, status


def negative_predictive_value(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Negative predictive value :math:`TN / (TN + FN)`: NaN when the prediction has no negative pixel,
    ``empty_score`` when the class fills both sides."""
    values = ratio(c.tn, c.tn + c.fn)
    values[(c.tn == 0) & (c.fp == 0) & (c.fn == 0)] = empty_score
    return values, _class_status(c)


def false_omission_rate(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """False-omission rate :math:`FN / (FN + TN) = 1 - NPV`."""
    values, status = negative_predictive_value(c, empty_score)
    return 1 - values, status


def informedness(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Informedness (Youden's J) :math:`TP/(TP+FN) + TN/(TN+FP) - 1` (Youden 1950, doi:10.1002/1097-0142(1950)3:1<32::AID-CNCR2820030106>3.0.CO;2-3)."""
    return _chance_corrected(ratio(c.tp, c.ref) + ratio(c.tn, c.tn + c.fp) - 1, c, empty_score)


def balanced_accuracy(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Balanced accuracy :math:`(TP/(TP+FN) + TN/(TN+FP)) / 2` (Brodersen et al. 2010, doi:10.1109/ICPR.2010.764)."""
    return _chance_corrected((ratio(c.tp, c.ref) + ratio(c.tn, c.tn + c.fp)) / 2, c, empty_score)


def markedness(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Markedness :math:`TP/(TP+FP) + TN/(TN+FN) - 1` (Powers 2011, arXiv:2010.16061)."""
    return _chance_corrected(ratio(c.tp, c.pred) + ratio(c.tn, c.tn + c.fn) - 1, c, empty_score)


def matthews_correlation(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Matthews correlation coefficient :math:`(TP\\,TN - FP\\,FN) / \\sqrt{(TP+FP)(TP+FN)(TN+FP)(TN+FN)}`
    (Matthews 1975, doi:10.1016/0005-2795(75)90109-9); 0 when only one side is constant."""
    den = np.sqrt(c.pred * c.ref) * np.sqrt((c.tn + c.fp) * (c.tn + c.fn))
    values = np.where(den > 0, ratio(c.tp * c.tn - c.fp * c.fn, den), 0.0)
    return _chance_corrected(values, c, empty_score)


def cohen_kappa(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Cohen's kappa of the class against the rest, :math:`2(TP\\,TN - FN\\,FP) / ((TP+FP)(FP+TN) + (TP+FN)(FN+TN))`
    (Cohen 1960, doi:10.1177/001316446002000104); chance agreement 1 (both sides constant) → ``empty_score``."""
    den = c.pred * (c.fp + c.tn) + c.ref * (c.fn + c.tn)
    return _chance_corrected(ratio(2 * (c.tp * c.tn - c.fn * c.fp), den), c, empty_score)


def positive_likelihood_ratio(c: ClassCounts) -> Values:
    """Positive likelihood ratio :math:`TPR / FPR`: inf when FP = 0 < TP; NaN when TPR or FPR is undefined
    (``ref_empty``, ``ref_full``) or both are 0 (``pred_empty``)."""
    tpr, fpr = ratio(c.tp, c.ref), ratio(c.fp, c.fp + c.tn)
    with np.errstate(divide="ignore", invalid="ignore"):
        return tpr / fpr, _class_status(c)


def absolute_volume_difference(c: ClassCounts, voxel_volume: np.ndarray) -> Values:
    """Absolute volume difference :math:`\\lvert (TP+FP) - (TP+FN) \\rvert \\, v` (0 when both are empty)."""
    return np.abs(c.pred - c.ref) * voxel_volume, _class_status(c)


def relative_volume_difference(c: ClassCounts) -> Values:
    """Relative volume difference :math:`((TP+FP) - (TP+FN)) / (TP+FN)`, signed, best at 0; NaN without reference."""
    return ratio(c.pred - c.ref, c.ref), _class_status(c)


def _case_result(values: np.ndarray, c: ClassCounts, codes: np.ndarray | None = None) -> Values:
    """A case-level value: NaN with status ``no_valid_pixel`` for a case whose every reference pixel is ignored."""
    codes = np.zeros(np.shape(values), dtype=np.int8) if codes is None else codes
    values = np.where(c.valid == 0, np.nan, values)
    return values, _case_status(c, codes)


# Class averages at case level over the ``foreground`` classes (the classes mean_dice averages).


def macro_average(values: np.ndarray, foreground: np.ndarray, c: ClassCounts) -> Values:
    """The mean of the classes' values that are not NaN (``no_valid_class`` when there is none)."""
    mean, codes = _class_mean(values[..., foreground])
    return mean, _case_status(c, codes)


def weighted_average(values: np.ndarray, foreground: np.ndarray, c: ClassCounts) -> Values:
    """The mean weighted by reference size :math:`\\sum_c t_c x_c / \\sum_c t_c` over the classes with a value
    (support-weighted; classes absent from the reference weigh 0)."""
    x, t = values[..., foreground], c.ref[..., foreground]
    weight = np.where(np.isnan(x), 0.0, t)
    total = weight.sum(axis=-1)
    mean = ratio(np.where(weight > 0, weight * x, 0.0).sum(axis=-1), total)
    return mean, _case_status(c, np.where(total == 0, NO_VALID_CLASS, OK).astype(np.int8))


def micro_average(computed: Values, c: ClassCounts) -> Values:
    """A class metric of :meth:`ClassCounts.summed` (shape (..., 1)) as a case value."""
    values, codes = computed
    return _case_result(values[..., 0], c, codes[..., 0])


def generalized_dice(c: ClassCounts, foreground: np.ndarray, empty_score: float = np.nan) -> Values:
    """Generalised Dice score :math:`2\\sum_c w_c TP_c / \\sum_c w_c (2TP_c + FP_c + FN_c)`, :math:`w_c = 1/t_c^2`,
    over the ``foreground`` classes (Sudre et al. 2017, doi:10.1007/978-3-319-67558-9_28). A class absent from the
    reference takes the largest weight of the others (1 when none is present), as MONAI does; no foreground on
    either side → ``empty_score`` (``both_empty``)."""
    tp, fp, fn, t = (x[..., foreground] for x in (c.tp, c.fp, c.fn, c.ref))
    weight = ratio(np.ones_like(t), t * t)
    largest = np.max(np.where(np.isnan(weight), 0.0, weight), axis=-1, keepdims=True, initial=0.0)
    weight = np.where(np.isnan(weight), np.where(largest > 0, largest, 1.0), weight)
    den = (weight * (2 * tp + fp + fn)).sum(axis=-1)
    values = ratio(2 * (weight * tp).sum(axis=-1), den)
    empty = den == 0
    values[empty] = empty_score
    return _case_result(values, c, np.where(empty, BOTH_EMPTY, OK).astype(np.int8))


# Case level, from the whole multi-class matrix n_ij (rows = reference i, columns = prediction j) with
# row sums a_i, column sums b_j and N pixels; ignored pixels are not in it. Clustering indices compare the
# two partitions of the pixels and so ignore which label a region has.


def multiclass_kappa(c: ClassCounts, empty_score: float = np.nan) -> Values:
    """Cohen's kappa over all labels :math:`(N\\sum_i n_{ii} - \\sum_i a_i b_i) / (N^2 - \\sum_i a_i b_i)`
    (Cohen 1960); one and the same label on both sides (chance agreement 1) → ``empty_score`` (``both_empty``)."""
    n = c.matrix
    total, agree = n.sum(axis=(-2, -1)), np.trace(n, axis1=-2, axis2=-1)
    chance = (n.sum(axis=-1) * n.sum(axis=-2)).sum(axis=-1)
    values = ratio(total * agree - chance, total * total - chance)
    constant = (total * total == chance) & (total > 0)
    values[constant] = empty_score
    return _case_result(values, c, np.where(constant, BOTH_EMPTY, OK).astype(np.int8))


def _pairs(x: np.ndarray) -> np.ndarray:
    return x * (x - 1) / 2


def _pair_counts(c: ClassCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel pairs together in both partitions, in the reference only, in the prediction only, in neither."""
    n = c.matrix
    both = _pairs(n).sum(axis=(-2, -1))
    ref, pred = _pairs(n.sum(axis=-1)).sum(axis=-1), _pairs(n.sum(axis=-2)).sum(axis=-1)
    total = _pairs(n.sum(axis=(-2, -1)))
    return both, ref - both, pred - both, total - ref - pred + both


def rand_index(c: ClassCounts) -> Values:
    """Rand index: the share of pixel pairs on which both partitions agree (together or apart)
    (Rand 1971, doi:10.1080/01621459.1971.10482356); 1 with fewer than two pixels."""
    together, ref_only, pred_only, apart = _pair_counts(c)
    total = together + ref_only + pred_only + apart
    return _case_result(np.where(total > 0, ratio(together + apart, total), 1.0), c)


def adjusted_rand_index(c: ClassCounts) -> Values:
    """Adjusted Rand index (Hubert & Arabie 1985, doi:10.1007/BF01908075) from the pair counts
    :math:`2(a d - b c) / ((a+b)(b+d) + (a+c)(c+d))`; 1 when the partitions are identical."""
    a, b, cc, d = _pair_counts(c)
    values = ratio(2 * (a * d - b * cc), (a + b) * (b + d) + (a + cc) * (cc + d))
    values[(b == 0) & (cc == 0)] = 1.0
    return _case_result(values, c)


def _plogp_sum(p: np.ndarray, axes) -> np.ndarray:
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=axes)


def _information(c: ClassCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entropies of the reference and prediction partitions and their mutual information, in nats."""
    n = c.matrix
    total = n.sum(axis=(-2, -1))[..., None, None]
    p = ratio(n, total)
    h_ref, h_pred = -_plogp_sum(p.sum(axis=-1), -1), -_plogp_sum(p.sum(axis=-2), -1)
    h_joint = -_plogp_sum(p, (-2, -1))
    return h_ref, h_pred, np.maximum(h_ref + h_pred - h_joint, 0.0)


def mutual_information(c: ClassCounts) -> Values:
    """Mutual information of the two partitions in nats, :math:`\\sum_{ij} p_{ij} \\ln(p_{ij} / (p_i p_j))`."""
    return _case_result(_information(c)[2], c)


def variation_of_information(c: ClassCounts) -> Values:
    """Variation of information :math:`H(R) + H(P) - 2 I(R; P)` in nats (Meilă 2007, doi:10.1016/j.jmva.2006.11.013)."""
    h_ref, h_pred, mi = _information(c)
    return _case_result(np.maximum(h_ref + h_pred - 2 * mi, 0.0), c)


def global_consistency_error(c: ClassCounts) -> Values:
    """Global consistency error :math:`\\min(N - \\sum_{ij} n_{ij}^2 / a_i, N - \\sum_{ij} n_{ij}^2 / b_j) / N`
    (Martin et al. 2001, doi:10.1109/ICCV.2001.937655)."""
    n = c.matrix
    total = n.sum(axis=(-2, -1))
    square = n * n
    ref_side = total - np.nansum(ratio(square, n.sum(axis=-1, keepdims=True)), axis=(-2, -1))
    pred_side = total - np.nansum(ratio(square, n.sum(axis=-2, keepdims=True)), axis=(-2, -1))
    return _case_result(ratio(np.minimum(ref_side, pred_side), total), c)
