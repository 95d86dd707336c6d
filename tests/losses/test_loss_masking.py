"""``ignore_index`` and ``mask`` on every catalog loss (table-driven: a loss added to the catalog is covered).

Rules (segeval/losses/_kernels.py ``prepare``; docs/losses.md "Ignored pixels"):

- ignored pixels change neither the value nor the gradient, whatever the prediction (and, with a
  mask, the target) holds there, inf and NaN included, and their gradient is 0;
- a loss without neighbourhood operator gives on the counted pixels what it gives on those pixels
  alone (the masked image equals the cropped image);
- losses with neighbourhood operators see ignored pixels as prediction 0 and target 0.
"""

from __future__ import annotations

import pytest
import torch
from loss_cases import Failures, make_case

from segeval.errors import UsageError
from segeval.losses import get_loss, list_losses, loss_spec

NAMES = list_losses()
SPATIAL = (6, 7)
# Losses that look at neighbours (distance maps, contours, skeletons, erosions, components): a masked image
# is not a cropped one for them.
NEIGHBOURHOOD = {name for name in NAMES if loss_spec(name).cpu_transform} | {"cldice", "erosion_hausdorff"}


def _ignored() -> torch.Tensor:
    """(B, H, W) True where ignored: a block of image 0, a scatter of image 1."""
    ignored = torch.zeros(2, *SPATIAL, dtype=torch.bool)
    ignored[0, :2, 1:5] = True
    ignored[1, 3, ::2] = True
    ignored[1, 5, 6] = True
    return ignored


def _modes(name):
    return [m.value for m in loss_spec(name).modes]


def _scramble(z: torch.Tensor, where: torch.Tensor, seed: int, special: bool) -> torch.Tensor:
    """``z`` with the entries at ``where`` (broadcast over channels) replaced by large random values (or inf/NaN)."""
    gen = torch.Generator().manual_seed(seed)
    junk = torch.randn(z.shape, generator=gen, dtype=z.dtype) * 1e3
    if special:
        junk.view(-1)[::3] = torch.inf
        junk.view(-1)[1::3] = torch.nan
    return torch.where(where.unsqueeze(1) if where.ndim == z.ndim - 1 else where, junk, z)


