"""Lesion-wise (instance) evaluation: connected components of one class (or region) matched across sides.

Reference and prediction masks are split into connected components (lesions) with
connected-components-3d; every later step works inside the bounding boxes of the lesions, so the
cost grows with the lesions, not with the volume. :func:`lesion_metrics` is the entry point: two
binary masks in, a :class:`LesionResult` (per-lesion rows and the case values of every lesion
metric) out.

Steps, in order:

1. **Labelling.** Components at ``connectivity`` (2-D: 4 or 8, 3-D: 6, 18 or 26; default the
   full neighbourhood, 8 or 26).
2. **Reference dilation** (optional). The reference is dilated (``dilation_iterations`` of the 3×3(×3)
   structuring element of offsets of squared length ≤ 2, scipy's ``generate_binary_structure(ndim, 2)``,
   or a ball of ``dilation_mm``), labelled, and each dilated component restricted to the reference's
   voxels is one lesion: nearby fragments count as one lesion, the mask itself does not change.
   Each reference lesion's matching region is the lesion dilated the same way.
3. **Size limit.** Reference lesions of at most ``min_voxels`` voxels (or ``min_mm3`` mm³) are
   ignored: they count nowhere, and predicted lesions matched only to them are ignored as well
   (predicted lesions of any size count).
4. **Matching** (:class:`~segeval.options.LesionMatching`): ``overlap`` — a reference lesion is detected by every predicted
   lesion touching its matching region (WMH, BraTS); ``iou`` — pairs with IoU > 0.5, unique by
   construction (panoptic quality); ``assignment`` — the one-to-one assignment maximising the total
   IoU over overlapping pairs (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``).
5. **Scores.** Each reference lesion is compared with the union of its matched predicted lesions:
   Dice, IoU, HD95 and ASSD in mm (segeval's surface-distance kernels on the cropped pair). A missed
   reference lesion and a false-positive predicted lesion score Dice 0, IoU 0 and ``unmatched_distance``
   (BraTS: 374 mm) as HD95 and ASSD.

Case values: ``lesion_tp`` reference lesions detected, ``lesion_fn`` missed, ``lesion_fp`` predicted
lesions matching no reference lesion; recall = TP / (TP + FN), precision = TP_pred / (TP_pred + FP)
with TP_pred the matched predicted lesions (= TP for one-to-one matchings), F1 their harmonic mean;
panoptic quality PQ = SQ × RQ with SQ the mean IoU of the detected lesions and RQ = F1 (Kirillov et al.
2019, Panoptic segmentation, https://arxiv.org/abs/1801.00868); ``lesion_dice``/``_iou``/``_hd95``/
``_assd`` the mean over the scored lesions (reference lesions not ignored, plus false positives), as
BraTS 2023 (Saluja et al., BraTS 2023 lesion-wise metrics, https://github.com/rachitsaluja/BraTS-2023-Metrics).
``lesion_merged`` counts predicted lesions overlapping two or more reference lesions, ``lesion_split``
reference lesions overlapped by two or more predicted lesions.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from segeval.errors import UsageError
from segeval.metrics.distance import average_symmetric_surface_distance, percentile_hausdorff_distance
from segeval.metrics.surface import (
    bounding_box,
    crop_pad,
    get_convention,
    padded_crop,
    padded_surface_distances,
    worst_distance_mm,
)
from segeval.options import LesionMatching, LesionPreset
from segeval.status import Status


class Side(enum.StrEnum):
    """Which mask a lesion comes from."""

    REFERENCE = "reference"
    PREDICTION = "prediction"


class LesionStatus(enum.StrEnum):
    """What became of one lesion (the ``status`` column of ``lesions.csv``)."""

    MATCHED = "matched"
    """Matched to a lesion of the other side (a reference lesion detected, a predicted lesion confirmed)."""
    MISSED = "missed"
    """A reference lesion matched by no predicted lesion (false negative)."""
    FALSE_POSITIVE = "false_positive"
    """A predicted lesion matching no reference lesion."""
    IGNORED = "ignored"
    """A reference lesion under the size limit, or a predicted lesion matched only to such lesions."""


BRATS2023_UNMATCHED_HD95 = 374.0
"""The HD95 of an unmatched lesion in BraTS 2023 (mm): about the diagonal of the 240×240×155 mm BraTS image."""

BRATS2023_PARAMETERS: dict[LesionPreset, tuple[int, int]] = {
    LesionPreset.BRATS2023_GLI: (3, 50),
    LesionPreset.BRATS2023_SSA: (3, 50),
    LesionPreset.BRATS2023_PED: (3, 50),
    LesionPreset.BRATS2023_MEN: (1, 50),
    LesionPreset.BRATS2023_MET: (1, 2),
}
"""Per sub-challenge: (dilation iterations, size limit in voxels: lesions of at most this many are ignored),
as in the published evaluation code's ``get_challenge_parameters``."""

