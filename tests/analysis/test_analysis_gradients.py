"""Gradients with respect to the logits, against their closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from segeval.analysis.gradients import (
    loss_gradient,
    pixel_magnitude,
    probabilities,
    reference_probability,
    to_logits,
)
from segeval.errors import UsageError


@pytest.fixture
def binary_case():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 1, 5, 7, generator=generator, dtype=torch.float64) * 2
    target = (torch.rand(1, 5, 7, generator=generator) < 0.4).long()
    return logits, target


@pytest.fixture
def multiclass_case():
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(1, 3, 4, 6, generator=generator, dtype=torch.float64) * 2
    target = torch.randint(0, 3, (1, 4, 6), generator=generator)
    return logits, target


def test_bce_gradient_is_p_minus_g_over_n(binary_case):
    logits, target = binary_case
    result = loss_gradient("bce", logits, target, mode="binary")
    expected = (torch.sigmoid(logits) - target[:, None].double()) / target.numel()
    torch.testing.assert_close(result.grad, expected, rtol=1e-12, atol=1e-15)
    expected_value = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[:, None].double())
    assert result.value == pytest.approx(float(expected_value), rel=1e-12)


def test_focal_with_gamma_0_and_no_alpha_has_the_bce_gradient(binary_case):
    logits, target = binary_case
    bce = loss_gradient("bce", logits, target, mode="binary")
    focal = loss_gradient("focal", logits, target, mode="binary", options={"gamma": 0.0, "alpha": None})
    torch.testing.assert_close(focal.grad, bce.grad, rtol=1e-10, atol=1e-15)


def test_ce_gradient_is_softmax_minus_one_hot_over_n(multiclass_case):
    logits, target = multiclass_case
    result = loss_gradient("ce", logits, target, mode="multiclass")
    one_hot = torch.nn.functional.one_hot(target, 3).movedim(-1, 1).double()
    expected = (torch.softmax(logits, dim=1) - one_hot) / target.numel()
    torch.testing.assert_close(result.grad, expected, rtol=1e-12, atol=1e-15)


def test_nll_on_logits_is_ce(multiclass_case):
    logits, target = multiclass_case
    torch.testing.assert_close(
        loss_gradient("nll", logits, target, mode="multiclass").grad,
        loss_gradient("ce", logits, target, mode="multiclass").grad,
    )


def test_probabilities_become_logits_that_give_them_back():
    p = torch.tensor([[[0.1, 0.5, 0.93]]], dtype=torch.float64)
    torch.testing.assert_close(torch.sigmoid(to_logits(p, from_logits=False)), p)
    q = torch.tensor([[[0.2, 0.7]], [[0.5, 0.1]], [[0.3, 0.2]]], dtype=torch.float64)[None]  # (1, 3, 1, 2)
    torch.testing.assert_close(probabilities(to_logits(q, from_logits=False)), q)


def test_probabilities_are_clamped_before_the_logarithm():
    p = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64)
    z = to_logits(p, from_logits=False, eps=1e-6)
    assert torch.isfinite(z).all()
    assert float(z[0, 0, 1]) == pytest.approx(math.log((1 - 1e-6) / 1e-6))
    with pytest.raises(UsageError, match="eps"):
        to_logits(p, from_logits=False, eps=0.7)


def test_reference_probability_and_magnitude(multiclass_case):
    logits, target = multiclass_case
    p_t = reference_probability(logits, target)
    p = torch.softmax(logits, dim=1)[0]
    i, j = 2, 3
    assert float(p_t[i, j]) == pytest.approx(float(p[target[0, i, j], i, j]))
    grad = torch.zeros(1, 3, 1, 1, dtype=torch.float64)
    grad[0, :, 0, 0] = torch.tensor([3.0, 0.0, 4.0])
    assert float(pixel_magnitude(grad)[0, 0]) == 5.0


def test_distance_losses_receive_the_spacing():
    from segeval.analysis.gradients import loss_options

    assert loss_options("boundary", (2.0, 0.5)) == {"spacing": (2.0, 0.5)}
    assert loss_options("dice", (2.0, 0.5)) == {}
    target = torch.zeros(1, 9, 9, dtype=torch.long)
    target[0, 3:6, 3:6] = 1
    logits = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    one = loss_gradient("boundary", logits, target, mode="binary", options={"spacing": (1.0, 1.0)})
    two = loss_gradient("boundary", logits, target, mode="binary", options={"spacing": (2.0, 2.0)})
    # mean(phi p), p = 1/2, phi = s d_out outside and -(s d_in - 1) on the 9 object pixels:
    # value(s) = (s (sum d_out - sum d_in) + 9) / (2 * 81), so value(2) = 2 value(1) - 9 / 162
    assert two.value == pytest.approx(2 * one.value - 9 / 162, rel=1e-12)
