"""Distance maps for the distance-based losses, computed on the CPU without gradient.

All maps are built from boolean masks ``(B, K, *S)`` with :func:`scipy.ndimage.distance_transform_edt`
(exact Euclidean distance, ``sampling=spacing``), one image and channel at a time, then returned as a
tensor on the input's device in the compute dtype. This is a CPU transform: on CUDA the masks are
copied to the host and the maps back, once per call. Distances are in the units of ``spacing``
(pixels when ``spacing`` is None).

Speed, without changing a value:

- each transform runs on the bounding box of the pixels whose distance is wanted, grown by one
  pixel where it does not touch the image border (:func:`_edt`). This is exact: for a pixel
  ``x`` in the box, any zero ``b`` outside the grown box can be moved coordinate-wise onto the
  box's outer layer, which holds only zeros, without moving away from ``x`` along any axis;
- images and channels are transformed in up to ``torch.get_num_threads()`` threads (SciPy's
  transform releases the GIL); each result is written to its own slot, so the maps do not depend
  on the number of threads.

Masks without an interface (empty, or covering the whole image) have no boundary; every map below is
0 there. (scipy would otherwise measure distances to an implicit border for an all-true mask.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from segeval.errors import UsageError

__all__ = [
    "add_transform_time",
    "boundary_distance_map",
    "contour",
    "dpce_penalty_map",
    "signed_distance_map",
    "transform_time",
]

#: Below this many pixels per image, the maps are computed in the calling thread.
_THREAD_MIN_PIXELS = 1 << 14

_timers: list[list[float]] = []


@contextlib.contextmanager
def transform_time() -> Iterator[list[float]]:
    """Accumulate the wall time (s) spent building distance maps while active, in ``box[0]``.

    Used by ``segeval losses bench`` to report the share of a loss's time spent in the CPU
    transform::

        with transform_time() as box:
            loss(input, target)
        seconds = box[0]
    """
    box = [0.0]
    _timers.append(box)
    try:
        yield box
    finally:
        _timers.remove(box)


def add_transform_time(seconds: float) -> None:
    """Count ``seconds`` of CPU transform work (distance maps, components, skeletons) in every active
    :func:`transform_time` box."""
    for box in _timers:
        box[0] += seconds


def _check_spacing(spacing: Sequence[float] | None, ndim: int, loss: str) -> tuple[float, ...] | None:
    if spacing is None:
        return None
    if len(spacing) == 1:
        return tuple(spacing) * ndim
    if len(spacing) != ndim:
        raise UsageError(
            f"{loss}: expected `spacing` to have 1 or {ndim} values for {ndim}-D images, got {tuple(spacing)}"
        )
    return tuple(spacing)


def _edt(mask: np.ndarray, spacing: tuple[float, ...] | None) -> np.ndarray:
    """``distance_transform_edt(mask, sampling=spacing)``, computed on the grown bounding box of ``mask``.

    Pixels outside the box are ``False`` (distance 0). Inside, the values equal the full-image
    transform's (module docstring); the box only saves the work on the zeros around it.
    """
    from scipy.ndimage import distance_transform_edt

    if not mask.any():
        return np.zeros(mask.shape)
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(max(int(hit[0]) - 1, 0), min(int(hit[-1]) + 2, mask.shape[axis])))
    box = tuple(box)
    if all(b.stop - b.start == n for b, n in zip(box, mask.shape)):
        return distance_transform_edt(mask, sampling=spacing)
    out = np.zeros(mask.shape)
    out[box] = distance_transform_edt(mask[box], sampling=spacing)
    return out


def _map(
    masks: torch.Tensor,
    spacing: Sequence[float] | None,
    fn: Callable[[np.ndarray, tuple[float, ...] | None], np.ndarray],
    dtype: torch.dtype,
    loss: str,
) -> torch.Tensor:
    started = time.perf_counter()
    with torch.no_grad():
        sampling = _check_spacing(spacing, masks.ndim - 2, loss)
        host = masks.detach().to("cpu", torch.bool).numpy()
        out = np.zeros(host.shape, dtype=np.float64)
        items = [(b, k) for b in range(host.shape[0]) for k in range(host.shape[1])]

        def one(item: tuple[int, int]) -> None:
            out[item] = fn(host[item], sampling)

        threads = min(len(items), max(1, torch.get_num_threads()))
        if threads > 1 and int(np.prod(host.shape[2:])) >= _THREAD_MIN_PIXELS:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="segeval-edt") as pool:
                list(pool.map(one, items))
        else:
            for item in items:
                one(item)
        result = torch.from_numpy(out).to(device=masks.device, dtype=dtype)
    add_transform_time(time.perf_counter() - started)
    return result


def _has_interface(mask: np.ndarray) -> bool:
    return bool(mask.any()) and not bool(mask.all())


def _signed(mask: np.ndarray, sampling: tuple[float, ...] | None) -> np.ndarray:
    if not _has_interface(mask):
        return np.zeros(mask.shape)
    outside = _edt(~mask, sampling)  # background pixels: distance to the object
    inside = _edt(mask, sampling)  # object pixels: distance to the background
    return np.where(mask, -(inside - 1.0), outside)


def signed_distance_map(
    masks: torch.Tensor,
    spacing: Sequence[float] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    loss: str = "boundary",
) -> torch.Tensor:
    r"""Kervadec et al.'s level-set map :math:`\phi_G = d_{out}[\neg G] - (d_{in} - 1)[G]` per image and channel.

    :math:`d_{out}` = EDT of the background (distance of a background pixel to the object),
    :math:`d_{in}` = EDT of the object (distance of an object pixel to the background), both with
    ``sampling=spacing``. Object pixels next to the background get 0; the ``- 1`` is the reference
    code's (LIVIAETS/boundary-loss ``one_hot2dist``), also with a non-unit ``spacing``.
    Empty and full masks give 0 everywhere.
    """
    return _map(masks, spacing, _signed, dtype, loss)


def _unsigned(mask: np.ndarray, sampling: tuple[float, ...] | None) -> np.ndarray:
    if not _has_interface(mask):
        return np.zeros(mask.shape)
    return _edt(mask, sampling) + _edt(~mask, sampling)


def boundary_distance_map(
    masks: torch.Tensor,
    spacing: Sequence[float] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    loss: str = "hausdorff_dt",
) -> torch.Tensor:
    """Unsigned distance to the mask's boundary, ``EDT(M) + EDT(~M)`` (Karimi & Salcudean); 0 for empty/full."""
    return _map(masks, spacing, _unsigned, dtype, loss)


