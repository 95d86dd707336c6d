"""The metric catalog: one explicit table that drives ``segeval metrics``, the reports and the docs.

Each :class:`MetricSpec` says what a metric measures, at which level (per class or per case), in
which unit, which direction is better, whether a dataset-level ("pooled") value exists, and where
it is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

from segeval.registry import Registry


@dataclass(frozen=True)
class MetricSpec:
    """One entry of the metric catalog.

    Attributes
    ----------
    name : str
        Name in the reports (``per_case.csv`` ``metric`` column) and on the command line.
    level : str
        ``"class"`` (one value per class per case) or ``"case"`` (one value per case).
    family : str
        ``"overlap"``, ``"count"`` or ``"distance"`` (distance metrics are computed only when asked for).
    formula : str
        Plain-text definition.
    higher_is_better : bool or None
        Direction of improvement; ``None`` for counts and volumes, which have none.
    range : tuple of float
        Possible values (``inf`` for unbounded).
    unit : str
        ``"1"`` (ratio), ``"px"`` (pixel count), ``"mm^d"``/``"mm"`` when spacing is known.
    pooled : bool
        Whether summary.csv has a dataset-level value from the summed confusion matrix.
    reference : str
        Where the definition comes from.
    aliases : tuple of str
        Other names accepted on input.
    """

    name: str
    level: str
    family: str
    formula: str
    higher_is_better: bool | None
    range: tuple[float, float]
    unit: str
    pooled: bool
    reference: str
    aliases: tuple[str, ...] = ()


INF = float("inf")
_DICE_REF = "Dice 1945, Ecology 26(3), doi:10.2307/1932409"
_FCN_REF = "Long, Shelhamer, Darrell 2015, FCN, doi:10.1109/CVPR.2015.7298965"
_TAHA_REF = "Taha & Hanbury 2015, BMC Med Imaging, doi:10.1186/s12880-015-0068-x"
_HD_REF = "Huttenlocher et al. 1993, IEEE TPAMI 15(9), doi:10.1109/34.232073; conventions in docs/distance.md"

METRICS: Registry[MetricSpec] = Registry("metric")

for _spec in (
    MetricSpec(
        "dice",
        "class",
        "overlap",
        "2TP / (2TP + FP + FN)",
        True,
        (0, 1),
        "1",
        True,
        _DICE_REF,
        ("dsc", "f1", "dice_coefficient"),
    ),
    MetricSpec(
        "iou",
        "class",
        "overlap",
        "TP / (TP + FP + FN)",
        True,
        (0, 1),
        "1",
        True,
        "Jaccard 1912, New Phytologist, doi:10.1111/j.1469-8137.1912.tb05611.x",
        ("jaccard",),
    ),
    MetricSpec("precision", "class", "overlap", "TP / (TP + FP)", True, (0, 1), "1", True, _TAHA_REF, ("ppv",)),
    MetricSpec(
        "recall", "class", "overlap", "TP / (TP + FN)", True, (0, 1), "1", True, _TAHA_REF, ("sensitivity", "tpr")
    ),
    MetricSpec("specificity", "class", "overlap", "TN / (TN + FP)", True, (0, 1), "1", True, _TAHA_REF, ("tnr",)),
    MetricSpec(
        "volume_similarity",
        "class",
        "overlap",
        "1 - |FN - FP| / (2TP + FP + FN)",
        True,
        (-1, 1),
        "1",
        True,
        _TAHA_REF,
        ("vs",),
    ),
    MetricSpec(
        "tp",
        "class",
        "count",
        "pixels of the class in both reference and prediction",
        None,
        (0, INF),
        "px",
        True,
        _TAHA_REF,
    ),
    MetricSpec(
        "fp", "class", "count", "pixels of the class in the prediction only", None, (0, INF), "px", True, _TAHA_REF
    ),
    MetricSpec(
        "fn", "class", "count", "pixels of the class in the reference only", None, (0, INF), "px", True, _TAHA_REF
    ),
    MetricSpec("tn", "class", "count", "pixels of the class in neither", None, (0, INF), "px", True, _TAHA_REF),
    MetricSpec(
        "ref_volume", "class", "count", "(TP + FN) x voxel volume", None, (0, INF), "mm^d or px", True, _TAHA_REF
    ),
    MetricSpec(
        "pred_volume", "class", "count", "(TP + FP) x voxel volume", None, (0, INF), "mm^d or px", True, _TAHA_REF
    ),
    MetricSpec(
        "pixel_accuracy",
        "case",
        "overlap",
        "sum_i n_ii / sum_i t_i",
        True,
        (0, 1),
        "1",
        True,
        _FCN_REF,
        ("pa", "accuracy"),
    ),
    MetricSpec(
        "mean_pixel_accuracy",
        "case",
        "overlap",
        "mean over classes with t_i > 0 of n_ii / t_i",
        True,
        (0, 1),
        "1",
        True,
        _FCN_REF,
        ("mpa", "mean_accuracy"),
    ),
    MetricSpec(
        "miou",
        "case",
        "overlap",
        "mean over classes of n_ii / (t_i + sum_j n_ji - n_ii)",
        True,
        (0, 1),
        "1",
        True,
        _FCN_REF,
        ("mean_iou",),
    ),
    MetricSpec(
        "fwiou",
        "case",
        "overlap",
        "sum_i t_i IoU_i / sum_i t_i",
        True,
        (0, 1),
        "1",
        True,
        _FCN_REF,
        ("frequency_weighted_iou",),
    ),
    MetricSpec(
        "mean_dice", "case", "overlap", "mean over foreground classes of Dice_c", True, (0, 1), "1", True, _DICE_REF
    ),
    MetricSpec(
        "hd",
        "class",
        "distance",
        "max(max_{p in dP} d(p, dG), max_{g in dG} d(g, dP))",
        False,
        (0, INF),
        "mm or px",
        False,
        _HD_REF,
        ("hausdorff", "hausdorff_distance"),
    ),
    MetricSpec(
        "hd95",
        "class",
        "distance",
        "max of the two directed 95th percentiles of surface distances (hdNN: any percentile)",
        False,
        (0, INF),
        "mm or px",
        False,
        _HD_REF,
        ("hausdorff95",),
    ),
    MetricSpec(
        "assd",
        "class",
        "distance",
        "mean of the surface distances of both directions, pooled",
        False,
        (0, INF),
        "mm or px",
        False,
        _HD_REF,
        ("average_symmetric_surface_distance",),
    ),
    MetricSpec(
        "msd_pred_to_gt",
        "class",
        "distance",
        "mean distance from the prediction's surface to the reference's",
        False,
        (0, INF),
        "mm or px",
        False,
        _HD_REF,
    ),
    MetricSpec(
        "msd_gt_to_pred",
        "class",
        "distance",
        "mean distance from the reference's surface to the prediction's",
        False,
        (0, INF),
        "mm or px",
        False,
        _HD_REF,
    ),
    MetricSpec(
        "nsd",
        "class",
        "distance",
        "share of both surfaces within the tolerance of the other surface",
        True,
        (0, 1),
        "1",
        False,
        "Nikolov et al. 2021, JMIR 23(7), doi:10.2196/26151",
        ("surface_dice", "normalized_surface_dice"),
    ),
    MetricSpec(
        "boundary_iou",
        "class",
        "distance",
        "IoU of the bands within a width (mm) inside each mask's boundary",
        True,
        (0, 1),
        "1",
        False,
        "Cheng et al. 2021, CVPR, doi:10.1109/CVPR46437.2021.01508",
    ),
):
    METRICS.register(_spec.name, _spec, _spec.aliases)


def list_metrics(family: str | None = None) -> list[str]:
    """Names of the catalog's metrics, optionally only those of one ``family``."""
    return [spec.name for spec in METRICS if family is None or spec.family == family]


def get_metric(name: str) -> MetricSpec:
    """The :class:`MetricSpec` of ``name`` or one of its aliases (did-you-mean error otherwise)."""
    return METRICS.get(name)
