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

    @property
    def needs_distances(self) -> bool:
        """Whether the metric needs the surface-distance engine (computed only when asked for)."""
        return self.family is Family.DISTANCE

    @property
    def needs_lesions(self) -> bool:
        """Whether the metric needs the lesion-wise engine (computed only when asked for)."""
        return self.family is Family.LESION


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
) -> MetricSpec:
    return MetricSpec(
        name, family, Level.CLASS, direction, low_high, unit, formula, reference, aliases, compute, pooling, in_table
    )


def _case(name, formula, compute, *, aliases=()) -> MetricSpec:
    return MetricSpec(
        name, Family.OVERLAP, Level.CASE, HIGHER, (0, 1), _UNIT_RATIO, formula, _FCN_REF, aliases, compute
    )


def _distance(name, direction, low_high, unit, formula, reference, *, aliases=()) -> MetricSpec:
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
        lambda c, d: overlap.dice(c, d.empty_score),
        aliases=("dsc", "f1", "dice_coefficient"),
        in_table=True,
    ),
    _class(
        "iou",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TP / (TP + FP + FN)",
        _JACCARD_REF,
        lambda c, d: overlap.iou(c, d.empty_score),
        aliases=("jaccard",),
        in_table=True,
    ),
    _class(
        "precision",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "TP / (TP + FP)",
        _TAHA_REF,
        lambda c, d: overlap.precision(c, d.empty_score),
        aliases=("ppv",),
        in_table=True,
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
    ),
    _class(
        "volume_similarity",
        Family.OVERLAP,
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "1 - |FN - FP| / (2TP + FP + FN)",
        _TAHA_REF,
        lambda c, d: overlap.volume_similarity(c, d.empty_score),
        aliases=("vs",),
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
        "nsd",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "share of both surfaces within the tolerance of the other surface",
        _NSD_REF,
        aliases=("surface_dice", "normalized_surface_dice", "normalised_surface_dice"),
    ),
    _distance(
        "boundary_iou",
        HIGHER,
        (0, 1),
        _UNIT_RATIO,
        "IoU of the bands within a width (mm) inside each mask's boundary",
        _BIOU_REF,
        aliases=("biou",),
    ),
)

_BRATS_REF = (
    "Saluja et al. 2023, BraTS 2023 lesion-wise performance metrics, https://github.com/rachitsaluja/BraTS-2023-Metrics"
)
_PQ_REF = "Kirillov et al. 2019, Panoptic segmentation, doi:10.1109/CVPR.2019.00963"
_WMH_REF = "Kuijf et al. 2019, Standardized assessment of automatic segmentation of white matter hyperintensities, doi:10.1109/TMI.2019.2905770"
LESION_FAMILY = "lesion"
"""``--metrics lesion`` asks for every lesion-wise metric."""


def _lesion(name, direction, low_high, unit, formula, reference, *, aliases=(), pooling=Pooling.LESION) -> MetricSpec:
    return MetricSpec(
        name, Family.LESION, Level.CLASS, direction, low_high, unit, formula, reference, aliases, None, pooling
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

AMBIGUOUS = {"msd", "asd", "mean_surface_distance", "average_surface_distance"}
"""Names refused as ambiguous: the mean surface distance has a direction."""
_PERCENTILE_NAME = re.compile(r"^(?:hd|hausdorff)_?(\d+(?:[._]\d+)?)$")


def resolve_metric(name: str) -> MetricSpec:
    """The catalog entry of ``name``: a name, an alias, or ``hdNN`` (any percentile, e.g. ``hd95``, ``hd99.5``).

    ``hd100`` is ``hd``. Case, ``-`` and spaces are ignored.

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
    match = _PERCENTILE_NAME.match(key)
    if match is None:
        return METRICS.get(name)
    percentile = float(match.group(1).replace("_", "."))
    if percentile > 100:
        raise UsageError(f"metric {name!r}: a Hausdorff percentile must be between 0 and 100")
    if percentile == 100:
        return METRICS.get("hd")
    return replace(METRICS.get(PERCENTILE_TEMPLATE), name=f"hd{percentile:g}", parameter=percentile, aliases=())


def list_metrics(family: str | None = None) -> list[str]:
    """Names of the catalog's metrics, optionally only those of one ``family``."""
    return [spec.name for spec in CATALOG if family is None or spec.family == family]


def get_metric(name: str) -> MetricSpec:
    """The :class:`MetricSpec` of ``name`` (an alias, or ``hdNN``); a did-you-mean error otherwise."""
    return resolve_metric(name)


def counted_metrics(level: Level) -> list[MetricSpec]:
    """The metrics of ``level`` computed from counts (every non-distance metric), in catalog order."""
    return [spec for spec in CATALOG if spec.level is level and spec.compute is not None]


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
            "reference": spec.reference,
        }
        for spec in CATALOG
    ]


def _bound(value: float) -> float | str:
    return "inf" if math.isinf(value) else value


def markdown_table() -> str:
    """The catalog as the Markdown table of docs/metrics.md (generated; a test keeps the doc in sync)."""
    lines = [
        "| metric | aliases | level | better | range | unit | pooled | formula | reference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in catalog_rows():
        low, high = row["range"]
        lines.append(
            f"| `{row['name']}` | {', '.join(f'`{a}`' for a in row['aliases'])} | {row['level']} | "
            f"{row['direction']} | [{low}, {high}] | {row['unit']} | {row['pooled']} | {row['formula']} | "
            f"{row['reference']} |"
        )
    return "\n".join(lines) + "\n"


def confusion_metrics(
    cm: np.ndarray,
    level: Level,
    *,
    empty_score: float = math.nan,
    foreground: np.ndarray | None = None,
    voxel_volume: float = 1.0,
) -> dict[str, overlap.Values]:
    """Every counted metric of ``level`` for confusion matrices ``cm`` (..., C, C): ``{name: (values, codes)}``.

    ``foreground`` (bool, shape (C,)) is what class means average (default: every class but the first);
    the status codes index :data:`segeval.status.STATUS_CODES`.
    """
    cm = np.asarray(cm)
    if foreground is None:
        foreground = np.arange(cm.shape[-1]) != 0
    derivation = Derivation(empty_score, np.asarray(foreground, dtype=bool), np.asarray(voxel_volume))
    counts = overlap.ClassCounts.from_confusion(cm)
    return {spec.name: spec.compute(counts, derivation) for spec in counted_metrics(level)}
