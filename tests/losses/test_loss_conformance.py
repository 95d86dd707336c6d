"""Conformance harness: every loss of ``list_losses()`` against the same properties.

gradcheck in float64; perfect prediction is the minimum; better predictions give lower losses;
logits of +-50 and empty targets stay finite with finite gradients; 2-D and 3-D; float16/bfloat16
input; reduction shapes; function == module; target forms; probabilities == logits; CUDA.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from loss_cases import MODES, empty_target, good_logits, make_case, perfect_logits
from segeval.losses import Family, get_loss, list_losses, loss_spec

NAMES = list_losses()

# What ``reduction="none"`` returns, as documented per loss (segeval/losses/*.py and docs/losses.md).
PIXEL = {"ce", "nll", "wce", "balanced_ce", "topk", "focal", "dpce", "shape_aware"}
ELEMENT = {"bce"}
KEPT_CHANNEL_MAP = {"boundary", "hausdorff_dt"}
PER_CLASS = {"dice", "iou", "sens_spec", "tversky", "focal_tversky", "log_cosh_dice", "mcc", "focal_dice", "cldice"}
PER_IMAGE = {"generalized_dice", "lovasz", "bce_dice", "ce_dice", "combo", "exp_log", "unified_focal"}
# Losses whose minimum is not 0: boundary (negative inside the object), combo (-(1 - alpha)).
NONZERO_MINIMUM = {"boundary", "combo"}


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


# ----------------------------------------------------------------------------- spec and module


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_complete(name):
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


@pytest.mark.parametrize("name", NAMES)
def test_module_and_function_share_options_and_defaults(name):
    spec = loss_spec(name)
    fn_params = {
        p.name: p.default
        for p in inspect.signature(spec.function).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert spec.options() == fn_params
    assert {"mode", "from_logits", "reduction"} <= set(fn_params)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_function_equals_module(name, mode):
    z, t, _ = make_case(mode, seed=1)
    spec = loss_spec(name)
    module_value = build(name, mode)(z, t)
    function_value = spec.function(z, t, mode=mode, from_logits=True)
    torch.testing.assert_close(module_value, function_value, rtol=0, atol=0)


# ----------------------------------------------------------------------------- gradients


def _gradcheck_modes(name):
    default = loss_spec(name).default_mode.value
    return [default] + [m for m in ("multiclass", "binary") if m != default][:1]


@pytest.mark.parametrize(("name", "mode"), [(n, m) for n in NAMES for m in _gradcheck_modes(n)])
def test_gradcheck_float64(name, mode):
    z, t, _ = make_case(mode, seed=2, spatial=(3, 4), scale=1.0)
    loss = build(name, mode)
    assert torch.autograd.gradcheck(lambda x: loss(x, t), (with_grad(z),), eps=1e-6, atol=1e-6, rtol=1e-4)


# ----------------------------------------------------------------------------- minimum and ordering


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_perfect_prediction_is_the_minimum(name, mode):
    z, t, g = make_case(mode, seed=3, spatial=(6, 7))
    loss = build(name, mode)
    best = loss(perfect_logits(g), t).item()
    others = [z, good_logits(g), -good_logits(g), perfect_logits(1 - g), 0.0 * z]
    for other in others:
        assert best <= loss(other, t).item() + 1e-6
    if name not in NONZERO_MINIMUM:
        assert best == pytest.approx(0.0, abs=1e-5)


def test_nonzero_minima_are_the_documented_values():
    z, t, g = make_case("binary", seed=3, spatial=(6, 7))
    assert build("combo", "binary")(perfect_logits(g), t).item() == pytest.approx(-0.5, abs=1e-9)
    assert build("boundary", "binary")(perfect_logits(g), t).item() < 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_better_prediction_gives_lower_loss(name, mode):
    z, t, g = make_case(mode, seed=4, spatial=(6, 7))
    loss = build(name, mode)
    good = loss(good_logits(g), t).item()
    bad = loss(-good_logits(g), t).item()
    rand = loss(z, t).item()
    assert good < rand
    assert good < bad


# ----------------------------------------------------------------------------- extremes and empty targets


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_extreme_logits_are_finite(name, mode):
    z, t, g = make_case(mode, seed=5)
    loss = build(name, mode)
    mixed = torch.where(z > 0, 50.0, -50.0).to(z.dtype)
    for x in (perfect_logits(g), perfect_logits(1 - g), mixed, mixed.float(), perfect_logits(g, 100.0)):
        assert_finite(*value_and_grad(loss, x, t))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_empty_target_is_finite(name, mode):
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
    assert values["perfect"] <= values["all_wrong"] + 1e-6
    assert values["perfect"] <= values["random"] + 1e-6


# ----------------------------------------------------------------------------- dimensions and dtypes


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["binary", "multiclass"])
def test_3d_input(name, mode):
    z, t, _ = make_case(mode, seed=7, spatial=(3, 4, 5))
    assert_finite(*value_and_grad(build(name, mode), z, t))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "shape_aware"])
def test_3d_with_one_slice_equals_2d(name):
    """A (1, H, W) volume has the same pixels, distances and neighbourhoods as the (H, W) image.

    shape_aware is excluded by construction: in 3-D the two faces of a one-slice volume are border,
    so every pixel is on its contour.
    """
    z, t, _ = make_case("multiclass", seed=8, spatial=(5, 6))
    loss = build(name, "multiclass")
    torch.testing.assert_close(loss(z[:, :, None], t[:, None]), loss(z, t), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_input_is_computed_in_float32(name, dtype):
    mode = loss_spec(name).default_mode.value
    z, t, _ = make_case(mode, seed=9, dtype=torch.float32)
    x = z.to(dtype)
    loss = build(name, mode)
    v, grad = value_and_grad(loss, x, t)
    assert v.dtype == torch.float32
    assert grad.dtype == dtype
    assert_finite(v, grad.float())
    torch.testing.assert_close(v, loss(x.float(), t), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_float64_input_is_computed_in_float64(name):
    mode = loss_spec(name).default_mode.value
    z, t, _ = make_case(mode, seed=10)
    assert build(name, mode)(z, t).dtype == torch.float64


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


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_reduction_shapes_and_consistency(name, mode):
    z, t, _ = make_case(mode, seed=11, spatial=(5, 6))
    options = loss_spec(name).options()
    aggregations = ["image", "batch"] if "aggregation" in options else [None]
    for aggregation in aggregations:
        extra = {} if aggregation is None else {"aggregation": aggregation}
        none = build(name, mode, reduction="none", **extra)(z, t)
        total = build(name, mode, reduction="sum", **extra)(z, t)
        mean = build(name, mode, reduction="mean", **extra)(z, t)
        shape = expected_unreduced_shape(name, mode, aggregation or "image", 2, z.shape[1], (5, 6))
        assert tuple(none.shape) == shape, (aggregation, tuple(none.shape))
        assert total.ndim == 0 and mean.ndim == 0
        torch.testing.assert_close(none.sum(), total)
        if name == "topk":  # mean = sum / K, K = floor(pool size * 10 %) summed over the pools
            pools = 1 if aggregation == "batch" else 2
            k = pools * int(np.floor(none.numel() / pools * 10 / 100))
            torch.testing.assert_close(mean * k, total)
        elif name != "wce":  # wce's mean is the weighted mean (see the torch reference tests)
            torch.testing.assert_close(none.mean(), mean)


def test_reduction_mean_of_all_ignored_pixels_is_zero_not_nan():
    z, t, _ = make_case("multiclass", seed=12)
    t = torch.full_like(t, 255)
    for name in ("ce", "nll", "wce", "focal", "topk"):
        v = get_loss(name, mode="multiclass", ignore_index=255, from_logits=True)(z, t)
        assert v.item() == 0.0, name


# ----------------------------------------------------------------------------- input and target forms


@pytest.mark.parametrize("name", NAMES)
def test_multiclass_target_forms_agree(name):
    z, t, g = make_case("multiclass", seed=13)
    loss = build(name, "multiclass")
    by_index = loss(z, t)
    torch.testing.assert_close(loss(z, torch.from_numpy(g)), by_index, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(loss(z, t[:, None]), by_index, rtol=0, atol=0)
    torch.testing.assert_close(loss(z, t.int()), by_index, rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_binary_target_forms_agree(name):
    z, t, _ = make_case("binary", seed=14)
    loss = build(name, "binary")
    reference = loss(z, t)
    torch.testing.assert_close(loss(z, t[:, 0]), reference, rtol=0, atol=0)
    torch.testing.assert_close(loss(z, t.long()), reference, rtol=0, atol=0)
    torch.testing.assert_close(loss(z, t.bool()), reference, rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_probabilities_agree_with_logits(name, mode):
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


# ----------------------------------------------------------------------------- devices


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["binary", "multiclass"])
def test_cuda_matches_cpu(name, mode):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    z, t, _ = make_case(mode, seed=16, dtype=torch.float32)
    loss = build(name, mode)
    cpu = loss(z, t)
    x = z.cuda().requires_grad_()
    gpu = loss.cuda()(x, t.cuda())
    gpu.backward()
    assert gpu.device.type == "cuda"
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_cuda_class_weight_buffers_move_with_the_module():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    loss = get_loss("ce", weight=[1.0, 2.0, 3.0]).cuda()
    assert loss.weight.device.type == "cuda"
    z, t, _ = make_case("multiclass", seed=17, dtype=torch.float32)
    assert torch.isfinite(loss(z.cuda(), t.cuda()))
