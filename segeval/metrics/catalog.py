"""The metric catalog: the one table of metrics that everything else reads.

``--metrics``, ``--gate``, ``segeval compare``, the terminal tables, ``summary.json``, ``segeval metrics``
and the table of docs/metrics.md (generated, with a sync test) all come from :data:`METRICS`. Each
:class:`MetricSpec` says what a metric measures, at which level, in which unit, which direction is
better, its range, how it is computed and pooled, and where it is defined. ``hdNN`` is one
parametrised entry: ``hd95``, ``hd99.5`` … resolve to it with their percentile.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from segeval.errors import UsageError
from segeval.metrics import overlap
from segeval.registry import Registry, normalise_name


class Family(enum.StrEnum):
    """What a metric is computed from."""

    OVERLAP = "overlap"
    """Ratios of the confusion matrix."""
    COUNT = "count"
    """Pixel counts and volumes of the confusion matrix."""
    DISTANCE = "distance"
    """Surface distances; computed only when asked for (``--metrics`` or a gate)."""
    LESION = "lesion"
    """Connected components matched across sides (:mod:`segeval.metrics.lesion`); computed only when asked for
    (``--metrics``, ``--metrics lesion`` or a gate)."""
    CM = "cm"
    """More of the confusion matrix (MCC, kappa, F-beta, error rates, clustering indices, class averages);
    computed only when asked for (``--metrics``, ``--metrics cm`` or a gate)."""


DEFAULT_FAMILIES = frozenset({Family.OVERLAP, Family.COUNT})
"""Families computed in every run; the others only when named in ``--metrics`` (a metric or its family) or a gate."""


class Level(enum.StrEnum):
    """How many values a metric has per case."""

    CLASS = "class"
    """One per class."""
    CASE = "case"
    """One per case (class ``all`` in the reports)."""


class Better(enum.StrEnum):
    """Which way a metric improves."""

    HIGHER = "higher"
    LOWER = "lower"
    TARGET = "target"
    """Closest to a target value (e.g. a signed difference, best at 0)."""
    NONE = "none"
    """No direction: counts and volumes."""


@dataclass(frozen=True)
class Direction:
    """Which way a metric improves: ``higher``, ``lower``, ``target(v)`` or ``none``."""

    better: Better
    target: float | None = None

    def loss(self, value: float) -> float:
        """A number that falls as ``value`` improves (``nan`` for a metric without direction)."""
        if self.better is Better.HIGHER:
            return -value
        if self.better is Better.LOWER:
            return value
        if self.better is Better.TARGET:
            return abs(value - self.target)
        return math.nan

    @property
    def higher_is_better(self) -> bool | None:
        """``True``/``False`` for higher/lower, ``None`` otherwise (the ``summary.json`` field)."""
        return {Better.HIGHER: True, Better.LOWER: False}.get(self.better)

    def __str__(self) -> str:
        return f"target({self.target:g})" if self.better is Better.TARGET else self.better.value


HIGHER, LOWER, NO_DIRECTION = Direction(Better.HIGHER), Direction(Better.LOWER), Direction(Better.NONE)


class Pooling(enum.StrEnum):
    """How ``summary.csv``'s ``pooled`` column is made for a metric."""

    CONFUSION = "confusion"
    """The metric of the confusion matrix summed over all scored cases (FCN / mmsegmentation)."""
    SUM = "sum"
    """The sum of the per-case values (volumes in mm³ differ in voxel size between cases)."""
    NONE = "none"
    """No pooled value (distance metrics)."""
    LESION = "lesion"
    """Detection ratios from the lesion counts summed over cases; per-lesion scores averaged over every lesion."""


@dataclass(frozen=True)
class Derivation:
    """What a metric computed from counts needs besides the counts."""

    empty_score: float
    """Value of an overlap metric whose class is absent from both sides."""
    foreground: np.ndarray
    """Classes averaged by class means (bool, shape (C,))."""
    voxel_volume: np.ndarray
    """Volume of one voxel of each case, shape (cases, 1) (1 for a pooled matrix)."""
    ref_empty_nan: bool = False
    """NaN for Dice, IoU, volume similarity, F-beta and precision wherever the reference is empty
    (``--empty-policy monai``: MONAI's ``ignore_empty=True``)."""


Compute = Callable[[overlap.ClassCounts, Derivation], overlap.Values]


@dataclass(frozen=True)
class MetricSpec:
    """One entry of the metric catalog.

    ``compute`` maps the counts of the cases (or of the pooled matrix) to ``(values, status
    codes)``; distance metrics have none (the distance engine computes them by ``name``).
    ``parameter`` is the percentile of a resolved ``hdNN`` name.
    """

    name: str
    family: Family
    level: Level
    direction: Direction
    range: tuple[float, float]
    unit: str
    formula: str
    reference: str
    aliases: tuple[str, ...] = ()
    compute: Compute | None = None
    pooling: Pooling = Pooling.CONFUSION
    in_table: bool = False
    """Shown in the terminal's per-class table by default (distance metrics: when computed)."""
    parameter: float | None = None
    empty: str = ""
    """The value on empty masks (both empty, one side empty, no negative pixel), as ``segeval metrics`` shows it."""

    @property
    def needs_distances(self) -> bool:
        """Whether the metric needs the surface-distance engine (computed only when asked for)."""
        return self.family is Family.DISTANCE

    @property
    def needs_lesions(self) -> bool:
        """Whether the metric needs the lesion-wise engine (computed only when asked for)."""
        return self.family is Family.LESION

    @property
    def opt_in(self) -> bool:
        """Computed only when asked for (its family is not one of :data:`DEFAULT_FAMILIES`)."""
        return self.family not in DEFAULT_FAMILIES


