"""Benchmark ``segeval score`` (overlap metrics) against decoding alone and a NumPy bincount loop.

    python benchmarks/bench_score.py [--quick] [--data benchmarks/data] [--results benchmarks/RESULTS.md]

Data (generated once, deterministic, into --data): 200 PNG pairs 512×512 with 6 classes and 12 NIfTI
pairs 256×256×128 (spacing 0.8×0.8×2.5 mm) with 3 labels; --quick uses 40 PNG and 3 NIfTI pairs.

Timed in one process, each best of --repeats runs:
  decode       read every file with segeval's readers, nothing else (one thread: the cost of the data)
  numpy        decode + one np.bincount confusion matrix per case + every metric in NumPy (one thread)
  segeval      segeval.score(...) with default settings (decode in worker threads, kernel in torch)
  segeval-w1   segeval.score(..., workers=1): the same with a single decoding thread
  +distances   segeval.score(..., metrics=["hd", "hd95", "assd"]): the whole pipeline with distance metrics
               (kernel-level comparisons with MONAI, MedPy and DeepMind: bench_distance.py)
Ratios are relative to decode. Results are appended to --results with the machine and date.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image
from scipy import ndimage

import segeval
from segeval.io.readers import read_image


def smooth_labels(rng, shape, n_labels, coarse):
    low = rng.standard_normal((n_labels - 1, *coarse))
    fields = np.stack([ndimage.zoom(f, [s / c for s, c in zip(shape, coarse)], order=1) for f in low])
    labels = fields.argmax(axis=0) + 1
    return np.where(fields.max(axis=0) > 0.6, labels, 0).astype(np.uint8)


def perturb(rng, gt, n_labels):
    flip = rng.random(gt.shape) < 0.02
    pred = gt.copy()
    pred[flip] = rng.integers(0, n_labels, size=int(flip.sum()))
    return ndimage.median_filter(pred, size=3) if gt.ndim == 2 else pred


def make_data(root: Path, n_png: int, n_nii: int) -> dict[str, tuple[Path, Path]]:
    rng = np.random.default_rng(0)
    sets = {
        "png": (root / f"png{n_png}" / "preds", root / f"png{n_png}" / "gts"),
        "nifti": (root / f"nii{n_nii}" / "preds", root / f"nii{n_nii}" / "gts"),
    }
    preds, gts = sets["png"]
    if not (gts.exists() and len(list(gts.iterdir())) == n_png):
        preds.mkdir(parents=True, exist_ok=True), gts.mkdir(parents=True, exist_ok=True)
        for i in range(n_png):
            gt = smooth_labels(rng, (512, 512), 6, (12, 12))
            Image.fromarray(gt).save(gts / f"img_{i:04d}.png")
            Image.fromarray(perturb(rng, gt, 6)).save(preds / f"img_{i:04d}.png")
    preds, gts = sets["nifti"]
    if not (gts.exists() and len(list(gts.iterdir())) == n_nii):
        preds.mkdir(parents=True, exist_ok=True), gts.mkdir(parents=True, exist_ok=True)
        for i in range(n_nii):
            gt = smooth_labels(rng, (128, 256, 256), 3, (6, 10, 10))
            for folder, array in ((gts, gt), (preds, perturb(rng, gt, 3))):
                image = sitk.GetImageFromArray(array)
                image.SetSpacing((0.8, 0.8, 2.5))
                sitk.WriteImage(image, str(folder / f"vol_{i:03d}.nii.gz"), useCompression=True)
    return sets


def decode_only(preds: Path, gts: Path) -> None:
    for gt in sorted(gts.iterdir()):
        read_image(gt)
        read_image(next(preds.glob(gt.name.split(".")[0] + ".*")))


def numpy_loop(preds: Path, gts: Path) -> None:
    """The straightforward way: decode, bincount, derive every metric in NumPy."""
    for gt_path in sorted(gts.iterdir()):
        gt = read_image(gt_path).array.astype(np.int64).ravel()
        pred = read_image(next(preds.glob(gt_path.name.split(".")[0] + ".*"))).array.astype(np.int64).ravel()
        k = int(max(gt.max(), pred.max())) + 1
        cm = np.bincount(gt * k + pred, minlength=k * k).reshape(k, k).astype(float)
        tp = np.diag(cm)
        fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            _ = (
                2 * tp / (2 * tp + fp + fn),
                tp / (tp + fp + fn),
                tp / (tp + fp),
                tp / (tp + fn),
                tp.sum() / cm.sum(),
                np.nanmean(tp / (tp + fp + fn)),
            )


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args()
    n_png, n_nii = (40, 3) if args.quick else (200, 12)
    sets = make_data(args.data, n_png, n_nii)
    import torch

    lines = [
        f"\n## segeval score, overlap metrics — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n",
        f"Machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads; device cpu.",
        f"Command: `python benchmarks/bench_score.py{' --quick' if args.quick else ''}` "
        f"(best of {args.repeats}; per case = wall time / cases).\n",
        "| data | cases | decode ms/case | numpy loop | segeval | segeval workers=1 | segeval +hd,hd95,assd |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (preds, gts) in sets.items():
        n = len(list(gts.iterdir()))
        decode = best_of(args.repeats, functools.partial(decode_only, preds, gts))
        numpy_t = best_of(args.repeats, functools.partial(numpy_loop, preds, gts))
        seg = best_of(args.repeats, functools.partial(segeval.score, preds, gts, device="cpu"))
        seg1 = best_of(args.repeats, functools.partial(segeval.score, preds, gts, device="cpu", workers=1))
        dist = best_of(
            args.repeats, functools.partial(segeval.score, preds, gts, device="cpu", metrics=["hd", "hd95", "assd"])
        )
        desc = "PNG 512×512, 6 classes" if name == "png" else "NIfTI 256×256×128 .nii.gz, 3 labels"
        lines.append(
            f"| {desc} | {n} | {1000 * decode / n:.1f} | {numpy_t / decode:.2f}× "
            f"({1000 * numpy_t / n:.1f} ms) | {seg / decode:.2f}× ({1000 * seg / n:.1f} ms) | "
            f"{seg1 / decode:.2f}× ({1000 * seg1 / n:.1f} ms) | {1000 * dist / n:.1f} ms |"
        )
        print(lines[-1], flush=True)
    lines.append("\nRatios are wall time relative to decode-only (lower is better; target ≤ 1.3×).")
    with args.results.open("a") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"appended to {args.results}")


if __name__ == "__main__":
    main()
