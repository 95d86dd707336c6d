"""Mask degradations and the synthetic reference."""

from __future__ import annotations

import numpy as np
import pytest

from segeval.analysis import degrade
from segeval.errors import UsageError


def test_shift_moves_and_fills_with_background():
    mask = np.zeros((4, 6), bool)
    mask[1:3, 0:2] = True
    moved = degrade.shift(mask, 3)
    assert moved[1:3, 3:5].all() and moved.sum() == 4
    assert degrade.shift(mask, -1).sum() == 2
    assert not degrade.shift(mask, 10).any()


def test_erode_and_dilate_use_the_euclidean_ball():
    disc = degrade.ball((21, 21), (10, 10), 6)
    eroded, dilated = degrade.erode(disc, 2), degrade.dilate(disc, 2)
    assert (eroded <= disc).all() and (disc <= dilated).all()
    assert eroded.sum() < disc.sum() < dilated.sum()
    single = np.zeros((7, 7), bool)
    single[3, 3] = True
    assert degrade.dilate(single, 1).sum() == 5  # radius 1: the 4-neighbourhood
    assert degrade.dilate(single, 1.5).sum() == 9
    assert not degrade.erode(single, 1).any()
    volume = degrade.ball((9, 9, 9), (4, 4, 4), 3)
    assert degrade.dilate(volume, 1).sum() > volume.sum() > degrade.erode(volume, 1).sum()


def test_blobs_are_nested_seeded_and_away_from_the_mask():
    mask = degrade.ball((64, 64), (32, 32), 10)
    centres = degrade.blob_centres(mask, 4, radius=3, seed=1)
    assert len(centres) == 4
    assert centres[:2] == degrade.blob_centres(mask, 2, radius=3, seed=1)
    blobs = degrade.add_blobs(mask, 4, radius=3, seed=1)
    assert (blobs & mask).sum() == mask.sum()
    assert not (degrade.dilate(mask, 2) & (blobs & ~mask)).any()
    assert len(degrade.blob_centres(np.ones((10, 10), bool), 3)) == 0


def test_drop_objects_removes_the_smallest_first():
    mask = np.zeros((20, 20), bool)
    mask[1:3, 1:3] = True  # 4 px
    mask[10:19, 10:19] = True  # 81 px
    mask[1:4, 15:18] = True  # 9 px
    assert degrade.count_objects(mask) == 3
    one = degrade.drop_objects(mask, 1)
    assert one.sum() == 90 and not one[1:3, 1:3].any()
    assert degrade.drop_objects(mask, 2).sum() == 81
    assert not degrade.drop_objects(mask, 5).any()


def test_pad_to_fraction_and_the_synthetic_reference():
    mask = degrade.ball((40, 40), (20, 20), 8)
    padded = degrade.pad_to_fraction(mask, 0.01)
    assert padded.sum() == mask.sum() and padded.mean() == pytest.approx(0.01, rel=0.05)
    assert degrade.pad_to_fraction(mask, 0.9) is None
    reference = degrade.synthetic_reference((96, 80))
    assert degrade.count_objects(reference) == 5
    for fraction in (0.5, 0.01, 0.001):
        assert degrade.synthetic_reference((128, 128), fraction=fraction).mean() == pytest.approx(fraction, rel=0.3)
    assert degrade.count_objects(degrade.synthetic_reference((40, 48, 36))) == 5
    with pytest.raises(UsageError, match="32"):
        degrade.synthetic_reference((16, 16))