FULL_CONNECTIVITY = {2: 8, 3: 26}
ALLOWED_CONNECTIVITY = {2: (4, 8), 3: (6, 18, 26)}


@dataclass(frozen=True)
class LesionOptions:
    """How lesions are found, matched and scored (one set per run)."""

    connectivity: int | None = None
    """Neighbourhood of a component: 4/8 in 2-D, 6/18/26 in 3-D; ``None``: the full one (8, 26)."""
    matching: LesionMatching = LesionMatching.OVERLAP
    dilation_iterations: int = 0
    """Iterations of the ``generate_binary_structure(ndim, 2)`` dilation of the reference (BraTS)."""
    dilation_mm: float = 0.0
    """Or a dilation of the reference by a ball of this radius in mm."""
    min_voxels: int = 0
    """Reference lesions of at most this many voxels are ignored."""
    min_mm3: float = 0.0
    """Reference lesions of at most this volume (mm³, mm² in 2-D) are ignored."""
    unmatched_distance: float = BRATS2023_UNMATCHED_HD95
    """HD95 and ASSD of a missed or false-positive lesion (mm)."""
    both_empty_perfect: bool = False
    """No lesion on either side: ratios 1 and distances 0 (BraTS); otherwise ``empty_score`` and NaN."""
    empty_score: float = math.nan
    """Ratio metrics when no lesion is on either side, unless ``both_empty_perfect``."""
    convention: str = "segeval"
    """Surface-distance convention of the per-lesion HD95 and ASSD (``docs/distance.md``)."""

    def __post_init__(self) -> None:
        if self.dilation_iterations and self.dilation_mm:
            raise UsageError("give either --lesion-dilation or --lesion-dilation-mm, not both")
        get_convention(self.convention)

    @classmethod
    def preset(cls, preset: LesionPreset, **overrides) -> LesionOptions:
        """The options of a published rule set; ``overrides`` replace some of them.

        BraTS 2023: 26-connectivity, the sub-challenge's dilation iterations and size limit, any-overlap
        matching, unmatched lesions Dice 0 and HD95 374, both sides empty Dice 1 and HD95 0, distances
        as DeepMind's surface-distance (which the published code uses).
        """
        if preset is LesionPreset.NONE:
            return cls(**overrides)
        iterations, min_voxels = BRATS2023_PARAMETERS[preset]
        values = dict(
            connectivity=26,
            matching=LesionMatching.OVERLAP,
            dilation_iterations=iterations,
            min_voxels=min_voxels,
            both_empty_perfect=True,
            convention="deepmind",
        )
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Lesion:
    """One row of ``lesions.csv``: a lesion of one side and what became of it."""

    side: Side
    id: int
    """Component number on its side, from 1, in scan order."""
    voxels: int
    volume_mm3: float
    centroid_index_zyx: tuple[float, ...]
    centroid_mm_xyz: tuple[float, ...]
    matched: tuple[int, ...]
    """Ids of the matched lesions of the other side."""
    overlapping: int
    """Lesions of the other side it overlaps: 2 or more is a split (reference) or a merge (prediction)."""
    dice: float
    iou: float
    hd95: float
    assd: float
    status: LesionStatus


@dataclass(frozen=True)
class LesionResult:
    """The lesions of one case and class, and the case value of every lesion metric."""

    lesions: tuple[Lesion, ...]
    tp: int
    fn: int
    fp: int
    tp_pred: int
    """Predicted lesions matched to a reference lesion that counts."""
    merged: int
    split: int
    values: dict[str, tuple[float, Status]]
    """Case value and status of each lesion metric (``lesion_dice``, ``pq``, …)."""


