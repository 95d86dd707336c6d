"""Every loss against a float64 NumPy transcription of its paper formula (loss_np_reference.py).

float64 inputs are computed in float64 by segeval, so agreement is to ~1e-10; a float32 pass checks
that float32 stays within rtol 1e-4, atol 1e-6 of float64. Option grids (modes, aggregations, weights)
are looped inside each test, which names every combination that fails.
"""

from __future__ import annotations

import math

import loss_np_reference as ref
import numpy as np
import pytest
import torch
from loss_cases import Failures, make_case

from segeval.losses import get_loss

TIGHT = {"rel": 1e-9, "abs": 1e-12}


def probs(logits: torch.Tensor, mode: str) -> np.ndarray:
    z = logits.detach().double().numpy()
    return ref.softmax(z) if mode == "multiclass" else ref.sigmoid(z)


def value(name, logits, target, **options):
    return get_loss(name, **options)(logits, target).item()


# ----------------------------------------------------------------------------- distribution


def test_bce():
    failures = Failures()
    for mode in ("binary", "multiclass", "multilabel"):
        with failures.case(mode):
            z, t, g = make_case(mode)
            p = probs(z, mode)
            assert value("bce", z, t, mode=mode) == pytest.approx(ref.bce(p, g).mean(), **TIGHT)
    failures.check()


def test_ce_multiclass():
    failures = Failures()
    for weight in (None, [0.2, 1.0, 3.0]):
        for ignore in (False, True):
            with failures.case(f"weight={weight} ignore={ignore}"):
                z, t, g = make_case("multiclass", seed=3)
                if ignore:
                    t = t.clone()
                    t[0, 0, :3] = 255
                p = probs(z, "multiclass")
                expected = ref.ce_weighted_mean(p, t.numpy(), weight, 255 if ignore else None)
                got = value("ce", z, t, weight=weight, ignore_index=255 if ignore else -100)
                assert got == pytest.approx(expected, **TIGHT)
    failures.check()


def test_ce_sigmoid_modes_are_weighted_bce():
    failures = Failures()
    for mode in ("binary", "multilabel"):
        with failures.case(mode):
            z, t, g = make_case(mode, seed=4)
            p = probs(z, mode)
            w = np.where(g == 1, 2.5, 0.5)
            expected = (w * ref.bce(p, g)).sum() / w.sum()
            assert value("ce", z, t, mode=mode, weight=[0.5, 2.5]) == pytest.approx(expected, **TIGHT)
    failures.check()


def test_ce_one_hot_target_equals_index_target():
    z, t, g = make_case("multiclass", seed=5)
    weight = [1.0, 2.0, 0.5]
    a = value("ce", z, t, weight=weight)
    b = value("ce", z, torch.from_numpy(g), weight=weight)
    assert a == pytest.approx(b, **TIGHT)


def test_nll_takes_log_probabilities():
    z, t, g = make_case("multiclass", seed=6)
    logp = torch.log_softmax(z, dim=1)
    expected = ref.ce_weighted_mean(probs(z, "multiclass"), t.numpy(), [1.0, 0.3, 2.0])
    assert value("nll", logp, t, weight=[1.0, 0.3, 2.0]) == pytest.approx(expected, **TIGHT)
    assert value("nll", z, t, from_logits=True) == pytest.approx(value("ce", z, t), **TIGHT)


def test_wce_multiclass_inverse_frequency():
    z, t, g = make_case("multiclass", seed=7, spatial=(6, 7))
    y = t.numpy()
    counts = np.array([(y == c).sum() for c in range(3)], dtype=np.float64)
    w = y.size / (3 * counts)
    expected = ref.ce_weighted_mean(probs(z, "multiclass"), y, w)
    assert value("wce", z, t) == pytest.approx(expected, **TIGHT)