def _other_target(t: torch.Tensor, where: torch.Tensor, mode: str, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if mode == "multiclass":
        return torch.where(where, torch.randint(0, 3, t.shape, generator=gen), t)
    flipped = 1.0 - t
    return torch.where(where.unsqueeze(1), flipped, t)


def _value_and_grad(loss, z, t, mask=None):
    z = z.detach().clone().requires_grad_(True)
    value = loss(z, t) if mask is None else loss(z, t, mask)
    (grad,) = torch.autograd.grad(value, z)
    return value.detach(), grad


def _ignore_target(t: torch.Tensor, where: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "multiclass":
        return torch.where(where, torch.full_like(t, 255), t)
    return torch.where(where.unsqueeze(1), torch.full_like(t, 255.0), t)


@pytest.mark.parametrize("name", NAMES)
def test_ignored_pixels_change_neither_value_nor_gradient(name):
    ignored = _ignored()
    failures = Failures()
    for mode in _modes(name):
        z, t, _ = make_case(mode, seed=5, spatial=SPATIAL)
        for how in ("mask", "ignore_index"):
            for special in (False, True):
                with failures.case(f"{mode} {how} inf/nan={special}"):
                    z2 = _scramble(z, ignored, seed=6, special=special)
                    if how == "mask":
                        loss, mask = get_loss(name, from_logits=True, mode=mode), ~ignored
                        t1, t2 = t, _other_target(t, ignored, mode, seed=7)
                    else:
                        loss, mask = get_loss(name, from_logits=True, mode=mode, ignore_index=255), None
                        t1 = t2 = _ignore_target(t, ignored, mode)
                    v1, g1 = _value_and_grad(loss, z, t1, mask)
                    v2, g2 = _value_and_grad(loss, z2, t2, mask)
                    assert torch.isfinite(v1) and torch.isfinite(g1).all()
                    torch.testing.assert_close(v2, v1, rtol=1e-12, atol=1e-12)
                    torch.testing.assert_close(g2, g1, rtol=1e-12, atol=1e-12)
                    assert (g1.abs().sum(1) * ignored).sum() == 0, "gradient at ignored pixels"
                    assert g1.abs().sum() > 0 or name in {"boundary"}, "no gradient at all"
    failures.check()


@pytest.mark.parametrize("name", sorted(set(NAMES) - NEIGHBOURHOOD))
def test_masked_image_equals_the_cropped_image(name):
    """Counting only columns < 4 is computing the loss on those columns (mask, ignore_index, reduction none)."""
    failures = Failures()
    kept = torch.zeros(2, *SPATIAL, dtype=torch.bool)
    kept[..., :4] = True
    for mode in _modes(name):
        z, t, _ = make_case(mode, seed=8, spatial=SPATIAL)
        crop_t = t[..., :4]
        for reduction in ("mean", "none"):
            with failures.case(f"{mode} {reduction}"):
                loss = get_loss(name, from_logits=True, mode=mode, reduction=reduction)
                expected = loss(z[..., :4], crop_t)
                masked = loss(z, t, kept)
                ignored = get_loss(name, from_logits=True, mode=mode, reduction=reduction, ignore_index=255)(
                    z, _ignore_target(t, ~kept, mode)
                )
                if masked.shape != expected.shape:  # per-pixel maps: compare the counted pixels
                    masked, ignored = masked[..., :4], ignored[..., :4]
                torch.testing.assert_close(masked, expected, rtol=1e-10, atol=1e-12)
                torch.testing.assert_close(ignored, expected, rtol=1e-10, atol=1e-12)
    failures.check()


def test_multilabel_mask_per_label():
    """A (B, C, *S) mask in multilabel mode: channel c counts its own pixels (here: channel 1 drops a block)."""
    z, t, _ = make_case("multilabel", seed=9, spatial=SPATIAL)
    mask = torch.ones_like(t, dtype=torch.bool)
    mask[:, 1, :3] = False
    per_channel = get_loss("dice", mode="multilabel", reduction="none")(z, t, mask)
    torch.testing.assert_close(
        per_channel[:, 0], get_loss("dice", mode="binary", reduction="none")(z[:, :1], t[:, :1])[:, 0]
    )
    cropped = get_loss("dice", mode="binary", reduction="none")(z[:, 1:2, 3:], t[:, 1:2, 3:])
    torch.testing.assert_close(per_channel[:, 1], cropped[:, 0])


def test_every_pixel_ignored_is_finite_with_zero_gradient():
    failures = Failures()
    for name in NAMES:
        mode = loss_spec(name).default_mode.value
        z, t, _ = make_case(mode, seed=10, spatial=SPATIAL)
        with failures.case(name):
            value, grad = _value_and_grad(get_loss(name, from_logits=True, mode=mode), z, t, torch.zeros(2, *SPATIAL))
            assert torch.isfinite(value)
            assert torch.count_nonzero(grad) == 0
    failures.check()


@pytest.mark.parametrize(
    ("shape", "mode"),
    [((2, 5), "binary"), ((2, 3, 6, 7), "multiclass"), ((3, 6, 7), "binary"), ((2, 2, 6, 7), "multilabel")],
)
def test_mask_shape_errors_name_the_expected_shapes(shape, mode):
    z, t, _ = make_case(mode, seed=11, spatial=SPATIAL)
    with pytest.raises(UsageError, match=r"^dice: expected `mask` of shape \(2, 6, 7\) or \(2, 1, 6, 7\)"):
        get_loss("dice", mode=mode)(z, t, torch.ones(shape))


def test_mask_must_be_a_tensor():
    z, t, _ = make_case("binary", seed=12, spatial=SPATIAL)
    with pytest.raises(UsageError, match="^dice: expected `mask` to be a torch tensor or None, got list"):
        get_loss("dice")(z, t, [[1, 0]])