@dataclass(frozen=True)
class Geometry:
    """Where the voxels are: spacing and origin in array-axis order, direction cosines as SimpleITK gives them."""

    spacing: tuple[float, ...]
    origin: tuple[float, ...] | None = None
    direction: tuple[float, ...] | None = None

    def world_xyz(self, index_zyx: np.ndarray) -> tuple[float, ...]:
        """World coordinates (x, y, z) in mm of a continuous voxel index (z, y, x): origin + D · (index × spacing)."""
        ndim = len(self.spacing)
        scaled = (np.asarray(index_zyx, dtype=float) * np.asarray(self.spacing))[::-1]
        known = self.direction is not None and len(self.direction) == ndim * ndim
        direction = np.asarray(self.direction, dtype=float).reshape(ndim, ndim) if known else np.eye(ndim)
        known = self.origin is not None and len(self.origin) == ndim
        origin = np.asarray(self.origin, dtype=float)[::-1] if known else np.zeros(ndim)
        return tuple(float(v) for v in origin + direction @ scaled)


def connectivity_for(ndim: int, connectivity: int | None) -> int:
    """The connectivity of ``ndim``-D masks (``None``: full); a value the dimension does not take is a usage error."""
    if connectivity is None:
        return FULL_CONNECTIVITY[ndim]
    if connectivity not in ALLOWED_CONNECTIVITY[ndim]:
        allowed = ", ".join(map(str, ALLOWED_CONNECTIVITY[ndim]))
        raise UsageError(f"--lesion-connectivity {connectivity} does not fit {ndim}-D images (use {allowed})")
    return connectivity


