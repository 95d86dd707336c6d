"""Controlled degradations of a binary mask, and the synthetic reference of the sweeps.

Every function takes and returns boolean arrays of any dimension (2-D and 3-D are the tested
cases); sizes are in **pixels** (voxels), whatever the spacing. Erosion and dilation use the
Euclidean ball of radius ``k`` px (exact, via :func:`scipy.ndimage.distance_transform_edt`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "add_blobs",
    "ball",
    "blob_centres",
    "count_objects",
    "dilate",
    "drop_objects",
    "erode",
    "pad_to_fraction",
    "shift",
    "synthetic_reference",
]


def _edt(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(mask)


def shift(mask: np.ndarray, k: int, *, axis: int = -1) -> np.ndarray:
    """``mask`` moved by ``k`` px along ``axis`` (positive: towards higher indices); vacated pixels are 0.

    Examples
    --------
    >>> shift(np.array([0, 1, 1, 0, 0], bool), 2).astype(int).tolist()
    [0, 0, 0, 1, 1]
    """
    mask = np.asarray(mask, bool)
    out = np.zeros_like(mask)
    n = mask.shape[axis]
    if abs(k) >= n:
        return out
    source = [slice(None)] * mask.ndim
    target = [slice(None)] * mask.ndim
    source[axis] = slice(0, n - k) if k >= 0 else slice(-k, n)
    target[axis] = slice(k, n) if k >= 0 else slice(0, n + k)
    out[tuple(target)] = mask[tuple(source)]
    return out


def erode(mask: np.ndarray, k: float) -> np.ndarray:
    """Erosion by the Euclidean ball of radius ``k`` px: pixels farther than ``k`` px from the background.

    The image border does not count as background.

    Examples
    --------
    >>> erode(np.array([0, 1, 1, 1, 1, 1, 0], bool), 1).astype(int).tolist()
    [0, 0, 1, 1, 1, 0, 0]
    """
    mask = np.asarray(mask, bool)
    if k <= 0 or not mask.any() or mask.all():
        return mask.copy()
    return _edt(mask) > k


def dilate(mask: np.ndarray, k: float) -> np.ndarray:
    """Dilation by the Euclidean ball of radius ``k`` px: pixels within ``k`` px of the mask.

    Examples
    --------
    >>> dilate(np.array([0, 0, 0, 1, 0, 0, 0], bool), 2).astype(int).tolist()
    [0, 1, 1, 1, 1, 1, 0]
    """
    mask = np.asarray(mask, bool)
    if k <= 0 or not mask.any() or mask.all():
        return mask.copy()
    return _edt(~mask) <= k


def ball(shape: Sequence[int], centre: Sequence[float], radius: float) -> np.ndarray:
    """Pixels whose centre lies within ``radius`` px of ``centre`` (a disc in 2-D, a ball in 3-D)."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    distance2 = sum((g - c) ** 2 for g, c in zip(grids, centre))
    return distance2 <= radius**2


def blob_centres(mask: np.ndarray, count: int, *, radius: float = 3.0, seed: int = 0) -> list[tuple[int, ...]]:
    """Up to ``count`` centres for false-positive balls, chosen at random (seeded) in the background.

    Each ball of ``radius`` keeps at least 2 px from the mask, from the other balls and from the image
    border. Fewer centres are returned when the background has no room left.
    """
    mask = np.asarray(mask, bool)
    rng = np.random.default_rng(seed)
    occupied = mask.copy()
    centres: list[tuple[int, ...]] = []
    margin = math.ceil(radius) + 2
    inner = np.zeros(mask.shape, bool)
    inner[tuple(slice(margin, n - margin) for n in mask.shape)] = True
    for _ in range(count):
        room = (_edt(~occupied) > 2 * radius + 2) if occupied.any() else np.ones(mask.shape, bool)
        candidates = np.argwhere(room & inner)
        if candidates.size == 0:
            break
        centre = tuple(int(v) for v in candidates[rng.integers(len(candidates))])
        centres.append(centre)
        occupied |= ball(mask.shape, centre, radius)
    return centres


