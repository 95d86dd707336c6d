"""Surfaces of binary masks and the distances between them: the costly statistic.

:func:`surface_distances` extracts the surface of a predicted and a ground-truth mask
once and measures, for every surface element, the distance in mm to the other surface.
The result, a :class:`SurfaceDistances`, feeds every distance metric of
:mod:`segeval.metrics.distance` (Hausdorff, percentile Hausdorff, ASSD, directed mean
surface distances, normalised surface Dice), so one class of one case is measured once
however many of these metrics are asked for.

Which points form "the surface", how they are weighted and how the distances are rounded
is a :class:`Convention`. Four are built in (``segeval``, ``monai``, ``medpy``,
``deepmind``); see ``docs/distance.md`` for the table of their choices.

Directions follow the project's argument order: ``pred_to_gt`` holds the distances from
the predicted surface to the ground-truth surface, ``gt_to_pred`` the reverse.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from segeval.errors import InputError, UsageError
from segeval.metrics._edt import nearest_distances, search_margin, squared_edt_torch
from segeval.metrics._lookup import neighbour_code_table
from segeval.registry import Registry
from segeval.status import Status

__all__ = [
    "CONVENTION_PRESETS",
    "Convention",
    "SurfaceDistances",
    "get_convention",
    "surface_distances",
]


@dataclass(frozen=True)
class Convention:
    """Every choice on which the distance metrics of the reference libraries differ.

    Attributes
    ----------
    name : str
        Name of the preset (``"segeval"``, ``"monai"``, ``"medpy"``, ``"deepmind"``) or a
        user-chosen name.
    surface : {"voxel", "surfel"}
        ``"voxel"``: the surface is the set of foreground voxel centres removed by one
        binary erosion (``mask & ~erode(mask)``) with the neighbourhood ``connectivity``;
        every point weighs 1. ``"surfel"``: the surface lives on the corner grid (half a
        voxel off the voxel grid); a corner is a surface point when the ``2**ndim`` voxels
        around it are neither all foreground nor all background, and it weighs the length
        (2-D) or area (3-D) of the marching-squares/cubes surface in its cell.
        In both cases the outside of the image counts as background.
    connectivity : int
        For ``"voxel"`` surfaces, the erosion neighbourhood, as in
        :func:`scipy.ndimage.generate_binary_structure`: 1 = faces only, ``ndim`` = all.
    hd_percentile : {"directed_max", "pooled"}
        Percentile Hausdorff distance as the larger of the two directed percentiles, or as
        the percentile of both directions' distances pooled together.
    percentile_method : {"linear", "weighted_step"}
        ``"linear"``: unweighted, linear interpolation between order statistics
        (:func:`numpy.percentile` default, :func:`torch.quantile`). ``"weighted_step"``:
        the smallest distance whose cumulative surface weight reaches the percentile.
    assd : {"pooled", "mean_of_means"}
        ASSD as the (weighted) mean over both directions' distances pooled together, or
        as the mean of the two directed (weighted) means.
    float32 : bool
        Round distances to float32 before deriving metrics (MONAI computes in float32).
    description : str
        One line for listings and docs.
    """

    name: str
    surface: str = "voxel"
    connectivity: int = 1
    hd_percentile: str = "directed_max"
    percentile_method: str = "linear"
    assd: str = "pooled"
    float32: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        choices = {
            "surface": ("voxel", "surfel"),
            "hd_percentile": ("directed_max", "pooled"),
            "percentile_method": ("linear", "weighted_step"),
            "assd": ("pooled", "mean_of_means"),
        }
        for attr, allowed in choices.items():
            value = getattr(self, attr)
            if value not in allowed:
                raise UsageError(f"Expected Convention.{attr} to be one of {', '.join(allowed)}, got {value!r}")
        if isinstance(self.connectivity, bool) or not isinstance(self.connectivity, int):
            raise UsageError(f"Expected Convention.connectivity to be an int, got {self.connectivity!r}")
        if self.connectivity < 1:
            raise UsageError(f"Expected Convention.connectivity >= 1, got {self.connectivity}")

    @property
    def weighted(self) -> bool:
        """Whether surface elements carry unequal weights (surfel areas)."""
        return self.surface == "surfel"


_SEGEVAL = Convention(
    name="segeval",
    description=(
        "face-connected surface voxels, HD95 = max of the two directed linear 95th "
        "percentiles, ASSD pooled over both directions, NSD by voxel counts, float64"
    ),
)

#: The built-in conventions, by name.
CONVENTION_PRESETS: dict[str, Convention] = {
    "segeval": _SEGEVAL,
    "monai": Convention(
        name="monai",
        float32=True,
        description=(
            "MONAI compute_hausdorff_distance / compute_average_surface_distance("
            "symmetric=True) / compute_surface_dice: as segeval, distances in float32"
        ),
    ),
    "medpy": Convention(
        name="medpy",
        hd_percentile="pooled",
        description=(
            "MedPy metric.binary hd / hd95 / assd / asd (connectivity=1): face-connected "
            "surface voxels, HD95 = linear 95th percentile of both directions pooled"
        ),
    ),
    "deepmind": Convention(
        name="deepmind",
        surface="surfel",
        percentile_method="weighted_step",
        assd="mean_of_means",
        description=(
            "DeepMind surface-distance: area-weighted surfels on the corner grid, "
            "area-weighted step percentiles (max of both directions), ASSD = mean of the "
            "two directed area-weighted means, surface Dice by surfel areas"
        ),
    ),
}

_CONVENTIONS: Registry[Convention] = Registry("distance convention")
for _name, _conv in CONVENTION_PRESETS.items():
    _CONVENTIONS.register(_name, _conv)


def get_convention(convention: str | Convention) -> Convention:
    """The :class:`Convention` named ``convention`` (or ``convention`` itself).

    Raises
    ------
    UnknownNameError
        For an unknown name, with the closest known names and the full list.
    """
    if isinstance(convention, Convention):
        return convention
    if not isinstance(convention, str):
        raise UsageError(f"Expected `convention` to be a name or a Convention, got {type(convention).__name__}")
    return _CONVENTIONS.get(convention)


@dataclass(frozen=True, eq=False)
class SurfaceDistances:
    """Distances from every surface element of one mask to the other mask's surface.

    Attributes
    ----------
    pred_to_gt : numpy.ndarray of float64, shape (n_pred,), or None
        Distance (mm) from each predicted surface element to the nearest ground-truth
        surface element, unsorted. ``inf`` for every element when the ground truth is
        empty. ``None`` when this direction was not asked for.
    gt_to_pred : numpy.ndarray of float64, shape (n_gt,), or None
        The reverse direction.
    pred_weights, gt_weights : numpy.ndarray of float64
        Weight of each surface element: 1 for voxel surfaces, the surfel length (mm, 2-D)
        or area (mm², 3-D) for the ``surfel`` surface.
    convention : Convention
        How the surfaces and distances were formed.
    worst_mm : float
        The diagonal of the image's physical extent, ``sqrt(sum((n_i * s_i)**2))``: the
        value the ``"worst"`` empty policy gives (no two points of the image, or of the
        corner grid, are farther apart).
    """

    pred_to_gt: np.ndarray | None
    gt_to_pred: np.ndarray | None
    pred_weights: np.ndarray
    gt_weights: np.ndarray
    convention: Convention
    worst_mm: float
    spacing_mm: tuple[float, ...] = field(default=())

    @property
    def n_pred(self) -> int:
        """Number of predicted surface elements (0 when the prediction is empty)."""
        return int(self.pred_weights.size)

    @property
    def n_gt(self) -> int:
        """Number of ground-truth surface elements (0 when the ground truth is empty)."""
        return int(self.gt_weights.size)

    @property
    def status(self) -> Status:
        """``ok``, ``one_empty`` or ``both_empty``."""
        empty = (self.n_pred == 0) + (self.n_gt == 0)
        return (Status.OK, Status.ONE_EMPTY, Status.BOTH_EMPTY)[empty]


# --------------------------------------------------------------------------- validation


def _validate_spacing(spacing_mm, ndim: int, shape=None) -> tuple[float, ...]:
    try:
        spacing = tuple(float(s) for s in spacing_mm)
    except TypeError:
        raise InputError(f"Expected `spacing_mm` to be a sequence of {ndim} numbers, got {spacing_mm!r}") from None
    where = f" for a {ndim}-D mask of shape {tuple(shape)}" if shape is not None else ""
    if len(spacing) != ndim:
        raise InputError(f"Expected `spacing_mm` to have {ndim} values{where}, got {len(spacing)}: {spacing}")
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise InputError(f"Expected `spacing_mm` to be finite and > 0, got {spacing}")
    return spacing


def _validate_pair(pred: np.ndarray, gt: np.ndarray, what: str = "mask") -> None:
    for name, arr in (("pred", pred), ("gt", gt)):
        if not isinstance(arr, np.ndarray):
            raise InputError(f"Expected `{name}` to be a numpy array, got {type(arr).__name__}")
    if pred.shape != gt.shape:
        raise InputError(
            f"Expected `pred` and `gt` to have the same shape, got {pred.shape} (pred) and {gt.shape} (gt)"
        )
    if pred.ndim not in (2, 3):
        raise InputError(f"Expected 2-D or 3-D {what}s, got {pred.ndim}-D shape {pred.shape}")


def worst_distance_mm(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """Diagonal of the physical extent of an image: ``sqrt(sum((n_i * s_i)**2))``."""
    return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing))))


def crop_pad(spacing: Sequence[float]) -> tuple[int, ...]:
    """Background margin (voxels per axis) around a class's bounding box before any work.

    One voxel for the erosion / corner cells plus the reach of the local nearest-point
    search. The margin is background (outside the class's bounding box), so padding with
    zeros, also beyond the image border, reproduces every convention exactly.
    """
    return tuple(h + 1 for h in search_margin(spacing))


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Slices of the bounding box of the non-zero elements of ``mask`` (None when empty).

    The projections OR whole 8-byte words where the row length allows it (exact: a word
    is non-zero iff one of its bytes is), several times faster than ``any``.
    """
    arr = np.ascontiguousarray(mask)
    rows2d = arr.reshape(arr.shape[0], -1)
    wide = rows2d.shape[1] * arr.itemsize % 8 == 0
    words = rows2d.view(np.uint64) if wide else rows2d
    rows = np.flatnonzero(words.any(axis=1))
    if rows.size == 0:
        return None
    box = [slice(int(rows[0]), int(rows[-1]) + 1)]
    if arr.ndim > 1:
        sub = words[box[0]]
        if wide:
            plane = np.bitwise_or.reduce(sub, axis=0).view(arr.dtype).reshape(arr.shape[1:]) != 0
        else:
            plane = sub.any(axis=0).reshape(arr.shape[1:])
        for axis in range(plane.ndim):
            proj = np.flatnonzero(plane.any(axis=tuple(a for a in range(plane.ndim) if a != axis)))
            box.append(slice(int(proj[0]), int(proj[-1]) + 1))
    return tuple(box)


def padded_crop(labels: np.ndarray, box: Sequence[slice], pad: Sequence[int], value=True) -> np.ndarray:
    """``labels[box] == value`` (bool) inside a zero margin of ``pad`` voxels per axis."""
    shape = tuple(s.stop - s.start + 2 * p for s, p in zip(box, pad))
    out = np.zeros(shape, dtype=bool)
    np.equal(labels[tuple(box)], value, out=out[tuple(slice(p, -p) for p in pad)])
    return out


# --------------------------------------------------------------------------- array ops


class _NumpyOps:
    name = "numpy"

    @staticmethod
    def asarray(a: np.ndarray):
        return a

    @staticmethod
    def zeros_bool(shape, like):
        return np.zeros(shape, dtype=bool)

    @staticmethod
    def copy(a):
        return a.copy()

    @staticmethod
    def as_u8(a):
        return a.view(np.uint8)

    @staticmethod
    def flatnonzero(a):
        return np.flatnonzero(a)

    @staticmethod
    def to_numpy(a):
        return a


class _TorchOps:
    name = "torch"

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)

    def asarray(self, a: np.ndarray):
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    def zeros_bool(self, shape, like):
        return self.torch.zeros(shape, dtype=self.torch.bool, device=like.device)

    @staticmethod
    def copy(a):
        return a.clone()

    def as_u8(self, a):
        return a.to(self.torch.uint8)

    @staticmethod
    def flatnonzero(a):
        return a.reshape(-1).nonzero().reshape(-1)

    @staticmethod
    def to_numpy(a):
        return a.cpu().numpy()


