"""Gradient anatomy: shares, bands and effective weights on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segeval.analysis.anatomy import AnatomyOptions, boundary_distance_mm, gradient_anatomy, summarize_gradient
from segeval.errors import UsageError
from segeval.losses import list_losses


def _symmetric_case():
    """Left half foreground with logit +c, right half background with logit -c: a mirror image."""
    target = np.zeros((1, 6, 8), np.int64)
    target[:, :, :4] = 1
    logits = np.where(target == 1, 0.7, -0.7)[:, None].astype(np.float64)
    return logits, target


def test_a_symmetric_input_gives_equal_fg_and_bg_shares():
    logits, target = _symmetric_case()
    table = gradient_anatomy(
        logits, target, ["bce", "ce", "focal"], loss_settings={"focal": {"alpha": None}}
    ).set_index("loss")
    for name in ("bce", "ce", "focal"):
        assert table.at[name, "fg_share"] == pytest.approx(0.5, abs=1e-12)
        assert table.at[name, "bg_share"] == pytest.approx(0.5, abs=1e-12)
    # focal's alpha = 0.25 weighs the foreground by 0.25 and the background by 0.75
    alpha = gradient_anatomy(logits, target, ["focal"]).iloc[0]
    assert alpha["fg_share"] == pytest.approx(0.25, abs=1e-12)


def test_effective_weights_of_the_cross_entropy_family():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(1, 1, 9, 11)) * 2
    target = (rng.random((1, 9, 11)) < 0.25).astype(np.int64)
    n_pos, n_neg = int(target.sum()), int((1 - target).sum())
    table = gradient_anatomy(
        logits, target, ["bce", "focal", "wce"], loss_settings={"focal": {"gamma": 0.0, "alpha": None}}
    ).set_index("loss")
    for name in ("bce", "focal"):
        assert table.at[name, "weight_fg_median"] == pytest.approx(1.0, rel=1e-9)
        assert table.at[name, "weight_bg_median"] == pytest.approx(1.0, rel=1e-9)
    # binary WCE: -mean[b g ln p + (1 - g) ln(1 - p)], b = n_neg / n_pos: FG pixels weigh b, BG pixels 1
    assert table.at["wce", "weight_fg_median"] == pytest.approx(n_neg / n_pos, rel=1e-9)
    assert table.at["wce", "weight_bg_median"] == pytest.approx(1.0, rel=1e-9)


def test_hard_share_of_bce_by_hand():
    logits = np.array([[[2.0, -1.0, 1.0, -2.0]]])
    target = np.array([[1, 1, 0, 0]])
    row = gradient_anatomy(logits, target, ["bce"]).iloc[0]
    sigma = 1 / (1 + math.exp(-1.0))  # pixels 1 and 2 have p_t = sigmoid(-1) < 0.5: |p - g| = sigma(1)
    easy = 1 / (1 + math.exp(2.0))  # pixels 0 and 3: |p - g| = sigma(-2)
    assert row["hard_share"] == pytest.approx(sigma / (sigma + easy), rel=1e-12)
    assert row["hard_fraction"] == 0.5 and row["fg_fraction"] == 0.5
    strict = gradient_anatomy(logits, target, ["bce"], options=AnatomyOptions(hard_threshold=0.95)).iloc[0]
    assert strict["hard_share"] == pytest.approx(1.0)


def test_boundary_distance_in_mm_with_anisotropic_spacing():
    reference = np.zeros((5, 6), np.int64)
    reference[2:, :] = 1
    distance = boundary_distance_mm(reference, (2.0, 0.5))
    assert distance[1, 3] == 2.0 and distance[2, 3] == 2.0  # neighbours across the boundary along axis 0
    assert distance[0, 0] == 4.0 and distance[4, 5] == 6.0
    assert np.isinf(boundary_distance_mm(np.zeros((3, 4), np.int64))).all()
    three = boundary_distance_mm(np.array([0, 1, 1, 2, 2, 2]))
    assert three.tolist() == [1.0, 1.0, 1.0, 1.0, 2.0, 3.0]


def test_bands_include_their_upper_edge():
    magnitude = np.array([1.0, 2.0, 3.0, 4.0])
    distance = np.array([1.0, 1.5, 3.0, np.inf])
    options = AnatomyOptions(bands_mm=(1.0, 3.0))
    band = np.searchsorted(np.asarray(options.bands_mm), distance, side="left")
    assert band.tolist() == [0, 1, 1, 2]
    summary = summarize_gradient(magnitude, magnitude, np.ones(4, bool), np.zeros(4, bool), band, 3)
    assert summary["bands"] == [0.1, 0.5, 0.4]
    assert options.band_names() == ["band_0-1mm", "band_1-3mm", "band_>3mm"]


def test_zero_gradient_and_missing_ce_gradient_give_nan():
    zero = np.zeros(3)
    summary = summarize_gradient(zero, zero, np.array([1, 0, 0], bool), np.zeros(3, bool), np.zeros(3, int), 1)
    assert math.isnan(summary["fg_share"]) and math.isnan(summary["weight_fg_median"])


@pytest.mark.parametrize("options", [{"bands_mm": (3.0, 1.0)}, {"bands_mm": ()}, {"hard_threshold": 0.0}, {"eps": 0.6}])
def test_bad_options_are_usage_errors(options):
    with pytest.raises(UsageError):
        AnatomyOptions(**options)


def test_every_catalog_loss_has_shares_that_add_up():
    rng = np.random.default_rng(7)
    target = np.zeros((1, 12, 14), np.int64)
    target[0, 3:9, 2:7] = 1
    target[0, 5:11, 8:13] = 2
    probs = rng.dirichlet(np.ones(3), size=(12, 14)).transpose(2, 0, 1)[None]
    table = gradient_anatomy(probs, target, from_logits=False, spacing_mm=(1.0, 0.8))
    assert table["loss"].tolist() == list_losses()
    assert (table["status"] == "ok").all(), table[table["status"] != "ok"]
    bands = [c for c in table.columns if c.startswith("band_")]
    np.testing.assert_allclose(table[bands].sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(table["fg_share"] + table["bg_share"], 1.0)
    assert (table[["fg_share", "hard_share"]].to_numpy() >= 0).all()
    # ce is its own reference: weight 1 everywhere
    ce = table.set_index("loss").loc["ce"]
    assert ce["weight_fg_median"] == pytest.approx(1.0) and ce["weight_bg_median"] == pytest.approx(1.0)
