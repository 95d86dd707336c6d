"""Conformance harness: every loss of ``list_losses()`` against the same properties.

One wiring test per loss (catalog entry, function == module, forward + backward), then one test per
rule, each looping over every loss (and mode) and naming every loss that breaks it: gradcheck in
float64; perfect prediction is the minimum; better predictions give lower losses, all along a path
from the inverted to the perfect prediction; swapping prediction and target changes the value of
the asymmetric losses; logits of +-50 and empty targets stay finite with finite gradients; 2-D and
3-D; float16/bfloat16 input; reduction shapes; target forms; probabilities == logits; CUDA.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch
from loss_cases import MODES, Failures, empty_target, good_logits, make_case, perfect_logits

from segeval.errors import UsageError
from segeval.losses import Family, get_loss, list_losses, loss_spec

NAMES = list_losses()

# What ``reduction="none"`` returns, as documented per loss (segeval/losses/*.py and docs/losses.md).
PIXEL = {"ce", "nll", "wce", "balanced_ce", "topk", "focal", "dpce", "shape_aware"}
ELEMENT = {"bce"}
KEPT_CHANNEL_MAP = {"boundary", "hausdorff_dt", "erosion_hausdorff"}
PER_CLASS = {"dice", "iou", "sens_spec", "tversky", "focal_tversky", "log_cosh_dice", "mcc", "focal_dice", "cldice"}
PER_CLASS |= {"log_hausdorff_dt"}
PER_IMAGE = {"generalized_dice", "lovasz", "bce_dice", "ce_dice", "combo", "exp_log", "unified_focal"}
PER_IMAGE |= {"generalized_wasserstein_dice", "blob", "skeleton_recall", "dice_focal", "generalized_dice_focal"}
# Losses whose minimum is not 0: boundary (negative inside the object), combo (-(1 - alpha)).
NONZERO_MINIMUM = {"boundary", "combo"}
# Losses whose formula is symmetric in (p, g) (binary mode, target thresholded where a map is built):
# Dice and its transforms (2 sum pg / (sum p + sum g)), IoU and MCC (swapping exchanges FP and FN, which
# the formula weighs alike), clDice (swapping exchanges Tprec and Tsens), hausdorff_dt ((p - g)^2 times
# d_p^2 + d_g^2). Every other loss must change value when the two are swapped.
SYMMETRIC = {"dice", "iou", "log_cosh_dice", "mcc", "focal_dice", "cldice", "hausdorff_dt"}
SYMMETRIC |= {"log_hausdorff_dt", "erosion_hausdorff"}  # functions of (p - g)^2 and both distance maps
# erosion_hausdorff soft-thresholds neighbourhood means of (p - g)^2 at 0.5 and rescales every erosion (Karimi &
# Salcudean; kornia): 0 with zero gradient while no mean exceeds 0.5, flat where the errors erode alike; its 3-D
# cross has 7 voxels, so a one-slice volume is not the 2-D image.
SOFT_THRESHOLD = {"erosion_hausdorff"}


def test_every_loss_has_a_documented_unreduced_shape():
    assert set(NAMES) == PIXEL | ELEMENT | KEPT_CHANNEL_MAP | PER_CLASS | PER_IMAGE


def build(name, mode, **options):
    """The loss with logits as input (NLL too: with from_logits=True it takes logits)."""
    return get_loss(name, mode=mode, from_logits=True, **options)


def with_grad(x):
    return x.clone().requires_grad_(True)


def value_and_grad(loss, x, t):
    x = with_grad(x)
    v = loss(x, t)
    v.backward()
    return v.detach(), x.grad


def assert_finite(v, grad):
    assert torch.isfinite(v).all(), v
    assert grad is not None and torch.isfinite(grad).all()


# ----------------------------------------------------------------------------- wiring, one test per loss

_ASSIGNMENT = re.compile(r"\b([a-z_]+)=([^;,\s)]+)")


def _check_spec(name):
    spec = loss_spec(name)
    assert spec.name == name
    assert isinstance(spec.family, Family)
    assert spec.summary and "\n" not in spec.summary
    assert spec.defaults and spec.reference and spec.unreduced
    assert spec.module.function is spec.function
    assert set(spec.modes) == {"binary", "multiclass", "multilabel"}
    for alias in spec.aliases:
        assert loss_spec(alias) is spec
    assert loss_spec(name.upper().replace("_", "-")) is spec
    doc = inspect.getdoc(spec.function)
    for section in ("Parameters", "Returns", "References", "Examples"):
        assert section in doc, section
    assert ".. math::" in doc or ":math:" in doc


def _check_options_and_defaults(name):
    """Module and function share options and defaults; every ``option=value`` of LossSpec.defaults is the real one."""
    spec = loss_spec(name)
    fn_params = {
        p.name: p.default
        for p in inspect.signature(spec.function).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert spec.options() == fn_params
    assert {"mode", "from_logits", "reduction"} <= set(fn_params)
    options = spec.options()
    checked = 0
    for key, text in _ASSIGNMENT.findall(spec.defaults):
        if key not in options:
            continue
        default = options[key]
        if key == "smooth" and default is None:  # smooth=None: the loss's own default; check it by its effect
            z, t, _ = make_case(spec.default_mode.value, seed=4)
            given = get_loss(name, smooth=float(eval(text, {}, {})))(z, t)
            other = get_loss(name, smooth=float(eval(text, {}, {})) * 10 + 1)(z, t)
            torch.testing.assert_close(get_loss(name)(z, t), given, rtol=0, atol=0)
            assert not torch.equal(given, other)
        elif isinstance(default, bool) or default is None or isinstance(default, str):
            assert str(default) == text, (key, default, text)
        else:
            assert float(default) == pytest.approx(eval(text, {}, {})), (key, default, text)  # "4/3"
        checked += 1
    assert checked >= 1 or name in {"lovasz", "dpce", "boundary", "hausdorff_dt", "shape_aware", "wce"}


@pytest.mark.parametrize("name", NAMES)
def test_wiring(name):
    """Catalog entry, options, function == module, the CLI's constructor contract, forward + backward."""
    _check_spec(name)
    _check_options_and_defaults(name)
    spec = loss_spec(name)
    for mode in MODES:  # function and module give the same value
        z, t, _ = make_case(mode, seed=1)
        module_value = build(name, mode)(z, t)
        function_value = spec.function(z, t, mode=mode, from_logits=True)
        torch.testing.assert_close(module_value, function_value, rtol=0, atol=0, msg=mode)
    for mode in ("binary", "multiclass"):  # the CLI's contract: get_loss(name, mode=..., from_logits=...) only
        for from_logits in (True, False):
            loss = get_loss(name, mode=mode, from_logits=from_logits)
            assert isinstance(loss, torch.nn.Module)
            z, t, _ = make_case(mode, seed=3, dtype=torch.float32)
            if not from_logits:
                z = torch.softmax(z, 1) if mode == "multiclass" else torch.sigmoid(z)
                if spec.input_kind == "log-probabilities":
                    z = torch.log(z)
            assert torch.isfinite(loss(z, t)), (mode, from_logits)
    z, t, g = make_case(spec.default_mode.value, seed=2)
    if name in SOFT_THRESHOLD:
        z = -good_logits(g)  # large errors: the loss is active
    value, grad = value_and_grad(get_loss(name, from_logits=True), z, t)  # forward + backward
    assert value.ndim == 0
    assert_finite(value, grad)
    assert grad.abs().sum() > 0


