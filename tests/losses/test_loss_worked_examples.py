"""The worked examples of docs/worked-examples.md, as exact fractions.

The 10x10 grid: ground truth rows 1-5, cols 2-5 (20 px). Expected values are the pixel counts written
as fractions, and the focal numbers from the RetinaNet formula (Lin et al., "Focal Loss for Dense
Object Detection", ICCV 2017, https://arxiv.org/abs/1708.02002) with the natural log. Most cases come
from a Chinese-language blog post on segmentation losses (author unknown), "post A" in docs/losses.md.
"""

from __future__ import annotations

import math

import pytest
import torch
from loss_cases import as_binary, grid_focal_prob, grid_gt, grid_pred7, grid_pred19

from segeval.losses import (
    bce_dice_loss,
    bce_loss,
    dice_loss,
    focal_loss,
    get_loss,
    iou_loss,
    log_cosh_dice_loss,
    tversky_loss,
)

G = as_binary(grid_gt())


@pytest.mark.parametrize(
    ("pred", "expected"),
    [(grid_pred19, 1 - 38 / 39), (grid_pred7, 1 - 10 / 27)],
    ids=["pred19", "pred7"],
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dice_grid(pred, expected, dtype):
    p = as_binary(pred(), dtype)
    value = dice_loss(p, G.to(dtype), from_logits=False, smooth=0.0)
    assert value.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("pred", "expected"),
    [(grid_pred19, 1 - 19 / 20), (grid_pred7, 1 - 5 / 22)],
    ids=["pred19", "pred7"],
)
def test_iou_grid(pred, expected):
    value = iou_loss(as_binary(pred()), G, from_logits=False, smooth=0.0)
    assert value.item() == pytest.approx(expected, rel=1e-12)


def test_iou_equals_tversky_one_one_on_grid():
    p = as_binary(grid_pred7())
    a = iou_loss(p, G, from_logits=False, smooth=0.0)
    b = tversky_loss(p, G, from_logits=False, alpha=1.0, beta=1.0, smooth=0.0)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


def test_dice_smoothing_placement_grid_pred7():
    """docs/worked-examples.md, "Where the smoothing term goes": smooth=1 on pred7 gives 1 - 11/28 (MONAI/Keras).

    smp's (2I + 2s)/(Sigma + 2s) would give 1 - 12/29, SegLoss V2's 2(I + s)/(Sigma + s) 1 - 12/28.
    """
    value = dice_loss(as_binary(grid_pred7()), G, from_logits=False, smooth=1.0)
    assert value.item() == pytest.approx(1 - 11 / 28, rel=1e-12)
    assert value.item() != pytest.approx(1 - 12 / 29, rel=1e-6)


def test_log_cosh_dice_grid_pred7():
    value = log_cosh_dice_loss(as_binary(grid_pred7()), G, from_logits=False, smooth=1.0)
    assert value.item() == pytest.approx(math.log(math.cosh(1 - 11 / 28)), rel=1e-12)


def test_squared_dice_equals_plain_dice_on_hard_masks():
    p = as_binary(grid_pred7())
    a = dice_loss(p, G, from_logits=False, smooth=0.0, squared=True)
    assert a.item() == pytest.approx(1 - 10 / 27, rel=1e-12)


@pytest.mark.parametrize(
    ("pt", "expected"), [(0.9, 0.5 * 0.01 * math.log(1 / 0.9)), (0.6, 0.5 * 0.16 * math.log(1 / 0.6))]
)
@pytest.mark.parametrize("positive", [True, False])
def test_focal_single_pixel_blog_values(pt, expected, positive):
    """Post A's rounding: FL(0.9) ~ 0.00053 and FL(0.6) ~ 0.041 with alpha = 0.5, gamma = 2, for both classes."""
    p = torch.tensor([[[pt if positive else 1 - pt]]], dtype=torch.float64)
    g = torch.tensor([[[1.0 if positive else 0.0]]], dtype=torch.float64)
    value = focal_loss(p, g, from_logits=False, alpha=0.5, gamma=2.0).item()
    assert value == pytest.approx(expected, rel=1e-12)
    assert round(value, 5 if pt == 0.9 else 3) == (0.00053 if pt == 0.9 else 0.041)