INF = math.inf
PERCENTILE_TEMPLATE = "hdNN"
_DICE_REF = "Dice 1945, Measures of the amount of ecologic association between species, doi:10.2307/1932409"
_JACCARD_REF = "Jaccard 1912, The distribution of the flora in the alpine zone, doi:10.1111/j.1469-8137.1912.tb05611.x"
_FCN_REF = "Long, Shelhamer, Darrell 2015, Fully convolutional networks for semantic segmentation, doi:10.1109/CVPR.2015.7298965"
_TAHA_REF = "Taha & Hanbury 2015, Metrics for evaluating 3D medical image segmentation, doi:10.1186/s12880-015-0068-x"
_HD_REF = "Huttenlocher et al. 1993, Comparing images using the Hausdorff distance, doi:10.1109/34.232073"
_NSD_REF = "Nikolov et al. 2021, Clinically applicable segmentation of head and neck anatomy, doi:10.2196/26151"
_BIOU_REF = "Cheng et al. 2021, Boundary IoU: improving object-centric image segmentation evaluation, doi:10.1109/CVPR46437.2021.01508"
_UNIT_RATIO, _UNIT_PIXELS, _UNIT_VOLUME, _UNIT_LENGTH = "1", "px", "mm^d or px", "mm or px"
_COHEN_REF = "Cohen 1960, A coefficient of agreement for nominal scales, doi:10.1177/001316446002000104"
_POWERS_REF = "Powers 2011, Evaluation: from precision, recall and F-measure to ROC, informedness, markedness and correlation, arXiv:2010.16061"
_HEIMANN_REF = "Heimann et al. 2009, Comparison and evaluation of methods for liver segmentation from CT datasets, doi:10.1109/TMI.2009.2013851"
_MEILA_REF = "Meila 2007, Comparing clusterings: an information based distance, doi:10.1016/j.jmva.2006.11.013"
_MASD_REF = "Benes & Zitova 2015, Performance evaluation of image segmentation algorithms on microscopic image data, doi:10.1111/jmi.12186"
_UNIT_NATS = "nat"
_OVERLAP_EMPTY = "both empty: --empty-score (nan); one side empty: 0"
_NO_PIXEL = "no valid pixel: nan"
_DISTANCE_EMPTY = "both empty: nan (--empty-policy); one empty: --distance-empty (image diagonal)"
_BOUNDED_EMPTY = "both empty: nan (--empty-policy); one empty: 0 (nan with --distance-empty nan)"
_CHANCE_EMPTY = "class absent from both or filling both: --empty-score (nan)"


def _class(
    name,
    family,
    direction,
    low_high,
    unit,
    formula,
    reference,
    compute,
    *,
    aliases=(),
    pooling=Pooling.CONFUSION,
    in_table=False,
    empty="",
) -> MetricSpec:
    return MetricSpec(
        name,
        family,
        Level.CLASS,
        direction,
        low_high,
        unit,
        formula,
        reference,
        aliases,
        compute,
        pooling,
        in_table,
        empty=empty,
    )


def _case(name, formula, compute, *, aliases=(), empty=_NO_PIXEL) -> MetricSpec:
    return MetricSpec(
        name, Family.OVERLAP, Level.CASE, HIGHER, (0, 1), _UNIT_RATIO, formula, _FCN_REF, aliases, compute, empty=empty
    )


def _cm(
    name,
    level,
    direction,
    low_high,
    formula,
    reference,
    compute,
    *,
    empty,
    aliases=(),
    unit=_UNIT_RATIO,
    pooling=Pooling.CONFUSION,
):
    """An entry of the confusion-matrix family (computed only when asked for)."""
    return MetricSpec(
        name, Family.CM, level, direction, low_high, unit, formula, reference, aliases, compute, pooling, empty=empty
    )


def _distance(name, direction, low_high, unit, formula, reference, *, aliases=(), empty=_DISTANCE_EMPTY) -> MetricSpec:
    return MetricSpec(
        name,
        Family.DISTANCE,
        Level.CLASS,
        direction,
        low_high,
        unit,
        formula,
        reference,
        aliases,
        None,
        Pooling.NONE,
        True,
        empty=empty,
    )