def test_wce_absent_class_is_finite_and_ignores_it():
    z, _, _ = make_case("multiclass", seed=8)
    t = torch.randint(0, 2, (2, 5, 6), generator=torch.Generator().manual_seed(0))  # class 2 absent
    y = t.numpy()
    counts = np.array([(y == c).sum() for c in range(2)], dtype=np.float64)
    w = list(y.size / (3 * counts)) + [123.0]  # any weight for the absent class: never used
    expected = ref.ce_weighted_mean(probs(z, "multiclass"), y, w)
    assert value("wce", z, t) == pytest.approx(expected, **TIGHT)


def test_wce_binary_pos_weight_from_batch():
    failures = Failures()
    for mode in ("binary", "multilabel"):
        with failures.case(mode):
            z, t, g = make_case(mode, seed=9)
            p = probs(z, mode)
            axes = (0, *range(2, g.ndim))
            beta = ((1 - g).sum(axis=axes) / g.sum(axis=axes)).reshape(1, -1, *([1] * (g.ndim - 2)))
            expected = np.mean(-(beta * g * np.log(p) + (1 - g) * np.log(1 - p)))
            assert value("wce", z, t, mode=mode) == pytest.approx(expected, **TIGHT)
            given = np.mean(-(3.0 * g * np.log(p) + (1 - g) * np.log(1 - p)))
            assert value("wce", z, t, mode=mode, pos_weight=3.0) == pytest.approx(given, **TIGHT)
    failures.check()


def test_balanced_ce_binary_batch_and_image():
    z, t, g = make_case("binary", seed=10)
    p = probs(z, "binary")
    assert value("balanced_ce", z, t) == pytest.approx(ref.balanced_bce(p, g), **TIGHT)
    per_image = np.mean([ref.balanced_bce(p[b : b + 1], g[b : b + 1]) for b in range(2)])
    assert value("balanced_ce", z, t, aggregation="image") == pytest.approx(per_image, **TIGHT)


def test_balanced_ce_multiclass_generalisation():
    z, t, g = make_case("multiclass", seed=11)
    p = probs(z, "multiclass")
    y = t.numpy()
    w = np.array([1 - (y == c).mean() for c in range(3)])
    loss = np.zeros(y.shape)
    for c in range(3):
        loss += -w[c] * g[:, c] * np.log(p[:, c])
    assert value("balanced_ce", z, t, mode="multiclass") == pytest.approx(loss.mean(), **TIGHT)


def test_topk_batch_pool():
    z, t, g = make_case("multiclass", seed=12, spatial=(6, 7))
    p = probs(z, "multiclass")
    pixel_ce = -(g * np.log(p)).sum(axis=1)
    failures = Failures()
    for k in (10.0, 33.3, 100.0):
        with failures.case(f"k={k}"):
            assert value("topk", z, t, k=k) == pytest.approx(ref.topk_mean(pixel_ce, k), **TIGHT)
    failures.check()


def test_topk_per_image_and_binary():
    z, t, g = make_case("multiclass", seed=13, spatial=(6, 7))
    pixel_ce = -(g * np.log(probs(z, "multiclass"))).sum(axis=1)
    expected = np.mean([ref.topk_mean(pixel_ce[b], 20) for b in range(2)])
    assert value("topk", z, t, k=20, aggregation="image") == pytest.approx(expected, **TIGHT)
    zb, tb, gb = make_case("binary", seed=14)
    expected = ref.topk_mean(ref.bce(probs(zb, "binary"), gb), 25)
    assert value("topk", zb, tb, mode="binary", k=25) == pytest.approx(expected, **TIGHT)


def test_focal_sigmoid():
    failures = Failures()
    for mode in ("binary", "multilabel"):
        z, t, g = make_case(mode, seed=15)
        for alpha, gamma in [(0.25, 2.0), (None, 2.0), (0.7, 0.0), (0.5, 1.5)]:
            with failures.case(f"{mode} alpha={alpha} gamma={gamma}"):
                expected = ref.focal_sigmoid(probs(z, mode), g, alpha, gamma).mean()
                assert value("focal", z, t, mode=mode, alpha=alpha, gamma=gamma) == pytest.approx(expected, **TIGHT)
    failures.check()