def _neighbour_offsets(ndim: int, connectivity: int) -> list[tuple[int, ...]]:
    return [k for k in itertools.product((-1, 0, 1), repeat=ndim) if 0 < sum(abs(x) for x in k) <= connectivity]


def _voxel_surface(mask, connectivity: int, ops):
    """``mask & ~erode(mask)``; ``mask`` has a background margin of at least one voxel."""
    shape = mask.shape
    inner = tuple(slice(1, n - 1) for n in shape)
    core = mask[inner]
    eroded = ops.copy(core)
    for k in _neighbour_offsets(mask.ndim, connectivity):
        eroded &= mask[tuple(slice(1 + d, n - 1 + d) for d, n in zip(k, shape))]
    surface = ops.zeros_bool(shape, mask)
    surface[inner] = core & ~eroded
    return surface


def _surfel_codes(mask, ops):
    """Neighbour code of every corner-grid cell (shape ``mask.shape - 1``).

    The code is separable: combining neighbours two at a time along each axis (last axis
    first, shifting the earlier half by the number of bits already used) sets bit
    ``2**ndim - 1 - index(corner)`` for each foreground corner, as
    :func:`segeval.metrics._lookup.cell_code_weights` numbers them.
    """
    code = ops.as_u8(mask)
    for axis in range(mask.ndim - 1, -1, -1):
        lo = tuple(slice(0, -1) if a == axis else slice(None) for a in range(mask.ndim))
        hi = tuple(slice(1, None) if a == axis else slice(None) for a in range(mask.ndim))
        shifted = code[lo] * (1 << (1 << (mask.ndim - 1 - axis)))  # a multiply beats << here
        shifted |= code[hi]
        code = shifted
    return code