CATALOG: tuple[MetricSpec, ...] = (
    _class(
        "dice",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "2TP / (2TP + FP + FN)",
        _DICE_REF,
        lambda c, d: overlap.dice(c, d.empty_score, d.ref_empty_nan),
        aliases=("dsc", "f1", "dice_coefficient"),
        in_table=True,
        empty=_OVERLAP_EMPTY,
    ),
    _class(
        "iou",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TP / (TP + FP + FN)",
        _JACCARD_REF,
        lambda c, d: overlap.iou(c, d.empty_score, d.ref_empty_nan),
        aliases=("jaccard",),
        in_table=True,
        empty=_OVERLAP_EMPTY,
    ),
    _class(
        "precision",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TP / (TP + FP)",
        _TAHA_REF,
        lambda c, d: overlap.precision(c, d.empty_score, d.ref_empty_nan),
        aliases=("ppv",),
        in_table=True,
        empty="both empty: --empty-score (nan); no prediction: nan; no reference: 0",
    ),
    _class(
        "recall",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TP / (TP + FN)",
        _TAHA_REF,
        lambda c, d: overlap.recall(c, d.empty_score),
        aliases=("sensitivity", "tpr"),
        in_table=True,
        empty="both empty: --empty-score (nan); no reference: nan; no prediction: 0",
    ),
    _class(
        "specificity",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TN / (TN + FP)",
        _TAHA_REF,
        lambda c, d: overlap.specificity(c),
        aliases=("tnr",),
        in_table=True,
        empty="class fills the reference: nan",
    ),
    _class(
        "volume_similarity",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "1 - |FN - FP| / (2TP + FP + FN)",
        _TAHA_REF,
        lambda c, d: overlap.volume_similarity(c, d.empty_score, d.ref_empty_nan),
        aliases=("vs",),
        empty=_OVERLAP_EMPTY,
    ),
    _class(
        "tp",
        Family.COUNT,
        NO_DIRECTION,
        (0, INF),
        _UNIT_PIXELS,
        "pixels of the class in both reference and prediction",
        _TAHA_REF,
        lambda c, d: overlap.counts_ok(c.tp),
    ),
    _class(
        "fp",
        Family.COUNT,
        NO_DIRECTION,
        (0, INF),
        _UNIT_PIXELS,
        "pixels of the class in the prediction only",
        _TAHA_REF,
        lambda c, d: overlap.counts_ok(c.fp),
    ),
    _class(
        "fn",
        Family.COUNT,
        NO_DIRECTION,
        (0, INF),
        _UNIT_PIXELS,
        "pixels of the class in the reference only",
        _TAHA_REF,
        lambda c, d: overlap.counts_ok(c.fn),
    ),
    _class(
        "tn",
        Family.COUNT,
        NO_DIRECTION,
        (0, INF),
        _UNIT_PIXELS,
        "pixels of the class in neither",
        _TAHA_REF,
        lambda c, d: overlap.counts_ok(c.tn),
    ),
    _class(
        "ref_volume",
        Family.COUNT,
        NO_DIRECTION,
        (0, INF),
        _UNIT_VOLUME,
        "(TP + FN) x voxel volume",
        _TAHA_REF,
        lambda c, d: overlap.counts_ok(c.ref * d.voxel_volume),
        pooling=Pooling.SUM,
    ),
    _class(
        "pred_volume",
        Family.COUNT,
        NO_DIRECTION,
        (0, INF),
        _UNIT_VOLUME,
        "(TP + FP) x voxel volume",
        _TAHA_REF,
        lambda c, d: overlap.counts_ok(c.pred * d.voxel_volume),
        pooling=Pooling.SUM,
    ),
    _case(
        "pixel_accuracy", "sum_i n_ii / sum_i t_i", lambda c, d: overlap.pixel_accuracy(c), aliases=("pa", "accuracy")
    ),
    _case(
        "mean_pixel_accuracy",
        "mean over classes with t_i > 0 of n_ii / t_i",
        lambda c, d: overlap.mean_pixel_accuracy(c),
        aliases=("mpa", "mean_accuracy"),
        empty="no valid pixel or no class in the reference: nan",
    ),
    _case(
        "miou",
        "mean over classes of n_ii / (t_i + sum_j n_ji - n_ii)",
        lambda c, d: overlap.mean_iou(c, d.empty_score),
        aliases=("mean_iou",),
    ),
    _case(
        "fwiou",
        "sum_i t_i IoU_i / sum_i t_i",
        lambda c, d: overlap.frequency_weighted_iou(c, d.empty_score),
        aliases=("frequency_weighted_iou",),
    ),
    replace(
        _case(
            "mean_dice",
            "mean over foreground classes of Dice_c",
            lambda c, d: overlap.mean_dice(c, d.foreground, d.empty_score),
        ),
        reference=_DICE_REF,
    ),
    _cm(
        "mcc",
        Level.CLASS,
        HIGHER,
        (-1, 1),
        "(TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))",
        "Matthews 1975, Comparison of the predicted and observed secondary structure of T4 phage lysozyme, "
        "doi:10.1016/0005-2795(75)90109-9",
        lambda c, d: overlap.matthews_correlation(c, d.empty_score),
        aliases=("matthews_correlation", "matthews_corrcoef", "phi"),
        empty=_CHANCE_EMPTY + "; one side constant: 0",
    ),
    _cm(
        "kappa",
        Level.CLASS,
        HIGHER,
        (-1, 1),
        "2(TP TN - FN FP) / ((TP+FP)(FP+TN) + (TP+FN)(FN+TN)), the class against the rest",
        _COHEN_REF,
        lambda c, d: overlap.cohen_kappa(c, d.empty_score),
        aliases=("cohen_kappa", "cohens_kappa"),
        empty="chance agreement 1 (" + _CHANCE_EMPTY + ")",
    ),
    _cm(
        "balanced_accuracy",
        Level.CLASS,
        HIGHER,
        (0, 1),
        "(TP/(TP+FN) + TN/(TN+FP)) / 2",
        "Brodersen et al. 2010, The balanced accuracy and its posterior distribution, doi:10.1109/ICPR.2010.764",
        lambda c, d: overlap.balanced_accuracy(c, d.empty_score),
        aliases=("bacc",),
        empty=_CHANCE_EMPTY + "; no reference, or class fills the reference: nan",
    ),
    _cm(
        "fpr",
        Level.CLASS,
        LOWER,
        (0, 1),
        "FP / (FP + TN) = 1 - specificity",
        _TAHA_REF,
        lambda c, d: overlap.false_positive_rate(c),
        aliases=("false_positive_rate", "fallout", "fall_out"),
        empty="class fills the reference: nan",
    ),
    _cm(
        "fnr",
        Level.CLASS,
        LOWER,
        (0, 1),
        "FN / (TP + FN) = 1 - recall",
        _TAHA_REF,
        lambda c, d: overlap.false_negative_rate(c, d.empty_score),
        aliases=("false_negative_rate", "miss_rate"),
        empty="both empty: 1 - --empty-score (nan); no reference: nan; no prediction: 1",
    ),
    _cm(
        "fdr",
        Level.CLASS,
        LOWER,
        (0, 1),
        "FP / (TP + FP) = 1 - precision",
        _POWERS_REF,
        lambda c, d: overlap.false_discovery_rate(c, d.empty_score),
        aliases=("false_discovery_rate",),
        empty="both empty: 1 - --empty-score (nan); no prediction: nan; no reference: 1",
    ),
    _cm(
        "false_omission_rate",
        Level.CLASS,
        LOWER,
        (0, 1),
        "FN / (FN + TN) = 1 - NPV",
        _POWERS_REF,
        lambda c, d: overlap.false_omission_rate(c, d.empty_score),
        aliases=("for",),
        empty="class fills both: 1 - --empty-score (nan); no predicted negative: nan",
    ),
    _cm(
        "npv",
        Level.CLASS,
        HIGHER,
        (0, 1),
        "TN / (TN + FN)",
        _POWERS_REF,
        lambda c, d: overlap.negative_predictive_value(c, d.empty_score),
        aliases=("negative_predictive_value",),
        empty="class fills both: --empty-score (nan); no predicted negative: nan",
    ),
    _cm(
        "informedness",
        Level.CLASS,
        HIGHER,
        (-1, 1),
        "TP/(TP+FN) + TN/(TN+FP) - 1 (Youden's J)",
        "Youden 1950, Index for rating diagnostic tests, doi:10.1002/1097-0142(1950)3:1<32::AID-CNCR2820030106>3.0.CO;2-3",
        lambda c, d: overlap.informedness(c, d.empty_score),
        aliases=("youden_j", "youden_index", "bookmaker_informedness"),
        empty=_CHANCE_EMPTY + "; no reference, or class fills the reference: nan",
    ),
    _cm(
        "markedness",
        Level.CLASS,
        HIGHER,
        (-1, 1),
        "TP/(TP+FP) + TN/(TN+FN) - 1",
        _POWERS_REF,
        lambda c, d: overlap.markedness(c, d.empty_score),
        empty=_CHANCE_EMPTY + "; no prediction, or no predicted negative: nan",
    ),
    _cm(
        "positive_likelihood_ratio",
        Level.CLASS,
        HIGHER,
        (0, INF),
        "TPR / FPR = (TP/(TP+FN)) / (FP/(FP+TN))",
        "Deeks & Altman 2004, Diagnostic tests 4: likelihood ratios, doi:10.1136/bmj.329.7458.168",
        lambda c, d: overlap.positive_likelihood_ratio(c),
        aliases=("lr_plus", "plr"),
        empty="no reference, class fills the reference, or TP = FP = 0: nan; FP = 0 < TP: inf",
    ),
    _cm(
        "absolute_volume_difference",
        Level.CLASS,
        LOWER,
        (0, INF),
        "|(TP + FP) - (TP + FN)| x voxel volume",
        _HEIMANN_REF,
        lambda c, d: overlap.absolute_volume_difference(c, d.voxel_volume),
        aliases=("avd",),
        unit=_UNIT_VOLUME,
        pooling=Pooling.NONE,
        empty="both empty: 0",
    ),
    _cm(
        "relative_volume_difference",
        Level.CLASS,
        Direction(Better.TARGET, 0.0),
        (-1, INF),
        "((TP + FP) - (TP + FN)) / (TP + FN), signed",
        _HEIMANN_REF,
        lambda c, d: overlap.relative_volume_difference(c),
        aliases=("rvd",),
        empty="no reference: nan",
    ),
    _cm(
        "generalized_dice",
        Level.CASE,
        HIGHER,
        (0, 1),
        "2 sum_c w_c TP_c / sum_c w_c (2TP_c + FP_c + FN_c), w_c = 1/t_c^2, over the foreground classes",
        "Sudre et al. 2017, Generalised Dice overlap as a deep learning loss function, doi:10.1007/978-3-319-67558-9_28",
        lambda c, d: overlap.generalized_dice(c, d.foreground, d.empty_score),
        aliases=("gds", "generalised_dice", "generalized_dice_score"),
        empty="no foreground on either side: --empty-score (nan); a class absent from the reference takes the "
        "largest weight of the others (MONAI)",
    ),
    _cm(
        "multiclass_kappa",
        Level.CASE,
        HIGHER,
        (-1, 1),
        "(N sum_i n_ii - sum_i a_i b_i) / (N^2 - sum_i a_i b_i) over all labels",
        _COHEN_REF,
        lambda c, d: overlap.multiclass_kappa(c, d.empty_score),
        aliases=("kappa_multiclass",),
        empty="one and the same label on both sides (chance agreement 1): --empty-score (nan); " + _NO_PIXEL,
    ),
    _cm(
        "adjusted_rand_index",
        Level.CASE,
        HIGHER,
        (-1, 1),
        "2(ad - bc) / ((a+b)(b+d) + (a+c)(c+d)) over pixel pairs (a: together in both, d: apart in both)",
        "Hubert & Arabie 1985, Comparing partitions, doi:10.1007/BF01908075",
        lambda c, d: overlap.adjusted_rand_index(c),
        aliases=("ari",),
        empty="identical partitions (e.g. one label on each side): 1; " + _NO_PIXEL,
    ),
    _cm(
        "rand_index",
        Level.CASE,
        HIGHER,
        (0, 1),
        "(a + d) / (a + b + c + d) over pixel pairs",
        "Rand 1971, Objective criteria for the evaluation of clustering methods, doi:10.1080/01621459.1971.10482356",
        lambda c, d: overlap.rand_index(c),
        aliases=("ri",),
        empty="fewer than two pixels: 1; " + _NO_PIXEL,
    ),
    _cm(
        "mutual_information",
        Level.CASE,
        NO_DIRECTION,
        (0, INF),
        "sum_ij p_ij ln(p_ij / (p_i p_j)), p_ij = n_ij / N (nats; no direction: its best value is the entropy)",
        _MEILA_REF,
        lambda c, d: overlap.mutual_information(c),
        aliases=("mi",),
        unit=_UNIT_NATS,
        empty="one label on either side: 0; " + _NO_PIXEL,
    ),
    _cm(
        "variation_of_information",
        Level.CASE,
        LOWER,
        (0, INF),
        "H(ref) + H(pred) - 2 MI (nats)",
        _MEILA_REF,
        lambda c, d: overlap.variation_of_information(c),
        aliases=("voi",),
        unit=_UNIT_NATS,
        empty=_NO_PIXEL,
    ),
    _cm(
        "global_consistency_error",
        Level.CASE,
        LOWER,
        (0, 1),
        "min(N - sum_ij n_ij^2 / a_i, N - sum_ij n_ij^2 / b_j) / N",
        "Martin et al. 2001, A database of human segmented natural images, doi:10.1109/ICCV.2001.937655",
        lambda c, d: overlap.global_consistency_error(c),
        aliases=("gce",),
        empty=_NO_PIXEL,
    ),
    _distance(
        "hd",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "max(max_{p in dP} d(p, dG), max_{g in dG} d(g, dP))",
        _HD_REF,
        aliases=("hausdorff", "hausdorff_distance"),
    ),
    _distance(
        PERCENTILE_TEMPLATE,
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "Hausdorff distance at percentile NN of the surface distances (hd95, hd99.5, ...)",
        _HD_REF,
    ),
    _distance(
        "hd_percentile",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "hdNN at the --hd-percentile percentile (default 95)",
        _HD_REF,
        aliases=("hdp", "percentile_hausdorff", "percentile_hausdorff_distance"),
    ),
    _distance(
        "assd",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "mean of the surface distances of both directions, pooled",
        _HD_REF,
        aliases=("average_symmetric_surface_distance", "mean_symmetric_surface_distance"),
    ),
    _distance(
        "msd_pred_to_gt",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "mean distance from the prediction's surface to the reference's",
        _HD_REF,
        aliases=("asd_pred_to_gt", "mean_surface_distance_pred_to_gt"),
    ),
    _distance(
        "msd_gt_to_pred",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "mean distance from the reference's surface to the prediction's",
        _HD_REF,
        aliases=("asd_gt_to_pred", "mean_surface_distance_gt_to_pred"),
    ),
    _distance(
        "masd",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "(msd_pred_to_gt + msd_gt_to_pred) / 2, the mean of the two directed means (MetricsReloaded's MASD)",
        _MASD_REF,
        aliases=("mean_average_surface_distance",),
    ),
    _distance(
        "hd_pred_to_gt",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "max_{p in dP} d(p, dG), the directed Hausdorff distance from the prediction's surface",
        _HD_REF,
        aliases=("directed_hd_pred_to_gt",),
    ),
    _distance(
        "hd_gt_to_pred",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "max_{g in dG} d(g, dP), the directed Hausdorff distance from the reference's surface",
        _HD_REF,
        aliases=("directed_hd_gt_to_pred",),
    ),
    _distance(
        "nsd",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "share of both surfaces within the tolerance of the other surface",
        _NSD_REF,
        aliases=("surface_dice", "normalized_surface_dice", "normalised_surface_dice"),
        empty=_BOUNDED_EMPTY,
    ),
    _distance(
        "boundary_iou",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "IoU of the bands within a width (mm) inside each mask's boundary",
        _BIOU_REF,
        aliases=("biou",),
        empty=_BOUNDED_EMPTY,
    ),
)