def test_focal_softmax():
    z, t, g = make_case("multiclass", seed=16)
    failures = Failures()
    for alpha, vector in [(None, None), (0.25, [0.75, 0.25, 0.25]), ([0.2, 0.5, 0.3], [0.2, 0.5, 0.3])]:
        with failures.case(f"alpha={alpha}"):
            expected = ref.focal_softmax(probs(z, "multiclass"), t.numpy(), vector, 2.0).mean()
            assert value("focal", z, t, mode="multiclass", alpha=alpha) == pytest.approx(expected, **TIGHT)
    failures.check()


def test_focal_gamma_zero_alpha_none_is_bce_and_ce():
    zb, tb, _ = make_case("binary", seed=17)
    assert value("focal", zb, tb, alpha=None, gamma=0.0) == pytest.approx(value("bce", zb, tb), **TIGHT)
    zm, tm, _ = make_case("multiclass", seed=17)
    assert value("focal", zm, tm, mode="multiclass", alpha=None, gamma=0.0) == pytest.approx(
        value("ce", zm, tm), **TIGHT
    )


def _dpce_phi_binary(g, spacing=None):
    phi = np.zeros(g.shape)
    for b in range(g.shape[0]):
        for c in range(g.shape[1]):
            mask = g[b, c] > 0.5
            phi[b, c] = ref.caliva_phi_region(mask, spacing) + ref.caliva_phi_region(~mask, spacing)
    return phi


def test_dpce_binary():
    z, t, g = make_case("binary", seed=18, spatial=(6, 7))
    failures = Failures()
    for spacing in (None, (2.0, 0.5)):
        with failures.case(f"spacing={spacing}"):
            phi = _dpce_phi_binary(g, spacing)
            expected = np.mean((1 + phi) * ref.bce(probs(z, "binary"), g))
            assert value("dpce", z, t, spacing=spacing) == pytest.approx(expected, **TIGHT)
    failures.check()


def test_dpce_multiclass():
    z, t, g = make_case("multiclass", seed=19, spatial=(6, 7))
    phi = np.zeros(t.shape)
    for b in range(2):
        for c in range(3):
            phi[b] += ref.caliva_phi_region(g[b, c] > 0.5)
    pixel_ce = -(g * np.log(probs(z, "multiclass"))).sum(axis=1)
    assert value("dpce", z, t, mode="multiclass") == pytest.approx(np.mean((1 + phi) * pixel_ce), **TIGHT)


# ----------------------------------------------------------------------------- region


def _channels(p, g, mode, include_background):
    if mode == "multiclass" and not include_background:
        return p[:, 1:], g[:, 1:]
    return p, g


def test_dice():
    failures = Failures()
    for mode in ("binary", "multiclass", "multilabel"):
        z, t, g = make_case(mode, seed=20)
        for aggregation in ("image", "batch"):
            for include_background in (True, False):
                for squared in (False, True):
                    with failures.case(f"{mode} {aggregation} background={include_background} squared={squared}"):
                        p, gg = _channels(probs(z, mode), g, mode, include_background)
                        expected = 1 - ref.dice(p, gg, 1e-5, aggregation == "batch", squared)
                        got = get_loss(
                            "dice",
                            mode=mode,
                            aggregation=aggregation,
                            include_background=include_background,
                            squared=squared,
                            reduction="none",
                        )(z, t)
                        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-12)
    failures.check()


def test_iou_tversky_focal_tversky():
    failures = Failures()
    for mode in ("binary", "multiclass"):
        z, t, g = make_case(mode, seed=21)
        p = probs(z, mode)
        for aggregation in ("image", "batch"):
            batch = aggregation == "batch"
            options = {"mode": mode, "aggregation": aggregation}
            with failures.case(f"iou {mode} {aggregation}"):
                assert value("iou", z, t, **options) == pytest.approx(np.mean(1 - ref.iou(p, g, 1e-5, batch)), **TIGHT)
            with failures.case(f"tversky {mode} {aggregation}"):
                assert value("tversky", z, t, **options) == pytest.approx(
                    np.mean(1 - ref.tversky(p, g, 0.3, 0.7, 1e-5, batch)), **TIGHT
                )
            with failures.case(f"focal_tversky {mode} {aggregation}"):
                ti = ref.tversky(p, g, 0.3, 0.7, 1.0, batch)
                assert value("focal_tversky", z, t, **options) == pytest.approx(np.mean((1 - ti) ** 0.75), **TIGHT)
                # the paper's sum over classes
                assert value("focal_tversky", z, t, **options, reduction="sum") == pytest.approx(
                    np.sum((1 - ti) ** 0.75), **TIGHT
                )
    failures.check()


