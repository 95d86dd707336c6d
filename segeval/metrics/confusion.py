"""The confusion-matrix engine: one joint histogram per case, every overlap metric derived from it.

Conventions (rows = reference / ground truth, columns = prediction):

- ``cm[g, p]`` counts the pixels whose reference label is ``g`` and predicted label is ``p``.
- For class ``c``: :math:`TP = cm_{cc}`, :math:`FP = \\sum_g cm_{gc} - TP`,
  :math:`FN = \\sum_p cm_{cp} - TP`, :math:`TN = N - TP - FP - FN`.

The histogram is computed in torch on the chosen device (:func:`joint_histogram`); everything
derived from it runs in float64 NumPy on the small C×C matrices (each catalog metric's ``compute``,
:mod:`segeval.metrics.overlap`), vectorised over cases.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

MAX_DENSE_LABEL = 2047
"""Largest label value counted with a dense (K×K) histogram; larger or negative values are
first renumbered with ``torch.unique``."""


@dataclass(frozen=True)
class RawCounts:
    """The joint histogram of one case over the label values it contains.

    Attributes
    ----------
    values : numpy.ndarray
        Sorted label values present in the prediction or the reference (int64, shape (K,)).
    cm : numpy.ndarray
        ``cm[i, j]`` = number of pixels with reference ``values[i]`` and prediction ``values[j]``.
    """

    values: np.ndarray
    cm: np.ndarray

    @property
    def gt_values(self) -> np.ndarray:
        """Label values present in the reference."""
        return self.values[self.cm.sum(axis=1) > 0]

    @property
    def pred_values(self) -> np.ndarray:
        """Label values present in the prediction."""
        return self.values[self.cm.sum(axis=0) > 0]


def joint_histograms(preds: list[torch.Tensor], gts: list[torch.Tensor]) -> list[RawCounts]:
    """Joint (reference, prediction) label histograms of a batch of cases in one ``bincount``.

    Parameters
    ----------
    preds, gts : list of torch.Tensor
        Integer label maps, pairwise of equal shape, all on one device. Cases of different
        shapes may share a batch: they are flattened and concatenated.

    Returns
    -------
    list of RawCounts
        One per case, reduced to the values present in that case.

    Notes
    -----
    With non-negative labels up to :data:`MAX_DENSE_LABEL`, each pixel goes to bin ``g K + p``
    (``K`` = largest value in the batch + 1), computed in the smallest integer dtype that holds
    ``K²`` bins, so a case costs one ``bincount`` pass whatever its number of classes; the batch
    is copied back to the host once.
    """
    if not preds:
        return []
    extremes = [torch.stack(torch.aminmax(t)) for pair in zip(preds, gts) for t in pair if t.numel()]
    if not extremes:
        return [_trim(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64)) for _ in preds]
    bounds = torch.stack(extremes).cpu()
    low, high = int(bounds[:, 0].min()), int(bounds[:, 1].max())
    if low < 0 or high > MAX_DENSE_LABEL:
        return [_sparse_histogram(p, g) for p, g in zip(preds, gts)]
    k = high + 1
    index_dtype = _index_dtype(k * k)
    # g * k + p as a multiply and an in-place add: torch.add(..., alpha=k) is ~10x slower on small integer types
    counts = (
        torch.stack(
            [
                _bincount((g.reshape(-1).to(index_dtype) * k).add_(p.reshape(-1).to(index_dtype)), k * k)
                for p, g in zip(preds, gts)
            ]
        )
        .reshape(len(preds), k, k)
        .cpu()
        .numpy()
    )
    return [_trim(np.arange(k), cm) for cm in counts]


PARALLEL_BINCOUNT_MIN = 1 << 20
"""CPU histograms of at least this many pixels are split over :data:`BINCOUNT_THREADS` threads."""
BINCOUNT_THREADS = os.cpu_count() or 1
_pool: ThreadPoolExecutor | None = None


def _bincount(index: torch.Tensor, n_bins: int) -> torch.Tensor:
    """``torch.bincount`` that uses every CPU on large inputs (torch's own is single-threaded on CPU)."""
    global _pool
    threads = BINCOUNT_THREADS
    if index.device.type != "cpu" or threads < 2 or index.numel() < PARALLEL_BINCOUNT_MIN:
        return torch.bincount(index, minlength=n_bins)
    if _pool is None or _pool._max_workers != threads:
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="segeval-bincount")
    parts = _pool.map(lambda chunk: torch.bincount(chunk, minlength=n_bins), index.chunk(threads))
    return torch.stack(list(parts)).sum(dim=0)


def _index_dtype(n_bins: int) -> torch.dtype:
    """The smallest integer dtype holding bin indices below ``n_bins`` (fewer bytes, faster passes)."""
    if n_bins <= 256:
        return torch.uint8
    if n_bins <= 2**15:
        return torch.int16
    return torch.int32 if n_bins <= 2**31 else torch.int64


def _sparse_histogram(pred: torch.Tensor, gt: torch.Tensor) -> RawCounts:
    values, inverse = torch.unique(torch.cat([gt.reshape(-1), pred.reshape(-1)]).long(), return_inverse=True)
    k = len(values)
    n = gt.numel()
    cm = torch.bincount(inverse[:n] * k + inverse[n:], minlength=k * k).reshape(k, k)
    return _trim(values.cpu().numpy(), cm.cpu().numpy())


def _trim(values: np.ndarray, cm: np.ndarray) -> RawCounts:
    present = (cm.sum(axis=0) > 0) | (cm.sum(axis=1) > 0)
    return RawCounts(values=values[present].astype(np.int64), cm=cm[np.ix_(present, present)].astype(np.int64))


def remap_values(counts: RawCounts, mapping: dict[int, int], *, side: str) -> RawCounts:
    """Relabel one side (``"gt"`` rows or ``"pred"`` columns) of a histogram, e.g. 255 → 1."""
    new_values = np.array(sorted(set(counts.values.tolist()) | set(mapping.values())), dtype=np.int64)
    cm = np.zeros((len(new_values), len(new_values)), dtype=np.int64)
    position = {int(v): i for i, v in enumerate(new_values)}
    for i, gv in enumerate(counts.values):
        for j, pv in enumerate(counts.values):
            if counts.cm[i, j]:
                g = mapping.get(int(gv), int(gv)) if side == "gt" else int(gv)
                p = mapping.get(int(pv), int(pv)) if side == "pred" else int(pv)
                cm[position[g], position[p]] += counts.cm[i, j]
    return _trim(new_values, cm)


def drop_reference_value(counts: RawCounts, value: int) -> RawCounts:
    """Remove the pixels whose reference label is ``value`` (the ignore index)."""
    keep_row = counts.values != value
    cm = counts.cm.copy()
    cm[~keep_row, :] = 0
    return _trim(counts.values, cm)


def class_matrix(counts: RawCounts, labels: np.ndarray) -> np.ndarray:
    """The C×C confusion matrix over ``labels`` (values not in ``labels`` must be absent)."""
    position = np.searchsorted(labels, counts.values)
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    cm[np.ix_(position, position)] = counts.cm
    return cm
