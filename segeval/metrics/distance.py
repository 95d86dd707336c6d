"""Distance metrics per class: Hausdorff, percentile Hausdorff, ASSD, MSD, NSD, boundary IoU.

Every surface metric is derived from one :class:`~segeval.metrics.surface.SurfaceDistances`
per class and case (computed by :func:`~segeval.metrics.surface.surface_distances`), so
asking for HD, HD95 and ASSD together costs one surface extraction and one nearest-surface
search. :func:`distance_metrics` is the entry point of the scoring engine: label maps in,
``{label: {metric: (value, status)}}`` out.

Units: millimetres when ``spacing_mm`` is the voxel spacing in mm (array-axis order),
pixels when the spacing is 1. Directions: ``pred_to_gt`` = from the predicted surface to
the ground-truth surface.

Empty masks (``empty_policy``):

=============  =====================  ==============================  ====================
status         distance metrics       NSD, boundary IoU               when
=============  =====================  ==============================  ====================
``ok``         the value              the value                       both masks non-empty
``one_empty``  ``worst``: image       ``worst``/``inf``: 0.0,         exactly one empty
               diagonal (mm);         ``nan``: NaN
               ``inf``: inf;
               ``nan``: NaN
``both_empty`` NaN                    NaN                             both empty
=============  =====================  ==============================  ====================

See ``docs/distance.md`` for the formulas, the conventions and their justification.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from segeval.errors import InputError, UnknownNameError, UsageError
from segeval.metrics._edt import offset_lengths, squared_edt_torch
from segeval.metrics.surface import (
    CONVENTION_PRESETS,
    Convention,
    SurfaceDistances,
    _neighbour_offsets,
    _NumpyOps,
    _TorchOps,
    _validate_pair,
    _validate_spacing,
    bounding_box,
    crop_pad,
    get_convention,
    label_surface_distances,
    padded_crop,
    padded_surface_distances,
    resolve_backend,
    surface_distances,  # noqa: F401 - the docstring examples use it
    worst_distance_mm,
)
from segeval.options import DistanceEmpty
from segeval.status import Status

__all__ = [
    "CONVENTIONS",
    "EMPTY_POLICIES",
    "DistanceOptions",
    "average_symmetric_surface_distance",
    "boundary_iou",
    "directed_hausdorff_distance",
    "distance_metrics",
    "hausdorff_distance",
    "mean_average_surface_distance",
    "mean_surface_distance",
    "normalized_surface_dice",
    "parse_distance_metric",
    "percentile_hausdorff_distance",
]

#: Names of the built-in conventions (:data:`segeval.metrics.surface.CONVENTION_PRESETS`).
CONVENTIONS = tuple(CONVENTION_PRESETS)
#: What a distance metric is when exactly one mask is empty.
EMPTY_POLICIES = tuple(policy.value for policy in DistanceEmpty)
#: Default width of the boundary band of boundary IoU, in mm.
DEFAULT_BOUNDARY_IOU_WIDTH_MM = 2.0

_BACKENDS = ("auto", "scipy", "torch")
#: torch.quantile refuses larger inputs; beyond it the float32 convention uses NumPy.
_TORCH_QUANTILE_LIMIT = 1 << 24


@dataclass(frozen=True)
class DistanceOptions:
    """Options of the distance metrics, shared by all classes of a run.

    Attributes
    ----------
    convention : str or Convention, default "segeval"
        ``"segeval"`` (documented default), or ``"monai"``, ``"medpy"``, ``"deepmind"`` to
        reproduce that library's numbers; see ``docs/distance.md``.
    percentile : float, default 95.0
        Percentile (0-100) of the metric ``hd_percentile``. Metrics named ``hdNN`` carry
        their own percentile.
    nsd_tolerance_mm : float or Mapping[int, float], default 1.0
        NSD tolerance in mm, one value for every class or one per label.
    boundary_iou_width_mm : float, default 2.0
        Width in mm of the inner boundary band used by boundary IoU.
    empty_policy : {"worst", "nan", "inf"}, default "worst"
        Value of a distance metric when exactly one mask is empty (module docstring).
    backend : {"auto", "scipy", "torch"}, default "auto"
        Nearest-surface engine; ``"auto"`` uses torch when ``device`` is CUDA.
    device : str, default "cpu"
        ``"cpu"`` or ``"cuda[:N]"``.

    Raises
    ------
    UsageError
        For any invalid value (``UnknownNameError`` for an unknown convention).
    """

    convention: str | Convention = "segeval"
    percentile: float = 95.0
    nsd_tolerance_mm: float | Mapping[int, float] = 1.0
    boundary_iou_width_mm: float = DEFAULT_BOUNDARY_IOU_WIDTH_MM
    empty_policy: str = "worst"
    backend: str = "auto"
    device: str = "cpu"

    def __post_init__(self) -> None:
        get_convention(self.convention)
        _check_percentile(self.percentile, "percentile")
        if isinstance(self.nsd_tolerance_mm, Mapping):
            for label, tol in self.nsd_tolerance_mm.items():
                _check_non_negative(tol, f"nsd_tolerance_mm[{label!r}]")
        else:
            _check_non_negative(self.nsd_tolerance_mm, "nsd_tolerance_mm")
        _check_non_negative(self.boundary_iou_width_mm, "boundary_iou_width_mm")
        _check_choice(self.empty_policy, EMPTY_POLICIES, "empty_policy")
        _check_choice(self.backend, _BACKENDS, "backend")

    def tolerance_for(self, label: int) -> float:
        """NSD tolerance (mm) of ``label``.

        Raises
        ------
        UsageError
            When a per-label mapping does not name ``label``.
        """
        tol = self.nsd_tolerance_mm
        if not isinstance(tol, Mapping):
            return float(tol)
        if label in tol:
            return float(tol[label])
        raise UsageError(
            f"no NSD tolerance for label {label}; `nsd_tolerance_mm` names labels "
            f"{', '.join(str(k) for k in sorted(tol))}",
            hint="give one tolerance for every scored label, or a single value",
        )


def _check_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise UsageError(f"Expected `{name}` to be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise UsageError(f"Expected `{name}` to be finite, got {value}")
    return value


def _check_percentile(value, name: str) -> float:
    value = _check_number(value, name)
    if not 0.0 <= value <= 100.0:
        raise UsageError(f"Expected `{name}` to be between 0 and 100, got {value}")
    return value


def _check_non_negative(value, name: str) -> float:
    value = _check_number(value, name)
    if value < 0:
        raise UsageError(f"Expected `{name}` to be >= 0, got {value}")
    return value


def _check_choice(value, choices: Sequence[str], name: str) -> str:
    if value not in choices:
        raise UsageError(f"Expected `{name}` to be one of {', '.join(choices)}, got {value!r}")
    return value


# --------------------------------------------------------------------------- names


def parse_distance_metric(name: str) -> str | None:
    """Canonical name of a distance metric, or ``None`` when ``name`` is not one.

    Parameters
    ----------
    name : str
        A metric name; case, ``-`` and spaces are ignored. ``hdNN`` (``hd95``, ``hd99``,
        ``hd_99.5``, ``hd99_5``) is the NN-th percentile Hausdorff distance.

    Returns
    -------
    str or None
        One of ``hd``, ``hd<p>`` (``p`` written with ``%g``: ``hd95``, ``hd99.5``; ``hd100``
        is ``hd``), ``hd_percentile``, ``assd``, ``msd_pred_to_gt``, ``msd_gt_to_pred``,
        ``nsd``, ``boundary_iou``; ``None`` for any other name.

    Raises
    ------
    UsageError
        For ``msd``/``asd`` without a direction (ambiguous), or a percentile above 100.

    Examples
    --------
    >>> parse_distance_metric("HD-95"), parse_distance_metric("surface dice")
    ('hd95', 'nsd')
    >>> parse_distance_metric("dice") is None
    True
    """
    from segeval.metrics.catalog import resolve_metric

    if not isinstance(name, str):
        return None
    try:
        spec = resolve_metric(name)  # the catalog holds every name and alias; ambiguous names raise here
    except UnknownNameError:
        return None
    return spec.name if spec.needs_distances else None


def _metric_percentile(metric: str, options: DistanceOptions) -> float | None:
    if metric == "hd_percentile":
        return float(options.percentile)
    metric = _undirected(metric)
    if metric.startswith("hd") and metric != "hd":
        return float(metric[2:])
    return None


_DIRECTIONS = ("pred_to_gt", "gt_to_pred")


def _direction(metric: str) -> str | None:
    """``pred_to_gt``/``gt_to_pred`` for a directed metric name (``hd95_pred_to_gt``), else ``None``."""
    return next((d for d in _DIRECTIONS if metric.endswith("_" + d)), None)


def _undirected(metric: str) -> str:
    direction = _direction(metric)
    return metric if direction is None else metric[: -len(direction) - 1]


# --------------------------------------------------------------------------- derivations


def _directed(sd: SurfaceDistances, direction: str) -> tuple[np.ndarray, np.ndarray]:
    if direction == "pred_to_gt":
        d, w = sd.pred_to_gt, sd.pred_weights
    elif direction == "gt_to_pred":
        d, w = sd.gt_to_pred, sd.gt_weights
    else:
        raise UsageError(f"Expected `direction` to be 'pred_to_gt' or 'gt_to_pred', got {direction!r}")
    if d is None:
        raise UsageError(f"these SurfaceDistances were computed without the {direction} direction")
    return d, w


def _empty_value(sd: SurfaceDistances, empty_policy: str, *, bounded: bool = False) -> float | None:
    """The metric value fixed by the empty policy, or ``None`` when both masks have a surface."""
    status = sd.status
    if status == Status.OK:
        return None
    if status == Status.BOTH_EMPTY or empty_policy == "nan":
        return math.nan
    _check_choice(empty_policy, EMPTY_POLICIES, "empty_policy")
    if bounded:
        return 0.0
    return sd.worst_mm if empty_policy == "worst" else math.inf


def _weighted_step_percentile(d: np.ndarray, w: np.ndarray, percentile: float) -> float:
    order = np.lexsort((w, d))  # by distance, then weight
    d, w = d[order], w[order]
    cum = np.cumsum(w) / np.sum(w)
    idx = int(np.searchsorted(cum, percentile / 100.0))
    return float(d[min(idx, d.size - 1)])


def _linear_percentile(d: np.ndarray, percentile: float, float32: bool) -> float:
    if float32 and d.size <= _TORCH_QUANTILE_LIMIT:
        # MONAI's arithmetic: torch.quantile in float32 (the rank q * (n - 1) is rounded
        # to float32 too, which moves HD95 by up to ~1e-5 relative against float64).
        import torch

        return float(torch.quantile(torch.from_numpy(d.astype(np.float32)), percentile / 100.0))
    # numpy.percentile(d, percentile) (method "linear"), operation for operation, without
    # its overhead: rank (n - 1) q, then NumPy's two-sided lerp.
    n = d.size
    rank = (n - 1) * (percentile / 100.0)
    if rank >= n - 1:
        return float(d.max())
    lo = int(math.floor(rank))
    part = np.partition(d, (lo, lo + 1))
    a, b = float(part[lo]), float(part[lo + 1])
    t = rank - lo
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _directed_percentile(d: np.ndarray, w: np.ndarray, percentile: float, conv: Convention) -> float:
    if conv.percentile_method == "weighted_step":
        return _weighted_step_percentile(d, w, percentile)
    return _linear_percentile(d, percentile, conv.float32)


def hausdorff_distance(sd: SurfaceDistances, *, empty_policy: str = "worst") -> float:
    """Symmetric Hausdorff distance: the largest surface-to-surface distance.

    Parameters
    ----------
    sd : SurfaceDistances
        From :func:`surface_distances`, with both directions.
    empty_policy : {"worst", "nan", "inf"}, default "worst"

    Returns
    -------
    float
        In mm. Both masks empty: NaN. Exactly one empty: the image diagonal
        ``sd.worst_mm`` (``"worst"``), ``inf`` or NaN.

    Notes
    -----
    .. math:: \\mathrm{HD}(P, G) = \\max\\left(\\max_{p \\in \\partial P} d(p, \\partial G),
              \\max_{g \\in \\partial G} d(g, \\partial P)\\right)

    The same in every convention, except for which points form :math:`\\partial P`.

    References
    ----------
    .. [1] Huttenlocher, Klanderman, Rucklidge, "Comparing images using the Hausdorff
       distance", IEEE TPAMI 15(9), 1993. :DOI:`10.1109/34.232073`

    Examples
    --------
    Two single pixels 2 mm apart at spacing (2, 1):

    >>> import numpy as np
    >>> pred = np.zeros((3, 3), bool); pred[0, 1] = True
    >>> gt = np.zeros((3, 3), bool); gt[1, 1] = True
    >>> hausdorff_distance(surface_distances(pred, gt, (2.0, 1.0)))
    2.0
    """
    empty = _empty_value(sd, empty_policy)
    if empty is not None:
        return empty
    d_pg, _ = _directed(sd, "pred_to_gt")
    d_gp, _ = _directed(sd, "gt_to_pred")
    return float(max(d_pg.max(), d_gp.max()))


def percentile_hausdorff_distance(
    sd: SurfaceDistances, percentile: float = 95.0, *, empty_policy: str = "worst"
) -> float:
    """Percentile Hausdorff distance (``percentile=95``: HD95), as the convention defines it.

    Parameters
    ----------
    sd : SurfaceDistances
        From :func:`surface_distances`, with both directions.
    percentile : float, default 95.0
        Between 0 and 100.
    empty_policy : {"worst", "nan", "inf"}, default "worst"

    Returns
    -------
    float
        In mm. Both masks empty: NaN. Exactly one empty: ``sd.worst_mm``, ``inf`` or NaN
        by ``empty_policy``.

    Notes
    -----
    With :math:`D_{PG} = \\{d(p, \\partial G)\\}_{p \\in \\partial P}` and :math:`D_{GP}` the
    reverse, and :math:`Q_q` the q-th percentile:

    * ``hd_percentile="directed_max"`` (segeval, MONAI, DeepMind):
      :math:`\\max(Q_q(D_{PG}), Q_q(D_{GP}))`
    * ``hd_percentile="pooled"`` (MedPy): :math:`Q_q(D_{PG} \\cup D_{GP})`

    :math:`Q_q` is the linear interpolation between order statistics at rank
    :math:`(n - 1) q / 100` (``percentile_method="linear"``), or, for area-weighted
    surfels (DeepMind), the smallest distance whose cumulative area fraction reaches
    :math:`q / 100` (``"weighted_step"``).

    References
    ----------
    .. [1] Huttenlocher et al., IEEE TPAMI 15(9), 1993. :DOI:`10.1109/34.232073`
    .. [2] Nikolov et al., "Clinically applicable segmentation of head and neck anatomy
       for radiotherapy", J Med Internet Res 23(7), 2021. :DOI:`10.2196/26151`

    Examples
    --------
    Pred surface points at distances 0 and 2 from the ground truth's:

    >>> import numpy as np
    >>> pred = np.zeros((1, 5), bool); pred[0, [0, 4]] = True
    >>> gt = np.zeros((1, 5), bool); gt[0, [0, 2]] = True
    >>> sd = surface_distances(pred, gt, (1.0, 1.0))
    >>> sd.pred_to_gt.tolist(), sd.gt_to_pred.tolist()
    ([0.0, 2.0], [0.0, 2.0])
    >>> percentile_hausdorff_distance(sd, 50)  # (0 + 2) / 2 in each direction
    1.0
    """
    q = _check_percentile(percentile, "percentile")
    empty = _empty_value(sd, empty_policy)
    if empty is not None:
        return empty
    conv = sd.convention
    d_pg, w_pg = _directed(sd, "pred_to_gt")
    d_gp, w_gp = _directed(sd, "gt_to_pred")
    if conv.hd_percentile == "pooled":
        return _directed_percentile(np.concatenate([d_pg, d_gp]), np.concatenate([w_pg, w_gp]), q, conv)
    return max(_directed_percentile(d_pg, w_pg, q, conv), _directed_percentile(d_gp, w_gp, q, conv))


def directed_hausdorff_distance(
    sd: SurfaceDistances, direction: str = "pred_to_gt", percentile: float = 100.0, *, empty_policy: str = "worst"
) -> float:
    """Directed Hausdorff distance: the ``percentile`` (100: the largest) of the distances from one surface to the
    other, as the convention computes percentiles (``hd_pred_to_gt``, ``hd95_gt_to_pred``).

    .. math:: \\mathrm{HD}_{P \\to G} = \\max_{p \\in \\partial P} d(p, \\partial G)

    Huttenlocher, Klanderman, Rucklidge 1993, Comparing images using the Hausdorff distance, :DOI:`10.1109/34.232073`.
    Empty masks follow ``empty_policy`` as :func:`hausdorff_distance`.

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.zeros((5, 5), bool); pred[1, 1] = pred[1, 3] = True
    >>> gt = np.zeros((5, 5), bool); gt[1, 1] = True
    >>> sd = surface_distances(pred, gt, (1.0, 1.0))
    >>> directed_hausdorff_distance(sd, "pred_to_gt"), directed_hausdorff_distance(sd, "gt_to_pred")
    (2.0, 0.0)
    """
    d, w = _directed(sd, direction)
    empty = _empty_value(sd, empty_policy)
    if empty is not None:
        return empty
    if percentile >= 100:
        return float(d.max())
    return float(_directed_percentile(d, w, percentile, sd.convention))


def mean_average_surface_distance(sd: SurfaceDistances, *, empty_policy: str = "worst") -> float:
    """Mean average surface distance (MASD): the mean of the two directed mean surface distances,
    :math:`(\\bar d_{P \\to G} + \\bar d_{G \\to P}) / 2` (Beneš & Zitová 2015, :DOI:`10.1111/jmi.12186`; MetricsReloaded's
    MASD). Unlike ASSD, each surface weighs one half whatever its size. Empty masks as :func:`hausdorff_distance`.
    """
    empty = _empty_value(sd, empty_policy)
    if empty is not None:
        return empty
    return (mean_surface_distance(sd, "pred_to_gt") + mean_surface_distance(sd, "gt_to_pred")) / 2


def _mean(d: np.ndarray, w: np.ndarray, conv: Convention) -> float:
    if conv.weighted:
        return float(np.sum(d * w) / np.sum(w))
    if conv.float32:  # MONAI's arithmetic: a float32 torch mean
        import torch

        return float(torch.from_numpy(d.astype(np.float32)).mean())
    return float(d.mean())


def average_symmetric_surface_distance(sd: SurfaceDistances, *, empty_policy: str = "worst") -> float:
    """Average symmetric surface distance (ASSD), as the convention defines it.

    Parameters
    ----------
    sd : SurfaceDistances
        From :func:`surface_distances`, with both directions.
    empty_policy : {"worst", "nan", "inf"}, default "worst"

    Returns
    -------
    float
        In mm. Both masks empty: NaN. Exactly one empty: ``sd.worst_mm``, ``inf`` or NaN.

    Notes
    -----
    ``assd="pooled"`` (segeval, MONAI ``symmetric=True``, MedPy ``assd``), the mean over
    both directions' distances together (weights :math:`w`, 1 for voxel surfaces):

    .. math:: \\mathrm{ASSD} = \\frac{\\sum_{p} w_p d(p, \\partial G) + \\sum_{g} w_g
              d(g, \\partial P)}{\\sum_p w_p + \\sum_g w_g}

    ``assd="mean_of_means"`` (DeepMind, whose ``compute_average_surface_distance`` returns
    the two directed means): :math:`\\tfrac12 (\\mathrm{MSD}_{PG} + \\mathrm{MSD}_{GP})`.
    The two differ when the surfaces have different sizes.

    References
    ----------
    .. [1] Heimann et al., "Comparison and evaluation of methods for liver segmentation
       from CT datasets", IEEE TMI 28(8), 2009. :DOI:`10.1109/TMI.2009.2013851`

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.zeros((1, 5), bool); pred[0, [0, 4]] = True
    >>> gt = np.zeros((1, 5), bool); gt[0, [0, 2]] = True
    >>> average_symmetric_surface_distance(surface_distances(pred, gt, (1.0, 1.0)))
    1.0
    """
    empty = _empty_value(sd, empty_policy)
    if empty is not None:
        return empty
    conv = sd.convention
    d_pg, w_pg = _directed(sd, "pred_to_gt")
    d_gp, w_gp = _directed(sd, "gt_to_pred")
    if conv.assd == "mean_of_means":
        return (_mean(d_pg, w_pg, conv) + _mean(d_gp, w_gp, conv)) / 2.0
    return _mean(np.concatenate([d_pg, d_gp]), np.concatenate([w_pg, w_gp]), conv)


def mean_surface_distance(sd: SurfaceDistances, direction: str = "pred_to_gt", *, empty_policy: str = "worst") -> float:
    """Directed mean surface distance (MSD) from one surface to the other.

    Parameters
    ----------
    sd : SurfaceDistances
        From :func:`surface_distances`, with ``direction`` computed.
    direction : {"pred_to_gt", "gt_to_pred"}, default "pred_to_gt"
        ``"pred_to_gt"``: mean distance from the predicted surface to the ground truth's
        (MedPy ``asd(pred, gt)``, MONAI ``compute_average_surface_distance`` with
        ``symmetric=False``, the second value of DeepMind's pair).
    empty_policy : {"worst", "nan", "inf"}, default "worst"

    Returns
    -------
    float
        In mm. Both masks empty: NaN. Exactly one empty (either one): ``sd.worst_mm``,
        ``inf`` or NaN.

    Notes
    -----
    .. math:: \\mathrm{MSD}_{PG} = \\frac{\\sum_{p \\in \\partial P} w_p\\, d(p, \\partial G)}
              {\\sum_{p \\in \\partial P} w_p}

    with :math:`w_p = 1` for voxel surfaces and the surfel area for DeepMind's.

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.zeros((1, 5), bool); pred[0, [0, 4]] = True
    >>> gt = np.zeros((1, 5), bool); gt[0, 0] = True
    >>> sd = surface_distances(pred, gt, (1.0, 1.0))
    >>> mean_surface_distance(sd, "pred_to_gt"), mean_surface_distance(sd, "gt_to_pred")
    (2.0, 0.0)
    """
    d, w = _directed(sd, direction)
    empty = _empty_value(sd, empty_policy)
    if empty is not None:
        return empty
    return _mean(d, w, sd.convention)


def normalized_surface_dice(sd: SurfaceDistances, tolerance_mm: float = 1.0, *, empty_policy: str = "worst") -> float:
    """Normalised surface Dice (NSD, surface Dice at a tolerance).

    Parameters
    ----------
    sd : SurfaceDistances
        From :func:`surface_distances`, with both directions.
    tolerance_mm : float, default 1.0
        Largest distance (mm) at which a surface element counts as matched (``<=``).
    empty_policy : {"worst", "nan", "inf"}, default "worst"

    Returns
    -------
    float
        In [0, 1], higher is better. Both masks empty: NaN. Exactly one empty: 0.0
        (``"worst"`` or ``"inf"``) or NaN (``"nan"``).

    Notes
    -----
    .. math:: \\mathrm{NSD}_\\tau = \\frac{\\sum_{p:\\, d(p, \\partial G) \\le \\tau} w_p +
              \\sum_{g:\\, d(g, \\partial P) \\le \\tau} w_g}{\\sum_p w_p + \\sum_g w_g}

    :math:`w = 1` (counts of surface voxels: segeval, MONAI, MedPy) or the surfel areas
    (DeepMind ``compute_surface_dice_at_tolerance``).

    References
    ----------
    .. [1] Nikolov et al., J Med Internet Res 23(7), 2021. :DOI:`10.2196/26151`

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.zeros((1, 5), bool); pred[0, [0, 4]] = True
    >>> gt = np.zeros((1, 5), bool); gt[0, [0, 2]] = True
    >>> sd = surface_distances(pred, gt, (1.0, 1.0))
    >>> normalized_surface_dice(sd, 1.0), normalized_surface_dice(sd, 2.0)
    (0.5, 1.0)
    """
    tol = _check_non_negative(tolerance_mm, "tolerance_mm")
    empty = _empty_value(sd, empty_policy, bounded=True)
    if empty is not None:
        return empty
    conv = sd.convention
    d_pg, w_pg = _directed(sd, "pred_to_gt")
    d_gp, w_gp = _directed(sd, "gt_to_pred")
    if conv.float32:
        tol = float(np.float32(tol))
    if conv.weighted:
        hit = np.sum(w_pg[d_pg <= tol]) + np.sum(w_gp[d_gp <= tol])
        return float(hit / (np.sum(w_pg) + np.sum(w_gp)))
    hit = np.count_nonzero(d_pg <= tol) + np.count_nonzero(d_gp <= tol)
    return float(hit / (d_pg.size + d_gp.size))


# --------------------------------------------------------------------------- boundary IoU

#: Above this many offsets, the boundary band uses a distance transform instead of shifts.
_BAND_MAX_OFFSETS = 64


def _band_offsets(spacing: tuple[float, ...], width_mm: float) -> np.ndarray | None:
    half = [int(math.floor(width_mm / s + 1e-9)) for s in spacing]
    if math.prod(2 * h + 1 for h in half) > 8 * _BAND_MAX_OFFSETS:
        return None
    grid = np.indices([2 * h + 1 for h in half]).reshape(len(spacing), -1).T - np.array(half)
    grid = grid[offset_lengths(grid, spacing) <= width_mm]
    faces = np.array(_neighbour_offsets(len(spacing), 1))
    grid = np.unique(np.concatenate([grid, faces]), axis=0)
    grid = grid[np.any(grid != 0, axis=1)]
    return grid if len(grid) <= _BAND_MAX_OFFSETS else None


def band_pad(spacing: Sequence[float], width_mm: float) -> tuple[int, ...]:
    """Background margin needed around a bounding box by :func:`_boundary_band`."""
    offsets = _band_offsets(tuple(spacing), width_mm)
    if offsets is None:
        return (1,) * len(spacing)
    return tuple(int(h) + 1 for h in np.abs(offsets).max(axis=0))


def _boundary_band(mask, spacing: tuple[float, ...], width_mm: float, ops):
    """Foreground voxels within ``width_mm`` of the background, plus the surface voxels."""
    offsets = _band_offsets(spacing, width_mm)
    if offsets is not None:
        shape = mask.shape
        pad = np.abs(offsets).max(axis=0)
        inner = tuple(slice(int(p), n - int(p)) for p, n in zip(pad, shape))
        core = mask[inner]
        eroded = ops.copy(core)
        for k in offsets:
            eroded &= mask[tuple(slice(int(p + d), n - int(p) + int(d)) for p, d, n in zip(pad, k, shape))]
        band = ops.zeros_bool(shape, mask)
        band[inner] = core & ~eroded
        return band
    if ops.name == "numpy":
        from scipy.ndimage import distance_transform_edt

        depth = distance_transform_edt(mask, sampling=spacing)
    else:
        depth = squared_edt_torch(~mask, spacing).sqrt()
    from segeval.metrics.surface import _voxel_surface

    return (mask & (depth <= width_mm)) | _voxel_surface(mask, 1, ops)


def _padded_boundary_iou(pred, gt, spacing, width_mm, ops) -> float:
    p, g = ops.asarray(pred), ops.asarray(gt)
    bp = _boundary_band(p, spacing, width_mm, ops)
    bg = _boundary_band(g, spacing, width_mm, ops)
    inter = int((bp & bg).sum())
    union = int((bp | bg).sum())
    return inter / union


def boundary_iou(
    pred: np.ndarray,
    gt: np.ndarray,
    spacing_mm: Sequence[float],
    *,
    width_mm: float = DEFAULT_BOUNDARY_IOU_WIDTH_MM,
    empty_policy: str = "worst",
    backend: str = "auto",
    device: str = "cpu",
) -> float:
    """Boundary IoU: IoU of the inner boundary bands of width ``width_mm`` of two masks.

    Parameters
    ----------
    pred, gt : numpy.ndarray of bool, shape (H, W) or (D, H, W)
    spacing_mm : sequence of float
        Voxel spacing in mm, array-axis order.
    width_mm : float, default 2.0
        Band width in mm (Cheng et al. use 2 % of the image diagonal, in pixels).
    empty_policy : {"worst", "nan", "inf"}, default "worst"
    backend, device
        As for :func:`surface_distances`.

    Returns
    -------
    float
        In [0, 1], higher is better. Both masks empty: NaN. Exactly one empty: 0.0
        (``"worst"``/``"inf"``) or NaN (``"nan"``).

    Notes
    -----
    With :math:`M^c` the background (the outside of the image included) and :math:`S(M)`
    the face-connected surface voxels (always part of the band, so a band narrower than a
    voxel is one voxel thick):

    .. math:: B_w(M) = S(M) \\cup \\{x \\in M : d(x, M^c) \\le w\\}, \\qquad
              \\mathrm{BIoU} = \\frac{|B_w(P) \\cap B_w(G)|}{|B_w(P) \\cup B_w(G)|}

    :math:`d` is the Euclidean distance between voxel centres in mm. Cheng et al. erode
    with a 3x3 square (chessboard distance) in pixels; this is the Euclidean, physical
    version, identical across conventions.

    References
    ----------
    .. [1] Cheng, Girshick, Dollár, Berg, Kirillov, "Boundary IoU: Improving
       object-centric image segmentation evaluation", CVPR 2021. arXiv:2103.16562

    Examples
    --------
    A 4x4 square against the same square shifted by one column, 1 px band: each band
    is the 12-pixel ring, 6 pixels are shared, 18 are in either.

    >>> import numpy as np
    >>> pred = np.zeros((6, 7), bool); pred[1:5, 1:5] = True
    >>> gt = np.zeros((6, 7), bool); gt[1:5, 2:6] = True
    >>> boundary_iou(pred, gt, (1.0, 1.0), width_mm=1.0)
    0.3333333333333333
    """
    _validate_pair(pred, gt)
    spacing = _validate_spacing(spacing_mm, pred.ndim, pred.shape)
    width = _check_non_negative(width_mm, "width_mm")
    _check_choice(empty_policy, EMPTY_POLICIES, "empty_policy")
    backend = resolve_backend(backend, device)
    pred = pred.astype(bool, copy=False)
    gt = gt.astype(bool, copy=False)
    has_p, has_g = bool(pred.any()), bool(gt.any())
    if not (has_p and has_g):
        if not (has_p or has_g) or empty_policy == "nan":
            return math.nan
        return 0.0
    box = bounding_box(pred | gt)
    pad = band_pad(spacing, width)
    ops = _NumpyOps() if backend == "scipy" else _TorchOps(device)
    return _padded_boundary_iou(
        padded_crop(pred, box, pad),
        padded_crop(gt, box, pad),
        spacing,
        width,
        ops,
    )


# --------------------------------------------------------------------------- engine entry


def _union_box(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return tuple(slice(min(x.start, y.start), max(x.stop, y.stop)) for x, y in zip(a, b))


def _shift_box(box, origin):
    return tuple(slice(s.start + o.start, s.stop + o.start) for s, o in zip(box, origin))


def _find_boxes(arr: np.ndarray, max_label: int, cropped_at=None) -> dict[int, tuple[slice, ...]]:
    """``{label: box}`` for labels 1..max_label of an integer map, in one pass.

    ``arr`` is cropped to its non-zero box first, unless it already is a crop taken at
    ``cropped_at`` (the returned boxes are in the full map's coordinates either way).
    """
    from scipy.ndimage import find_objects

    if cropped_at is None:
        cropped_at = bounding_box(arr)
        if cropped_at is None:
            return {}
        arr = arr[cropped_at]
    found = find_objects(np.ascontiguousarray(arr), max_label=max_label)
    return {i + 1: _shift_box(f, cropped_at) for i, f in enumerate(found) if f is not None}


def _label_boxes(pred: np.ndarray, gt: np.ndarray, labels: Sequence[int]):
    """Bounding boxes of each label in each map: ``({label: box}, {label: box})``.

    Positive labels come from ``scipy.ndimage.find_objects`` on the maps' non-zero box.
    When both maps hold small unsigned labels, one pass over the combined map
    ``pred * (max(gt) + 1) + gt`` gives both sets of boxes; otherwise one pass per map.
    Label 0 and negative labels are found with a comparison each.
    """
    boxes_p: dict[int, tuple[slice, ...]] = {}
    boxes_g: dict[int, tuple[slice, ...]] = {}
    positive = [lab for lab in labels if lab > 0]
    p = pred.view(np.uint8) if pred.dtype == bool else pred
    g = gt.view(np.uint8) if gt.dtype == bool else gt
    if positive:
        combined = False
        if p.dtype.kind == "u" and g.dtype.kind == "u":
            max_p, max_g = int(p.max()), int(g.max())
            base = max_g + 1
            combined = (max_p + 1) * base <= 256
        if combined:
            box = _union_box(bounding_box(p), bounding_box(g))
            if box is not None:
                code = p[box].astype(np.uint8) * np.uint8(base)
                code += g[box].astype(np.uint8, copy=False)
                for value, found in _find_boxes(code, (max_p + 1) * base - 1, box).items():
                    a, b = divmod(value, base)
                    if a:
                        boxes_p[a] = _union_box(boxes_p.get(a), found)
                    if b:
                        boxes_g[b] = _union_box(boxes_g.get(b), found)
        else:
            top = max(positive)
            boxes_p = _find_boxes(p, top)
            boxes_g = _find_boxes(g, top)
    for label in labels:
        if label <= 0:
            for arr, out in ((pred, boxes_p), (gt, boxes_g)):
                box = bounding_box(arr == label)
                if box is not None:
                    out[label] = box
    return boxes_p, boxes_g


def _validate_label_maps(pred_labels, gt_labels) -> None:
    _validate_pair(pred_labels, gt_labels, what="label map")
    for name, arr in (("pred_labels", pred_labels), ("gt_labels", gt_labels)):
        if arr.dtype.kind not in "biu":
            raise InputError(
                f"Expected `{name}` to hold integer labels, got dtype {arr.dtype}",
                hint="round or cast probability maps to labels before scoring",
            )


def _canonical_metrics(metrics: Sequence[str]) -> list[str]:
    from segeval.metrics.catalog import list_metrics

    if isinstance(metrics, str):
        metrics = [metrics]
    out: list[str] = []
    for name in metrics:
        canonical = parse_distance_metric(name)
        if canonical is None:
            raise UnknownNameError(
                f"unknown distance metric {name!r}",
                hint="distance metrics: " + ", ".join(list_metrics("distance")).replace("hdNN", "hdNN (e.g. hd95)"),
            )
        if canonical not in out:
            out.append(canonical)
    return out


def _label_list(labels: Sequence[int]) -> list[int]:
    out = []
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise UsageError(f"Expected every label to be an int, got {label!r}")
        if int(label) not in out:
            out.append(int(label))
    return out


_SURFACE_METRICS = {"hd", "hd_percentile", "assd", "masd", "msd", "nsd"}


def _is_surface_metric(metric: str) -> bool:
    metric = _undirected(metric)
    return metric in _SURFACE_METRICS or (metric.startswith("hd") and metric[2:3].isdigit())


def _needed_directions(metrics: list[str]) -> tuple[bool, bool]:
    surface = [m for m in metrics if _is_surface_metric(m)]
    pg = any(_direction(m) != "gt_to_pred" for m in surface)
    gp = any(_direction(m) != "pred_to_gt" for m in surface)
    return pg, gp


def _metric_value(metric: str, sd: SurfaceDistances, label: int, options: DistanceOptions) -> float:
    policy = options.empty_policy
    if metric == "hd":
        return hausdorff_distance(sd, empty_policy=policy)
    if metric == "assd":
        return average_symmetric_surface_distance(sd, empty_policy=policy)
    if metric == "msd_pred_to_gt":
        return mean_surface_distance(sd, "pred_to_gt", empty_policy=policy)
    if metric == "msd_gt_to_pred":
        return mean_surface_distance(sd, "gt_to_pred", empty_policy=policy)
    if metric == "nsd":
        return normalized_surface_dice(sd, options.tolerance_for(label), empty_policy=policy)
    if metric == "masd":
        return mean_average_surface_distance(sd, empty_policy=policy)
    direction = _direction(metric)
    if direction is not None:
        q = 100.0 if metric == f"hd_{direction}" else _metric_percentile(metric, options)
        return directed_hausdorff_distance(sd, direction, q, empty_policy=policy)
    q = _metric_percentile(metric, options)
    if q is None:  # pragma: no cover - guarded by _canonical_metrics
        raise UnknownNameError(f"unknown distance metric {metric!r}")
    return percentile_hausdorff_distance(sd, q, empty_policy=policy)


def distance_metrics(
    pred_labels: np.ndarray,
    gt_labels: np.ndarray,
    labels: Sequence[int],
    spacing_mm: Sequence[float],
    metrics: Sequence[str],
    options: DistanceOptions = DistanceOptions(),
) -> dict[int, dict[str, tuple[float, str]]]:
    """Distance metrics of every label of one case: the scoring engine's entry point.

    Parameters
    ----------
    pred_labels, gt_labels : numpy.ndarray of int or bool, shape (H, W) or (D, H, W)
        Predicted and ground-truth label maps of one case.
    labels : sequence of int
        Labels to score (each one against the rest, e.g. ``[1, 2, 3]``).
    spacing_mm : sequence of float
        Voxel spacing in mm, array-axis order (``(1, 1)`` for pixels).
    metrics : sequence of str
        Distance metric names (:func:`parse_distance_metric`): ``hd``, ``hd95`` (any
        ``hdNN``), ``hd_percentile``, ``assd``, ``msd_pred_to_gt``, ``msd_gt_to_pred``,
        ``nsd``, ``boundary_iou``.
    options : DistanceOptions
        Convention, percentile, tolerances, empty policy, backend and device.

    Returns
    -------
    dict
        ``{label: {canonical_metric: (value, status)}}``, ``status`` in ``"ok"``,
        ``"one_empty"``, ``"both_empty"``. Empty masks follow ``options.empty_policy``
        (module docstring): both empty → NaN; one empty → the image diagonal in mm
        (``worst``), inf or NaN; NSD and boundary IoU give 0.0 (NaN under ``nan``).

    Raises
    ------
    InputError
        Label maps of different shapes, not 2-D/3-D, not integer, or a spacing that does
        not have one finite positive value per axis (shapes and spacing are printed).
    UnknownNameError
        A metric name that is not a distance metric.
    UsageError
        A per-label NSD tolerance missing for a scored label; CUDA asked but missing.

    Notes
    -----
    Per label, the two masks are cropped to the bounding box of ``pred | gt`` plus a
    background margin (bounding boxes of all labels come from one pass over each map),
    surfaces are extracted once, and only the asked-for directions are searched.

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.zeros((3, 3), np.uint8); pred[0, 1] = 1
    >>> gt = np.zeros((3, 3), np.uint8); gt[1, 1] = 1
    >>> distance_metrics(pred, gt, [1], (2.0, 1.0), ["hd", "hd95", "assd"])
    {1: {'hd': (2.0, <Status.OK: 'ok'>), 'hd95': (2.0, <Status.OK: 'ok'>), 'assd': (2.0, <Status.OK: 'ok'>)}}
    """
    if not isinstance(options, DistanceOptions):
        raise UsageError(f"Expected `options` to be a DistanceOptions, got {type(options).__name__}")
    _validate_label_maps(pred_labels, gt_labels)
    spacing = _validate_spacing(spacing_mm, pred_labels.ndim, pred_labels.shape)
    names = _canonical_metrics(metrics)
    label_list = _label_list(labels)
    conv = get_convention(options.convention)
    backend = resolve_backend(options.backend, options.device)
    if "nsd" in names:
        for label in label_list:
            options.tolerance_for(label)

    want_pg, want_gp = _needed_directions(names)
    want_surface = want_pg or want_gp
    surface_pad = crop_pad(spacing)
    worst = worst_distance_mm(pred_labels.shape, spacing)
    ops = _NumpyOps() if backend == "scipy" else _TorchOps(options.device)

    pred_boxes, gt_boxes = _label_boxes(pred_labels, gt_labels, label_list)
    boxes, statuses = {}, {}
    for label in label_list:
        box_p, box_g = pred_boxes.get(label), gt_boxes.get(label)
        boxes[label] = _union_box(box_p, box_g)
        if box_p is not None and box_g is not None:
            statuses[label] = Status.OK
        elif box_p is None and box_g is None:
            statuses[label] = Status.BOTH_EMPTY
        else:
            statuses[label] = Status.ONE_EMPTY
    present = [label for label in label_list if statuses[label] == Status.OK]

    stats: dict[int, SurfaceDistances] = {}
    if want_surface and present:
        if backend == "scipy":  # all classes of the case in batches
            stats = label_surface_distances(
                pred_labels,
                gt_labels,
                [(label, boxes[label]) for label in present],
                spacing,
                conv,
                worst_mm=worst,
                pad=surface_pad,
                pred_to_gt=want_pg,
                gt_to_pred=want_gp,
            )
        else:  # one class at a time on the device
            for label in present:
                stats[label] = padded_surface_distances(
                    padded_crop(pred_labels, boxes[label], surface_pad, label),
                    padded_crop(gt_labels, boxes[label], surface_pad, label),
                    spacing,
                    conv,
                    worst_mm=worst,
                    pred_to_gt=want_pg,
                    gt_to_pred=want_gp,
                    backend=backend,
                    device=options.device,
                )

    out: dict[int, dict[str, tuple[float, str]]] = {}
    for label in label_list:
        status = statuses[label]
        if status == Status.BOTH_EMPTY:
            out[label] = {name: (math.nan, Status.BOTH_EMPTY) for name in names}
            continue
        sd = stats.get(label)
        if sd is None and want_surface:  # one empty: no search, the empty policy decides
            sd = _one_empty(conv, worst, spacing, pred_empty=pred_boxes.get(label) is None)
        row: dict[str, tuple[float, str]] = {}
        for name in names:
            if name == "boundary_iou":
                if status == Status.OK:
                    bpad = band_pad(spacing, options.boundary_iou_width_mm)
                    value = _padded_boundary_iou(
                        padded_crop(pred_labels, boxes[label], bpad, label),
                        padded_crop(gt_labels, boxes[label], bpad, label),
                        spacing,
                        options.boundary_iou_width_mm,
                        ops,
                    )
                else:
                    value = math.nan if options.empty_policy == "nan" else 0.0
            else:
                value = _metric_value(name, sd, label, options)
            row[name] = (value, status)
        out[label] = row
    return out


def _one_empty(conv: Convention, worst: float, spacing, *, pred_empty: bool) -> SurfaceDistances:
    """Stand-in statistic of a class present in one mask only: one surface, inf distances.

    Only its status reaches the metrics (the empty policy decides every value), so a
    single element stands for the non-empty surface.
    """
    one, inf, none = np.ones(1), np.full(1, np.inf), np.zeros(0)
    if pred_empty:
        return SurfaceDistances(none, inf, none, one, conv, worst, tuple(spacing))
    return SurfaceDistances(inf, none, one, none, conv, worst, tuple(spacing))
