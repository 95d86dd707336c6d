"""Bad options raise UsageError at construction (and in the functions), with messages that name the
loss, the option, what was expected and what was given. Bad inputs raise UsageError at call time."""

from __future__ import annotations

import math
import re

import pytest
import torch
from loss_cases import Failures, make_case

from segeval.errors import UnknownNameError, UsageError
from segeval.losses import get_loss, list_losses, loss_spec

NAMES = list_losses()

# Values that are invalid for every loss that has the option, and the start of the message.
BAD_VALUES: dict[str, list[tuple[object, str]]] = {
    "mode": [
        (
            "binry",
            "Expected `mode` to be one of 'binary', 'multiclass', 'multilabel', got 'binry'; did you mean 'binary'?",
        ),
        (3, "Expected `mode` to be one of"),
    ],
    "reduction": [
        ("avg", "Expected `reduction` to be one of 'none', 'mean', 'sum', got 'avg'"),
        (None, "Expected `reduction` to be one of"),
    ],
    "aggregation": [("pixel", "Expected `aggregation` to be one of 'image', 'batch'")],
    "from_logits": [
        ("yes", "Expected `from_logits` to be True or False, got 'yes'"),
        (1, "Expected `from_logits` to be True or False, got 1"),
    ],
    "include_background": [("no", "Expected `include_background` to be True or False")],
    "squared": [("yes", "Expected `squared` to be True or False")],
    "smooth": [
        (-1.0, "Expected `smooth` to be a finite number >"),
        (math.nan, "Expected `smooth` to be a finite number"),
        ("1", "Expected `smooth` to be a finite number"),
    ],
    "alpha": [(-1.0, "Expected `alpha` to be"), ("0.3", "Expected `alpha` to be")],
    "beta": [(-1.0, "Expected `beta` to be a finite number")],
    "gamma": [(-1.0, "Expected `gamma` to be a finite number"), (math.inf, "Expected `gamma` to be a finite number")],
    "delta": [(1.5, "Expected `delta` to be a finite number >= 0 and <= 1, got 1.5")],
    # unified_focal's lambda_focal is also <= 1 (tested in test_loss_issue12_references.py); dice_focal's is not
    "lambda_focal": [(-1.0, "Expected `lambda_focal` to be a finite number >= 0")],
    "lambda_global": [(-1.0, "Expected `lambda_global` to be a finite number >= 0, got -1.0")],
    "lambda_blob": [(math.nan, "Expected `lambda_blob` to be a finite number >= 0, got nan")],
    "erosions": [
        (0, "Expected `erosions` to be an integer >= 1, got 0"),
        (2.0, "Expected `erosions` to be an integer"),
    ],
    "distance_matrix": [
        ([[0, 1], [1, 1]], "Expected `distance_matrix` to be a square K x K matrix"),
        ([0, 1], "Expected `distance_matrix` to be a square K x K matrix"),
    ],
    "lambda_ce": [(-1.0, "Expected `lambda_ce` to be a finite number >= 0, got -1.0")],
    "lambda_dice": [(-0.5, "Expected `lambda_dice` to be a finite number >= 0, got -0.5")],
    "w_dice": [(-1.0, "Expected `w_dice` to be a finite number >= 0")],
    "w_cross": [(-1.0, "Expected `w_cross` to be a finite number >= 0")],
    "gamma_dice": [(0.0, "Expected `gamma_dice` to be a finite number > 0, got 0.0")],
    "gamma_cross": [(0.0, "Expected `gamma_cross` to be a finite number > 0, got 0.0")],
    "k": [
        (0.0, "Expected `k` to be a finite number > 0 and <= 100, got 0.0"),
        (150, "Expected `k` to be a finite number > 0 and <= 100, got 150"),
    ],
    "r": [(1.5, "Expected `r` to be a finite number >= 0 and <= 1, got 1.5")],
    "iterations": [
        (-1, "Expected `iterations` to be an integer >= 0, got -1"),
        (2.5, "Expected `iterations` to be an integer >= 0, got 2.5"),
    ],
    "spacing": [
        ((0.0, 1.0), "Expected `spacing` to be a positive number or a sequence of positive numbers"),
        ("abc", "Expected `spacing` to be a positive number or a sequence"),
    ],
    "weight": [
        ([-1.0, 1.0, 1.0], "Expected `weight` to be a 1-D sequence of finite non-negative numbers"),
        ([[1.0, 2.0]], "Expected `weight` to be a 1-D sequence"),
        (
            [0.0, 0.0],
            "Expected `weight` to be a 1-D sequence of finite non-negative numbers (one per class) with a positive sum, got [0.0, 0.0]",
        ),
    ],
    "pos_weight": [(-2.0, "Expected `pos_weight` to be a finite number > 0, got -2.0")],
    "ignore_index": [(1.5, "Expected `ignore_index` to be an integer, got 1.5")],
    "variant": [("asym", "Expected `variant` to be one of 'asymmetric', 'symmetric', got 'asym'")],
    "smooth_nr": [(-1.0, "Expected `smooth_nr` to be a finite number >= 0, got -1.0")],
    "smooth_dr": [(math.inf, "Expected `smooth_dr` to be a finite number >= 0, got inf")],
    "label_smoothing": [(1.5, "Expected `label_smoothing` to be a finite number >= 0 and <= 1, got 1.5")],
    "average": [("weighted", "Expected `average` to be one of 'macro', 'micro', got 'weighted'")],
    "w_type": [("squared", "Expected `w_type` to be one of 'square', 'simple', 'uniform', got 'squared'")],
    "soft_label": [("yes", "Expected `soft_label` to be True or False, got 'yes'")],
}


