"""Statistics for reports, gates and comparisons: quantiles, bootstrap intervals, paired tests.

Seeded and vectorised, so a report is reproducible bit for bit. :func:`column_quantiles` is the one
quantile of the summaries and the gates (unweighted, linear interpolation); the distance kernels
keep their per-convention percentiles.
"""

from __future__ import annotations

import numpy as np


def column_quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """The ``qs`` quantiles (in [0, 1]) of every column of ``values`` (cases, columns), NaN left out.

    Linear interpolation between order statistics (NumPy's default, Hyndman & Fan 1996 type 7);
    NaN for a column without values.

    Examples
    --------
    >>> [float(q[0]) for q in column_quantiles(np.array([[1.0], [np.nan], [3.0], [2.0]]), (0.0, 0.5, 0.25))]
    [1.0, 2.0, 1.5]
    """
    ordered = np.sort(values, axis=0)  # NaN sorts last, so the first n[j] entries of column j are its values
    n = (~np.isnan(values)).sum(axis=0)
    if ordered.shape[0] == 0:
        return [np.full(ordered.shape[1:], np.nan) for _ in qs]
    out = []
    for q in qs:
        position = np.maximum(n - 1, 0) * q
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(n - 1, 0))
        low = np.take_along_axis(ordered, below[None], axis=0)[0]
        high = np.take_along_axis(ordered, above[None], axis=0)[0]
        fraction = position - below
        with np.errstate(invalid="ignore"):
            result = np.where(fraction > 0, low + (high - low) * fraction, low)
        out.append(np.where(n > 0, result, np.nan))
    return out


BOOTSTRAP_SAMPLES = 2000
"""Resamples per interval."""
SEED = 0
"""Seed of every bootstrap, so the same data give the same interval."""


BOOTSTRAP_BLOCK_VALUES = 4_000_000
"""Case picks drawn at a time by :func:`bootstrap_mean_cis`: its memory stays bounded whatever the number of cases."""


def bootstrap_mean_cis(
    values: np.ndarray, level: float, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    r"""Percentile-bootstrap intervals of the mean of every column of ``values``, in one pass.

    Parameters
    ----------
    values : numpy.ndarray, shape (cases, columns)
        One row per case; NaN values are left out of each resample's mean.
    level : float
        Coverage in (0, 1), e.g. 0.95.

    Returns
    -------
    (low, high) : tuple of numpy.ndarray, shape (columns,)
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the means of ``samples``
        resamples of the cases with replacement (Efron & Tibshirani 1993, ch. 13); NaN for a
        column with fewer than 2 values.

    Notes
    -----
    Resample ``b`` is a vector of case counts :math:`w_b`, so its column means are
    :math:`w_b^T x / w_b^T [x \neq \mathrm{NaN}]`: two matrix products for every column at once.
    All columns share the same resamples (seeded), so the intervals are reproducible. The resamples are drawn in
    blocks of at most :data:`BOOTSTRAP_BLOCK_VALUES` picks, from the same random stream as one draw.
    """
    values = np.asarray(values, dtype=np.float64)
    n, columns = values.shape
    if n == 0:
        return np.full(columns, np.nan), np.full(columns, np.nan)
    rng = np.random.default_rng(seed)
    valid = ~np.isnan(values)
    infinite = np.isinf(values)
    finite = np.where(valid & ~infinite, values, 0.0)
    positive_infinite = infinite & (values > 0)
    gappy = ~valid.all(axis=0)
    means = np.empty((samples, columns))
    block = max(1, BOOTSTRAP_BLOCK_VALUES // n)  # resamples at a time: memory bounded whatever the case count
    for start in range(0, samples, block):
        rows = min(block, samples - start)
        # the same stream of picks as one (samples, n) draw, so the intervals do not depend on the block size
        picks = rng.integers(0, n, size=(rows, n))
        weights = np.bincount((picks + n * np.arange(rows)[:, None]).ravel(), minlength=rows * n)
        weights = weights.reshape(rows, n).astype(np.float64)
        # the resampled counts of values are whole numbers (exact in any summation order): a column without
        # NaN counts n in every resample, so only columns with NaN take a matrix product
        counts = np.full((rows, columns), float(n))
        if gappy.any():
            counts[:, gappy] = weights @ valid[:, gappy]
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start : start + rows] = (weights @ finite) / counts
        if positive_infinite.any():
            means[start : start + rows][(weights @ positive_infinite) > 0] = np.inf
    low, high = (np.full(columns, np.nan) for _ in range(2))
    enough = valid.sum(axis=0) >= 2
    if enough.any():
        # quantiles interpolate; an infinite mean stands in as the largest float, and any quantile
        # that interpolated towards it is infinite
        capped = np.where(np.isinf(means[:, enough]), np.finfo(np.float64).max, means[:, enough])
        quantiles = _nan_quantiles(capped, [(1 - level) / 2, (1 + level) / 2])
        quantiles[quantiles > 1e300] = np.inf
        low[enough], high[enough] = quantiles
    return low, high


def _nan_quantiles(values: np.ndarray, qs: list[float]) -> np.ndarray:
    """``np.nanquantile(values, qs, axis=0)``, with the columns without NaN in one vectorised ``np.quantile``
    (the same interpolation, so the same bits; ``nanquantile`` loops over the columns in Python)."""
    out = np.empty((len(qs), values.shape[1]))
    gappy = np.isnan(values).any(axis=0)
    out[:, ~gappy] = np.quantile(values[:, ~gappy], qs, axis=0)
    if gappy.any():
        out[:, gappy] = np.nanquantile(values[:, gappy], qs, axis=0)
    return out


def bootstrap_mean_ci(
    values: np.ndarray, level: float, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = SEED
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of one column of per-case ``values``.

    Examples
    --------
    >>> bootstrap_mean_ci(np.array([1.0, 1.0, 1.0]), 0.95)
    (1.0, 1.0)
    """
    low, high = bootstrap_mean_cis(np.asarray(values, dtype=np.float64)[:, None], level, samples=samples, seed=seed)
    return float(low[0]), float(high[0])


def wilcoxon_p(differences: np.ndarray) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test of paired ``differences`` (NaN left out).

    Returns 1.0 when every difference is zero, NaN with no difference at all. Uses
    ``scipy.stats.wilcoxon`` with its defaults (zero differences dropped, exact distribution for
    small samples).
    """
    finite = differences[~np.isnan(differences)]
    if finite.size == 0:
        return float("nan")
    if np.all(finite == 0):
        return 1.0
    from scipy import stats as scipy_stats

    return float(scipy_stats.wilcoxon(finite).pvalue)