# ----------------------------------------------------------------------------- gradients


def _gradcheck_modes(name):
    default = loss_spec(name).default_mode.value
    return [default] + [m for m in ("multiclass", "binary") if m != default][:1]


def test_gradcheck_float64():
    failures = Failures()
    for name in NAMES:
        for mode in _gradcheck_modes(name):
            with failures.case(f"{name}/{mode}"):
                z, t, _ = make_case(mode, seed=2, spatial=(3, 4), scale=1.0)
                loss = build(name, mode)
                assert torch.autograd.gradcheck(
                    lambda x, loss=loss, t=t: loss(x, t), (with_grad(z),), eps=1e-6, atol=1e-6, rtol=1e-4
                )
    failures.check()


# ----------------------------------------------------------------------------- minimum and ordering


def test_perfect_prediction_is_the_minimum():
    failures = Failures()
    for name in NAMES:
        for mode in MODES:
            with failures.case(f"{name}/{mode}"):
                z, t, g = make_case(mode, seed=3, spatial=(6, 7))
                loss = build(name, mode)
                best = loss(perfect_logits(g), t).item()
                others = {
                    "random": z,
                    "good": good_logits(g),
                    "bad": -good_logits(g),
                    "inverted": perfect_logits(1 - g),
                    "zero": 0.0 * z,
                }
                for label, other in others.items():
                    assert best <= loss(other, t).item() + 1e-6, label
                if name not in NONZERO_MINIMUM:
                    assert best == pytest.approx(0.0, abs=1e-5)
    failures.check()


