"""DeepSupervisionLoss and MaskedLoss: weights, resizing modes, normalize=False, masks, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from loss_cases import Failures, make_case

from segeval.errors import UsageError
from segeval.losses import DeepSupervisionLoss, MaskedLoss, get_loss
from segeval.losses.wrappers import resize_target


def scales(mode, seed=40, sizes=((8, 12), (4, 6), (2, 3))):
    """Outputs at three scales and the full-resolution target of ``mode``."""
    z, t, _ = make_case(mode, seed=seed, spatial=sizes[0])
    gen = torch.Generator().manual_seed(seed)
    outputs = [z] + [torch.randn(z.shape[0], z.shape[1], *s, generator=gen, dtype=z.dtype) for s in sizes[1:]]
    return outputs, t


class Recorder(torch.nn.Module):
    """A loss that returns a distinct value per call and records what it was given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, input, target, mask=None):
        self.calls.append((input, target, mask))
        return torch.tensor(float(10 ** len(self.calls)), dtype=torch.float64)


def test_default_weights_halve_and_sum_to_one():
    recorder = Recorder()
    outputs, t = scales("multiclass")
    value = DeepSupervisionLoss(recorder)(outputs, t)
    assert value.item() == pytest.approx((4 * 10 + 2 * 100 + 1 * 1000) / 7)
    assert DeepSupervisionLoss(recorder).scale_weights(4) == pytest.approx([8 / 15, 4 / 15, 2 / 15, 1 / 15])


def test_weights_given_and_normalize_false():
    failures = Failures()
    for weights, normalize, expected in (
        (None, False, 1 * 10 + 0.5 * 100 + 0.25 * 1000),
        ([1.0, 1.0, 2.0], True, (10 + 100 + 2 * 1000) / 4),
        ([1.0, 1.0, 2.0], False, 10 + 100 + 2 * 1000),
        ([1.0, 0.0, 0.0], True, 10),  # a zero weight skips its scale
    ):
        with failures.case(f"{weights}/{normalize}"):
            outputs, t = scales("binary")
            recorder = Recorder()
            value = DeepSupervisionLoss(recorder, weights=weights, normalize=normalize)(outputs, t)
            assert value.item() == pytest.approx(expected)
    failures.check()


def test_each_scale_is_the_wrapped_loss_on_the_resized_target():
    failures = Failures()
    for name, mode in (("dice", "multiclass"), ("ce", "multiclass"), ("focal", "binary"), ("hausdorff_dt", "binary")):
        with failures.case(f"{name}/{mode}"):
            outputs, t = scales(mode)
            loss = get_loss(name, mode=mode)
            expected = sum(
                w * loss(o, resize_target(t, o.shape[2:])) for w, o in zip([4 / 7, 2 / 7, 1 / 7], outputs, strict=True)
            )
            torch.testing.assert_close(DeepSupervisionLoss(loss)(outputs, t), expected, rtol=1e-12, atol=1e-12)
    failures.check()


def test_integer_targets_are_resized_nearest_exact_and_soft_targets_by_area():
    labels = torch.arange(48).reshape(1, 6, 8) % 5  # class indices
    expected = F.interpolate(labels[:, None].double(), size=(3, 4), mode="nearest-exact").long()[:, 0]
    resized = resize_target(labels, (3, 4))
    assert resized.dtype == labels.dtype and torch.equal(resized, expected)
    assert set(resized.unique().tolist()) <= set(labels.unique().tolist())
    for size in ((3, 4), (2, 2), (4, 5), (5, 3), (6, 1)):  # integer factors (a strided view) and the general case
        nearest = F.interpolate(labels[:, None].double(), size=size, mode="nearest-exact").long()[:, 0]
        assert torch.equal(resize_target(labels, size), nearest), size
    assert torch.equal(resize_target(labels.bool(), (3, 4)), expected.bool())
    one_hot = F.one_hot(labels, 5).movedim(-1, 1).double()
    pooled = resize_target(one_hot, (3, 4))
    torch.testing.assert_close(pooled, F.avg_pool2d(one_hot, 2))
    torch.testing.assert_close(pooled.sum(1), torch.ones(1, 3, 4, dtype=torch.float64))  # still a distribution
    binary = (labels[:, None] > 2).double()  # (B, 1, H, W) float: soft after pooling
    torch.testing.assert_close(resize_target(binary, (3, 4)), F.avg_pool2d(binary, 2))
    assert resize_target(labels, (6, 8)) is labels  # full resolution: untouched
    volume = torch.arange(64).reshape(1, 4, 4, 4) % 3  # 3-D
    assert resize_target(volume, (2, 2, 2)).shape == (1, 2, 2, 2)
    ignore = labels.clone()
    ignore[0, :2] = 255
    assert 255 in resize_target(ignore, (3, 4)).tolist()[0][0]  # ignore_index values survive nearest-exact


