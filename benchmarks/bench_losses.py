"""Benchmark of the loss catalog: forward + backward time and peak memory, and the distance-map speed-ups.

Part 1 runs :func:`segeval.analysis.bench_losses` (the engine of ``segeval losses bench``) for every
loss at a 2-D multi-class batch (default ``8x4x256x256``), a 2-D binary batch (``8x1x256x256``) and
a 3-D batch (``2x2x64x128x128``): median and quartiles of ``--repeats`` timed passes after
``--warmup`` passes, the share spent in CPU distance transforms, and the peak memory (torch's CPU
allocator through the profiler's memory events, plus NumPy through tracemalloc; on CUDA
``max_memory_allocated``).

Part 2 times the four losses that run a CPU distance transform (``dpce``, ``boundary``,
``hausdorff_dt``, ``shape_aware``) twice: with the distance maps of ``segeval.losses._distance`` as
they are (each transform cropped to the bounding box of its pixels plus one pixel, images and
channels in threads), and with the plain computation they replaced (every transform on the whole
image, one after another). The loss values and gradients of both must be identical (checked).

Usage::

    python benchmarks/bench_losses.py --quick          # smaller shapes, 3 repeats
    python benchmarks/bench_losses.py --out bench_out  # also bench.csv/json/png there
    python benchmarks/bench_losses.py --shape 4x3x128x128 --no-results

The tables are printed and appended as a section of ``benchmarks/RESULTS.md`` (unless
``--no-results``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHAPES = ("8x4x256x256", "8x1x256x256", "2x2x64x128x128")
QUICK_SHAPES = ("4x4x128x128", "2x2x32x64x64")
TRANSFORM_LOSSES = ("dpce", "boundary", "hausdorff_dt", "shape_aware")


def _plain_edt(mask, spacing):
    """The transform as it was before the speed-ups: always the whole image."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(mask, sampling=spacing)


def _time_loss(name, x, target, mode, repeats):
    import torch

    from segeval.losses import get_loss

    module = get_loss(name, mode=mode)
    leaf = x.detach().clone().requires_grad_(True)
    value = module(leaf, target)
    value.backward()
    times = []
    for _ in range(repeats):
        leaf.grad = None
        begin = time.perf_counter()
        module(leaf, target).backward()
        times.append(time.perf_counter() - begin)
    leaf.grad = None
    value = module(leaf, target)
    value.backward()
    return (
        float(np.median(times)) * 1e3,
        value.detach().clone(),
        leaf.grad.detach().clone() if leaf.grad is not None else torch.zeros_like(leaf),
    )


def compare_distance_maps(shapes, repeats):
    """Rows (loss, shape, before_ms, after_ms, speedup, identical) for the CPU-transform losses."""
    import torch

    from segeval.analysis.bench import bench_inputs, parse_shape
    from segeval.losses import _distance

    rows = []
    for text in shapes:
        shape = parse_shape(text)
        x, target = bench_inputs(shape, torch.device("cpu"))
        mode = "binary" if shape[1] == 1 else "multiclass"
        for name in TRANSFORM_LOSSES:
            with (
                mock.patch.object(_distance, "_edt", _plain_edt),
                mock.patch.object(_distance, "_THREAD_MIN_PIXELS", 1 << 62),
            ):
                before, value_before, grad_before = _time_loss(name, x, target, mode, repeats)
            after, value_after, grad_after = _time_loss(name, x, target, mode, repeats)
            identical = bool(torch.equal(value_before, value_after) and torch.equal(grad_before, grad_after))
            rows.append(
                {
                    "loss": name,
                    "shape": text,
                    "before_ms": before,
                    "after_ms": after,
                    "speedup": before / after,
                    "identical": identical,
                }
            )
            print(
                f"  {name:13s} {text:16s} {before:9.1f} ms -> {after:8.1f} ms  x{before / after:4.2f}"
                f"  identical={identical}",
                flush=True,
            )
    return rows