def test_nonzero_minima_are_the_documented_values():
    z, t, g = make_case("binary", seed=3, spatial=(6, 7))
    assert build("combo", "binary")(perfect_logits(g), t).item() == pytest.approx(-0.5, abs=1e-9)
    assert build("boundary", "binary")(perfect_logits(g), t).item() < 0


def test_better_prediction_gives_lower_loss():
    failures = Failures()
    for name in NAMES:
        for mode in MODES:
            with failures.case(f"{name}/{mode}"):
                z, t, g = make_case(mode, seed=4, spatial=(6, 7))
                loss = build(name, mode)
                good = loss(good_logits(g), t).item()
                bad = loss(-good_logits(g), t).item()
                rand = loss(z, t).item()
                assert good < rand, (good, rand)
                assert good < bad, (good, bad)
    failures.check()


def test_loss_decreases_along_a_path_from_inverted_to_perfect():
    """Logits s(2g - 1), s from -6 to 6: the loss never rises and falls until it reaches its minimum.

    Catches a constant, a flipped sign or a term that rewards errors, which a single pair of
    predictions may miss. (The Lovász hinge is 0 once every margin is >= 1: flat from there.)
    """
    failures = Failures()
    for name in NAMES:
        for mode in MODES:
            with failures.case(f"{name}/{mode}"):
                _, t, g = make_case(mode, seed=4, spatial=(6, 7))
                loss = build(name, mode)
                direction = torch.from_numpy(2 * g - 1)
                values = np.array([loss(s * direction, t).item() for s in np.linspace(-6, 6, 13)])
                steps = np.diff(values)
                assert (steps <= 1e-12).all(), values.round(6)
                above_minimum = values[1:] > values.min() + 1e-12
                if name not in SOFT_THRESHOLD:
                    assert (steps[above_minimum] < 0).all(), values.round(6)
                assert values[0] > values[-1], values.round(6)
    failures.check()


def test_swapping_prediction_and_target():
    """Binary mode, probabilities: ``loss(g, p)`` differs from ``loss(p, g)`` unless the formula is symmetric.

    A hard target g and a soft prediction p; swapped, p is a soft target (accepted). nll takes
    log-probabilities, so the swapped call (log p as the target) is refused.
    """
    z, t, _ = make_case("binary", seed=20, spatial=(6, 7))
    p = torch.sigmoid(z)
    failures = Failures()
    for name in NAMES:
        with failures.case(name):
            loss = get_loss(name, mode="binary", from_logits=False)
            if name == "nll":
                assert loss(torch.log(p), t).item() > 0
                with pytest.raises(UsageError, match="^nll: expected target values in"):
                    loss(t, torch.log(p))
                continue
            straight, swapped = loss(p, t).item(), loss(t, p).item()
            if name in SYMMETRIC:
                assert swapped == pytest.approx(straight, rel=1e-9, abs=1e-12), (straight, swapped)
            else:
                assert abs(swapped - straight) > 1e-3 * abs(straight), (straight, swapped)
    failures.check()


# ----------------------------------------------------------------------------- extremes and empty targets


def test_extreme_logits_are_finite():
    failures = Failures()
    for name in NAMES:
        for mode in MODES:
            with failures.case(f"{name}/{mode}"):
                z, t, g = make_case(mode, seed=5)
                loss = build(name, mode)
                mixed = torch.where(z > 0, 50.0, -50.0).to(z.dtype)
                extremes = {
                    "perfect": perfect_logits(g),
                    "inverted": perfect_logits(1 - g),
                    "mixed": mixed,
                    "mixed float32": mixed.float(),
                    "perfect at 100": perfect_logits(g, 100.0),
                }
                for label, x in extremes.items():
                    with failures.case(f"{name}/{mode}/{label}"):
                        assert_finite(*value_and_grad(loss, x, t))
    failures.check()