def test_the_mask_is_resized_with_each_scale():
    outputs, t = scales("multiclass")
    mask = torch.ones(2, 8, 12, dtype=torch.bool)
    mask[:, :, :6] = False
    recorder = Recorder()
    DeepSupervisionLoss(recorder)(outputs, t, mask)
    for (output, _, scaled), size in zip(recorder.calls, ((8, 12), (4, 6), (2, 3)), strict=True):
        assert output.shape[2:] == size and scaled.shape == (2, *size) and scaled.dtype == torch.bool
        assert not scaled[..., : size[1] // 2].any() and scaled[..., size[1] // 2 :].all()


def test_targets_resized_in_advance_are_used_as_given():
    outputs, t = scales("multiclass")
    targets = [resize_target(t, o.shape[2:]) for o in outputs]
    loss = get_loss("dice", mode="multiclass")
    torch.testing.assert_close(DeepSupervisionLoss(loss)(outputs, targets), DeepSupervisionLoss(loss)(outputs, t))


def test_deep_supervision_errors():
    outputs, t = scales("binary")
    loss = get_loss("dice")
    failures = Failures()
    for call, message in (
        (lambda: DeepSupervisionLoss(loss, weights=[1.0, 1.0])(outputs, t), "2 weights for 3 outputs"),
        (lambda: DeepSupervisionLoss(loss)(outputs[0], t), "expected a non-empty sequence of outputs"),
        (lambda: DeepSupervisionLoss(loss)([], t), "expected a non-empty sequence of outputs"),
        (lambda: DeepSupervisionLoss(loss)(outputs, [t, t]), "2 targets for 3 outputs"),
        (lambda: DeepSupervisionLoss(loss, weights=[1.0, -1.0, 0.0]), "Expected `weights` to be a 1-D sequence"),
        (lambda: DeepSupervisionLoss(loss, normalize="no"), "Expected `normalize` to be True or False"),
        (lambda: DeepSupervisionLoss("dice"), "expected `loss` to be a loss module or callable"),
    ):
        with failures.case(message):
            with pytest.raises(UsageError, match=message):
                call()
    failures.check()


def test_gradients_reach_every_scale():
    outputs, t = scales("multiclass")
    outputs = [o.clone().requires_grad_(True) for o in outputs]
    DeepSupervisionLoss(get_loss("ce_dice"))(outputs, t).backward()
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in outputs)


# ----------------------------------------------------------------------------- MaskedLoss


def test_masked_loss_equals_the_loss_with_the_mask_for_catalog_losses():
    failures = Failures()
    field = torch.ones(5, 6, dtype=torch.bool)
    field[0] = False
    field[:, -1] = False
    for name in ("dice", "ce", "focal", "generalized_wasserstein_dice", "erosion_hausdorff", "blob", "skeleton_recall"):
        for mode in ("binary", "multiclass"):
            with failures.case(f"{name}/{mode}"):
                z, t, _ = make_case(mode, seed=41)
                loss = get_loss(name, mode=mode)
                masked = MaskedLoss(loss, field)
                expected = loss(z, t, field.expand(2, 5, 6))
                torch.testing.assert_close(masked(z, t), expected, rtol=0, atol=0)
                assert not torch.equal(masked(z, t), loss(z, t))
    failures.check()


def test_masked_loss_combines_the_per_call_mask_and_keeps_its_mask_as_a_buffer():
    z, t, _ = make_case("multiclass", seed=42)
    field = torch.ones(5, 6)
    field[:, 0] = 0
    call = torch.ones(2, 5, 6, dtype=torch.bool)
    call[1, 2:] = False
    loss = get_loss("dice", mode="multiclass")
    masked = MaskedLoss(loss, field)
    torch.testing.assert_close(masked(z, t, call), loss(z, t, field.bool() & call), rtol=0, atol=0)
    assert "mask" in masked.state_dict() and masked.mask.dtype == torch.bool
    with pytest.raises(UsageError, match="MaskedLoss: expected `mask` to be a torch tensor, got list"):
        MaskedLoss(loss, [[1, 0]])


def test_masked_loss_inside_deep_supervision():
    outputs, t = scales("multiclass")
    mask = torch.ones(2, 8, 12, dtype=torch.bool)
    mask[:, :4] = False
    loss = get_loss("dice", mode="multiclass")
    wrapped = DeepSupervisionLoss(loss)(outputs, t, mask)
    expected = sum(
        w * loss(o, resize_target(t, o.shape[2:]), resize_target(mask, o.shape[2:]))
        for w, o in zip([4 / 7, 2 / 7, 1 / 7], outputs, strict=True)
    )
    torch.testing.assert_close(wrapped, expected, rtol=1e-12, atol=1e-12)


def test_bench_times_both_wrappers_against_their_baselines(tmp_path):
    from segeval.analysis.bench import WRAPPER_COLUMNS, WRAPPER_MIN_REPEATS, bench_losses

    result = bench_losses(["dice", "nll"], shapes=["1x2x8x8"], device="cpu", repeats=1, memory=False, wrappers=True)
    table = result.wrappers
    assert list(table.columns) == WRAPPER_COLUMNS
    assert set(zip(table["wrapper"], table["loss"])) == {("DeepSupervisionLoss", "dice"), ("MaskedLoss", "dice")}
    assert (table["status"] == "ok").all() and (table["repeats"] == WRAPPER_MIN_REPEATS).all()
    assert table.set_index("wrapper").loc["DeepSupervisionLoss", "scales"] == 3
    row = table.iloc[0]
    assert row["overhead_ms"] == pytest.approx(row["wrapper_ms"] - row["baseline_ms"])
    assert "wrapper_rows" in result.to_dict()
    assert (result.write(tmp_path)["wrappers"]).name == "bench_wrappers.csv"
    assert (tmp_path / "bench_wrappers.csv").read_text().startswith(",".join(WRAPPER_COLUMNS))