def _surface_points(mask, convention: Convention, spacing, ops):
    """(surface grid, flat indices of its points, weights (numpy)) of one padded mask."""
    if convention.surface == "voxel":
        surface = _voxel_surface(mask, convention.connectivity, ops)
        idx = ops.flatnonzero(surface)
        weights = np.ones(int(idx.shape[0]), dtype=np.float64)
    else:
        code = _surfel_codes(mask, ops)
        full = (1 << (1 << mask.ndim)) - 1
        surface = (code - 1) < (full - 1)  # code not 0 and not full, in one uint8 pass (0 - 1 wraps to 255)
        idx = ops.flatnonzero(surface)
        codes = ops.to_numpy(code.reshape(-1)[idx])
        weights = neighbour_code_table(spacing)[codes]
    return surface, idx, weights


def _directed(src_idx, dst, dst_idx, spacing, ops, cache: dict):
    if ops.name == "numpy":
        return nearest_distances(src_idx, dst, spacing, dst_idx=dst_idx)
    key = id(dst)
    if key not in cache:
        cache[key] = squared_edt_torch(dst, spacing).reshape(-1)
    return ops.to_numpy(cache[key][src_idx].sqrt())


def padded_surface_distances(
    pred: np.ndarray,
    gt: np.ndarray,
    spacing: tuple[float, ...],
    convention: Convention,
    *,
    worst_mm: float,
    pred_to_gt: bool = True,
    gt_to_pred: bool = True,
    backend: str = "scipy",
    device: str = "cpu",
) -> SurfaceDistances:
    """:class:`SurfaceDistances` of two crops padded by :func:`crop_pad` (internal)."""
    ops = _NumpyOps() if backend == "scipy" else _TorchOps(device)
    p, g = ops.asarray(pred), ops.asarray(gt)
    surf_p, idx_p, w_p = _surface_points(p, convention, spacing, ops)
    surf_g, idx_g, w_g = _surface_points(g, convention, spacing, ops)
    cache: dict = {}
    d_pg = _directed(idx_p, surf_g, idx_g, spacing, ops, cache) if pred_to_gt else None
    d_gp = _directed(idx_g, surf_p, idx_p, spacing, ops, cache) if gt_to_pred else None
    if convention.float32:
        d_pg = None if d_pg is None else d_pg.astype(np.float32).astype(np.float64)
        d_gp = None if d_gp is None else d_gp.astype(np.float32).astype(np.float64)
    return SurfaceDistances(
        pred_to_gt=d_pg,
        gt_to_pred=d_gp,
        pred_weights=w_p,
        gt_weights=w_g,
        convention=convention,
        worst_mm=worst_mm,
        spacing_mm=spacing,
    )


