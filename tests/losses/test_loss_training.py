"""Training basics: no value read back from the device per call, torch.compile without graph breaks (region
losses), autocast, and batch Dice across processes (a 2-process gloo group on the CPU)."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from loss_cases import Failures, make_case

from segeval.errors import UsageError
from segeval.losses import get_loss, list_losses, loss_spec

NAMES = list_losses()
# Losses that build maps on the CPU (scipy, connected components, skeletons): they copy to the host by design.
HOST_TRANSFORMS = {name for name in NAMES if loss_spec(name).cpu_transform}


def _options(name: str) -> dict:
    """Options that exercise the new code paths where the loss has them."""
    options = loss_spec(name).options()
    out = {"mode": "multiclass", "from_logits": True}
    if "ignore_index" in options:
        out["ignore_index"] = 255
    if "weight" in options and name not in {"ce", "nll", "wce", "focal"}:
        out["weight"] = [0.5, 1.0, 2.0]
    return out


def _case(device="cpu"):
    z, t, _ = make_case("multiclass", seed=3, spatial=(6, 7), dtype=torch.float32)
    t = t.clone()
    t[0, 0, :3] = 255
    mask = torch.ones(2, 6, 7)
    mask[1, 2:4, 2:4] = 0
    return z.to(device), t.to(device), mask.to(device)


def test_no_value_is_read_back_from_the_device():
    """On the meta device every read (``.item()``, ``float()``, ``bool()``) raises: a loss that runs there
    never synchronises host and device. The value checks of ``prepare`` run on CPU tensors only."""
    z, t, mask = _case("meta")
    failures = Failures()
    for name in sorted(set(NAMES) - HOST_TRANSFORMS):
        with failures.case(name):
            value = get_loss(name, **_options(name))(z, t, mask)
            assert value.device.type == "meta"
    failures.check()


def test_region_losses_compile_without_graph_breaks():
    """fullgraph=True raises on any graph break; aot_eager also traces the backward (no C++ compiler needed)."""
    z, t, mask = _case()
    failures = Failures()
    for name in sorted(set(list_losses("region")) - HOST_TRANSFORMS):  # host maps break the graph by design
        with failures.case(name):
            torch._dynamo.reset()
            loss = get_loss(name, **_options(name))
            compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")
            x1, x2 = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
            eager, traced = loss(x1, t, mask), compiled(x2, t, mask)
            eager.backward()
            traced.backward()
            torch.testing.assert_close(traced, eager)
            torch.testing.assert_close(x2.grad, x1.grad)
    torch._dynamo.reset()
    failures.check()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_and_half_inputs_compute_in_float32(dtype):
    """Under CPU autocast (and with half-precision logits) every loss computes in float32: the value is the
    float32 value of the same (rounded) logits, and the gradient reaches the input finite."""
    z, t, mask = _case()
    z = z.to(dtype).float()  # representable in the half dtype
    failures = Failures()
    for name in NAMES:
        with failures.case(name):
            loss = get_loss(name, **_options(name))
            reference = loss(z, t, mask)
            with torch.autocast("cpu", dtype=dtype):
                under_autocast = loss(z, t, mask)
            half = z.to(dtype).requires_grad_(True)
            from_half = loss(half, t, mask)
            from_half.backward()
            assert under_autocast.dtype == torch.float32 and from_half.dtype == torch.float32
            torch.testing.assert_close(under_autocast, reference, rtol=1e-6, atol=1e-6)
            torch.testing.assert_close(from_half, reference, rtol=1e-6, atol=1e-6)
            assert half.grad.dtype == dtype and torch.isfinite(half.grad).all()
    failures.check()


# ----------------------------------------------------------------------------- distributed batch Dice

DISTRIBUTED = ["dice", "iou", "tversky", "focal_tversky", "focal_dice", "log_cosh_dice", "mcc", "generalized_dice"]
DISTRIBUTED += ["bce_dice", "ce_dice"]
# The compound losses pool their Dice term; their CE term stays a per-process mean (nnU-Net's choice under DDP,
# whose gradient averaging makes it the batch mean): compare their Dice term.
DISTRIBUTED_OPTIONS = {"bce_dice": {"lambda_ce": 0.0}, "ce_dice": {"lambda_ce": 0.0}}


def _worker(rank: int, world: int, port: int, results: dict) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        z, t, _ = make_case("multiclass", seed=4, batch=4, spatial=(5, 6))
        part = slice(rank * 2, rank * 2 + 2)
        out = {}
        for name in DISTRIBUTED:
            x = z[part].clone().requires_grad_(True)
            options = DISTRIBUTED_OPTIONS.get(name, {})
            value = get_loss(name, mode="multiclass", aggregation="distributed", **options)(x, t[part])
            value.backward()
            out[name] = (value.detach(), x.grad)
        results[rank] = out
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_aggregation_is_the_batch_loss_of_the_whole_batch():
    """Two processes with two images each give the batch loss of the four images, on every process; each
    process's gradient is world_size times the gradient of that loss w.r.t. its images (DDP averages it back)."""
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_worker, args=(2, _free_port(), results), nprocs=2, join=True)
        results = dict(results)
    z, t, _ = make_case("multiclass", seed=4, batch=4, spatial=(5, 6))
    failures = Failures()
    for name in DISTRIBUTED:
        with failures.case(name):
            x = z.clone().requires_grad_(True)
            whole = get_loss(name, mode="multiclass", aggregation="batch", **DISTRIBUTED_OPTIONS.get(name, {}))(x, t)
            whole.backward()
            for rank in (0, 1):
                value, grad = results[rank][name]
                torch.testing.assert_close(value, whole.detach())
                torch.testing.assert_close(grad / 2, x.grad[rank * 2 : rank * 2 + 2])
    failures.check()


def test_distributed_without_a_process_group_is_batch():
    z, t, _ = make_case("multiclass", seed=5)
    for name in DISTRIBUTED:
        torch.testing.assert_close(
            get_loss(name, mode="multiclass", aggregation="distributed")(z, t),
            get_loss(name, mode="multiclass", aggregation="batch")(z, t),
        )


def test_losses_without_soft_counts_refuse_distributed():
    refusing = [n for n in NAMES if "aggregation" in loss_spec(n).options() and n not in DISTRIBUTED]
    assert "lovasz" in refusing and "topk" in refusing
    for name in refusing:
        with pytest.raises(UsageError, match=f"^{name}: Expected `aggregation` to be one of 'image', 'batch', got"):
            get_loss(name, aggregation="distributed")
