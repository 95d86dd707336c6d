"""Exact Euclidean distances from surface points to the nearest point of another surface.

Two interchangeable engines give bit-identical results:

* :func:`nearest_distances` (NumPy/SciPy, CPU). Most surface points lie within a few
  voxels of the other surface, so each source point first looks for a destination point
  at the integer offsets of a small anisotropic ball, visited in order of increasing
  physical length (in blocks, one gather per block). The first hit is the nearest point,
  exactly. The few points left over (farther than the ball radius) are answered by
  brute force when few (point, point) pairs remain, else by a k-d tree over the
  destination points (:class:`scipy.spatial.cKDTree`, exact).
* :func:`squared_edt_torch` (PyTorch, any device). The squared Euclidean distance
  transform computed axis by axis (the separable decomposition of Saito & Toriwaki /
  Felzenszwalb & Huttenlocher), with the 1-D lower envelope taken by brute force over
  each line in chunks: ``O(N * n)`` work that a GPU does in parallel.

Every distance is evaluated from the integer offset ``k`` to the nearest point as
``sqrt(((k_0 s_0)**2 + (k_1 s_1)**2) + (k_2 s_2)**2)`` in float64, the same expression
(and order of operations) as :func:`scipy.ndimage.distance_transform_edt`, so both
engines, SciPy's transform and the reference libraries agree to the last bit except when
two nearest points at the same true distance round differently (one unit in the last
place).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "nearest_distances",
    "offset_lengths",
    "search_margin",
    "squared_edt_torch",
]

#: Number of integer offsets the local search visits at most (before the k-d tree).
_TARGET_OFFSETS = {1: 16, 2: 256, 3: 512}
#: Up to this many (point, offset) pairs, the local search is one gather.
_SINGLE_GATHER_PAIRS = 1 << 15
#: Up to this many (point, point) pairs, leftover points are resolved by brute force.
_BRUTE_FORCE_PAIRS = 1 << 18
#: Largest number of offsets tested in one gather, and of (point, offset) pairs per gather.
_MAX_BLOCK = 128
_MAX_GATHER_PAIRS = 1 << 22


def offset_lengths(offsets: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """Physical length of integer offsets ``(n, ndim)``, evaluated like SciPy's EDT."""
    total = None
    for axis, s in enumerate(spacing):
        term = offsets[:, axis].astype(np.float64) * float(s)
        term = term * term
        total = term if total is None else total + term
    return np.sqrt(total)


@functools.lru_cache(maxsize=256)
def _search_ball(spacing: tuple[float, ...]):
    ndim = len(spacing)
    target = _TARGET_OFFSETS.get(ndim, 64)
    unit_ball = math.pi ** (ndim / 2) / math.gamma(ndim / 2 + 1)
    radius = (target * math.prod(spacing) / unit_ball) ** (1.0 / ndim)
    half = [int(math.floor(radius / s + 1e-9)) for s in spacing]
    grid = np.array(list(itertools.product(*[range(-h, h + 1) for h in half])), dtype=np.int64)
    grid = grid.reshape(-1, ndim)
    lengths = offset_lengths(grid, spacing)
    order = np.argsort(lengths, kind="stable")
    grid, lengths = grid[order], lengths[order]
    keep = lengths <= radius
    if keep.sum() > 2 * target:  # very anisotropic spacing: shrink the ball
        radius = float(lengths[2 * target - 1])
        keep = lengths <= radius
    grid, lengths = grid[keep], lengths[keep]
    grid.setflags(write=False)
    lengths.setflags(write=False)
    half_used = tuple(int(h) for h in np.abs(grid).max(axis=0))
    return radius, half_used, grid, lengths


def search_margin(spacing: Sequence[float]) -> tuple[int, ...]:
    """Half-width in elements, per axis, of the offsets :func:`nearest_distances` visits.

    Source points must lie at least this far from both ends of each axis.
    """
    return _search_ball(tuple(float(s) for s in spacing))[1]


