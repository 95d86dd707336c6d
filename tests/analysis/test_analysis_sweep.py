"""Sensitivity sweeps: values with known answers and the response scale."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segeval.analysis import degrade
from segeval.analysis.sweep import SweepOptions, reference_from_file, run_sweep
from segeval.errors import InputError, UsageError


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_bce_dice_and_hd95_along_a_shift():
    result = run_sweep(losses=["bce", "dice"], degradations=["shift"], levels={"shift": [0, 2, 4]}, shape=(64, 64))
    table = result.table
    assert (table["status"] == "ok").all()
    reference = degrade.synthetic_reference((64, 64))
    for k in (0, 2, 4):
        rows = table[table["level"] == k].set_index("name")
        predicted = degrade.shift(reference, k)
        wrong = int((predicted ^ reference).sum())
        n = reference.size
        expected = ((n - wrong) * _softplus(-3.0) + wrong * _softplus(3.0)) / n
        assert rows.at["bce", "value"] == pytest.approx(expected, rel=1e-6)
        dice = 2 * (predicted & reference).sum() / (predicted.sum() + reference.sum())
        assert rows.at["hard_dice", "value"] == pytest.approx(dice)
        assert 0 <= rows.at["hd95", "value"] <= k
    first = table[table["level"] == 0].set_index("name")
    assert first.at["hard_dice", "value"] == 1.0 and first.at["hd95", "value"] == 0.0
    assert first.at["bce", "value"] == pytest.approx(_softplus(-3.0), rel=1e-6)  # every pixel right at +-3


def test_response_starts_at_zero_and_peaks_at_one():
    result = run_sweep(
        losses=["bce", "tversky"],
        degradations=["erode", "dilate"],
        levels={"erode": [0, 1, 3], "dilate": [0, 2]},
        shape=(64, 64),
    )
    table = result.table
    assert (table.loc[table["level_index"] == 0, "response"] == 0).all()
    for _, group in table.groupby(["kind", "name"]):
        assert np.nanmax(np.abs(group["response"])) == pytest.approx(1.0)
    dice = table[(table["name"] == "hard_dice") & (table["degradation"] == "erode")]
    assert (dice["response"].diff().dropna() > 0).all()  # Dice falls: its response (sign flipped) rises


def test_confidence_changes_the_logits():
    soft = run_sweep(
        losses=["bce"],
        degradations=["shift"],
        levels={"shift": [0]},
        shape=(48, 48),
        options=SweepOptions(confidence=1.0),
    )
    value = soft.table.set_index("name").at["bce", "value"]
    assert value == pytest.approx(_softplus(-1.0), rel=1e-6)
    with pytest.raises(UsageError, match="confidence"):
        SweepOptions(confidence=0.0)


def test_imbalance_and_object_levels_on_a_given_reference_are_skipped_when_impossible():
    reference = np.zeros((40, 40), bool)
    reference[10:30, 10:30] = True  # one object covering 25 %
    result = run_sweep(
        reference,
        losses=["dice"],
        degradations=["drop_object", "imbalance"],
        levels={"drop_object": [0, 1], "imbalance": [0.5, 0.05]},
    )
    table = result.table.set_index(["degradation", "level", "name"])
    assert table.loc[("drop_object", 1.0, "dice"), "status"] == "skipped"
    assert table.loc[("imbalance", 0.5, "dice"), "status"] == "skipped"
    padded = table.loc[("imbalance", 0.05, "dice")]
    assert padded["status"] == "ok" and padded["ref_fraction"] == pytest.approx(0.05, rel=0.05)


def test_a_3d_reference_with_anisotropic_spacing():
    reference = degrade.ball((20, 36, 40), (10, 18, 20), 7)
    result = run_sweep(
        reference,
        spacing_mm=(2.5, 0.8, 0.8),
        losses=["bce", "hausdorff_dt"],
        degradations=["shift"],
        levels={"shift": [0, 2]},
    )
    rows = result.table[result.table["level"] == 2].set_index("name")
    assert (result.table["status"] == "ok").all()
    assert rows.at["hd95", "value"] == pytest.approx(1.6)  # 2 px along x at 0.8 mm
    assert result.examples["shift"][0].ndim == 2


def test_bad_sweep_requests():
    with pytest.raises(UsageError, match="unknown degradation"):
        run_sweep(losses=["bce"], degradations=["blur"])
    with pytest.raises(UsageError, match="imbalance levels"):
        run_sweep(losses=["bce"], degradations=["imbalance"], levels={"imbalance": [2.0]})
    with pytest.raises(UsageError, match="empty"):
        run_sweep(np.zeros((40, 40), bool), losses=["bce"])


def test_reference_from_a_label_file(files):
    labels = np.zeros((23, 37), np.uint8)
    labels[4:12, 5:20] = 2
    labels[15:20, 25:33] = 1
    path = files.image("ref.png", labels)
    mask, spacing, source = reference_from_file(path, label=2)
    assert mask.sum() == 8 * 15 and spacing == (1.0, 1.0) and "label 2" in source
    assert reference_from_file(path)[0].sum() == 8 * 15 + 5 * 8
    with pytest.raises(InputError, match="label 7"):
        reference_from_file(path, label=7)