def structuring_element(ndim: int, spacing: Sequence[float], options: LesionOptions) -> tuple[np.ndarray, int] | None:
    """The reference dilation as (structuring element, iterations), or ``None`` without dilation.

    ``dilation_iterations``: offsets of squared length ≤ 2 (BraTS); ``dilation_mm``: the voxel offsets
    within the ellipsoid of that radius in mm.
    """
    if options.dilation_iterations:
        return ndimage.generate_binary_structure(ndim, 2), options.dilation_iterations
    if options.dilation_mm:
        reach = [int(options.dilation_mm // s) for s in spacing]
        grid = np.meshgrid(*[np.arange(-r, r + 1) * s for r, s in zip(reach, spacing)], indexing="ij")
        return sum(g**2 for g in grid) <= options.dilation_mm**2 + 1e-9, 1
    return None


def _reach(element: tuple[np.ndarray, int] | None) -> tuple[int, ...] | None:
    if element is None:
        return None
    structure, iterations = element
    return tuple(iterations * (n // 2) for n in structure.shape)


def _grow(box: Sequence[slice], reach: Sequence[int], shape: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(max(0, s.start - r), min(n, s.stop + r)) for s, r, n in zip(box, reach, shape))


def _dilate(mask: np.ndarray, element: tuple[np.ndarray, int]) -> np.ndarray:
    structure, iterations = element
    return ndimage.binary_dilation(mask, structure=structure, iterations=iterations)


def reference_lesions(gt: np.ndarray, connectivity: int, element: tuple[np.ndarray, int] | None) -> np.ndarray:
    """Lesion labels of the reference: its components, or with a dilation the dilated components
    restricted to the reference's voxels (each component dilated inside its own box)."""
    labels = _label(gt, connectivity)
    if element is None:
        return labels
    reach = _reach(element)
    dilated = np.zeros(gt.shape, dtype=bool)
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        grown = _grow(box, reach, gt.shape)
        dilated[grown] |= _dilate(labels[grown] == i, element)
    merged = _label(dilated, connectivity)
    return np.where(gt, merged, 0).astype(merged.dtype, copy=False)  # every dilated component holds reference voxels


@dataclass
class _Components:
    labels: np.ndarray
    count: int
    voxels: np.ndarray
    boxes: list
    centroids: np.ndarray


def _label(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """Components of a boolean mask (cc3d; a uint8 view of the mask is several times faster than bool)."""
    return cc3d.connected_components(mask.view(np.uint8), connectivity=connectivity)


def _components(labels: np.ndarray) -> _Components:
    """Sizes, boxes and centroids of the components of ``labels``, numbered 1..N (gaps that cc3d may leave on thin
    2-D images closed): one ``find_objects`` pass over the volume, then work inside each component's box."""
    boxes = ndimage.find_objects(labels)
    if any(box is None for box in boxes):
        numbers = np.zeros(len(boxes) + 1, dtype=labels.dtype)
        present = np.array([box is not None for box in boxes])
        numbers[1:][present] = np.arange(1, int(present.sum()) + 1)
        labels = numbers[labels]
        boxes = [box for box in boxes if box is not None]
    voxels = np.zeros(len(boxes) + 1, dtype=np.int64)
    centroids = np.zeros((len(boxes) + 1, labels.ndim))
    for i, box in enumerate(boxes, start=1):
        where = np.nonzero(labels[box] == i)
        voxels[i] = where[0].size
        centroids[i] = [axis.mean() + s.start for axis, s in zip(where, box)]
    return _Components(labels, len(boxes), voxels, [None, *boxes], centroids)


def _union(boxes: list[tuple[slice, ...]]) -> tuple[slice, ...]:
    return tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(len(boxes[0])))


@dataclass(frozen=True)
class _PairScores:
    dice: float
    iou: float
    hd95: float
    assd: float


def _pair_scores(
    ref: _Components, r: int, pred: _Components, matched: Sequence[int], spacing, convention, worst
) -> _PairScores:
    """Dice, IoU, HD95 and ASSD of reference lesion ``r`` against the union of predicted lesions ``matched``,
    inside the union of their boxes padded by the distance kernels' margin."""
    box = _union([ref.boxes[r]] + [pred.boxes[p] for p in matched])
    pad = crop_pad(spacing)
    g = padded_crop(ref.labels, box, pad, r)
    if len(matched) == 1:
        p = padded_crop(pred.labels, box, pad, matched[0])
    else:
        p = np.zeros_like(g)
        p[tuple(slice(q, -q) for q in pad)] = np.isin(pred.labels[box], matched)
    inter = int(np.count_nonzero(g & p))
    size_g, size_p = int(ref.voxels[r]), int(np.count_nonzero(p))
    dice = 2 * inter / (size_g + size_p)
    iou = inter / (size_g + size_p - inter)
    sd = padded_surface_distances(p, g, spacing, convention, worst_mm=worst)
    hd95 = percentile_hausdorff_distance(sd, 95.0)
    assd = average_symmetric_surface_distance(sd)
    return _PairScores(dice, iou, hd95, assd)


def lesion_metrics(
    pred: np.ndarray, gt: np.ndarray, geometry: Geometry | Sequence[float], options: LesionOptions = LesionOptions()
) -> LesionResult:
    """Lesion-wise evaluation of one binary prediction against one binary reference (2-D or 3-D).

    ``geometry`` is a :class:`Geometry` or the spacing in mm (array-axis order). See the module
    docstring for the steps and definitions.

    Examples
    --------
    Two reference lesions, one found and one missed, and one false positive:

    >>> import numpy as np
    >>> gt = np.zeros((1, 12), bool); gt[0, 1:3] = True; gt[0, 6:8] = True
    >>> pred = np.zeros((1, 12), bool); pred[0, 1:3] = True; pred[0, 10] = True
    >>> r = lesion_metrics(pred, gt, (1.0, 1.0))
    >>> r.tp, r.fn, r.fp, r.values["lesion_f1"][0], r.values["lesion_dice"][0]
    (1, 1, 1, 0.5, 0.3333333333333333)
    """
    geometry = geometry if isinstance(geometry, Geometry) else Geometry(tuple(float(s) for s in geometry))
    spacing = geometry.spacing
    gt, pred = np.asarray(gt, dtype=bool), np.asarray(pred, dtype=bool)
    if gt.shape != pred.shape or gt.ndim not in (2, 3):
        raise UsageError(f"lesion metrics need two 2-D or 3-D masks of one shape, got {pred.shape} and {gt.shape}")
    connectivity = connectivity_for(gt.ndim, options.connectivity)
    element = structuring_element(gt.ndim, spacing, options)
    worst = worst_distance_mm(gt.shape, spacing)
    origin = np.zeros(gt.ndim)
    content = bounding_box(gt | pred)
    if content is not None:  # the work below sees the box of both masks, grown by the dilation's reach
        content = _grow(content, _reach(element) or (0,) * gt.ndim, gt.shape)
        gt, pred = np.ascontiguousarray(gt[content]), np.ascontiguousarray(pred[content])
        origin = np.array([s.start for s in content], dtype=float)
    ref = _components(reference_lesions(gt, connectivity, element))
    prd = _components(_label(pred, connectivity))
    voxel_mm3 = float(np.prod(spacing))
    ignored_ref = {
        r
        for r in range(1, ref.count + 1)
        if ref.voxels[r] <= options.min_voxels or ref.voxels[r] * voxel_mm3 <= options.min_mm3
    }

    # overlaps: intersections (voxels) of each reference lesion, and what its matching region touches
    inter: dict[int, dict[int, int]] = {}
    touched: dict[int, set[int]] = {}
    reach = _reach(element)
    for r in range(1, ref.count + 1):
        box = ref.boxes[r] if reach is None else _grow(ref.boxes[r], reach, gt.shape)
        own = ref.labels[box] == r
        found = prd.labels[box]
        ids, counts = np.unique(found[own], return_counts=True)
        inter[r] = {int(i): int(c) for i, c in zip(ids, counts) if i}
        if element is None:
            touched[r] = set(inter[r])
        else:
            touched[r] = {int(i) for i in np.unique(found[_dilate(own, element)]) if i}

    def iou_of(r: int, p: int) -> float:
        i = inter[r].get(p, 0)
        return i / (int(ref.voxels[r]) + int(prd.voxels[p]) - i)

    matches: dict[int, list[int]] = {r: [] for r in range(1, ref.count + 1)}
    if options.matching is LesionMatching.OVERLAP:
        for r in matches:
            matches[r] = sorted(touched[r])
    elif options.matching is LesionMatching.IOU:
        for r in matches:
            matches[r] = [p for p in inter[r] if iou_of(r, p) > 0.5]
    else:
        pairs = [(r, p) for r in inter for p in inter[r]]
        if pairs:
            rows = sorted({r for r, _ in pairs})
            cols = sorted({p for _, p in pairs})
            row_of, col_of = {r: i for i, r in enumerate(rows)}, {p: j for j, p in enumerate(cols)}
            weights = np.zeros((len(rows), len(cols)))
            for r, p in pairs:
                weights[row_of[r], col_of[p]] = iou_of(r, p)
            for i, j in zip(*linear_sum_assignment(weights, maximize=True)):
                if weights[i, j] > 0:
                    matches[rows[i]].append(cols[j])

    pred_matches: dict[int, list[int]] = {p: [] for p in range(1, prd.count + 1)}
    for r, found in matches.items():
        for p in found:
            pred_matches[p].append(r)
    pred_overlaps = {p: 0 for p in range(1, prd.count + 1)}
    for r in inter:
        for p in inter[r]:
            pred_overlaps[p] += 1

    convention = get_convention(options.convention)
    unmatched = options.unmatched_distance
    lesions: list[Lesion] = []
    scored: list[_PairScores] = []
    detected_iou: list[float] = []
    pair_of: dict[int, _PairScores] = {}
    for r in range(1, ref.count + 1):
        if r in ignored_ref:
            status, scores = LesionStatus.IGNORED, _PairScores(math.nan, math.nan, math.nan, math.nan)
        elif matches[r]:
            status = LesionStatus.MATCHED
            scores = _pair_scores(ref, r, prd, matches[r], spacing, convention, worst)
            detected_iou.append(scores.iou)
            scored.append(scores)
            if len(matches[r]) == 1 and len(pred_matches[matches[r][0]]) == 1:
                pair_of[matches[r][0]] = scores
        else:
            status, scores = LesionStatus.MISSED, _PairScores(0.0, 0.0, unmatched, unmatched)
            scored.append(scores)
        lesions.append(
            _row(Side.REFERENCE, r, ref, origin, geometry, voxel_mm3, matches[r], len(inter[r]), scores, status)
        )
    fp = tp_pred = 0
    for p in range(1, prd.count + 1):
        kept = [r for r in pred_matches[p] if r not in ignored_ref]
        if kept:
            tp_pred += 1
            status = LesionStatus.MATCHED
            scores = pair_of.get(p, _PairScores(math.nan, math.nan, math.nan, math.nan))
        elif pred_matches[p]:
            status, scores = LesionStatus.IGNORED, _PairScores(math.nan, math.nan, math.nan, math.nan)
        else:
            fp += 1
            status, scores = LesionStatus.FALSE_POSITIVE, _PairScores(0.0, 0.0, unmatched, unmatched)
            scored.append(scores)
        lesions.append(
            _row(
                Side.PREDICTION, p, prd, origin, geometry, voxel_mm3, pred_matches[p], pred_overlaps[p], scores, status
            )
        )
    tp = len(detected_iou)
    fn = ref.count - len(ignored_ref) - tp
    merged = sum(1 for n in pred_overlaps.values() if n >= 2)
    split = sum(1 for r in inter if r not in ignored_ref and len(inter[r]) >= 2)
    values = _case_values(tp, fn, fp, tp_pred, detected_iou, scored, options)
    values |= {"lesion_merged": (float(merged), Status.OK), "lesion_split": (float(split), Status.OK)}
    return LesionResult(tuple(lesions), tp, fn, fp, tp_pred, merged, split, values)


def _row(side, i, comps: _Components, origin, geometry, voxel_mm3, matched, overlapping, scores, status) -> Lesion:
    centroid = comps.centroids[i] + origin
    return Lesion(
        side=side,
        id=i,
        voxels=int(comps.voxels[i]),
        volume_mm3=float(comps.voxels[i]) * voxel_mm3,
        centroid_index_zyx=tuple(float(c) for c in centroid),
        centroid_mm_xyz=geometry.world_xyz(centroid),
        matched=tuple(int(m) for m in matched),
        overlapping=int(overlapping),
        dice=scores.dice,
        iou=scores.iou,
        hd95=scores.hd95,
        assd=scores.assd,
        status=status,
    )


def _case_values(
    tp: int, fn: int, fp: int, tp_pred: int, detected_iou: list[float], scored: list[_PairScores], options
) -> dict[str, tuple[float, Status]]:
    """The case value and status of every lesion metric from the counts and the scored lesions."""
    counts = {
        "lesion_tp": (float(tp), Status.OK),
        "lesion_fp": (float(fp), Status.OK),
        "lesion_fn": (float(fn), Status.OK),
    }
    n_ref, n_pred = tp + fn, tp_pred + fp
    if not n_ref and not n_pred:
        return counts | both_empty_values(options)
    status = Status.OK if n_ref and n_pred else (Status.REF_EMPTY if not n_ref else Status.PRED_EMPTY)
    values = pooled_detection(tp, fn, fp, tp_pred, sum(detected_iou))
    out = counts | {name: (value, status) for name, value in values.items()}
    for name in ("dice", "iou", "hd95", "assd"):
        out[f"lesion_{name}"] = (float(np.mean([getattr(s, name) for s in scored])), status)
    return out


def both_empty_values(options: LesionOptions) -> dict[str, tuple[float, Status]]:
    """The ratio and distance metrics of a case and class without any lesion that counts, on either side:
    1 and 0 with ``both_empty_perfect`` (BraTS), else ``empty_score`` and NaN; status ``both_empty``."""
    ratio = 1.0 if options.both_empty_perfect else options.empty_score
    distance = 0.0 if options.both_empty_perfect else math.nan
    names = ("lesion_recall", "lesion_precision", "lesion_f1", "pq", "sq", "rq", "lesion_dice", "lesion_iou")
    return {name: (ratio, Status.BOTH_EMPTY) for name in names} | {
        name: (distance, Status.BOTH_EMPTY) for name in ("lesion_hd95", "lesion_assd")
    }


def empty_result(options: LesionOptions) -> LesionResult:
    """The result of a class absent from both masks of a case: no lesion, every count 0."""
    zero = {name: (0.0, Status.OK) for name in ("lesion_tp", "lesion_fp", "lesion_fn", "lesion_merged", "lesion_split")}
    return LesionResult((), 0, 0, 0, 0, 0, 0, zero | both_empty_values(options))


def pooled_detection(tp: float, fn: float, fp: float, tp_pred: float, iou_sum: float) -> dict[str, float]:
    """Recall, precision, F1, SQ, RQ and PQ from lesion counts (of one case, or summed over cases).

    recall = TP / (TP + FN), precision = TP_pred / (TP_pred + FP), F1 = 2PR / (P + R) (0 when a side
    has no lesion), SQ = sum of the detected lesions' IoU / TP (0 without detection), RQ = F1, PQ = SQ × RQ.
    """
    recall = tp / (tp + fn) if tp + fn else 0.0
    precision = tp_pred / (tp_pred + fp) if tp_pred + fp else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    sq = iou_sum / tp if tp else 0.0
    return {"lesion_recall": recall, "lesion_precision": precision, "lesion_f1": f1, "pq": sq * f1, "sq": sq, "rq": f1}