def test_empty_target_is_finite():
    failures = Failures()
    for name in NAMES:
        for mode in MODES:
            with failures.case(f"{name}/{mode}"):
                z, _, _ = make_case(mode, seed=6)
                t, g = empty_target(mode, classes=z.shape[1] if mode != "binary" else 3)
                loss = build(name, mode)
                values = {}
                for label, x in (
                    ("random", z),
                    ("perfect", perfect_logits(g)),
                    ("all_wrong", perfect_logits(1 - g)),
                    ("float32", z.float()),
                ):
                    v, grad = value_and_grad(loss, x, t)
                    assert_finite(v, grad)
                    values[label] = v.item()
                assert values["perfect"] <= values["all_wrong"] + 1e-6, values
                assert values["perfect"] <= values["random"] + 1e-6, values
    failures.check()


# ----------------------------------------------------------------------------- dimensions and dtypes


def test_3d_input():
    failures = Failures()
    for name in NAMES:
        for mode in ("binary", "multiclass"):
            with failures.case(f"{name}/{mode}"):
                z, t, _ = make_case(mode, seed=7, spatial=(3, 4, 5))
                assert_finite(*value_and_grad(build(name, mode), z, t))
    failures.check()


def test_3d_with_one_slice_equals_2d():
    """A (1, H, W) volume has the same pixels, distances and neighbourhoods as the (H, W) image.

    shape_aware is excluded by construction: in 3-D the two faces of a one-slice volume are border,
    so every pixel is on its contour.
    """
    z, t, _ = make_case("multiclass", seed=8, spatial=(5, 6))
    failures = Failures()
    for name in NAMES:
        if name == "shape_aware" or name in SOFT_THRESHOLD:
            continue
        with failures.case(name):
            loss = build(name, "multiclass")
            torch.testing.assert_close(loss(z[:, :, None], t[:, None]), loss(z, t), rtol=1e-12, atol=1e-12)
    failures.check()


def test_half_precision_input_is_computed_in_float32():
    failures = Failures()
    for name in NAMES:
        for dtype in (torch.float16, torch.bfloat16):
            with failures.case(f"{name}/{dtype}"):
                mode = loss_spec(name).default_mode.value
                z, t, _ = make_case(mode, seed=9, dtype=torch.float32)
                x = z.to(dtype)
                loss = build(name, mode)
                v, grad = value_and_grad(loss, x, t)
                assert v.dtype == torch.float32
                assert grad.dtype == dtype
                assert_finite(v, grad.float())
                torch.testing.assert_close(v, loss(x.float(), t), rtol=0, atol=0)
    failures.check()


def test_float64_input_is_computed_in_float64():
    failures = Failures()
    for name in NAMES:
        with failures.case(name):
            mode = loss_spec(name).default_mode.value
            z, t, _ = make_case(mode, seed=10)
            assert build(name, mode)(z, t).dtype == torch.float64
    failures.check()


# ----------------------------------------------------------------------------- reductions


def expected_unreduced_shape(name, mode, aggregation, batch, channels, spatial):
    kept = channels
    if name in PIXEL:
        return (batch, *spatial) if mode == "multiclass" else (batch, channels, *spatial)
    if name in ELEMENT:
        return (batch, channels, *spatial)
    if name in KEPT_CHANNEL_MAP:
        return (batch, kept, *spatial)
    if name in PER_CLASS:
        return (batch, kept) if aggregation == "image" else (kept,)
    return (batch,) if aggregation == "image" else ()