def test_every_option_has_bad_values_listed():
    failures = Failures()
    for name in NAMES:
        for option in loss_spec(name).options():
            with failures.case(f"{name}.{option}"):
                assert option in BAD_VALUES, "no bad value listed"
    failures.check()


@pytest.mark.parametrize("option", sorted(BAD_VALUES))
def test_bad_option_raises_usage_error_at_construction(option):
    """One rule per option: each bad value raises a UsageError naming the loss, the option and the value."""
    failures = Failures()
    having = [name for name in NAMES if option in loss_spec(name).options()]
    assert having, f"no loss has the option {option!r}"
    extra = {"mode": "binary"} if option == "pos_weight" else {}
    for name in having:
        for bad, message in BAD_VALUES[option]:
            with failures.case(f"{name} {option}={bad!r}"):
                with pytest.raises(UsageError, match="^" + re.escape(f"{name}: {message}")):
                    get_loss(name, **extra, **{option: bad})
    failures.check()


def test_bad_option_raises_in_the_function_too():
    z, t, _ = make_case("binary", seed=0)
    failures = Failures()
    for name in NAMES:
        with failures.case(name):
            spec = loss_spec(name)
            with pytest.raises(UsageError, match=re.escape(f"{name}: Expected `reduction` to be one of")):
                spec.function(z, t, mode="binary", reduction="avg")
            with pytest.raises(
                UsageError, match=re.escape(f"{name}: unknown option(s) 'smoothing'; valid options are mode")
            ):
                spec.function(z, t, smoothing=1.0)
    failures.check()


def test_unknown_option_is_a_usage_error_not_a_type_error():
    failures = Failures()
    for name in NAMES:
        with failures.case(name):
            with pytest.raises(
                UsageError,
                match=re.escape(f"{name}: unknown option(s) 'activation'; valid options are mode, from_logits"),
            ):
                get_loss(name, activation="sigmoid")
    failures.check()


def test_no_assert_statements_guard_arguments():
    """Argument checks must survive ``python -O``: no ``assert`` in the package."""
    import pathlib

    import segeval.losses

    for path in pathlib.Path(segeval.losses.__file__).parent.glob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not line.strip().startswith("assert "), f"{path.name}:{number}"