#: Largest buffer (elements) of one batch of classes.
_BATCH_MAX_ELEMENTS = 1 << 26


def _plan_batches(shapes: list[tuple[int, ...]]) -> list[list[int]]:
    """Group classes (by index) whose padded crops stack along axis 0 with little waste.

    Classes are sorted by the area of their trailing axes; a class joins the current
    group while the group's buffer (sum of first axes x largest trailing extents) stays
    within twice the voxels it holds (plus 64 Ki) and within ``_BATCH_MAX_ELEMENTS``.
    """
    order = sorted(range(len(shapes)), key=lambda i: -math.prod(shapes[i][1:]))
    groups: list[list[int]] = []
    rows = held = 0
    trailing: list[int] = []
    for i in order:
        shape = shapes[i]
        if groups:
            new_trailing = [max(a, b) for a, b in zip(trailing, shape[1:])]
            new_rows = rows + shape[0]
            new_buffer = new_rows * math.prod(new_trailing)
            new_held = held + math.prod(shape)
            if new_buffer <= 2 * new_held + (1 << 16) and new_buffer <= _BATCH_MAX_ELEMENTS:
                groups[-1].append(i)
                rows, held, trailing = new_rows, new_held, new_trailing
                continue
        groups.append([i])
        rows, held, trailing = shape[0], math.prod(shape), list(shape[1:])
    return groups


