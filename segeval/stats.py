"""Resampling statistics for reports and comparisons: bootstrap intervals, paired tests.

Seeded and vectorised, so a report is reproducible bit for bit.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats

BOOTSTRAP_SAMPLES = 2000
"""Resamples per interval."""
SEED = 0
"""Seed of every bootstrap, so the same data give the same interval."""


def bootstrap_mean_ci(values: np.ndarray, level: float, *, samples: int = BOOTSTRAP_SAMPLES,
                      seed: int = SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (NaN values left out).

    Parameters
    ----------
    values : numpy.ndarray
        One value per case.
    level : float
        Coverage in (0, 1), e.g. 0.95.

    Returns
    -------
    (low, high) : tuple of float
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the means of ``samples``
        resamples with replacement (Efron & Tibshirani 1993, ch. 13); NaN with fewer than 2 values.

    Examples
    --------
    >>> bootstrap_mean_ci(np.array([1.0, 1.0, 1.0]), 0.95)
    (1.0, 1.0)
    """
    finite = values[~np.isnan(values)]
    if finite.size < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = finite[rng.integers(0, finite.size, size=(samples, finite.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


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
    return float(scipy_stats.wilcoxon(finite).pvalue)
