"""Tests written from mutation testing (mutmut) of segeval/metrics/overlap.py.

The ``no_valid_pixel`` status of case-level metrics: a case with no valid pixel gets it, a case with
one valid pixel does not; the status codes index :data:`segeval.status.STATUS_CODES`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from segeval.metrics.catalog import Level, confusion_metrics
from segeval.status import STATUS_CODES, Status

CASE_METRICS = ("pixel_accuracy", "mean_pixel_accuracy", "miou", "fwiou", "mean_dice")


def _statuses(codes: np.ndarray) -> list[Status]:
    return [STATUS_CODES[code] for code in np.ravel(codes)]


def test_case_without_a_valid_pixel_and_case_with_one_pixel():
    empty = np.zeros((2, 2))
    one_pixel = np.array([[0, 0], [0, 1]])  # one pixel of class 1, predicted as class 1
    metrics = confusion_metrics(np.stack([empty, one_pixel]), Level.CASE)
    for name in CASE_METRICS:
        values, codes = metrics[name]
        assert _statuses(codes) == [Status.NO_VALID_PIXEL, Status.OK], name
        assert math.isnan(values[0]), name
        assert values[1] == pytest.approx(1.0), name


def test_case_with_one_misclassified_pixel():
    # one pixel of class 1 predicted as class 0: every case-level metric is 0 with status ok
    metrics = confusion_metrics(np.array([[0, 0], [1, 0]]), Level.CASE)
    for name in ("pixel_accuracy", "mean_pixel_accuracy", "fwiou"):
        values, codes = metrics[name]
        assert float(values) == 0.0, name
        assert _statuses(codes) == [Status.OK], name
    values, codes = metrics["mean_dice"]
    assert float(values) == 0.0
    assert _statuses(codes) == [Status.OK]


def test_case_whose_reference_is_only_one_class_with_two_pixels():
    cm = np.array([[2, 0, 0], [0, 0, 0], [0, 0, 0]])  # classes 1 and 2 absent from both sides
    metrics = confusion_metrics(cm, Level.CASE)
    values, codes = metrics["pixel_accuracy"]
    assert float(values) == 1.0 and _statuses(codes) == [Status.OK]
    values, codes = metrics["mean_dice"]  # no foreground class has a value
    assert math.isnan(values) and _statuses(codes) == [Status.NO_VALID_CLASS]


# rows = reference, columns = prediction; class 2 is absent from both sides
CM = np.array([[4, 1, 0], [2, 3, 0], [0, 0, 0]])
IOU_0, IOU_1 = 4 / (4 + 2 + 1), 3 / (3 + 1 + 2)
DICE_1 = 2 * 3 / (2 * 3 + 1 + 2)


def test_empty_score_reaches_the_class_means():
    metrics = confusion_metrics(CM, Level.CASE, empty_score=1.0)
    assert float(metrics["miou"][0]) == pytest.approx((IOU_0 + IOU_1 + 1.0) / 3)
    assert float(metrics["mean_dice"][0]) == pytest.approx((DICE_1 + 1.0) / 2)
    # fwiou weighs classes by their reference pixels: the both-empty class weighs nothing
    assert float(metrics["fwiou"][0]) == pytest.approx((5 * IOU_0 + 5 * IOU_1) / 10)
    metrics = confusion_metrics(CM, Level.CASE)
    assert float(metrics["miou"][0]) == pytest.approx((IOU_0 + IOU_1) / 2)
    assert float(metrics["mean_dice"][0]) == pytest.approx(DICE_1)


def test_fwiou_of_each_case_of_a_batch():
    other = np.array([[6, 0, 0], [0, 0, 2], [0, 0, 2]])  # class 1: 2 reference pixels, all missed
    values, _ = confusion_metrics(np.stack([CM, other]), Level.CASE)["fwiou"]
    iou_other = [6 / 6, 0.0, 2 / 4]
    expected_other = (6 * iou_other[0] + 2 * iou_other[1] + 2 * iou_other[2]) / 10
    np.testing.assert_allclose(values, [(5 * IOU_0 + 5 * IOU_1) / 10, expected_other])


def test_small_integer_matrices_do_not_overflow():
    cm = np.array([[0, 0], [10, 200]], dtype=np.uint8)  # class 1: tp 200, fn 10
    metrics = confusion_metrics(cm, Level.CLASS)
    assert metrics["dice"][0][1] == pytest.approx(400 / 410)
    assert metrics["volume_similarity"][0][1] == pytest.approx(1 - 10 / 410)
    assert metrics["tp"][0][1] == 200