def label_surface_distances(
    pred_labels: np.ndarray,
    gt_labels: np.ndarray,
    classes: Sequence[tuple[int, tuple[slice, ...]]],
    spacing: tuple[float, ...],
    convention: Convention,
    *,
    worst_mm: float,
    pad: Sequence[int],
    pred_to_gt: bool = True,
    gt_to_pred: bool = True,
) -> dict[int, SurfaceDistances]:
    """:class:`SurfaceDistances` of several labels of one case at once (CPU engine).

    ``classes`` lists ``(label, box)``: the bounding box of ``pred == label | gt ==
    label``, both non-empty. The padded crops of a batch of classes are stacked along
    axis 0 in one buffer (each in its own slab, margins between them), so the surface
    extraction and the local nearest-point search run once per batch instead of once
    per class; results equal :func:`padded_surface_distances` class by class.
    """
    pad = tuple(pad)
    shapes = [tuple(b.stop - b.start + 2 * p for b, p in zip(box, pad)) for _, box in classes]
    out: dict[int, SurfaceDistances] = {}
    ops = _NumpyOps()
    ndim = len(spacing)
    for group in _plan_batches(shapes):
        trailing = [max(shapes[i][a] for i in group) for a in range(1, ndim)]
        rows = [0]
        for i in group:
            rows.append(rows[-1] + shapes[i][0])
        buffers = []
        for labels_map in (pred_labels, gt_labels):
            buf = np.zeros((rows[-1], *trailing), dtype=bool)
            for r0, i in zip(rows, group):
                label, box = classes[i]
                inner = (slice(r0 + pad[0], r0 + shapes[i][0] - pad[0]),) + tuple(
                    slice(p, p + b.stop - b.start) for p, b in zip(pad[1:], box[1:])
                )
                np.equal(labels_map[box], label, out=buf[inner])
            buffers.append(buf)
        surf_p, idx_p, w_p = _surface_points(buffers[0], convention, spacing, ops)
        surf_g, idx_g, w_g = _surface_points(buffers[1], convention, spacing, ops)
        row_stride = math.prod(surf_p.shape[1:])
        segments = np.asarray(rows, dtype=np.int64) * row_stride
        segments[-1] = surf_p.size
        d_pg = nearest_distances(idx_p, surf_g, spacing, dst_idx=idx_g, segments=segments) if pred_to_gt else None
        d_gp = nearest_distances(idx_g, surf_p, spacing, dst_idx=idx_p, segments=segments) if gt_to_pred else None
        if convention.float32:
            d_pg = None if d_pg is None else d_pg.astype(np.float32).astype(np.float64)
            d_gp = None if d_gp is None else d_gp.astype(np.float32).astype(np.float64)
        cut_p = np.searchsorted(idx_p, segments)
        cut_g = np.searchsorted(idx_g, segments)
        for j, i in enumerate(group):
            sp_, sg_ = slice(cut_p[j], cut_p[j + 1]), slice(cut_g[j], cut_g[j + 1])
            out[classes[i][0]] = SurfaceDistances(
                pred_to_gt=None if d_pg is None else d_pg[sp_],
                gt_to_pred=None if d_gp is None else d_gp[sg_],
                pred_weights=w_p[sp_],
                gt_weights=w_g[sg_],
                convention=convention,
                worst_mm=worst_mm,
                spacing_mm=spacing,
            )
    return out


def empty_surface_distances(convention: Convention, worst_mm: float, spacing=()) -> SurfaceDistances:
    """The :class:`SurfaceDistances` of two empty masks."""
    none = np.zeros(0, dtype=np.float64)
    return SurfaceDistances(none, none, none, none, convention, worst_mm, tuple(spacing))