def add_blobs(mask: np.ndarray, count: int, *, radius: float = 3.0, seed: int = 0) -> np.ndarray:
    """``mask`` plus ``count`` false-positive balls of ``radius`` px (see :func:`blob_centres`).

    The centres for ``count`` are the first ``count`` of those for any larger count (same seed), so
    the levels of a sweep are nested.
    """
    out = np.asarray(mask, bool).copy()
    for centre in blob_centres(mask, count, radius=radius, seed=seed):
        out |= ball(out.shape, centre, radius)
    return out


def drop_objects(mask: np.ndarray, count: int) -> np.ndarray:
    """``mask`` without its ``count`` smallest connected components (full connectivity).

    Components of equal size are dropped in scan order. Dropping as many components as there
    are leaves an empty mask.

    Examples
    --------
    >>> drop_objects(np.array([1, 0, 1, 1, 0, 1, 1, 1], bool), 1).astype(int).tolist()
    [0, 0, 1, 1, 0, 1, 1, 1]
    """
    from scipy.ndimage import generate_binary_structure, label

    mask = np.asarray(mask, bool)
    labels, n = label(mask, structure=generate_binary_structure(mask.ndim, mask.ndim))
    if count <= 0 or n == 0:
        return mask.copy()
    sizes = np.bincount(labels.ravel())[1:]
    order = np.argsort(sizes, kind="stable")[:count] + 1
    return mask & ~np.isin(labels, order)


def count_objects(mask: np.ndarray) -> int:
    """Number of connected components (full connectivity)."""
    from scipy.ndimage import generate_binary_structure, label

    mask = np.asarray(mask, bool)
    return int(label(mask, structure=generate_binary_structure(mask.ndim, mask.ndim))[1])


def pad_to_fraction(mask: np.ndarray, fraction: float) -> np.ndarray | None:
    """``mask`` centred in a larger background canvas so that its foreground fraction is about ``fraction``.

    Every axis grows by the same factor (rounded up to whole pixels). Returns None when
    ``fraction`` is above the mask's own foreground fraction (a mask is never cropped).
    """
    mask = np.asarray(mask, bool)
    own = mask.mean()
    if fraction > own or own == 0:
        return None
    factor = (own / fraction) ** (1.0 / mask.ndim)
    shape = tuple(max(n, math.ceil(n * factor)) for n in mask.shape)
    out = np.zeros(shape, bool)
    start = tuple((m - n) // 2 for m, n in zip(shape, mask.shape))
    out[tuple(slice(s, s + n) for s, n in zip(start, mask.shape))] = mask
    return out


def synthetic_reference(shape: Sequence[int] = (128, 128), *, fraction: float | None = None) -> np.ndarray:
    """The sweeps' generated reference: one large object and four small ones.

    Parameters
    ----------
    shape : sequence of int, default (128, 128)
        2-D or 3-D; each axis at least 32 px.
    fraction : float, optional
        Instead: a single centred disc/ball covering about ``fraction`` of the image (used by the
        imbalance sweep; at least one pixel).

    Returns
    -------
    numpy.ndarray of bool
        Default layout: a ball of radius ``0.2 * min(shape)`` left of the centre, and balls of radius
        2, 3, 4 and 5 px near the corners of the first two axes (the middle of the others), so
        ``drop_objects`` has small objects to remove and ``fp_blobs`` has room.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3) or min(shape) < 32:
        from segeval.errors import UsageError

        raise UsageError(f"the synthetic reference needs a 2-D or 3-D shape with every axis >= 32 px, got {shape}")
    centre = tuple((n - 1) / 2 for n in shape)
    if fraction is not None:
        unit = math.pi ** (len(shape) / 2) / math.gamma(len(shape) / 2 + 1)
        radius = (fraction * math.prod(shape) / unit) ** (1.0 / len(shape))
        out = ball(shape, centre, radius)
        if not out.any():
            out[tuple(int(round(c)) for c in centre)] = True
        return out
    small = min(shape)
    out = ball(shape, (centre[0], centre[1] - 0.08 * shape[1], *centre[2:]), 0.2 * small)
    corners = ((0.15, 0.15), (0.15, 0.85), (0.85, 0.15), (0.85, 0.85))
    for (fy, fx), radius in zip(corners, (2, 3, 4, 5)):
        out |= ball(shape, (fy * (shape[0] - 1), fx * (shape[1] - 1), *centre[2:]), radius)
    return out