def test_tversky_needs_a_positive_weight():
    message = "tversky: Expected `alpha` + `beta` > 0 (weights of FP and FN), got alpha=0, beta=0"
    with pytest.raises(UsageError, match=re.escape(message)):
        get_loss("tversky", alpha=0.0, beta=0.0)


def test_wce_weight_kinds_must_match_the_mode():
    with pytest.raises(UsageError, match=re.escape("wce: `pos_weight` applies to binary and multilabel modes")):
        get_loss("wce", mode="multiclass", pos_weight=2.0)
    with pytest.raises(UsageError, match=re.escape("wce: `weight` (one weight per class) applies to multiclass mode")):
        get_loss("wce", mode="binary", weight=[1.0, 2.0])


def test_focal_dice_beta_below_one_is_refused():
    with pytest.raises(UsageError, match=re.escape("focal_dice: Expected `beta` to be a finite number >= 1, got 0.5")):
        get_loss("focal_dice", beta=0.5)


def test_unified_focal_gamma_one_is_refused():
    with pytest.raises(
        UsageError, match=re.escape("unified_focal: Expected `gamma` to be a finite number >= 0 and < 1, got 1.0")
    ):
        get_loss("unified_focal", gamma=1.0)


# ----------------------------------------------------------------------------- call-time input errors


def test_binary_mode_with_several_channels():
    z, t, _ = make_case("multiclass", seed=1)
    with pytest.raises(
        UsageError, match=re.escape("dice: binary mode expects `input` of shape (B, 1, *spatial), got (2, 3, 5, 6)")
    ):
        get_loss("dice", mode="binary")(z, t)


def test_multiclass_mode_with_one_channel():
    z, t, _ = make_case("binary", seed=1)
    with pytest.raises(
        UsageError, match=re.escape("ce: multiclass mode expects `input` with C >= 2 channels, got (2, 1, 5, 6)")
    ):
        get_loss("ce")(z, t.long())


def test_target_shape_mismatch_names_both_shapes():
    z, _, _ = make_case("multiclass", seed=1)
    with pytest.raises(
        UsageError,
        match=re.escape("multiclass mode expects `target` of shape (B, *spatial) = (2, 5, 6)") + ".*got \\(2, 5, 7\\)",
    ):
        get_loss("ce")(z, torch.zeros(2, 5, 7, dtype=torch.long))
    zb, _, _ = make_case("binary", seed=1)
    with pytest.raises(
        UsageError,
        match=re.escape(
            "bce: binary mode expects `target` of shape (B, 1, *spatial) or (B, *spatial) matching input (2, 1, 5, 6), got (2, 2, 5, 6)"
        ),
    ):
        get_loss("bce")(zb, torch.zeros(2, 2, 5, 6))


def test_class_index_out_of_range():
    z, t, _ = make_case("multiclass", seed=1)
    t = t.clone()
    t[0, 0, 0] = 3
    with pytest.raises(
        UsageError,
        match=re.escape(
            "ce: expected class indices in [0, 2] for 3 input channels, got values from 0 to 3 (ignore_index=-100)"
        ),
    ):
        get_loss("ce")(z, t)


def test_float_index_target_is_refused():
    z, t, _ = make_case("multiclass", seed=1)
    with pytest.raises(
        UsageError,
        match=re.escape("dice: class-index targets of shape (2, 5, 6) must have an integer dtype, got torch.float32"),
    ):
        get_loss("dice", mode="multiclass")(z, t.float())


def test_binary_target_values_outside_unit_interval():
    z, t, _ = make_case("binary", seed=1)
    with pytest.raises(
        UsageError, match=re.escape("dice: expected target values in [0, 1] (binary mode), got values from 0 to 2")
    ):
        get_loss("dice")(z, t * 2)