def test_tversky_letters_alpha_is_false_positives():
    """Predicting everything positive only creates FP: alpha (not beta) must change the value."""
    g = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]], dtype=torch.float64)
    p = torch.ones_like(g)
    fp_heavy = value("tversky", p, g, from_logits=False, alpha=0.9, beta=0.1, smooth=0.0)
    fn_heavy = value("tversky", p, g, from_logits=False, alpha=0.1, beta=0.9, smooth=0.0)
    assert fp_heavy == pytest.approx(1 - 1 / (1 + 0.9 * 3), **TIGHT)
    assert fn_heavy == pytest.approx(1 - 1 / (1 + 0.1 * 3), **TIGHT)


def test_sens_spec():
    failures = Failures()
    for mode in ("binary", "multiclass"):
        z, t, g = make_case(mode, seed=22)
        for aggregation in ("batch", "image"):
            with failures.case(f"{mode} {aggregation}"):
                expected = ref.sens_spec(probs(z, mode), g, 0.05, 1e-5, aggregation == "batch")
                got = get_loss("sens_spec", mode=mode, aggregation=aggregation, reduction="none")(z, t)
                np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-12)
    failures.check()


def test_generalized_dice_multiclass():
    failures = Failures()
    for absent in (False, True):
        with failures.case(f"absent={absent}"):
            z, t, g = make_case("multiclass", seed=23)
            if absent:  # class 2 absent from image 0
                t = t.clone()
                t[0][t[0] == 2] = 1
                g = np.stack([(t.numpy() == c) for c in range(3)], axis=1).astype(np.float64)
            p = probs(z, "multiclass")
            expected = [ref.generalized_dice(p[b], g[b], 1e-5) for b in range(2)]
            got = get_loss("generalized_dice", reduction="none")(z, t)
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)
    failures.check()


def test_generalized_dice_binary_uses_both_classes():
    z, t, g = make_case("binary", seed=24)
    p2, g2 = ref.two_class(probs(z, "binary")), ref.two_class(g)
    expected = np.mean([ref.generalized_dice(p2[b, :, 0], g2[b, :, 0], 1e-5) for b in range(2)])
    assert value("generalized_dice", z, t, mode="binary") == pytest.approx(expected, **TIGHT)


def test_generalized_dice_empty_target_penalises_false_positives():
    g = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    p = torch.zeros_like(g)
    p[..., 0, 0] = 1.0
    expected = ref.generalized_dice(ref.two_class(p.numpy())[0, :, 0], ref.two_class(g.numpy())[0, :, 0], 1e-5)
    got = value("generalized_dice", p, g, mode="binary", from_logits=False)
    assert got == pytest.approx(expected, **TIGHT)
    assert got > 0.01
    assert value("generalized_dice", torch.zeros_like(g), g, mode="binary", from_logits=False) == pytest.approx(
        0.0, abs=1e-12
    )


def test_log_cosh_dice_and_focal_dice():
    z, t, g = make_case("multiclass", seed=25)
    p = probs(z, "multiclass")
    assert value("log_cosh_dice", z, t, mode="multiclass") == pytest.approx(
        np.mean(np.log(np.cosh(1 - ref.dice(p, g, 1.0, batch=True)))), **TIGHT
    )
    assert value("focal_dice", z, t) == pytest.approx(np.mean(1 - ref.dice(p, g, 1e-5) ** 0.5), **TIGHT)
    assert value("focal_dice", z, t, beta=3.0, include_background=False) == pytest.approx(
        np.mean(1 - ref.dice(p[:, 1:], g[:, 1:], 1e-5) ** (1 / 3)), **TIGHT
    )