def _markdown_bench(table) -> str:
    """One row per loss; per shape the median ms (IQR), the CPU-transform share, and the peak MiB."""
    shapes = list(dict.fromkeys(table["shape"]))
    header = "| loss | family | " + " | ".join(f"{s}: median ms (IQR) | {s}: peak MiB" for s in shapes) + " |"
    lines = [header, "|---|---|" + "---:|---:|" * len(shapes)]
    for loss in dict.fromkeys(table["loss"]):
        rows = table[table["loss"] == loss].set_index("shape")
        first = rows.iloc[0]
        cells = [f"`{loss}`" + (" *" if first["cpu_transform"] else ""), str(first["family"])]
        for shape in shapes:
            if shape not in rows.index or rows.at[shape, "status"] != "ok":
                cells += ["failed", ""]
                continue
            row = rows.loc[shape]
            time_cell = f"{row['median_ms']:.2f} ({row['q75_ms'] - row['q25_ms']:.2f})"
            if row["cpu_transform"]:
                time_cell += f", {row['transform_share']:.0%} EDT"
            cells += [time_cell, f"{row['peak_mb']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markdown_speedups(rows) -> str:
    lines = [
        "| loss | shape | before ms | after ms | speed-up | identical values and gradients |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| `{row['loss']}` | {row['shape']} | {row['before_ms']:.1f} | {row['after_ms']:.1f} | "
            f"{row['speedup']:.2f}x | {'yes' if row['identical'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", action="append", help="B x C x spatial sizes (repeatable)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help=f"shapes {', '.join(QUICK_SHAPES)}, 3 repeats")
    parser.add_argument("--out", type=Path, help="also write bench.csv, bench.json and bench.png here")
    parser.add_argument("--skip-speedups", action="store_true", help="skip part 2")
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    import pandas as pd

    from segeval.analysis.bench import bench_losses

    shapes = args.shape or (QUICK_SHAPES if args.quick else SHAPES)
    repeats = 3 if args.quick else args.repeats
    started = time.perf_counter()
    print(f"part 1: every loss at {', '.join(shapes)} ({args.warmup} warm-up, {repeats} repeats)", flush=True)
    result = bench_losses(
        shapes=shapes,
        device=args.device,
        warmup=args.warmup,
        repeats=repeats,
        progress=lambda done, total: print(f"  {done}/{total}", end="\r", flush=True),
    )
    print()
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(
            result.table[["loss", "shape", "median_ms", "q25_ms", "q75_ms", "transform_share", "peak_mb", "status"]]
            .round(3)
            .to_string(index=False)
        )
    if args.out is not None:
        print(f"written: {', '.join(str(p) for p in result.write(args.out).values())}")
    speedups = []
    if not args.skip_speedups:
        print("part 2: CPU distance maps, plain (whole image, serial) vs cropped + threaded", flush=True)
        speedups = compare_distance_maps(shapes, repeats)
    machine = result.machine
    text = "\n".join(
        [
            f"## Loss benchmark (`benchmarks/bench_losses.py`), {_dt.date.today().isoformat()}",
            "",
            f"Machine: {machine['cpu']}, {machine['cpu_count']} CPU cores (shared), {machine['platform']}; "
            f"Python {machine['python']}, torch {machine['torch']} ({machine['torch_threads']} threads), "
            f"device `{machine['device']}`" + (f" ({machine['gpu']})" if "gpu" in machine else "") + ". "
            f"float32 inputs, forward + backward, {args.warmup} warm-up and {repeats} timed passes per loss; "
            "median and interquartile range in ms. `*` = CPU distance transform, with the share of the median "
            'spent in it ("EDT"). Peak memory in MiB: torch\'s CPU allocator (profiler memory events) + NumPy '
            "(tracemalloc); on CUDA `max_memory_allocated`. "
            f"Total run time {time.perf_counter() - started:.0f} s.",
            "",
            _markdown_bench(result.table),
            "",
        ]
    )
    if speedups:
        text += "\n".join(
            [
                "CPU distance maps before and after the speed-ups in `segeval/losses/_distance.py` (each transform on",
                "the bounding box of its pixels + 1 px, exact; images and channels in threads), same inputs; the loss",
                "values and gradients are compared bit for bit:",
                "",
                _markdown_speedups(speedups),
                "",
            ]
        )
    print(text)
    if not args.no_results:
        results_path = ROOT / "benchmarks" / "RESULTS.md"
        with open(results_path, "a", encoding="utf-8") as handle:
            handle.write("\n" + text)
        print(f"appended to {results_path}")
    return 0 if all(row["identical"] for row in speedups) else 1


if __name__ == "__main__":
    sys.exit(main())
