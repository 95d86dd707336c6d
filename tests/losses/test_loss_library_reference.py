"""Cross-checks against torch built-ins, MONAI 1.6.1 and segmentation_models_pytorch 0.6.0.

The torch checks always run. MONAI and smp are test-only references (the ``reference`` marker);
each test is skipped when its library is missing, and each compares only where the conventions
match (the options passed to the reference say which convention that is).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from loss_cases import Failures, import_monai_losses, import_smp_losses, make_case

from segeval.losses import get_loss, soft_skeleton

CLOSE = {"rtol": 1e-6, "atol": 1e-9}


def close(a, b, **tolerance):
    torch.testing.assert_close(torch.as_tensor(a).double(), torch.as_tensor(b).double(), **(tolerance or CLOSE))


# ----------------------------------------------------------------------------- torch built-ins


def test_bce_matches_torch():
    z, t, _ = make_case("binary", seed=1)
    p = torch.sigmoid(z)
    failures = Failures()
    for reduction in ("mean", "sum", "none"):
        with failures.case(reduction):
            expected = F.binary_cross_entropy_with_logits(z, t, reduction=reduction)
            close(get_loss("bce", reduction=reduction)(z, t), expected)
            close(
                get_loss("bce", from_logits=False, reduction=reduction)(p, t),
                F.binary_cross_entropy(p, t, reduction=reduction),
            )
    failures.check()


def test_ce_and_nll_match_torch():
    z, t, _ = make_case("multiclass", seed=2, spatial=(4, 3, 5))
    t = t.clone()
    t[1, 0] = -100
    logp = F.log_softmax(z, dim=1)
    failures = Failures()
    for reduction in ("mean", "sum", "none"):
        for weight in (None, [0.5, 2.0, 1.0]):
            with failures.case(f"{reduction} weight={weight}"):
                w = None if weight is None else torch.tensor(weight, dtype=torch.float64)
                expected = F.cross_entropy(z, t, weight=w, reduction=reduction)
                close(get_loss("ce", weight=weight, reduction=reduction)(z, t), expected)
                close(
                    get_loss("nll", weight=weight, reduction=reduction)(logp, t),
                    F.nll_loss(logp, t, weight=w, reduction=reduction),
                )
    failures.check()


def test_wce_binary_matches_torch_pos_weight():
    z, t, _ = make_case("multilabel", seed=3)
    pos_weight = torch.tensor([0.5, 2.0, 4.0], dtype=torch.float64)
    expected = F.binary_cross_entropy_with_logits(z, t, pos_weight=pos_weight.reshape(1, 3, 1, 1))
    close(get_loss("wce", mode="multilabel", pos_weight=[0.5, 2.0, 4.0])(z, t), expected)


def test_balanced_ce_matches_torch_weight_map():
    z, t, _ = make_case("binary", seed=4)
    beta = 1 - t.mean()
    weight_map = torch.where(t > 0.5, beta, 1 - beta)
    close(get_loss("balanced_ce")(z, t), F.binary_cross_entropy_with_logits(z, t, weight=weight_map))


def test_topk_matches_torch_topk():
    z, t, _ = make_case("multiclass", seed=5, spatial=(7, 9))
    pixel = F.cross_entropy(z, t, reduction="none").flatten()
    k = int(math.floor(pixel.numel() * 0.1))
    close(get_loss("topk")(z, t), pixel.topk(k).values.mean())


def test_focal_softmax_gamma_zero_matches_cross_entropy_with_weights():
    z, t, _ = make_case("multiclass", seed=6)
    alpha = [0.2, 0.3, 0.5]
    # focal with gamma 0 is alpha_y * CE_y averaged over pixels (a plain mean, not torch's weighted mean)
    expected = (torch.tensor(alpha, dtype=torch.float64)[t] * F.cross_entropy(z, t, reduction="none")).mean()
    close(get_loss("focal", mode="multiclass", alpha=alpha, gamma=0.0)(z, t), expected)


# ----------------------------------------------------------------------------- MONAI


@pytest.mark.reference
def test_dice_matches_monai_binary():
    monai = import_monai_losses()
    z, t, _ = make_case("binary", seed=10)
    failures = Failures()
    for batch in (False, True):
        for squared in (False, True):
            with failures.case(f"batch={batch} squared={squared}"):
                expected = monai.DiceLoss(sigmoid=True, batch=batch, squared_pred=squared)(z, t)
                got = get_loss("dice", aggregation="batch" if batch else "image", squared=squared)(z, t)
                close(got, expected)
    failures.check()


@pytest.mark.reference
def test_dice_matches_monai_multiclass():
    monai = import_monai_losses()
    z, t, _ = make_case("multiclass", seed=11)
    failures = Failures()
    for include_background in (True, False):
        with failures.case(f"include_background={include_background}"):
            reference = monai.DiceLoss(softmax=True, to_onehot_y=True, include_background=include_background)
            got = get_loss("dice", mode="multiclass", include_background=include_background)(z, t)
            close(got, reference(z, t[:, None]))
    failures.check()


@pytest.mark.reference
def test_tversky_matches_monai():
    monai = import_monai_losses()
    z, t, _ = make_case("binary", seed=12)
    expected = monai.TverskyLoss(sigmoid=True, alpha=0.3, beta=0.7)(z, t)
    close(get_loss("tversky", alpha=0.3, beta=0.7)(z, t), expected)


@pytest.mark.reference
def test_generalized_dice_matches_monai():
    monai = import_monai_losses()
    failures = Failures()
    for absent in (False, True):
        with failures.case(f"absent={absent}"):
            z, t, _ = make_case("multiclass", seed=13)
            if absent:
                t = t.clone()
                t[0][t[0] == 2] = 1
            expected = monai.GeneralizedDiceLoss(softmax=True, to_onehot_y=True)(z, t[:, None])
            close(get_loss("generalized_dice")(z, t), expected)
    failures.check()


@pytest.mark.reference
def test_focal_matches_monai():
    monai = import_monai_losses()
    z, t, _ = make_case("binary", seed=14)
    expected = monai.FocalLoss(use_softmax=False, gamma=2.0, alpha=0.25)(z, t)
    close(get_loss("focal")(z, t), expected)
    # MONAI's softmax focal averages over B*C*N one-hot-masked entries: segeval's value / C
    zm, tm, _ = make_case("multiclass", seed=15)
    expected = monai.FocalLoss(use_softmax=True, to_onehot_y=True, gamma=2.0)(zm, tm[:, None])
    close(get_loss("focal", mode="multiclass", alpha=None)(zm, tm) / 3, expected)


@pytest.mark.reference
def test_ce_dice_and_bce_dice_match_monai():
    monai = import_monai_losses()
    z, t, _ = make_case("multiclass", seed=16)
    expected = monai.DiceCELoss(softmax=True, to_onehot_y=True)(z, t[:, None])
    close(get_loss("ce_dice")(z, t), expected)
    zb, tb, _ = make_case("binary", seed=17)
    expected = monai.DiceCELoss(sigmoid=True)(zb, tb)
    close(get_loss("bce_dice")(zb, tb), expected)


@pytest.mark.reference
def test_boundary_matches_monai():
    monai = import_monai_losses()
    failures = Failures()
    for mode in ("binary", "multiclass"):
        with failures.case(mode):
            z, t, g = make_case(mode, seed=18, spatial=(7, 8))
            if mode == "binary":
                expected = monai.BoundaryLoss(sigmoid=True)(z, t)
            else:
                expected = monai.BoundaryLoss(softmax=True, to_onehot_y=True)(z, t[:, None])
            close(get_loss("boundary", mode=mode)(z, t), expected, rtol=1e-6, atol=1e-6)
    failures.check()


@pytest.mark.reference
def test_boundary_all_foreground_and_empty_are_zero_like_monai():
    monai = import_monai_losses()
    z = torch.randn(2, 1, 5, 6, dtype=torch.float64)
    t = torch.zeros(2, 1, 5, 6, dtype=torch.float64)
    t[1] = 1.0  # image 0 empty, image 1 full: no boundary anywhere
    close(get_loss("boundary")(z, t), monai.BoundaryLoss(sigmoid=True)(z, t))
    assert get_loss("boundary")(z, t).item() == 0.0


@pytest.mark.reference
def test_hausdorff_matches_monai():
    monai = import_monai_losses()
    failures = Failures()
    for mode in ("binary", "multiclass"):
        with failures.case(mode):
            z, t, _ = make_case(mode, seed=19, spatial=(7, 8))
            if mode == "binary":
                expected = monai.HausdorffDTLoss(sigmoid=True, include_background=True)(z, t)
            else:
                reference = monai.HausdorffDTLoss(softmax=True, to_onehot_y=True, include_background=True)
                expected = reference(z, t[:, None])
            close(get_loss("hausdorff_dt", mode=mode)(z, t), expected, rtol=1e-5, atol=1e-6)
    failures.check()


@pytest.mark.reference
def test_mcc_matches_monai_away_from_degenerate_cases():
    monai = import_monai_losses()
    z, t, _ = make_case("binary", seed=20, spatial=(8, 9))
    expected = monai.MCCLoss(sigmoid=True)(z, t)
    close(get_loss("mcc")(z, t), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.reference
def test_log_cosh_dice_is_log_cosh_of_monai_batch_dice():
    monai = import_monai_losses()
    z, t, _ = make_case("binary", seed=21)
    dice = monai.DiceLoss(sigmoid=True, batch=True, smooth_nr=1.0, smooth_dr=1.0)(z, t)
    close(get_loss("log_cosh_dice")(z, t), torch.log(torch.cosh(dice)))


@pytest.mark.reference
def test_soft_skeleton_matches_monai():
    pytest.importorskip("monai")
    from monai.losses.cldice import soft_skel

    failures = Failures()
    for spatial in ((9, 10), (5, 6, 7)):
        with failures.case(f"spatial={spatial}"):
            x = torch.rand(2, 2, *spatial, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
            close(soft_skeleton(x, 3), soft_skel(x, 3), rtol=0, atol=0)
    failures.check()


@pytest.mark.reference
def test_cldice_alpha_one_matches_monai_soft_cldice():
    """One image, one channel: MONAI pools the same sums; it adds 1e-4 to the harmonic mean's denominator."""
    monai = import_monai_losses()
    z, t, _ = make_case("binary", seed=22, spatial=(12, 13), batch=1)
    expected = monai.SoftclDiceLoss(sigmoid=True)(z, t)
    close(get_loss("cldice", alpha=1.0)(z, t), expected, rtol=0, atol=2e-4)


