"""Guards of the fast paths of issue 15, without timing: the same bits as the plain computation, each file
decoded once, the heavy libraries off the path to the first case."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segeval.stats import bootstrap_mean_cis

ROOT = Path(__file__).resolve().parents[1]


def plain_bootstrap(values: np.ndarray, level: float, samples: int = 2000, seed: int = 0):
    """The bootstrap of segeval.stats written out plainly: three matrix products and ``np.nanquantile``."""
    n = values.shape[0]
    picks = np.random.default_rng(seed).integers(0, n, size=(samples, n))
    weights = np.bincount((picks + n * np.arange(samples)[:, None]).ravel(), minlength=samples * n)
    weights = weights.reshape(samples, n).astype(np.float64)
    valid, infinite = ~np.isnan(values), np.isinf(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ np.where(valid & ~infinite, values, 0.0)) / (weights @ valid)
    means[(weights @ (infinite & (values > 0))) > 0] = np.inf
    low, high = np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)
    enough = valid.sum(axis=0) >= 2
    if enough.any():
        capped = np.where(np.isinf(means[:, enough]), np.finfo(np.float64).max, means[:, enough])
        quantiles = np.nanquantile(capped, [(1 - level) / 2, (1 + level) / 2], axis=0)
        quantiles[quantiles > 1e300] = np.inf
        low[enough], high[enough] = quantiles
    return low, high


@pytest.mark.parametrize("n", [1, 2, 3, 17, 200])
@pytest.mark.parametrize("level", [0.95, 0.5])
def test_bootstrap_has_the_bits_of_the_plain_computation(n, level):
    rng = np.random.default_rng(n)
    values = rng.random((n, 9)) * 10.0 ** rng.integers(-3, 4, size=9)
    values[rng.random((n, 9)) < 0.3] = np.nan  # columns with gaps
    values[:, 0] = rng.random(n)  # a column without gaps
    values[:, 1] = np.nan  # no value at all
    values[0, 2], values[-1, 3] = np.inf, -np.inf  # infinite distances
    values[:, 4] = np.where(rng.random(n) < 0.9, np.nan, 1.0)  # resamples without any value: NaN means
    for got, want in zip(bootstrap_mean_cis(values, level), plain_bootstrap(values, level)):
        np.testing.assert_array_equal(got, want)


FIRST_CASE_MODULES = """
import sys
import segeval

seen = []
def progress(done, total):
    if not seen:
        seen.append(sorted(m for m in ("pandas", "scipy") if m in sys.modules))
segeval.score(sys.argv[1], sys.argv[2], device="cpu", progress=progress)
print(seen[0], "pandas" in sys.modules)
"""


@pytest.mark.parametrize("folder", ["png2d", "nifti3d"])
def test_pandas_and_scipy_are_not_imported_before_the_first_case(folder):
    """Start-up: the overlap metrics of the first case need neither; pandas comes for the tables."""
    data = ROOT / "sample_data" / folder
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CASE_MODULES, str(data / "preds"), str(data / "gts")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert out.split() == ["[]", "True"]