def test_mcc():
    failures = Failures()
    for mode in ("binary", "multilabel"):
        z, t, g = make_case(mode, seed=26)
        for aggregation in ("image", "batch"):
            with failures.case(f"{mode} {aggregation}"):
                expected = 1 - ref.mcc(probs(z, mode), g, 1e-5, aggregation == "batch")
                got = get_loss("mcc", mode=mode, aggregation=aggregation, reduction="none")(z, t)
                np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)
    failures.check()


def test_mcc_equals_pearson_correlation_of_hard_masks():
    """With hard masks and no smoothing, MCC is the Pearson correlation of the two binary vectors."""
    rng = np.random.default_rng(0)
    a = (rng.random(40) > 0.5).astype(np.float64)
    b = (rng.random(40) > 0.3).astype(np.float64)
    r = np.corrcoef(a, b)[0, 1]
    got = value("mcc", torch.tensor(a)[None, None], torch.tensor(b)[None, None], from_logits=False, smooth=1e-12)
    assert got == pytest.approx(1 - r, abs=1e-9)


def test_lovasz_multiclass_per_image_present_classes():
    z, t, g = make_case("multiclass", seed=27, spatial=(4, 5))
    t = t.clone()
    t[1][t[1] == 2] = 0  # class 2 absent from image 1: skipped there
    g = np.stack([(t.numpy() == c) for c in range(3)], axis=1).astype(np.float64)
    p = probs(z, "multiclass")
    expected = []
    for b in range(2):
        per_class = [
            ref.lovasz_extension(np.abs(g[b, c] - p[b, c]).ravel(), g[b, c].ravel())
            for c in range(3)
            if g[b, c].sum() > 0
        ]
        expected.append(np.mean(per_class))
    got = get_loss("lovasz", mode="multiclass", reduction="none")(z, t)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


def test_lovasz_binary_hinge_and_probabilities():
    z, t, g = make_case("binary", seed=28, spatial=(4, 5))
    zz = z.numpy()
    signs = 2 * g - 1
    hinge = np.maximum(1 - zz * signs, 0)
    expected = np.mean([ref.lovasz_extension(hinge[b, 0].ravel(), g[b, 0].ravel()) for b in range(2)])
    assert value("lovasz", z, t) == pytest.approx(expected, **TIGHT)
    p = torch.sigmoid(z)
    errors = np.abs(g - p.numpy())
    expected = ref.lovasz_extension(errors.transpose(1, 0, 2, 3).ravel(), g.transpose(1, 0, 2, 3).ravel())
    assert value("lovasz", p, t, from_logits=False, aggregation="batch") == pytest.approx(expected, **TIGHT)


def test_cldice():
    failures = Failures()
    for spatial in ((7, 8), (4, 5, 6)):
        with failures.case(f"spatial={spatial}"):
            z, t, g = make_case("binary", seed=29, spatial=spatial)
            p = probs(z, "binary")
            sp, sg = ref.soft_skeleton(p, 3), ref.soft_skeleton(g, 3)
            s = 1.0
            tprec = ((sp * g).sum() + s) / (sp.sum() + s)
            tsens = ((sg * p).sum() + s) / (sg.sum() + s)
            cl = 2 * tprec * tsens / (tprec + tsens)
            dice = ref.dice(p, g, 1.0, batch=True)[0]
            expected = 0.5 * (1 - dice) + 0.5 * (1 - cl)
            assert value("cldice", z, t) == pytest.approx(expected, **TIGHT)
    failures.check()


# ----------------------------------------------------------------------------- boundary


def test_boundary():
    failures = Failures()
    for mode in ("binary", "multiclass"):
        z, t, g = make_case(mode, seed=30, spatial=(6, 7))
        p = probs(z, mode)
        for spacing in (None, (1.5, 0.5)):
            with failures.case(f"{mode} spacing={spacing}"):
                phi = np.zeros(g.shape)
                for b in range(g.shape[0]):
                    for c in range(g.shape[1]):
                        phi[b, c] = ref.kervadec_phi(g[b, c] > 0.5, spacing)
                got = value("boundary", z, t, mode=mode, spacing=spacing)
                assert got == pytest.approx(np.mean(phi * p), **TIGHT)
    failures.check()