def test_probabilities_outside_unit_interval():
    z, t, _ = make_case("binary", seed=1)
    with pytest.raises(
        UsageError, match=re.escape("dice: expected probabilities in [0, 1] with from_logits=False, got values from")
    ):
        get_loss("dice", from_logits=False)(z, t)


def test_nll_refuses_positive_log_probabilities():
    z, t, _ = make_case("multiclass", seed=1)
    with pytest.raises(
        UsageError, match=re.escape("nll: expected log-probabilities (<= 0) as input, got a maximum of")
    ) as info:
        get_loss("nll")(torch.softmax(z, 1) + 0.5, t)
    assert "from_logits=True" in info.value.hint


def test_integer_input_is_refused():
    with pytest.raises(UsageError, match=re.escape("bce: expected a floating-point `input`, got dtype torch.int64")):
        get_loss("bce")(torch.ones(1, 1, 3, 3, dtype=torch.long), torch.ones(1, 1, 3, 3))


def test_input_without_spatial_axis():
    with pytest.raises(
        UsageError,
        match=re.escape(
            "ce: expected `input` of shape (B, C, *spatial) with at least one spatial axis, got shape (4, 3)"
        ),
    ):
        get_loss("ce")(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))


def test_non_tensor_input():
    with pytest.raises(
        UsageError, match=re.escape("dice: expected `input` and `target` to be torch tensors, got list and Tensor")
    ):
        get_loss("dice")([[0.0]], torch.zeros(1, 1, 1))


def test_spacing_length_must_match_the_image():
    z, t, _ = make_case("binary", seed=1)
    with pytest.raises(
        UsageError,
        match=re.escape("boundary: expected `spacing` to have 1 or 2 values for 2-D images, got (1.0, 1.0, 2.0)"),
    ):
        get_loss("boundary", spacing=(1.0, 1.0, 2.0))(z, t)


def test_cldice_needs_2d_or_3d():
    z = torch.randn(2, 1, 9)
    with pytest.raises(
        UsageError,
        match=re.escape(
            "cldice: expected 2-D or 3-D images, input of shape (B, C, H, W) or (B, C, D, H, W), got (2, 1, 9)"
        ),
    ):
        get_loss("cldice")(z, torch.zeros(2, 1, 9))


def test_class_weight_length_must_match_classes():
    z, t, _ = make_case("multiclass", seed=1)
    with pytest.raises(
        UsageError, match=re.escape("ce: expected `weight` to have 3 entries (one per class, C = 3), got 2")
    ):
        get_loss("ce", weight=[1.0, 2.0])(z, t)
    with pytest.raises(
        UsageError, match=re.escape("focal: expected `alpha` to have 3 entries (one per class, C = 3), got 2")
    ):
        get_loss("focal", mode="multiclass", alpha=[0.2, 0.8])(z, t)


# ----------------------------------------------------------------------------- catalog names


def test_unknown_loss_name_suggests_close_names():
    with pytest.raises(UnknownNameError, match=re.escape("unknown loss 'dcie'; did you mean ")) as info:
        get_loss("dcie")
    assert "'dice'" in info.value.message
    assert "focal_tversky" in info.value.hint


def test_unknown_family():
    with pytest.raises(UnknownNameError, match=re.escape("unknown loss family 'regional'")) as info:
        list_losses("regional")
    assert "did you mean 'region'" in info.value.hint


def test_two_class_sequences_are_checked_at_construction_in_sigmoid_modes():
    failures = Failures()
    for name, option in [("ce", "weight"), ("nll", "weight"), ("focal", "alpha")]:
        with failures.case(f"{name}.{option}"):
            with pytest.raises(
                UsageError,
                match=re.escape(
                    f"{name}: Expected `{option}` to have 2 entries (negative, positive) in multilabel mode, got 3"
                ),
            ):
                get_loss(name, mode="multilabel", **{option: [0.2, 0.3, 0.5]})
            get_loss(name, mode="multiclass", **{option: [0.2, 0.3, 0.5]})  # C entries: checked against C at call
    failures.check()
