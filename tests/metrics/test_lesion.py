"""Lesion-wise metrics against panoptica (JSON fixtures), a float64 transcription of the BraTS 2023
procedure, and hand-computed cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from segeval.errors import UsageError
from segeval.metrics.lesion import (
    Geometry,
    LesionOptions,
    LesionPreset,
    LesionStatus,
    Side,
    lesion_metrics,
)
from segeval.options import LesionMatching

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # surface-distance 0.1's SciPy imports

FIXTURES = json.loads((Path(__file__).parents[1] / "fixtures" / "lesion" / "panoptica.json").read_text())["cases"]


def boxes(shape, items) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for z0, z1, y0, y1, x0, x1 in items:
        out[z0:z1, y0:y1, x0:x1] = True
    return out


# ----------------------------------------------------------------------------- panoptica


@pytest.mark.parametrize("matching", ["iou", "assignment"])
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_matches_panoptica(name, matching):
    case = FIXTURES[name]
    expected = case["panoptica"][matching]
    gt, pred = boxes(case["shape"], case["gt"]), boxes(case["shape"], case["pred"])
    options = LesionOptions(matching=LesionMatching(matching), convention="medpy")
    result = lesion_metrics(pred, gt, case["spacing"], options)
    assert (result.tp, result.fp, result.fn) == (expected["tp"], expected["fp"], expected["fn"])
    for ours, theirs in (
        ("lesion_recall", "rec"),
        ("lesion_precision", "prec"),
        ("rq", "rq"),
        ("sq", "sq"),
        ("pq", "pq"),
    ):
        assert result.values[ours][0] == pytest.approx(expected[theirs], abs=1e-12), ours
    matched = [lesion for lesion in result.lesions if lesion.side is Side.REFERENCE and lesion.matched]
    # panoptica's ASSD is the mean of the two directed means (segeval's assd pools both directions)
    for ours, theirs in (("dice", "sq_dsc"), ("hd95", "sq_hd95")):
        mean = float(np.mean([getattr(lesion, ours) for lesion in matched])) if matched else math.nan
        assert mean == pytest.approx(expected[theirs], abs=1e-9), ours


# ----------------------------------------------------------------------------- BraTS 2023


def brats_transcription(pred: np.ndarray, gt: np.ndarray, iterations: int, size_limit: int, spacing=(1.0, 1.0, 1.0)):
    """The BraTS 2023 lesion-wise procedure, written from its description and published code, in float64
    on whole volumes with scipy's labelling (independent of cc3d and of segeval's cropping).

    Returns (tp, fn, fp, lesion-wise Dice, lesion-wise HD95).
    """
    np.Inf, np.NaN = np.inf, np.nan  # surface-distance 0.1 uses the NumPy 1 aliases
    surface_distance = pytest.importorskip("surface_distance")

    def deepmind_hd95(found, own):
        distances = surface_distance.compute_surface_distances(own, found, spacing)
        return surface_distance.compute_robust_hausdorff(distances, 95)

    full = ndimage.generate_binary_structure(3, 3)  # 26-connectivity
    dilation = ndimage.generate_binary_structure(3, 2)
    pred_cc, _ = ndimage.label(pred, structure=full)
    dilated_cc, n_dilated = ndimage.label(
        ndimage.binary_dilation(gt, structure=dilation, iterations=iterations), structure=full
    )
    gt_cc = np.where(gt, dilated_cc, 0)
    dice_sum, hd_sum, n_scored, tp, fn = 0.0, 0.0, 0, 0, 0
    touched: set[int] = set()
    for lesion in range(1, n_dilated + 1):
        own = gt_cc == lesion
        region = ndimage.binary_dilation(own, structure=dilation, iterations=iterations)
        hits = set(np.unique(pred_cc[region]).tolist()) - {0}
        touched |= hits
        if own.sum() <= size_limit:
            continue
        n_scored += 1
        found = np.isin(pred_cc, sorted(hits))
        if hits:
            tp += 1
            dice_sum += 2.0 * np.logical_and(found, own).sum() / (found.sum() + own.sum())
            hd_sum += deepmind_hd95(found, own)
        else:
            fn += 1
            hd_sum += 374.0
    fp = len(set(range(1, pred_cc.max() + 1)) - touched)
    denominator = n_scored + fp
    if denominator == 0:
        return tp, fn, fp, 1.0, 0.0
    return tp, fn, fp, dice_sum / denominator, (hd_sum + 374.0 * fp) / denominator


SHAPE = (24, 24, 24)
BRATS_CASES = {
    # two reference fragments with a 3-voxel gap: one lesion after 3 dilations, two after 1
    "merged_by_dilation": ([[4, 8, 4, 8, 4, 8], [4, 8, 4, 8, 11, 15]], [[4, 8, 4, 8, 4, 14]]),
    # a 27-voxel reference lesion under the 50-voxel limit, missed, and a large one found
    "under_size_limit": ([[2, 5, 2, 5, 2, 5], [10, 16, 10, 16, 10, 16]], [[10, 16, 11, 17, 10, 16]]),
    # a false-positive predicted lesion of one voxel beside a found lesion
    "false_positive": ([[10, 16, 10, 16, 10, 16]], [[10, 16, 10, 16, 10, 15], [20, 21, 20, 21, 20, 21]]),
    # an empty reference with one predicted lesion, then both empty
    "empty_reference": ([], [[3, 7, 3, 7, 3, 7]]),
    "both_empty": ([], []),
    # the small lesion matched: its predicted lesion is no false positive
    "small_found": ([[2, 5, 2, 5, 2, 5]], [[2, 5, 2, 5, 2, 4]]),
}


@pytest.mark.parametrize("preset", [LesionPreset.BRATS2023_GLI, LesionPreset.BRATS2023_MEN])
@pytest.mark.parametrize("name", sorted(BRATS_CASES))
def test_brats2023_matches_transcription(name, preset):
    gt_boxes, pred_boxes = BRATS_CASES[name]
    gt, pred = boxes(SHAPE, gt_boxes), boxes(SHAPE, pred_boxes)
    iterations, limit = {LesionPreset.BRATS2023_GLI: (3, 50), LesionPreset.BRATS2023_MEN: (1, 50)}[preset]
    tp, fn, fp, dice, hd95 = brats_transcription(pred, gt, iterations, limit)
    result = lesion_metrics(pred, gt, (1.0, 1.0, 1.0), LesionOptions.preset(preset))
    assert (result.tp, result.fn, result.fp) == (tp, fn, fp)
    assert result.values["lesion_dice"][0] == pytest.approx(dice, abs=1e-12)
    assert result.values["lesion_hd95"][0] == pytest.approx(hd95, abs=1e-9)


def test_brats2023_known_answers():
    """Hand-computed: three dilations merge the two fragments into one lesion (GLI), one does not (MEN)."""
    gt, pred = (boxes(SHAPE, b) for b in BRATS_CASES["merged_by_dilation"])
    gli = lesion_metrics(pred, gt, (1, 1, 1), LesionOptions.preset(LesionPreset.BRATS2023_GLI))
    assert [row.voxels for row in gli.lesions if row.side is Side.REFERENCE] == [128]
    # 128 reference voxels, 160 predicted, 112 shared: Dice 224 / 288
    assert gli.values["lesion_dice"][0] == pytest.approx(224 / 288)
    men = lesion_metrics(pred, gt, (1, 1, 1), LesionOptions.preset(LesionPreset.BRATS2023_MEN))
    assert [row.voxels for row in men.lesions if row.side is Side.REFERENCE] == [64, 64]
    assert (men.tp, men.merged) == (2, 1)
    # each 64-voxel lesion is compared with the whole predicted lesion: Dice 128 / 224 and 96 / 224
    assert men.values["lesion_dice"][0] == pytest.approx((128 + 96) / 224 / 2)
    gt, pred = (boxes(SHAPE, b) for b in BRATS_CASES["under_size_limit"])
    assert lesion_metrics(pred, gt, (1, 1, 1)).fn == 1  # without the preset the small lesion counts
    gli = lesion_metrics(pred, gt, (1, 1, 1), LesionOptions.preset(LesionPreset.BRATS2023_GLI))
    assert (gli.fn, gli.tp) == (0, 1)
    empty = np.zeros(SHAPE, bool)
    both = lesion_metrics(empty, empty, (1, 1, 1), LesionOptions.preset(LesionPreset.BRATS2023_GLI))
    assert (both.values["lesion_dice"][0], both.values["lesion_hd95"][0]) == (1.0, 0.0)


# ----------------------------------------------------------------------------- hand-computed rules


def test_counts_merged_and_split_lesions():
    gt = np.zeros((1, 20), bool)
    gt[0, 1:4] = gt[0, 5:8] = gt[0, 12:18] = True  # lesions 1, 2 merged by one prediction; lesion 3 split
    pred = np.zeros((1, 20), bool)
    pred[0, 1:8] = pred[0, 12:14] = pred[0, 16:18] = True
    result = lesion_metrics(pred, gt, (1.0, 1.0))
    assert (result.merged, result.split) == (1, 1)
    assert (result.tp, result.fn, result.fp, result.tp_pred) == (3, 0, 0, 3)
    by_side = {(row.side, row.id): row for row in result.lesions}
    assert by_side[(Side.PREDICTION, 1)].overlapping == 2
    assert by_side[(Side.REFERENCE, 3)].matched == (2, 3)


def test_matching_rules_differ_as_documented():
    """One reference lesion half covered by one prediction (IoU 0.5 exactly is not a panoptic match)."""
    gt = np.zeros((1, 10), bool)
    gt[0, 0:4] = True
    pred = np.zeros((1, 10), bool)
    pred[0, 0:2] = True  # IoU 2/4 = 0.5
    expected = {LesionMatching.OVERLAP: (1, 0, 0), LesionMatching.IOU: (0, 1, 1), LesionMatching.ASSIGNMENT: (1, 0, 0)}
    for matching, counts in expected.items():
        result = lesion_metrics(pred, gt, (1.0, 1.0), LesionOptions(matching=matching))
        assert (result.tp, result.fn, result.fp) == counts, matching


@pytest.mark.parametrize("connectivity, expected", [(4, 2), (8, 1), (None, 1)])
def test_connectivity_2d(connectivity, expected):
    gt = np.zeros((4, 4), bool)
    gt[0, 0] = gt[1, 1] = True  # diagonal neighbours
    result = lesion_metrics(gt, gt, (1.0, 1.0), LesionOptions(connectivity=connectivity))
    assert result.tp == expected


@pytest.mark.parametrize("connectivity, expected", [(6, 3), (18, 2), (26, 1)])
def test_connectivity_3d(connectivity, expected):
    gt = np.zeros((3, 3, 3), bool)
    gt[0, 0, 0] = gt[1, 1, 0] = gt[2, 2, 1] = True  # an edge neighbour, then a corner neighbour
    result = lesion_metrics(gt, gt, (1.0, 1.0, 1.0), LesionOptions(connectivity=connectivity))
    assert result.tp == expected


def test_bad_connectivity_is_a_usage_error():
    with pytest.raises(UsageError, match="does not fit 2-D"):
        lesion_metrics(np.zeros((3, 3), bool), np.zeros((3, 3), bool), (1, 1), LesionOptions(connectivity=6))


def test_physical_size_limit_and_dilation():
    gt = np.zeros((1, 30), bool)
    gt[0, 0:2] = True  # 2 px of 2 mm: 4 mm²
    gt[0, 10:14] = gt[0, 16:20] = True  # two fragments, a gap of 2 px (4 mm) between them
    pred = gt.copy()
    options = LesionOptions(min_mm3=4.0, dilation_mm=4.0)
    result = lesion_metrics(pred, gt, (1.0, 2.0), options)
    statuses = [row.status for row in result.lesions if row.side is Side.REFERENCE]
    assert statuses == [LesionStatus.IGNORED, LesionStatus.MATCHED]
    assert [row.status for row in result.lesions if row.side is Side.PREDICTION][0] is LesionStatus.IGNORED
    assert result.tp == 1 and result.fp == 0
    narrower = lesion_metrics(pred, gt, (1.0, 2.0), LesionOptions(dilation_mm=1.0))  # under one pixel: none
    assert narrower.tp == 3


def test_rows_carry_volumes_and_world_centroids():
    gt = np.zeros((4, 6, 8), bool)
    gt[1:3, 2:4, 4:8] = True  # 16 voxels, centroid index (1.5, 2.5, 5.5)
    geometry = Geometry(spacing=(2.0, 1.0, 0.5), origin=(10.0, 20.0, 30.0), direction=(-1, 0, 0, 0, 1, 0, 0, 0, 1))
    result = lesion_metrics(gt, gt, geometry)
    row = result.lesions[0]
    assert (row.voxels, row.volume_mm3) == (16, 16.0)
    assert row.centroid_index_zyx == (1.5, 2.5, 5.5)
    # x = 30 - 5.5 * 0.5, y = 20 + 2.5 * 1, z = 10 + 1.5 * 2 (origin given in array order z, y, x)
    assert row.centroid_mm_xyz == pytest.approx((30 - 2.75, 22.5, 13.0))


def test_one_side_empty_and_unmatched_distance():
    gt = np.zeros((8, 8), bool)
    gt[2:4, 2:4] = True
    result = lesion_metrics(np.zeros_like(gt), gt, (1.0, 1.0), LesionOptions(unmatched_distance=50.0))
    assert result.values["lesion_hd95"] == (50.0, "pred_empty")
    assert result.values["lesion_recall"][0] == 0.0 and result.values["lesion_precision"][0] == 0.0
    both = lesion_metrics(np.zeros_like(gt), np.zeros_like(gt), (1.0, 1.0))
    assert math.isnan(both.values["lesion_f1"][0]) and both.values["lesion_f1"][1] == "both_empty"
