"""The bootstrap draws its resamples in blocks (memory bounded at any case count) from one random stream."""

from __future__ import annotations

import numpy as np
import pytest

from segeval import stats
from tests.test_speed_paths import plain_bootstrap


@pytest.mark.parametrize("block_values", [300 * 64, 300 * 7, 300])
def test_blocked_resamples_give_the_intervals_of_one_draw(monkeypatch, block_values):
    rng = np.random.default_rng(3)
    values = rng.random((300, 4))
    values[rng.random((300, 4)) < 0.2] = np.nan
    values[5, 3] = np.inf
    monkeypatch.setattr(stats, "BOOTSTRAP_BLOCK_VALUES", block_values)  # 64, 7 and 1 resamples at a time
    for got, want in zip(stats.bootstrap_mean_cis(values, 0.9), plain_bootstrap(values, 0.9)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert np.isinf(got[3]) == np.isinf(want[3])