def resolve_backend(backend: str, device: str) -> str:
    """``"scipy"`` or ``"torch"`` for the ``backend`` option (``"auto"``: torch on CUDA)."""
    if backend not in ("auto", "scipy", "torch"):
        raise UsageError(f"Expected `backend` to be one of auto, scipy, torch, got {backend!r}")
    if not isinstance(device, str):
        raise UsageError(f"Expected `device` to be a string such as 'cpu' or 'cuda:0', got {device!r}")
    is_cuda = device.startswith("cuda")
    if is_cuda:
        import torch

        if not torch.cuda.is_available():
            raise UsageError(
                f"device {device!r} was asked for but CUDA is not available",
                hint="use --device cpu",
            )
    elif device != "cpu":
        raise UsageError(f"Expected `device` to be 'cpu' or 'cuda[:N]', got {device!r}")
    if backend == "auto":
        return "torch" if is_cuda else "scipy"
    if backend == "scipy" and is_cuda:
        raise UsageError("backend 'scipy' runs on the CPU only; use backend 'torch' or 'auto' for CUDA")
    return backend


def surface_distances(
    pred: np.ndarray,
    gt: np.ndarray,
    spacing_mm: Sequence[float],
    *,
    convention: str | Convention = "segeval",
    directions: str = "both",
    backend: str = "auto",
    device: str = "cpu",
) -> SurfaceDistances:
    """Surface elements of ``pred`` and ``gt`` and their distances to the other surface.

    Parameters
    ----------
    pred, gt : numpy.ndarray of bool, shape (H, W) or (D, H, W)
        Predicted and ground-truth masks (non-zero = foreground).
    spacing_mm : sequence of float
        Voxel spacing in mm, in array-axis order (one value per axis).
    convention : str or Convention, default "segeval"
        Which surface and rounding to use (``"segeval"``, ``"monai"``, ``"medpy"``,
        ``"deepmind"`` or a :class:`Convention`).
    directions : {"both", "pred_to_gt", "gt_to_pred"}, default "both"
        Which directed distances to compute; the other is ``None``.
    backend : {"auto", "scipy", "torch"}, default "auto"
        ``"scipy"``: local offset search plus k-d tree on the CPU; ``"torch"``: exact
        separable distance transform in PyTorch on ``device``; ``"auto"``: torch on CUDA,
        scipy otherwise. Both give the same values.
    device : str, default "cpu"
        ``"cpu"`` or ``"cuda[:N]"``.

    Returns
    -------
    SurfaceDistances
        Distances in mm and element weights in both directions. Empty masks: an empty
        mask has no surface elements (its arrays are empty) and the distances *to* it are
        ``inf``; :attr:`SurfaceDistances.status` says ``"one_empty"`` or
        ``"both_empty"``, and each metric applies its empty policy.

    Raises
    ------
    InputError
        Shapes differ, the masks are not 2-D or 3-D, or ``spacing_mm`` does not have one
        finite positive value per axis.
    UsageError
        Unknown ``convention``, ``directions``, ``backend`` or ``device``.

    Notes
    -----
    The masks are cropped to the bounding box of ``pred | gt`` plus a background margin
    before anything else; distances between surface points do not depend on the crop, and
    the margin reproduces the image border (outside = background) exactly.

    Examples
    --------
    Two single pixels 2 mm apart along the first axis at spacing (2, 1):

    >>> import numpy as np
    >>> pred = np.zeros((3, 3), bool); pred[0, 1] = True
    >>> gt = np.zeros((3, 3), bool); gt[1, 1] = True
    >>> sd = surface_distances(pred, gt, (2.0, 1.0))
    >>> sd.pred_to_gt.tolist(), sd.gt_to_pred.tolist()
    ([2.0], [2.0])
    """
    _validate_pair(pred, gt)
    spacing = _validate_spacing(spacing_mm, pred.ndim, pred.shape)
    conv = get_convention(convention)
    if directions not in ("both", "pred_to_gt", "gt_to_pred"):
        raise UsageError(f"Expected `directions` to be one of both, pred_to_gt, gt_to_pred, got {directions!r}")
    backend = resolve_backend(backend, device)
    pred = pred.astype(bool, copy=False)
    gt = gt.astype(bool, copy=False)
    worst = worst_distance_mm(pred.shape, spacing)
    box = bounding_box(pred | gt)
    if box is None:
        return empty_surface_distances(conv, worst, spacing)
    pad = crop_pad(spacing)
    return padded_surface_distances(
        padded_crop(pred, box, pad),
        padded_crop(gt, box, pad),
        spacing,
        conv,
        worst_mm=worst,
        pred_to_gt=directions in ("both", "pred_to_gt"),
        gt_to_pred=directions in ("both", "gt_to_pred"),
        backend=backend,
        device=device,
    )