def _penalty(mask: np.ndarray, sampling: tuple[float, ...] | None) -> np.ndarray:
    if not _has_interface(mask):
        return np.zeros(mask.shape)
    d = _edt(mask, sampling)
    inside = d[mask]
    top = inside.max()
    span = top - inside.min()
    if span <= 0:
        return np.zeros(mask.shape)
    return np.where(mask, (top - d) / span, 0.0)


def dpce_penalty_map(
    masks: torch.Tensor,
    spacing: Sequence[float] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    loss: str = "dpce",
) -> torch.Tensor:
    r"""Per-region penalty :math:`\Phi_R = (\max d_R - d_R)/\max_R(\max d_R - d_R)` on each region ``R``.

    ``masks`` holds one region per channel (the caller passes foreground and background, or every
    class); ``d_R`` is the EDT inside ``R``. Pixels of ``R`` nearest its boundary get 1, its most
    interior pixels 0. A region without interface, or whose pixels are all equally deep (1 px thick),
    gets 0 instead of dividing by zero.
    """
    return _map(masks, spacing, _penalty, dtype, loss)


def contour(masks: torch.Tensor) -> torch.Tensor:
    """Inner contour of boolean masks ``(B, K, *S)``: mask pixels with a face neighbour outside the mask.

    Face neighbours are the 2·ndim axis-aligned neighbours (4-connectivity in 2-D, 6 in 3-D); the
    region beyond the image border counts as outside, so an object touching the border has its
    contour along the border.
    """
    with torch.no_grad():
        m = masks.to(torch.bool)
        interior = m.clone()
        for axis in range(2, m.ndim):
            padded = torch.nn.functional.pad(m.to(torch.uint8), _pad_axis(m.ndim, axis), value=0).to(torch.bool)
            n = m.shape[axis]
            interior &= padded.narrow(axis, 0, n) & padded.narrow(axis, 2, n)
        return m & ~interior


def _pad_axis(ndim: int, axis: int) -> tuple[int, ...]:
    # F.pad takes pairs from the last axis backwards
    pad = [0, 0] * (ndim - 2)
    position = (ndim - 1 - axis) * 2
    pad[position] = 1
    pad[position + 1] = 1
    return tuple(pad)


def distance_to_mask(
    masks: torch.Tensor,
    spacing: Sequence[float] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    loss: str = "shape_aware",
) -> torch.Tensor:
    """Distance of every pixel to the nearest ``True`` pixel of its image/channel mask; 0 where the mask is empty."""

    def fn(mask: np.ndarray, sampling: tuple[float, ...] | None) -> np.ndarray:
        if not mask.any():
            return np.zeros(mask.shape)
        return _edt(~mask, sampling)

    return _map(masks, spacing, fn, dtype, loss)