def nearest_distances(
    src_idx: np.ndarray,
    dst: np.ndarray,
    spacing: Sequence[float],
    *,
    dst_idx: np.ndarray | None = None,
    segments: np.ndarray | None = None,
) -> np.ndarray:
    """Distance (mm) from each source point to the nearest ``True`` point of ``dst``.

    Parameters
    ----------
    src_idx : numpy.ndarray of int64, sorted
        Flat (C-order) indices of the source points in an array shaped like ``dst``.
        Every source point must lie at least ``search_margin(spacing)[i]`` elements
        away from both ends of axis ``i`` (of its segment; callers pad their crops by
        :func:`search_margin`).
    dst : numpy.ndarray of bool, C-contiguous
        Destination points.
    spacing : sequence of float
        Grid spacing in mm, array-axis order.
    dst_idx : numpy.ndarray of int64, optional
        ``np.flatnonzero(dst)`` when the caller already has it.
    segments : numpy.ndarray of int64, optional
        Increasing flat-index boundaries ``[b_0, b_1, ..., b_m]`` of independent slabs of
        ``dst`` (whole rows of axis 0, separated by background margins): a source point in
        ``[b_j, b_{j+1})`` only looks for destination points in the same slab. Default:
        one slab, the whole array.

    Returns
    -------
    numpy.ndarray of float64
        One distance per source point, in the order of ``src_idx``; ``inf`` for a point
        whose slab has no destination point.
    """
    spacing = tuple(float(s) for s in spacing)
    n_src = src_idx.size
    out = np.empty(n_src, dtype=np.float64)
    if n_src == 0:
        return out
    if dst_idx is None:
        dst_idx = np.flatnonzero(dst)
    if dst_idx.size == 0:
        out.fill(np.inf)
        return out

    _, _, offsets, lengths = _search_ball(spacing)
    strides = np.array([st // dst.itemsize for st in dst.strides], dtype=np.int64)
    flat_offsets = offsets @ strides
    dst_flat = dst.reshape(-1)

    rem_pos = src_idx.astype(np.int64, copy=False)
    rem_id: np.ndarray | None = None  # None: identity (nothing removed yet)
    n_off = flat_offsets.size
    small = n_src * n_off <= _SINGLE_GATHER_PAIRS  # small surface: one gather for every offset
    start, size = 0, (n_off if small else 1)
    while start < n_off:
        # blocks grow (1, 4, 16, ... 128 offsets) as points are resolved, and one gather
        # never holds more than _MAX_GATHER_PAIRS (point, offset) pairs
        stop = min(n_off, start + max(1, min(size, _MAX_GATHER_PAIRS // rem_pos.size)))
        if stop - start == 1:
            hit = dst_flat[rem_pos + flat_offsets[start]]
            found_len = lengths[start]
        else:
            hits = dst_flat[rem_pos[:, None] + flat_offsets[None, start:stop]]
            hit = hits.any(axis=1)
            found_len = lengths[start:stop][hits[hit].argmax(axis=1)]
        if rem_id is None:
            out[hit] = found_len
        else:
            out[rem_id[hit]] = found_len
        miss = ~hit
        rem_pos = rem_pos[miss]
        rem_id = np.flatnonzero(miss) if rem_id is None else rem_id[miss]
        if rem_pos.size == 0:
            return out
        start, size = stop, min(size * 4, _MAX_BLOCK)

    # Points farther than the ball radius: exact nearest neighbour among the destination
    # points of their slab, all slabs at once by brute force when few pairs remain.
    if segments is None:
        segments = np.array([0, dst.size], dtype=np.int64)
    if rem_pos.size * dst_idx.size <= _BRUTE_FORCE_PAIRS:
        out[rem_id] = _brute_force_nearest(rem_pos, dst_idx, dst.shape, spacing, segments)
        return out
    src_cut = np.searchsorted(rem_pos, segments)
    dst_cut = np.searchsorted(dst_idx, segments)
    for j in range(len(segments) - 1):
        s0, s1 = src_cut[j], src_cut[j + 1]
        if s0 == s1:
            continue
        d0, d1 = dst_cut[j], dst_cut[j + 1]
        out[rem_id[s0:s1]] = _exact_nearest(rem_pos[s0:s1], dst_idx[d0:d1], dst.shape, spacing)
    return out


def _brute_force_nearest(src, dst, shape, spacing, segments=None) -> np.ndarray:
    """Nearest-point distances over every (source, destination) pair of the same segment."""
    src_coords = np.unravel_index(src, shape)
    dst_coords = np.unravel_index(dst, shape)
    sq = None
    for axis, s in enumerate(spacing):
        term = (dst_coords[axis][None, :] - src_coords[axis][:, None]).astype(np.float64) * s
        term = term * term
        sq = term if sq is None else sq + term
    if segments is not None and len(segments) > 2:
        other = np.searchsorted(segments, src, "right")[:, None] != np.searchsorted(segments, dst, "right")[None, :]
        sq[other] = np.inf
    return np.sqrt(sq.min(axis=1))


def _exact_nearest(src: np.ndarray, dst: np.ndarray, shape, spacing) -> np.ndarray:
    """Nearest-point distances by brute force (few pairs) or a k-d tree (many)."""
    if dst.size == 0:
        return np.full(src.size, np.inf)
    if src.size * dst.size <= _BRUTE_FORCE_PAIRS:
        return _brute_force_nearest(src, dst, shape, spacing)
    from scipy.spatial import cKDTree

    dst_coords = np.stack(np.unravel_index(dst, shape), axis=1)
    src_coords = np.stack(np.unravel_index(src, shape), axis=1)
    scale = np.asarray(spacing, dtype=np.float64)
    tree = cKDTree(dst_coords * scale, leafsize=32, balanced_tree=False, compact_nodes=False)
    _, nearest = tree.query(src_coords * scale, k=1)
    return offset_lengths(dst_coords[nearest] - src_coords, spacing)


#: Elements of the (chunk, n, n) work tensor of one brute-force 1-D pass.
_TORCH_CHUNK_ELEMENTS = 1 << 24


def squared_edt_torch(features, spacing: Sequence[float]):
    """Exact squared Euclidean distance (mm²) from every element to the nearest ``True``.

    Parameters
    ----------
    features : torch.Tensor of bool
        The feature points (any device, any number of dimensions).
    spacing : sequence of float
        Grid spacing in mm, one per axis.

    Returns
    -------
    torch.Tensor of float64
        Same shape and device as ``features``; ``inf`` everywhere when there is no
        feature point.

    Notes
    -----
    The squared distance is separable: after the pass along axis ``a`` every element
    holds ``min_q (f(q) + ((x_a - q_a) s_a)**2)`` over its line. Each pass is an exact
    brute-force minimum over the line, processed in chunks of lines to bound memory.
    """
    import torch

    f = torch.where(
        features,
        torch.zeros((), dtype=torch.float64, device=features.device),
        torch.full((), math.inf, dtype=torch.float64, device=features.device),
    )
    for axis, s in enumerate(spacing):
        n = f.shape[axis]
        if n == 1:
            continue
        pos = torch.arange(n, dtype=torch.float64, device=f.device)
        step = (pos[:, None] - pos[None, :]) * float(s)
        weight = step * step  # weight[x, q] = ((x - q) s)**2
        moved = f.movedim(axis, -1)
        lines = moved.reshape(-1, n)
        out = torch.empty_like(lines)
        chunk = max(1, _TORCH_CHUNK_ELEMENTS // (n * n))
        for start in range(0, lines.shape[0], chunk):
            block = lines[start : start + chunk]
            out[start : start + chunk] = (block[:, None, :] + weight[None, :, :]).amin(dim=-1)
        f = out.reshape(moved.shape).movedim(-1, axis)
    return f