def test_focal_grid_mean():
    """Mean over grid_focal_prob: 4 px of p_t = 0.6 in each class, 92 px of 0.9 → 0.0037539."""
    p = as_binary(grid_focal_prob())
    expected = (8 * 0.5 * 0.16 * math.log(1 / 0.6) + 92 * 0.5 * 0.01 * math.log(1 / 0.9)) / 100
    value = focal_loss(p, G, from_logits=False, alpha=0.5, gamma=2.0)
    assert value.item() == pytest.approx(expected, rel=1e-12)
    assert value.item() == pytest.approx(0.0037539, abs=5e-8)


def test_focal_is_not_the_batch_mean_kaggle_version():
    """The widespread Kaggle code applies alpha (1 - e^-BCE)^gamma to the *mean* BCE; that is another number."""
    p = as_binary(grid_focal_prob())
    mean_bce = bce_loss(p, G, from_logits=False).item()
    kaggle = 0.5 * (1 - math.exp(-mean_bce)) ** 2 * mean_bce
    ours = focal_loss(p, G, from_logits=False, alpha=0.5, gamma=2.0).item()
    assert abs(ours - kaggle) > 1e-4


def test_focal_with_logits_equals_probabilities():
    p = as_binary(grid_focal_prob())
    logits = torch.log(p) - torch.log1p(-p)
    a = focal_loss(logits, G, alpha=0.5, gamma=2.0)
    b = focal_loss(p, G, from_logits=False, alpha=0.5, gamma=2.0)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


def test_bce_per_pixel_values():
    """docs/worked-examples.md, "Binary cross entropy": L(1, 0.9) = L(0, 0.1) = 0.105, L(0, 0.8) = 1.609."""
    p = torch.tensor([[[0.9, 0.1, 0.8]]], dtype=torch.float64)
    g = torch.tensor([[[1.0, 0.0, 0.0]]], dtype=torch.float64)
    values = bce_loss(p, g, from_logits=False, reduction="none").flatten().tolist()
    assert [round(v, 3) for v in values] == [0.105, 0.105, 1.609]


def test_bce_dice_on_grid_is_sum_of_parts():
    """docs/worked-examples.md, "BCE plus Dice": BCE + Dice loss (weights 1, 1), smooth=1 on the flat tensor."""
    p = as_binary(grid_focal_prob())
    value = bce_dice_loss(p, G, from_logits=False, smooth=1.0, aggregation="batch")
    bce = bce_loss(p, G, from_logits=False)
    inter = float((p * G).sum())
    dice = 1 - (2 * inter + 1) / (float(p.sum() + G.sum()) + 1)
    assert value.item() == pytest.approx(bce.item() + dice, rel=1e-12)


def test_multiclass_grid_matches_binary_for_two_classes():
    """A two-class softmax with logits (0, z) is the sigmoid of z: CE = BCE, focal = focal."""
    p = grid_focal_prob()
    z = torch.from_numpy(math.log(1) + (torch.log(torch.tensor(p)) - torch.log1p(-torch.tensor(p))).numpy())
    two = torch.stack([torch.zeros_like(z), z])[None]  # (1, 2, 10, 10)
    labels = torch.from_numpy(grid_gt()).long()[None]
    for name, options in [("ce", {}), ("focal", {"alpha": 0.5, "gamma": 2.0})]:
        multi = get_loss(name, mode="multiclass", **options)(two, labels)
        binary = get_loss(name, mode="binary", **options)(z[None, None], G)
        assert multi.item() == pytest.approx(binary.item(), rel=1e-10), name


def test_bce_sparse_grid_mean():
    """docs/worked-examples.md, "Binary cross entropy": the sparse grid.

    GT at (2,4), (3,3), (6,5); p = 0.9, 0.8, 0.9 there and 0.1 elsewhere. Post A's total (0.186)
    counts 105 pixels; the grid's mean BCE is (99 ln(1/0.9) + ln(1/0.8))/100.
    """
    g = torch.zeros(1, 1, 10, 10, dtype=torch.float64)
    p = torch.full_like(g, 0.1)
    for (r, c), v in {(2, 4): 0.9, (3, 3): 0.8, (6, 5): 0.9}.items():
        g[0, 0, r, c] = 1.0
        p[0, 0, r, c] = v
    expected = (99 * math.log(1 / 0.9) + math.log(1 / 0.8)) / 100
    assert bce_loss(p, g, from_logits=False).item() == pytest.approx(expected, rel=1e-12)
    assert round(expected, 4) == 0.1065