_BRATS_REF = (
    "Saluja et al. 2023, BraTS 2023 lesion-wise performance metrics, https://github.com/rachitsaluja/BraTS-2023-Metrics"
)
_PQ_REF = "Kirillov et al. 2019, Panoptic segmentation, doi:10.1109/CVPR.2019.00963"
_WMH_REF = "Kuijf et al. 2019, Standardized assessment of automatic segmentation of white matter hyperintensities, doi:10.1109/TMI.2019.2905770"


_LESION_COUNT_EMPTY = "no lesion: 0"
_LESION_RATIO_EMPTY = (
    "no lesion on either side: --empty-score (nan; 1 with a BraTS preset); lesions on one side only: 0"
)
_LESION_SCORE_EMPTY = "no lesion on either side: --empty-score (nan; 1 with a BraTS preset); unmatched lesion: 0"
_LESION_DISTANCE_EMPTY = (
    "no lesion on either side: nan (0 with a BraTS preset); unmatched lesion: --lesion-unmatched-hd"
)


def _lesion(name, direction, low_high, unit, formula, reference, *, aliases=(), pooling=Pooling.LESION) -> MetricSpec:
    if pooling is Pooling.SUM:
        empty = _LESION_COUNT_EMPTY
    elif name in ("lesion_dice", "lesion_iou"):
        empty = _LESION_SCORE_EMPTY
    elif direction is LOWER:
        empty = _LESION_DISTANCE_EMPTY
    else:
        empty = _LESION_RATIO_EMPTY
    return MetricSpec(
        name,
        Family.LESION,
        Level.CLASS,
        direction,
        low_high,
        unit,
        formula,
        reference,
        aliases,
        None,
        pooling,
        empty=empty,
    )