def test_hausdorff_dt():
    failures = Failures()
    for mode in ("binary", "multiclass"):
        z, t, g = make_case(mode, seed=31, spatial=(6, 7))
        p = probs(z, mode)
        for spacing in (None, (1.5, 0.5)):
            with failures.case(f"{mode} spacing={spacing}"):
                total = np.zeros(g.shape)
                for b in range(g.shape[0]):
                    for c in range(g.shape[1]):
                        dg = ref.karimi_field(g[b, c] > 0.5, spacing)
                        dp = ref.karimi_field(p[b, c] > 0.5, spacing)
                        total[b, c] = (p[b, c] - g[b, c]) ** 2 * (dp**2 + dg**2)
                got = value("hausdorff_dt", z, t, mode=mode, spacing=spacing)
                assert got == pytest.approx(total.mean(), **TIGHT)
    failures.check()


def test_shape_aware_binary():
    z, t, g = make_case("binary", seed=32, spatial=(6, 7))
    p = probs(z, "binary")
    failures = Failures()
    for spacing in (None, (1.5, 0.5)):
        with failures.case(f"spacing={spacing}"):
            e = np.zeros(g.shape)
            for b in range(g.shape[0]):
                gt_contour = ref.inner_contour(g[b, 0] > 0.5)
                pred_contour = ref.inner_contour(p[b, 0] > 0.5)
                d = ref.distance_to_set(gt_contour, spacing) if gt_contour.any() else np.zeros(gt_contour.shape)
                e[b, 0] = np.where(pred_contour, d, 0.0)
            expected = np.mean((1 + e) * ref.bce(p, g))
            assert value("shape_aware", z, t, spacing=spacing) == pytest.approx(expected, **TIGHT)
    failures.check()


def test_shape_aware_multiclass():
    z, t, g = make_case("multiclass", seed=33, spatial=(6, 7))
    p = probs(z, "multiclass")
    predicted = p.argmax(axis=1)
    e = np.zeros(t.shape)
    for b in range(2):
        for c in range(3):
            gt_contour = ref.inner_contour(g[b, c] > 0.5)
            pred_contour = ref.inner_contour(predicted[b] == c)
            d = ref.distance_to_set(gt_contour) if gt_contour.any() else np.zeros(gt_contour.shape)
            e[b] += np.where(pred_contour, d, 0.0)
    pixel_ce = -(g * np.log(p)).sum(axis=1)
    assert value("shape_aware", z, t, mode="multiclass") == pytest.approx(np.mean((1 + e) * pixel_ce), **TIGHT)


# ----------------------------------------------------------------------------- compound


def test_bce_dice_and_ce_dice_per_image():
    z, t, g = make_case("binary", seed=34)
    p = probs(z, "binary")
    per_image = ref.bce(p, g).reshape(2, -1).mean(axis=1) + (1 - ref.dice(p, g, 1e-5)).mean(axis=1)
    got = get_loss("bce_dice", reduction="none")(z, t)
    np.testing.assert_allclose(got.numpy(), per_image, rtol=1e-9)
    zm, tm, gm = make_case("multiclass", seed=35)
    pm = probs(zm, "multiclass")
    ce = -(gm * np.log(pm)).sum(axis=1).reshape(2, -1).mean(axis=1)
    dice = (1 - ref.dice(pm, gm, 1e-5)).mean(axis=1)
    got = get_loss("ce_dice", lambda_ce=0.3, lambda_dice=2.0, reduction="none")(zm, tm)
    np.testing.assert_allclose(got.numpy(), 0.3 * ce + 2.0 * dice, rtol=1e-9)


