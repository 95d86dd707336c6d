"""Issue 12's options on the existing losses, each against an independent reference, values and gradients.

References: torch's own ``cross_entropy(label_smoothing=...)`` and ``binary_cross_entropy_with_logits``
(pos_weight), MONAI 1.6.1 (Dice weight / smooth_nr / smooth_dr / soft_label, GDL w_type, focal
weight, MCC), and float64 NumPy transcriptions of the formulas (micro averaging, Tversky and Lovász
class weights, BCE label smoothing, focal pos_weight).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from loss_cases import Failures, import_monai_losses, import_smp_losses, make_case

from segeval.errors import UsageError
from segeval.losses import get_loss, list_losses, loss_spec

CLOSE = {"rtol": 1e-7, "atol": 1e-10}


def close(a, b, **tolerance):
    torch.testing.assert_close(torch.as_tensor(a).double(), torch.as_tensor(b).double(), **(tolerance or CLOSE))


def value_and_grad(fn, z):
    z = z.detach().clone().requires_grad_(True)
    value = fn(z)
    (grad,) = torch.autograd.grad(value.sum(), z)
    return value.detach(), grad


def same_value_and_grad(ours, reference, z, **tolerance):
    """Both callables of ``z``: equal values and equal gradients with respect to ``z``."""
    v1, g1 = value_and_grad(ours, z)
    v2, g2 = value_and_grad(reference, z)
    close(v1, v2, **tolerance)
    close(g1, g2, **tolerance)


# ----------------------------------------------------------------------------- label smoothing


def test_ce_label_smoothing_matches_torch_with_weights_and_ignore_index():
    z, t, _ = make_case("multiclass", seed=11, spatial=(4, 5))
    t = t.clone()
    t[0, 0, :3] = -100
    t[1, 2, 1] = -100
    failures = Failures()
    for eps in (0.0, 0.1, 0.35):
        for weight in (None, [0.5, 2.0, 1.25]):
            for reduction in ("mean", "sum", "none"):
                with failures.case(f"eps={eps} weight={weight} {reduction}"):
                    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)
                    same_value_and_grad(
                        lambda x, o=weight, e=eps, r=reduction: get_loss(
                            "ce", weight=o, label_smoothing=e, reduction=r
                        )(x, t),
                        lambda x, w=w, e=eps, r=reduction: F.cross_entropy(
                            x, t, weight=w, label_smoothing=e, reduction=r
                        ),
                        z,
                    )
    failures.check()


def test_ce_label_smoothing_binary_is_the_two_class_smoothing():
    """Binary CE with smoothing eps = BCE against g(1 - eps) + eps/2 (torch, float64)."""
    z, t, _ = make_case("binary", seed=12)
    for eps in (0.1, 0.5):
        smoothed = t * (1 - eps) + eps / 2
        same_value_and_grad(
            lambda x, e=eps: get_loss("ce", mode="binary", label_smoothing=e)(x, t),
            lambda x, s=smoothed: F.binary_cross_entropy_with_logits(x, s),
            z,
        )


def test_bce_label_smoothing_and_pos_weight_match_torch():
    failures = Failures()
    for mode in ("binary", "multilabel"):
        z, t, _ = make_case(mode, seed=13)
        channels = z.shape[1]
        for eps in (0.0, 0.2):
            for pos_weight in (None, 3.0, [0.5 + c for c in range(channels)]):
                with failures.case(f"{mode} eps={eps} pos_weight={pos_weight}"):
                    smoothed = t * (1 - eps) + eps / 2
                    pw = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float64)
                    if pw is not None and pw.ndim == 1:
                        pw = pw.reshape(-1, 1, 1)
                    same_value_and_grad(
                        lambda x, m=mode, e=eps, b=pos_weight, t=t: get_loss(
                            "bce", mode=m, label_smoothing=e, pos_weight=b
                        )(x, t),
                        lambda x, s=smoothed, b=pw: F.binary_cross_entropy_with_logits(x, s, pos_weight=b),
                        z,
                    )
    failures.check()


def test_bce_dice_pos_weight_is_the_weighted_bce_plus_dice():
    z, t, _ = make_case("binary", seed=14)
    pw = torch.tensor(2.5, dtype=torch.float64)
    same_value_and_grad(
        lambda x: get_loss("bce_dice", pos_weight=2.5)(x, t),
        lambda x: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw) + get_loss("dice")(x, t),
        z,
    )


# ----------------------------------------------------------------------------- focal: pos_weight, weight


def _sigmoid_focal_formula(z, g, alpha, gamma, pos_weight, weight):
    """Float64 transcription: -[a b g (1-p)^gamma ln p + (1-a)(1-g) p^gamma ln(1-p)] w_c, mean over elements."""
    p = torch.sigmoid(z)
    a = 1.0 if alpha is None else alpha
    na = 1.0 if alpha is None else 1 - alpha
    b = torch.as_tensor(pos_weight, dtype=torch.float64).reshape(1, -1, 1, 1)
    w = torch.as_tensor(weight, dtype=torch.float64).reshape(1, -1, 1, 1)
    terms = -(a * b * g * (1 - p) ** gamma * torch.log(p) + na * (1 - g) * p**gamma * torch.log(1 - p))
    return (w * terms).mean()


def test_focal_pos_weight_and_channel_weight_match_the_formula():
    z, t, _ = make_case("multilabel", seed=15)
    failures = Failures()
    for alpha in (None, 0.25):
        for pos_weight in (1.0, 2.0, [1.0, 2.0, 4.0]):
            for weight in (None, [0.2, 1.0, 3.0]):
                with failures.case(f"alpha={alpha} pos_weight={pos_weight} weight={weight}"):
                    b = np.broadcast_to(pos_weight, 3).copy()
                    w = [1.0] * 3 if weight is None else weight
                    same_value_and_grad(
                        lambda x, a=alpha, pw=pos_weight, wt=weight: get_loss(
                            "focal", mode="multilabel", alpha=a, pos_weight=pw, weight=wt
                        )(x, t),
                        lambda x, a=alpha, b=b, w=w: _sigmoid_focal_formula(x, t, a, 2.0, b, w),
                        z,
                    )
    failures.check()


def test_focal_channel_weight_matches_monai():
    monai = import_monai_losses()
    z, t, _ = make_case("multilabel", seed=16)
    weight = [0.5, 1.0, 2.0]
    same_value_and_grad(
        lambda x: get_loss("focal", mode="multilabel", alpha=None, weight=weight)(x, t),
        lambda x: monai.FocalLoss(gamma=2.0, weight=weight)(x, t),
        z,
        rtol=1e-6,
        atol=1e-8,  # MONAI's modulating factor goes through exp(gamma * logsigmoid): rounding differs
    )


# ----------------------------------------------------------------------------- Dice family vs MONAI


def test_dice_weight_smoothing_and_soft_label_match_monai():
    monai = import_monai_losses()
    failures = Failures()
    z, t, _ = make_case("multilabel", seed=17)
    soft = torch.rand(t.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    cases = [
        ({"weight": [0.2, 1.0, 3.0]}, {"weight": [0.2, 1.0, 3.0]}, t),
        ({"smooth_nr": 0.0, "smooth_dr": 1e-3}, {"smooth_nr": 0.0, "smooth_dr": 1e-3}, t),
        ({"smooth_nr": 2.0, "smooth_dr": 0.5}, {"smooth_nr": 2.0, "smooth_dr": 0.5}, t),
        ({"soft_label": True}, {"soft_label": True}, soft),
        ({"soft_label": True, "squared": True}, {"soft_label": True, "squared_pred": True}, soft),
        ({"aggregation": "batch", "weight": [1.0, 0.0, 2.0]}, {"batch": True, "weight": [1.0, 0.0, 2.0]}, t),
    ]
    for ours, theirs, target in cases:
        with failures.case(str(ours)):
            same_value_and_grad(
                lambda x, o=ours, tg=target: get_loss("dice", mode="multilabel", **o)(x, tg),
                lambda x, th=theirs, tg=target: monai.DiceLoss(sigmoid=True, **th)(x, tg),
                z,
            )
    failures.check()


def test_dice_soft_label_is_zero_at_a_soft_target_and_equal_for_hard_targets():
    g = torch.tensor([[[0.3, 0.8, 0.5, 0.0]]], dtype=torch.float64)
    assert get_loss("dice", from_logits=False, soft_label=True, smooth=0)(g, g).item() == pytest.approx(0, abs=1e-15)
    assert get_loss("dice", from_logits=False, smooth=0)(g, g).item() > 0.1  # the product form is not 0 there
    z, t, _ = make_case("binary", seed=18)
    for name in ("dice", "iou", "tversky", "focal_tversky", "log_cosh_dice", "focal_dice", "generalized_dice"):
        mode = {"mode": "binary"}
        close(get_loss(name, soft_label=True, **mode)(z, t), get_loss(name, **mode)(z, t), rtol=1e-12, atol=1e-14)


def test_generalized_dice_weight_types_match_monai():
    monai = import_monai_losses()
    z, t, _ = make_case("multiclass", seed=19, spatial=(4, 6))
    t = t.clone()
    t[1][t[1] == 2] = 1  # class 2 absent from image 1: the largest finite weight there
    failures = Failures()
    for w_type in ("square", "simple", "uniform"):
        with failures.case(w_type):
            same_value_and_grad(
                lambda x, w=w_type: get_loss("generalized_dice", w_type=w)(x, t),
                lambda x, w=w_type: monai.GeneralizedDiceLoss(softmax=True, to_onehot_y=True, w_type=w)(x, t[:, None]),
                z,
            )
    failures.check()


def test_soft_label_matches_smp_l1_intersection():
    """smp 0.6 always uses the L1 intersection: with smooth=0 and batch sums, segeval's soft_label=True."""
    smp = import_smp_losses()
    z, t, _ = make_case("binary", seed=28)
    soft = torch.rand(t.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    same_value_and_grad(
        lambda x: get_loss("dice", aggregation="batch", soft_label=True, smooth=0)(x, soft),
        lambda x: smp.DiceLoss(mode="binary")(x, soft),
        z,
    )
    same_value_and_grad(
        lambda x: get_loss("tversky", aggregation="batch", soft_label=True, smooth=0)(x, soft),
        lambda x: smp.TverskyLoss(mode="binary", alpha=0.3, beta=0.7)(x, soft),
        z,
    )


def test_uniform_generalized_dice_is_micro_dice():
    z, t, _ = make_case("multiclass", seed=20)
    for aggregation in ("image", "batch"):
        close(
            get_loss("generalized_dice", w_type="uniform", aggregation=aggregation, reduction="none")(z, t),
            get_loss("dice", mode="multiclass", average="micro", aggregation=aggregation, reduction="none")(z, t)[
                ..., 0
            ],
        )


# ----------------------------------------------------------------------------- transcriptions


def _micro_counts(z, g, k, batch, weight):
    """Float64 transcription: soft counts of the kept classes k, weighted, summed over classes."""
    p = torch.softmax(z, 1)[:, k]
    g = g[:, k]
    axes = (0, *range(2, p.ndim)) if batch else tuple(range(2, p.ndim))
    counts = [(p * g).sum(axes), (p * (1 - g)).sum(axes), ((1 - p) * g).sum(axes)]
    w = torch.ones(counts[0].shape[-1], dtype=torch.float64) if weight is None else torch.tensor(weight).double()
    return [(x * w).sum(-1, keepdim=True) for x in counts]


def test_micro_average_pools_the_counts_of_the_kept_classes():
    z, t, g = make_case("multiclass", seed=21)
    g = torch.from_numpy(g)
    failures = Failures()
    for include_background in (True, False):
        for batch in (False, True):
            for weight in (None, [2.0, 0.5] if not include_background else [1.0, 2.0, 0.5]):
                with failures.case(f"background={include_background} batch={batch} weight={weight}"):
                    k = slice(None) if include_background else slice(1, None)

                    def counts(x, k=k, batch=batch, weight=weight):
                        return _micro_counts(x, g, k, batch, weight)

                    options = {
                        "mode": "multiclass",
                        "average": "micro",
                        "include_background": include_background,
                        "aggregation": "batch" if batch else "image",
                        "weight": weight,
                        "reduction": "none",
                    }

                    def dice(x, counts=counts, s=1e-5):
                        tp, fp, fn = counts(x)
                        return 1 - (2 * tp + s) / (2 * tp + fp + fn + s)

                    def iou(x, counts=counts, s=1e-5):
                        tp, fp, fn = counts(x)
                        return 1 - (tp + s) / (tp + fp + fn + s)

                    def focal_tversky(x, counts=counts):
                        tp, fp, fn = counts(x)
                        return (1 - (tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1)) ** 0.75

                    for name, formula in (("dice", dice), ("iou", iou), ("focal_tversky", focal_tversky)):
                        same_value_and_grad(lambda x, n=name, o=options: get_loss(n, **o)(x, t), formula, z)
    failures.check()


def test_class_weights_multiply_each_class_loss():
    """Every loss with ``weight`` and per-class output: weight=w, reduction=none == w * unweighted (macro)."""
    z, t, _ = make_case("multilabel", seed=22)
    w = torch.tensor([0.5, 0.0, 3.0], dtype=torch.float64)
    failures = Failures()
    names = [
        n
        for n in list_losses("region")
        if "weight" in loss_spec(n).options() and "(B, K)" in loss_spec(n).unreduced and n != "generalized_dice"
    ]
    assert {"dice", "iou", "tversky", "focal_tversky", "mcc", "focal_dice", "log_cosh_dice"} <= set(names)
    for name in names:
        with failures.case(name):
            base = get_loss(name, mode="multilabel", reduction="none")(z, t)
            close(get_loss(name, mode="multilabel", weight=w.tolist(), reduction="none")(z, t), base * w)
            close(get_loss(name, mode="multilabel", weight=w.tolist())(z, t), (base * w).mean())
    failures.check()


def test_lovasz_weights_average_present_classes():
    z, t, _ = make_case("multiclass", seed=23)
    w = [0.5, 2.0, 1.0]
    per_class = torch.stack(
        [
            get_loss("lovasz", mode="multiclass", weight=[float(c == k) * 3 for c in range(3)], reduction="none")(z, t)
            for k in range(3)
        ],
        -1,
    )  # 3 * L_k / 3 = L_k (every class present in every image)
    expected = (per_class * torch.tensor(w, dtype=torch.float64)).mean(-1)
    close(get_loss("lovasz", mode="multiclass", weight=w, reduction="none")(z, t), expected)


def test_weight_length_is_checked():
    z, t, _ = make_case("multilabel", seed=24)
    for name in ("dice", "mcc", "lovasz", "generalized_dice", "focal"):
        with pytest.raises(UsageError, match=f"^{name}: expected `weight` to have"):
            get_loss(name, mode="multilabel", weight=[1.0, 2.0, 3.0, 4.0, 5.0])(z, t)


def test_smooth_with_smooth_nr_or_dr_is_a_usage_error():
    failures = Failures()
    for name in list_losses():
        if "smooth_nr" not in loss_spec(name).options():
            continue
        for extra in ({"smooth_nr": 1.0}, {"smooth_dr": 1.0}):
            with failures.case(f"{name} {extra}"):
                with pytest.raises(UsageError, match=f"^{name}: give either `smooth`"):
                    get_loss(name, smooth=1.0, **extra)
                z, t, _ = make_case(loss_spec(name).default_mode.value, seed=25)
                with pytest.raises(UsageError, match=f"^{name}: give either `smooth`"):
                    loss_spec(name).function(z, t, smooth=1.0, **extra)
    failures.check()


def test_smooth_sets_both_numerator_and_denominator():
    z, t, _ = make_case("binary", seed=26)
    close(get_loss("dice", smooth=0.7)(z, t), get_loss("dice", smooth_nr=0.7, smooth_dr=0.7)(z, t))
    assert not torch.equal(get_loss("dice", smooth_nr=0.7)(z, t), get_loss("dice", smooth=0.7)(z, t))


# ----------------------------------------------------------------------------- MCC limits


def _mcc(p, g, **options):
    return get_loss("mcc", from_logits=False, **options)(p, g).item()


def test_mcc_limits():
    g = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    g[..., 1:4, 2:5] = 1
    empty = torch.zeros_like(g)
    full = torch.ones_like(g)
    assert _mcc(g, g) == 0.0  # perfect, non-empty
    assert _mcc(empty, g) == 1.0  # empty prediction, non-empty target
    assert _mcc(empty, empty) == 0.0  # both empty
    assert _mcc(full, full) == 0.0  # both full
    assert _mcc(1 - g, g) == pytest.approx(2.0)  # inverted
    # near the limits the value is continuous: a faint prediction on an empty target ~0, faint on a non-empty one ~1
    assert _mcc(torch.full_like(g, 1e-6), g) == pytest.approx(1.0, abs=1e-9)


def test_mcc_matches_monai_and_empty_prediction_gradient_is_finite():
    monai = import_monai_losses()
    z, t, _ = make_case("multilabel", seed=27)
    for batch in (False, True):
        same_value_and_grad(
            lambda x, b=batch: get_loss("mcc", mode="multilabel", aggregation="batch" if b else "image")(x, t),
            lambda x, b=batch: monai.MCCLoss(sigmoid=True, batch=b, smooth_nr=0.0, smooth_dr=1e-5)(x, t),
            z,
        )
    _, grad = value_and_grad(lambda x: get_loss("mcc", mode="multilabel")(x, t), torch.full_like(z, -30.0))
    assert torch.isfinite(grad).all()


def test_every_class_weight_is_a_registered_buffer_that_the_loss_reads():
    """Every loss with ``weight`` (or a tensor ``pos_weight``) keeps it as a buffer: in the state_dict, and
    editing the buffer changes the value."""
    z, t, _ = make_case("multilabel", seed=29)
    failures = Failures()
    for name in list_losses():
        options = loss_spec(name).options()
        for option in ("weight", "pos_weight"):
            if option not in options or (name == "wce" and option == "weight"):
                continue
            with failures.case(f"{name} {option}"):
                two_class = option == "weight" and name in {"ce", "nll", "generalized_dice"}
                entries = [0.5, 2.0] if two_class else [0.5, 1.0, 2.0]  # (negative, positive) or per channel
                loss = get_loss(name, mode="multilabel", from_logits=True, **{option: entries})
                assert option in loss.state_dict()
                before = loss(z, t)
                getattr(loss, option).mul_(3.0).add_(0.5)
                assert not torch.equal(loss(z, t), before)
    failures.check()