_LESIONS = "lesions"
CATALOG += (
    _lesion("lesion_tp", NO_DIRECTION, (0, INF), _LESIONS, "reference lesions matched", _WMH_REF, pooling=Pooling.SUM),
    _lesion(
        "lesion_fp", NO_DIRECTION, (0, INF), _LESIONS, "predicted lesions matching none", _WMH_REF, pooling=Pooling.SUM
    ),
    _lesion("lesion_fn", NO_DIRECTION, (0, INF), _LESIONS, "reference lesions missed", _WMH_REF, pooling=Pooling.SUM),
    _lesion(
        "lesion_merged",
        NO_DIRECTION,
        (0, INF),
        _LESIONS,
        "predicted lesions overlapping 2 or more reference lesions",
        _WMH_REF,
        pooling=Pooling.SUM,
    ),
    _lesion(
        "lesion_split",
        NO_DIRECTION,
        (0, INF),
        _LESIONS,
        "reference lesions overlapped by 2 or more predicted lesions",
        _WMH_REF,
        pooling=Pooling.SUM,
    ),
    _lesion(
        "lesion_recall",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TP / (TP + FN) over reference lesions",
        _WMH_REF,
        aliases=("lesion_sensitivity", "detection_recall"),
    ),
    _lesion(
        "lesion_precision",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TP_pred / (TP_pred + FP) over predicted lesions",
        _WMH_REF,
        aliases=("detection_precision",),
    ),
    _lesion(
        "lesion_f1",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "2 P R / (P + R) of lesion precision and recall",
        _WMH_REF,
        aliases=("detection_f1",),
    ),
    _lesion("pq", HIGHER, (0, 1), _UNIT_RATIO, "SQ x RQ", _PQ_REF, aliases=("panoptic_quality",)),
    _lesion(
        "sq", HIGHER, (0, 1), _UNIT_RATIO, "mean IoU of the matched lesions", _PQ_REF, aliases=("segmentation_quality",)
    ),
    _lesion("rq", HIGHER, (0, 1), _UNIT_RATIO, "lesion F1", _PQ_REF, aliases=("recognition_quality",)),
    _lesion(
        "lesion_dice",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "mean Dice over reference lesions and false positives (unmatched: 0)",
        _BRATS_REF,
        aliases=("lesion_wise_dice",),
    ),
    _lesion(
        "lesion_iou",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "mean IoU over reference lesions and false positives (unmatched: 0)",
        _BRATS_REF,
        aliases=("lesion_wise_iou",),
    ),
    _lesion(
        "lesion_hd95",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "mean HD95 over reference lesions and false positives (unmatched: --lesion-unmatched-hd)",
        _BRATS_REF,
        aliases=("lesion_wise_hd95",),
    ),
    _lesion(
        "lesion_assd",
        LOWER,
        (0, INF),
        _UNIT_LENGTH,
        "mean ASSD over reference lesions and false positives (unmatched: --lesion-unmatched-hd)",
        _BRATS_REF,
    ),
)