def test_reduction_shapes_and_consistency():
    failures = Failures()
    for name in NAMES:
        for mode in MODES:
            z, t, _ = make_case(mode, seed=11, spatial=(5, 6))
            options = loss_spec(name).options()
            for aggregation in ["image", "batch"] if "aggregation" in options else [None]:
                with failures.case(f"{name}/{mode}/aggregation={aggregation}"):
                    extra = {} if aggregation is None else {"aggregation": aggregation}
                    none = build(name, mode, reduction="none", **extra)(z, t)
                    total = build(name, mode, reduction="sum", **extra)(z, t)
                    mean = build(name, mode, reduction="mean", **extra)(z, t)
                    shape = expected_unreduced_shape(name, mode, aggregation or "image", 2, z.shape[1], (5, 6))
                    assert tuple(none.shape) == shape, tuple(none.shape)
                    assert total.ndim == 0 and mean.ndim == 0
                    torch.testing.assert_close(none.sum(), total)
                    if name == "topk":  # mean = sum / K, K = floor(pool size * 10 %) summed over the pools
                        pools = 1 if aggregation == "batch" else 2
                        k = pools * int(np.floor(none.numel() / pools * 10 / 100))
                        torch.testing.assert_close(mean * k, total)
                    elif name != "wce":  # wce's mean is the weighted mean (see the torch reference tests)
                        torch.testing.assert_close(none.mean(), mean)
    failures.check()


def test_reduction_mean_of_all_ignored_pixels_is_zero_not_nan():
    z, t, _ = make_case("multiclass", seed=12)
    t = torch.full_like(t, 255)
    for name in ("ce", "nll", "wce", "focal", "topk"):
        v = get_loss(name, mode="multiclass", ignore_index=255, from_logits=True)(z, t)
        assert v.item() == 0.0, name


# ----------------------------------------------------------------------------- input and target forms


def test_multiclass_target_forms_agree():
    z, t, g = make_case("multiclass", seed=13)
    failures = Failures()
    for name in NAMES:
        with failures.case(name):
            loss = build(name, "multiclass")
            by_index = loss(z, t)
            torch.testing.assert_close(loss(z, torch.from_numpy(g)), by_index, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(loss(z, t[:, None]), by_index, rtol=0, atol=0)
            torch.testing.assert_close(loss(z, t.int()), by_index, rtol=0, atol=0)
    failures.check()


def test_binary_target_forms_agree():
    z, t, _ = make_case("binary", seed=14)
    failures = Failures()
    for name in NAMES:
        with failures.case(name):
            loss = build(name, "binary")
            reference = loss(z, t)
            torch.testing.assert_close(loss(z, t[:, 0]), reference, rtol=0, atol=0)
            torch.testing.assert_close(loss(z, t.long()), reference, rtol=0, atol=0)
            torch.testing.assert_close(loss(z, t.bool()), reference, rtol=0, atol=0)
    failures.check()


def test_probabilities_agree_with_logits():
    failures = Failures()
    for name in NAMES:
        for mode in MODES:
            with failures.case(f"{name}/{mode}"):
                z, t, _ = make_case(mode, seed=15)
                logits_value = build(name, mode)(z, t)
                if name == "nll":
                    x = torch.log_softmax(z, 1) if mode == "multiclass" else torch.nn.functional.logsigmoid(z)
                else:
                    x = torch.softmax(z, 1) if mode == "multiclass" else torch.sigmoid(z)
                probability_value = get_loss(name, mode=mode, from_logits=False)(x, t)
                if name == "lovasz" and mode != "multiclass":
                    # the Lovász hinge needs margins: with probabilities it is the Lovász extension of |g - p|
                    assert probability_value.item() != pytest.approx(logits_value.item())
                else:
                    torch.testing.assert_close(probability_value, logits_value, rtol=1e-9, atol=1e-12)
    failures.check()


# ----------------------------------------------------------------------------- devices


@pytest.mark.gpu
def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    failures = Failures()
    for name in NAMES:
        for mode in ("binary", "multiclass"):
            with failures.case(f"{name}/{mode}"):
                z, t, _ = make_case(mode, seed=16, dtype=torch.float32)
                loss = build(name, mode)
                cpu = loss(z, t)
                x = z.cuda().requires_grad_()
                gpu = loss.cuda()(x, t.cuda())
                gpu.backward()
                assert gpu.device.type == "cuda"
                assert torch.isfinite(x.grad).all()
                torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
    failures.check()


@pytest.mark.gpu
def test_cuda_class_weight_buffers_move_with_the_module():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    loss = get_loss("ce", weight=[1.0, 2.0, 3.0]).cuda()
    assert loss.weight.device.type == "cuda"
    z, t, _ = make_case("multiclass", seed=17, dtype=torch.float32)
    assert torch.isfinite(loss(z.cuda(), t.cuda()))