def test_combo_paper_formula():
    z, t, g = make_case("binary", seed=36)
    p = probs(z, "binary")
    failures = Failures()
    for alpha, beta in [(0.5, 0.5), (0.3, 0.8)]:
        with failures.case(f"alpha={alpha} beta={beta}"):
            ce = -np.mean(beta * g * np.log(p) + (1 - beta) * (1 - g) * np.log(1 - p))
            dice = (2 * (p * g).sum() + 1) / (p.sum() + g.sum() + 1)
            expected = alpha * ce - (1 - alpha) * dice
            assert value("combo", z, t, alpha=alpha, beta=beta) == pytest.approx(expected, **TIGHT)
    failures.check()


def test_combo_is_not_the_nested_beta_code():
    """The released code weights negatives by beta(1 - beta); with beta != 0.5 it is another number."""
    z, t, g = make_case("binary", seed=37)
    p = probs(z, "binary")
    beta = 0.7
    nested = -np.mean(beta * (g * np.log(p) + (1 - beta) * (1 - g) * np.log(1 - p)))
    dice = (2 * (p * g).sum() + 1) / (p.sum() + g.sum() + 1)
    code_value = 0.5 * nested - 0.5 * dice
    assert abs(value("combo", z, t, beta=beta) - code_value) > 1e-3


def test_exp_log_multiclass():
    z, t, g = make_case("multiclass", seed=38)
    p = probs(z, "multiclass")
    dice = ref.dice(p, g, 1.0, batch=True)
    dice_term = np.mean((-np.log(dice)) ** 0.3)
    y = t.numpy()
    freq = np.array([(y == c).sum() for c in range(3)], dtype=np.float64)
    w = (freq.sum() / freq) ** 0.5
    cross = np.zeros(y.shape)
    for c in range(3):
        cross += g[:, c] * w[c] * (-np.log(p[:, c])) ** 0.3
    expected = 0.8 * dice_term + 0.2 * cross.mean()
    assert value("exp_log", z, t) == pytest.approx(expected, **TIGHT)


def test_unified_focal_binary():
    z, t, g = make_case("binary", seed=39)
    p1 = probs(z, "binary")
    delta, gamma, lam, s = 0.6, 0.5, 0.5, 1e-6
    p = ref.two_class(p1)[:, :, 0]  # (B, 2, *S): background, foreground
    y = ref.two_class(g)[:, :, 0]
    failures = Failures()
    for variant in ("asymmetric", "symmetric"):
        with failures.case(variant):
            back = -(1 - delta) * (1 - p[:, 0]) ** gamma * y[:, 0] * np.log(p[:, 0])
            fore_mod = 1.0 if variant == "asymmetric" else (1 - p[:, 1]) ** gamma
            fore = -delta * fore_mod * y[:, 1] * np.log(p[:, 1])
            focal = (back + fore).reshape(2, -1).mean(axis=1)
            ti = ref.tversky(p, y, 1 - delta, delta, s)  # (B, 2): alpha on FP = 1 - delta, FN = delta
            if variant == "asymmetric":
                ftl = ((1 - ti[:, 0]) + (1 - ti[:, 1]) ** (1 - gamma)) / 2
            else:
                ftl = ((1 - ti) ** (1 - gamma)).mean(axis=1)
            expected = lam * focal + (1 - lam) * ftl
            got = get_loss("unified_focal", variant=variant, reduction="none")(z, t)
            np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)
    failures.check()


# ----------------------------------------------------------------------------- float32 tolerance


def test_float32_matches_float64_transcription():
    failures = Failures()
    for name, mode in [
        ("bce", "binary"),
        ("ce", "multiclass"),
        ("focal", "binary"),
        ("dice", "multiclass"),
        ("generalized_dice", "multiclass"),
        ("boundary", "binary"),
        ("combo", "binary"),
        ("exp_log", "multiclass"),
    ]:
        with failures.case(f"{name}/{mode}"):
            z, t, _ = make_case(mode, seed=40, dtype=torch.float32)
            got32 = value(name, z, t, mode=mode)
            got64 = value(name, z.double(), t, mode=mode)
            assert got32 == pytest.approx(got64, rel=1e-4, abs=1e-6)
            assert isinstance(got32, float) and math.isfinite(got32)
    failures.check()