METRICS: Registry[MetricSpec] = Registry("metric")
for _spec in CATALOG:
    METRICS.register(_spec.name, _spec, _spec.aliases)

FBETA_TEMPLATE = "fbetaB"
AVERAGES = ("macro", "micro", "weighted")
"""Class averages at case level (``dice_macro`` …) of every class-level ratio of counts."""
PARAMETRISED: tuple[MetricSpec, ...] = (
    _cm(
        FBETA_TEMPLATE,
        Level.CLASS,
        HIGHER,
        (0, 1),
        "(1+B^2) TP / ((1+B^2) TP + B^2 FN + FP) for any B: fbeta2, fbeta0.5 (fbeta1 is dice)",
        "van Rijsbergen 1979, Information Retrieval (2nd ed.), ch. 7, https://www.dcs.gla.ac.uk/Keith/Preface.html",
        None,
        empty=_OVERLAP_EMPTY,
    ),
    *(
        _distance(
            f"hdNN_{direction}",
            LOWER,
            (0, INF),
            _UNIT_LENGTH,
            f"percentile NN of the directed surface distances {direction.replace('_', ' ')} (hd95_{direction})",
            _HD_REF,
        )
        for direction in ("pred_to_gt", "gt_to_pred")
    ),
    _cm(
        "METRIC_macro",
        Level.CASE,
        NO_DIRECTION,
        (-INF, INF),
        "mean of METRIC over the foreground classes with a value (dice_macro = mean_dice)",
        _DICE_REF,
        None,
        empty="no foreground class with a value: nan (no_valid_class)",
    ),
    _cm(
        "METRIC_micro",
        Level.CASE,
        NO_DIRECTION,
        (-INF, INF),
        "METRIC of TP, FP, FN, TN summed over the foreground classes",
        _DICE_REF,
        None,
        empty="METRIC's own branches on the summed counts",
    ),
    _cm(
        "METRIC_weighted",
        Level.CASE,
        NO_DIRECTION,
        (-INF, INF),
        "sum_c t_c METRIC_c / sum_c t_c over the foreground classes with a value (support-weighted)",
        _DICE_REF,
        None,
        empty="no foreground class in the reference with a value: nan (no_valid_class)",
    ),
)
"""Parametrised entries, resolved by :func:`resolve_metric` from a name that gives the parameter
(``fbeta2``, ``hd95_pred_to_gt``, ``mcc_macro``); listed by ``segeval metrics``. ``METRIC`` is any class-level
ratio (unit 1) of the counts: the averaged metric's direction and range apply."""

