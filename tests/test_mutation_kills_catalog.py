"""Tests written from mutation testing (mutmut) of segeval/metrics/catalog.py.

Directions and their losses, the catalog listing (``list_metrics``, ``segeval metrics``) and the defaults
of :func:`segeval.metrics.catalog.confusion_metrics`; expected values are worked out by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.metrics.catalog import Better, Direction, Level, confusion_metrics, list_metrics

# rows = reference, columns = prediction; class 2 is absent from both sides
CM = np.array([[4, 1, 0], [2, 3, 0], [0, 0, 0]])
DICE_0 = 2 * 4 / (2 * 4 + 2 + 1)  # tp 4, fp 2, fn 1
DICE_1 = 2 * 3 / (2 * 3 + 1 + 2)  # tp 3, fp 1, fn 2


def test_direction_losses_and_names():
    target = Direction(Better.TARGET, 0.5)
    assert target.loss(0.2) == pytest.approx(0.3)
    assert target.loss(0.9) == pytest.approx(0.4)
    assert target.loss(0.5) == 0
    assert str(target) == "target(0.5)"
    assert str(Direction(Better.TARGET, 0.0)) == "target(0)"
    assert Direction(Better.HIGHER).loss(0.25) == -0.25
    assert Direction(Better.LOWER).loss(0.25) == 0.25
    assert math.isnan(Direction(Better.NONE).loss(0.25))
    assert str(Direction(Better.LOWER)) == "lower"


def test_list_metrics_all_and_by_family():
    everything = list_metrics()
    assert everything[:3] == ["dice", "iou", "precision"]
    assert "boundary_iou" in everything and "tp" in everything
    distance = [
        "hd",
        "hdNN",
        "hd_percentile",
        "assd",
        "msd_pred_to_gt",
        "msd_gt_to_pred",
        "masd",
        "hd_pred_to_gt",
        "hd_gt_to_pred",
        "nsd",
        "boundary_iou",
    ]
    assert list_metrics("distance") == distance
    assert list_metrics("count") == ["tp", "fp", "fn", "tn", "ref_volume", "pred_volume"]
    assert set(everything) >= set(distance)


def _no_constants(name: str):
    raise AssertionError(f"non-standard JSON constant {name}")


def test_metrics_command_json_rows():
    result = CliRunner().invoke(app, ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout, parse_constant=_no_constants)}
    assert rows["dice"]["family"] == "overlap"
    assert rows["dice"]["range"] == [0, 1]
    assert rows["tp"]["family"] == "count"
    assert rows["tp"]["range"] == [0, "inf"]
    assert rows["hd"]["family"] == "distance"
    assert rows["hd"]["range"] == [0, "inf"]
    assert rows["hd"]["direction"] == "lower"


def test_confusion_metrics_default_foreground_is_every_class_but_the_first():
    values, codes = confusion_metrics(CM, Level.CASE)["mean_dice"]
    # class 1 only: class 2 is both-empty (NaN) and class 0 is background
    assert float(values) == pytest.approx(DICE_1)
    assert int(codes) == 0
    dice = confusion_metrics(CM, Level.CLASS)["dice"][0]
    np.testing.assert_allclose(dice[:2], [DICE_0, DICE_1])
    assert math.isnan(dice[2])


def test_confusion_metrics_foreground_flags_given_as_integers():
    values, _ = confusion_metrics(CM, Level.CASE, foreground=[0, 1, 1])["mean_dice"]
    assert float(values) == pytest.approx(DICE_1)
    values, _ = confusion_metrics(CM, Level.CASE, foreground=[1, 1, 0])["mean_dice"]
    assert float(values) == pytest.approx((DICE_0 + DICE_1) / 2)


def test_confusion_metrics_on_a_batch_with_two_leading_axes():
    other = np.array([[1, 0, 0], [0, 2, 0], [0, 0, 3]])
    cms = np.stack([np.stack([CM, other])])  # shape (1, 2, 3, 3)
    values, codes = confusion_metrics(cms, Level.CASE)["mean_dice"]
    assert values.shape == (1, 2)
    np.testing.assert_allclose(values, [[DICE_1, 1.0]])
    assert codes.tolist() == [[0, 0]]


def test_confusion_metrics_volumes_default_to_one_voxel_per_pixel():
    metrics = confusion_metrics(CM, Level.CLASS)
    np.testing.assert_allclose(metrics["ref_volume"][0], [5, 5, 0])  # reference rows
    np.testing.assert_allclose(metrics["pred_volume"][0], [6, 4, 0])  # prediction columns
    metrics = confusion_metrics(CM, Level.CLASS, voxel_volume=0.5)
    np.testing.assert_allclose(metrics["ref_volume"][0], [2.5, 2.5, 0])


def test_resolved_percentile_names_carry_their_percentile():
    from segeval.metrics.catalog import resolve_metric

    spec = resolve_metric("hd99.5")
    assert (spec.name, spec.parameter, spec.aliases) == ("hd99.5", 99.5, ())
    spec = resolve_metric("HD-95")
    assert (spec.name, spec.parameter, spec.aliases) == ("hd95", 95.0, ())
    assert resolve_metric("hd_99_9").parameter == pytest.approx(99.9)
    assert resolve_metric("hd100").name == "hd"


def test_get_metric_resolves_aliases_and_percentiles():
    from segeval.metrics import get_metric

    assert get_metric("DSC").name == "dice"
    assert get_metric("biou").name == "boundary_iou"
    assert (get_metric("hd90").name, get_metric("hd90").parameter) == ("hd90", 90.0)


def test_ambiguous_mean_surface_distance_names_the_directed_metrics():
    from segeval.errors import UsageError
    from segeval.metrics.catalog import resolve_metric

    with pytest.raises(UsageError) as info:
        resolve_metric("msd")
    assert "ambiguous" in str(info.value)
    assert info.value.hint == "use msd_pred_to_gt, msd_gt_to_pred or assd (symmetric)"
