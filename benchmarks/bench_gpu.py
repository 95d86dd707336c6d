"""Short GPU benchmark of ``benchmarks/gpu_check.sh``: segeval's CUDA paths against the CPU, on d3-like volumes.

    python benchmarks/bench_gpu.py --device cuda          # on a machine with CUDA
    python benchmarks/bench_gpu.py --device cpu --quick   # the dry run: the same steps, the CPU on both sides

Each step runs on the CPU and on ``--device``, checks that both give the same numbers, and is timed as
the median of ``--repeats`` runs after a warm-up (CUDA synchronised):

1. counting: the joint histograms of the cases, one batch (``segeval.metrics.confusion``); equal matrices;
2. distances: HD, HD95, ASSD of every label (``distance_metrics``, default convention); relative
   difference at most 1e-12;
3. score: ``segeval.score`` on the cases written as NIfTI with ``metrics=["hd", "hd95", "assd"]``;
   equal tables (distances within 1e-12);
4. losses: forward + backward of a few losses on (2, 4, 64, 128, 128) float32 logits; values within
   rtol 1e-4 of the CPU's, finite gradients.

Cases: 256×256×128 voxels, 3 labels, 0.8×0.8×2.5 mm (``bench_distance.make_case``); ``--quick`` uses
64×64×32 and smaller loss inputs. One summary table is printed; the exit code is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_distance  # noqa: E402  (the case generator, shared)

METRICS = ["hd", "hd95", "assd"]
LOSSES = ["ce", "dice", "focal", "lovasz", "boundary", "hausdorff_dt"]


def timed(fn, device: torch.device, repeats: int):
    """(median seconds, last result) of ``fn()`` after one warm-up call."""
    result = fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def cases(n: int, shape: tuple[int, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` (pred, gt) label volumes like d3's."""
    out = []
    for i in range(n):
        rng = np.random.default_rng([0, 3, i])
        gt, pred = bench_distance.make_case(rng, shape, 3, (0.12, 0.24), 0.35, 0.15, (6, 10, 10), i % 3 == 0)
        out.append((pred, gt))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small volumes and loss inputs (the CPU dry run)")
    args = parser.parse_args(argv)

    import segeval
    from segeval.losses import get_loss
    from segeval.metrics.confusion import joint_histograms
    from segeval.metrics.distance import DistanceOptions, distance_metrics

    device, cpu = torch.device(args.device), torch.device("cpu")
    shape = (32, 64, 64) if args.quick else bench_distance.SHAPE_3D
    spacing = bench_distance.SPACING_3D
    loss_shape = (2, 4, 16, 32, 32) if args.quick else (2, 4, 64, 128, 128)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, device {device} ({name}), segeval from {Path(segeval.__file__).parent}")
    data = cases(args.cases, shape)
    rows: list[tuple[str, float, float, bool]] = []

    def histograms(on: torch.device):
        tensors = [(torch.from_numpy(p).to(on), torch.from_numpy(g).to(on)) for p, g in data]
        return joint_histograms([p for p, _ in tensors], [g for _, g in tensors])

    (t_cpu, ref), (t_dev, got) = (timed(lambda on=on: histograms(on), on, args.repeats) for on in (cpu, device))
    same = all(np.array_equal(a.cm, b.cm) and np.array_equal(a.values, b.values) for a, b in zip(ref, got))
    rows.append((f"counting, {len(data)} cases in one batch (host → device included)", t_cpu, t_dev, same))

    def distances(on: torch.device):
        options = DistanceOptions(device=str(on))
        return [distance_metrics(p, g, [1, 2, 3], spacing, METRICS, options) for p, g in data]

    (t_cpu, ref), (t_dev, got) = (
        timed(lambda on=on: distances(on), on, max(1, args.repeats // 2)) for on in (cpu, device)
    )
    same = all(
        np.isclose(a[label][m][0], b[label][m][0], rtol=1e-12, atol=0) or a[label][m][0] == b[label][m][0]
        for a, b in zip(ref, got)
        for label in a
        for m in METRICS
    )
    rows.append((f"distances hd,hd95,assd, per case ({len(data)} cases)", t_cpu / len(data), t_dev / len(data), same))

    with tempfile.TemporaryDirectory() as folder:
        import SimpleITK as sitk

        for side in ("pred", "gt"):
            (Path(folder) / side).mkdir()
        for i, (p, g) in enumerate(data):
            for side, array in (("pred", p), ("gt", g)):
                image = sitk.GetImageFromArray(array)
                image.SetSpacing(tuple(reversed(spacing)))
                sitk.WriteImage(image, str(Path(folder) / side / f"case_{i:03d}.nii.gz"), True)

        def score(on: torch.device):
            return segeval.score(Path(folder) / "pred", Path(folder) / "gt", device=str(on), metrics=METRICS)

        (t_cpu, ref), (t_dev, got) = (
            timed(lambda on=on: score(on), on, max(1, args.repeats // 2)) for on in (cpu, device)
        )
    same = ref.per_case[["case", "class", "metric", "status"]].equals(
        got.per_case[["case", "class", "metric", "status"]]
    )
    same = same and np.allclose(ref.per_case["value"], got.per_case["value"], rtol=1e-12, atol=0, equal_nan=True)
    rows.append((f"segeval.score, {len(data)} NIfTI cases, hd,hd95,assd (whole run)", t_cpu, t_dev, same))

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(loss_shape, generator=generator)
    target = torch.randint(0, loss_shape[1], (loss_shape[0], *loss_shape[2:]), generator=generator)
    for loss_name in LOSSES:
        results = []
        for on in (cpu, device):
            loss = get_loss(loss_name, mode="multiclass").to(on)
            x, t = logits.to(on), target.to(on)

            def step(loss=loss, x=x, t=t):
                z = x.clone().requires_grad_()
                value = loss(z, t)
                value.backward()
                return value.detach().cpu(), bool(torch.isfinite(z.grad).all())

            results.append(timed(step, on, args.repeats))
        (t_cpu, (v_cpu, _)), (t_dev, (v_dev, finite)) = results
        same = finite and torch.allclose(v_dev, v_cpu, rtol=1e-4, atol=1e-5)
        rows.append((f"loss {loss_name}: forward + backward, {'x'.join(map(str, loss_shape))}", t_cpu, t_dev, same))

    width = max(len(row[0]) for row in rows)
    print(f"\n{'step'.ljust(width)}  {'cpu ms':>9}  {device.type + ' ms':>9}  {'speed-up':>8}  same numbers")
    for label, t_cpu, t_dev, same in rows:
        print(
            f"{label.ljust(width)}  {1000 * t_cpu:9.2f}  {1000 * t_dev:9.2f}  {t_cpu / t_dev:7.1f}x  {'yes' if same else 'NO'}"
        )
    failed = [row[0] for row in rows if not row[3]]
    print(
        f"\nbench_gpu: {len(rows) - len(failed)}/{len(rows)} checks agree" + (f"; differ: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