AMBIGUOUS = {"msd", "asd", "mean_surface_distance", "average_surface_distance"}
"""Names refused as ambiguous: the mean surface distance has a direction."""
_PERCENTILE_NAME = re.compile(r"^(?:hd|hausdorff)_?(\d+(?:[._]\d+)?)(?:_(pred_to_gt|gt_to_pred))?$")
_FBETA_NAME = re.compile(r"^f_?beta_?(\d+(?:[._]\d+)?)$")
_AVERAGE_NAME = re.compile(r"^(.+)_(" + "|".join(AVERAGES) + r")$")


def resolve_metric(name: str) -> MetricSpec:
    """The catalog entry of ``name``: a name, an alias, ``hdNN`` (any percentile, e.g. ``hd95``, ``hd99.5``,
    directed ``hd95_pred_to_gt``), ``fbetaB`` (``fbeta2``, ``fbeta0.5``) or a class average ``METRIC_macro``,
    ``METRIC_micro``, ``METRIC_weighted``.

    ``hd100`` is ``hd``, ``fbeta1`` is ``dice``. Case, ``-`` and spaces are ignored.

    Raises
    ------
    UnknownNameError
        An unknown name, with the closest known names.
    UsageError
        An ambiguous name (``msd``) or a percentile above 100.

    Examples
    --------
    >>> resolve_metric("HD-95").name, resolve_metric("biou").name, resolve_metric("hd95").parameter
    ('hd95', 'boundary_iou', 95.0)
    """
    key = normalise_name(name)
    if key in AMBIGUOUS:
        raise UsageError(
            f"metric {name!r} is ambiguous: the mean surface distance has a direction",
            hint="use msd_pred_to_gt, msd_gt_to_pred or assd (symmetric)",
        )
    average = _AVERAGE_NAME.match(key)
    if average is not None and key not in METRICS:
        return _class_average(name, resolve_metric(average.group(1)), average.group(2))
    fbeta = _FBETA_NAME.match(key)
    if fbeta is not None:
        beta = float(fbeta.group(1).replace("_", "."))
        if beta == 1:
            return METRICS.get("dice")
        if beta == 0:
            raise UsageError(f"metric {name!r}: beta must be positive (fbeta0 would be precision)")
        return replace(
            PARAMETRISED[0],
            name=f"fbeta{beta:g}",
            parameter=beta,
            compute=lambda c, d: overlap.fbeta(c, beta, d.empty_score, d.ref_empty_nan),
        )
    match = _PERCENTILE_NAME.match(key)
    if match is None:
        return METRICS.get(name)
    percentile = float(match.group(1).replace("_", "."))
    if percentile > 100:
        raise UsageError(f"metric {name!r}: a Hausdorff percentile must be between 0 and 100")
    direction = match.group(2)
    if percentile == 100:
        return METRICS.get("hd" if direction is None else f"hd_{direction}")
    if direction is None:
        return replace(METRICS.get(PERCENTILE_TEMPLATE), name=f"hd{percentile:g}", parameter=percentile, aliases=())
    template = next(spec for spec in PARAMETRISED if spec.name == f"hdNN_{direction}")
    return replace(template, name=f"hd{percentile:g}_{direction}", parameter=percentile)