# ----------------------------------------------------------------------------- segmentation_models_pytorch


@pytest.mark.reference
def test_focal_matches_smp_functional():
    smp = import_smp_losses()
    from segmentation_models_pytorch.losses._functional import focal_loss_with_logits

    z, t, _ = make_case("binary", seed=30)
    close(get_loss("focal")(z, t), focal_loss_with_logits(z, t, gamma=2.0, alpha=0.25))
    assert smp is not None


@pytest.mark.reference
def test_dice_jaccard_tversky_match_smp_batch_level():
    """smp is batch-level with smooth=0 (eps clamp) and drops classes absent from the batch: every
    class is present here, so with aggregation='batch', smooth=0 the values agree."""
    smp = import_smp_losses()
    failures = Failures()
    for mode in ("binary", "multiclass", "multilabel"):
        with failures.case(mode):
            z, t, _ = make_case(mode, seed=31)
            batch = {"mode": mode, "aggregation": "batch", "smooth": 0.0}
            close(get_loss("dice", **batch)(z, t), smp.DiceLoss(mode=mode)(z, t))
            close(get_loss("iou", **batch)(z, t), smp.JaccardLoss(mode=mode)(z, t))
            close(
                get_loss("tversky", **batch, alpha=0.3, beta=0.7)(z, t),
                smp.TverskyLoss(mode=mode, alpha=0.3, beta=0.7)(z, t),
            )
    failures.check()


