"""Summary statistics against NumPy's nan-aware functions."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segeval.pipeline.aggregate import column_statistics

columns = arrays(
    np.float64,
    st.tuples(st.integers(0, 12), st.integers(1, 4)),
    elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)),
)


@settings(max_examples=150, deadline=None)
@given(columns)
def test_statistics_match_numpy(values):
    stats = column_statistics(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        n = np.sum(~np.isnan(values), axis=0)
        np.testing.assert_array_equal(stats["n"], n)
        np.testing.assert_array_equal(stats["n_nan"], values.shape[0] - n)
        if values.shape[0] == 0:
            return
        np.testing.assert_allclose(stats["mean"], np.nanmean(values, axis=0), rtol=1e-9, atol=1e-6, equal_nan=True)
        expected_std = np.where(n > 1, np.nanstd(values, axis=0, ddof=1), np.nan)
        np.testing.assert_allclose(stats["std"], expected_std, rtol=1e-7, atol=1e-6, equal_nan=True)
        for key, q in (("min", 0), ("q25", 25), ("median", 50), ("q75", 75), ("max", 100)):
            np.testing.assert_allclose(
                stats[key], np.nanpercentile(values, q, axis=0), rtol=1e-9, atol=1e-6, equal_nan=True
            )