def _class_average(name: str, base: MetricSpec, kind: str) -> MetricSpec:
    """The case-level ``kind`` average (macro, micro, weighted) of the class-level ratio ``base``."""
    if base.level is not Level.CLASS or base.compute is None or base.unit != _UNIT_RATIO:
        raise UsageError(
            f"metric {name!r}: {base.name} has no class average",
            hint="class averages exist for class-level ratios of the counts, e.g. dice_macro, mcc_weighted",
        )
    compute = base.compute
    if kind == "macro":
        average = lambda c, d: overlap.macro_average(compute(c, d)[0], d.foreground, c)  # noqa: E731
    elif kind == "weighted":
        average = lambda c, d: overlap.weighted_average(compute(c, d)[0], d.foreground, c)  # noqa: E731
    else:
        average = lambda c, d: overlap.micro_average(compute(c.summed(d.foreground), d), c)  # noqa: E731
    template = next(spec for spec in PARAMETRISED if spec.name == f"METRIC_{kind}")
    return replace(
        template,
        name=f"{base.name}_{kind}",
        direction=base.direction,
        range=base.range,
        formula=template.formula.replace("METRIC", base.name),
        reference=base.reference,
        compute=average,
        empty=template.empty.replace("METRIC", base.name),
    )


def expand_metrics(names) -> list[MetricSpec]:
    """The entries named by ``names``, each a metric (:func:`resolve_metric`) or a family (``cm``, ``distance``:
    its catalog entries but the parametrised ones), once each, in order."""
    families = {family.value: family for family in Family}
    specs: dict[str, MetricSpec] = {}
    for name in names:
        family = families.get(normalise_name(name))
        chosen = (
            [spec for spec in CATALOG if spec.family is family and spec.name != PERCENTILE_TEMPLATE]
            if family is not None
            else [resolve_metric(name)]
        )
        for spec in chosen:
            specs.setdefault(spec.name, spec)
    return list(specs.values())


def list_metrics(family: str | None = None) -> list[str]:
    """Names of the catalog's metrics, optionally only those of one ``family``."""
    return [spec.name for spec in CATALOG if family is None or spec.family == family]


def get_metric(name: str) -> MetricSpec:
    """The :class:`MetricSpec` of ``name`` (an alias, or ``hdNN``); a did-you-mean error otherwise."""
    return resolve_metric(name)


def counted_metrics(level: Level, requested: list[MetricSpec] | tuple = ()) -> list[MetricSpec]:
    """The metrics of ``level`` computed from counts: the default ones in catalog order, then the opt-in ones of
    ``requested`` (:func:`expand_metrics`) in their order."""
    specs = [spec for spec in CATALOG if spec.level is level and spec.compute is not None and not spec.opt_in]
    specs += [spec for spec in requested if spec.level is level and spec.compute is not None and spec.opt_in]
    return specs


def catalog_rows() -> list[dict]:
    """The catalog as plain rows (``segeval metrics``, the table of docs/metrics.md)."""
    return [
        {
            "name": spec.name,
            "aliases": list(spec.aliases),
            "family": spec.family.value,
            "level": spec.level.value,
            "direction": str(spec.direction),
            "range": [_bound(v) for v in spec.range],
            "unit": spec.unit,
            "pooled": spec.pooling.value,
            "formula": spec.formula,
            "empty": spec.empty,
            "reference": spec.reference,
        }
        for spec in (*CATALOG, *PARAMETRISED)
    ]


def _bound(value: float) -> float | str:
    return ("inf" if value > 0 else "-inf") if math.isinf(value) else value


def markdown_table() -> str:
    """The catalog as the Markdown table of docs/metrics.md (generated; a test keeps the doc in sync)."""
    lines = [
        "| metric | aliases | family | level | better | range | unit | pooled | formula | empty masks | reference |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in catalog_rows():
        low, high = row["range"]
        lines.append(
            f"| `{row['name']}` | {', '.join(f'`{a}`' for a in row['aliases'])} | {row['family']} | {row['level']} | "
            f"{row['direction']} | [{low}, {high}] | {row['unit']} | {row['pooled']} | "
            f"{row['formula'].replace('|', '&#124;')} | {row['empty']} | {row['reference']} |"
        )
    return "\n".join(lines) + "\n"


def confusion_metrics(
    cm: np.ndarray,
    level: Level,
    *,
    empty_score: float = math.nan,
    foreground: np.ndarray | None = None,
    voxel_volume: float = 1.0,
    metrics: list[str] | None = None,
) -> dict[str, overlap.Values]:
    """Counted metrics of ``level`` for confusion matrices ``cm`` (..., C, C): ``{name: (values, codes)}``.

    ``metrics`` (names or families, :func:`expand_metrics`) adds opt-in metrics to the default ones;
    without it, every catalog metric computed from counts (the confusion-matrix family included).
    ``foreground`` (bool, shape (C,)) is what class means average (default: every class but the first);
    the status codes index :data:`segeval.status.STATUS_CODES`.
    """
    cm = np.asarray(cm)
    if foreground is None:
        foreground = np.arange(cm.shape[-1]) != 0
    derivation = Derivation(empty_score, np.asarray(foreground, dtype=bool), np.asarray(voxel_volume))
    counts = overlap.ClassCounts.from_confusion(cm)
    requested = expand_metrics(metrics) if metrics is not None else [spec for spec in CATALOG if spec.opt_in]
    return {spec.name: spec.compute(counts, derivation) for spec in counted_metrics(level, requested)}