@pytest.mark.reference
def test_lovasz_matches_smp():
    """smp computes the Lovász gradient in float32: float32 inputs, float32 tolerance."""
    smp = import_smp_losses()
    f32 = {"rtol": 1e-5, "atol": 1e-6}
    z, t, _ = make_case("binary", seed=32, dtype=torch.float32)
    close(get_loss("lovasz")(z, t), smp.LovaszLoss(mode="binary", per_image=True)(z, t), **f32)
    zm, tm, _ = make_case("multiclass", seed=33, dtype=torch.float32)
    close(
        get_loss("lovasz", mode="multiclass", aggregation="batch")(zm, tm),
        smp.LovaszLoss(mode="multiclass", per_image=False)(zm, tm),
        **f32,
    )
    close(
        get_loss("lovasz", mode="multiclass")(zm, tm),
        smp.LovaszLoss(mode="multiclass", per_image=True)(zm, tm),
        **f32,
    )


@pytest.mark.reference
def test_mcc_matches_smp_batch_level():
    smp = import_smp_losses()
    z, t, _ = make_case("binary", seed=34, spatial=(8, 9))
    p = torch.sigmoid(z)
    close(get_loss("mcc", aggregation="batch", from_logits=False)(p, t), smp.MCCLoss()(p, t), rtol=1e-5, atol=1e-6)


@pytest.mark.reference
def test_bce_matches_smp_soft_bce():
    smp = import_smp_losses()
    z, t, _ = make_case("binary", seed=35)
    close(get_loss("bce")(z, t), smp.SoftBCEWithLogitsLoss()(z, t))


def test_reference_helpers_do_not_leak_numpy_state():
    """Sanity: the seeded cases are deterministic (two calls give identical tensors)."""
    a = make_case("multiclass", seed=99)
    b = make_case("multiclass", seed=99)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and np.array_equal(a[2], b[2])
