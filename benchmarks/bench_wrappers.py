"""Overhead of the loss wrappers (DeepSupervisionLoss, MaskedLoss) over the losses they wrap.

Runs :func:`segeval.analysis.bench.bench_wrappers` (the engine of ``bench_losses(..., wrappers=True)``):
for each loss and shape, the wrapper and its baseline alternate pass by pass (forward + backward),
``--repeats`` (at least 30) passes each. Deep supervision: three outputs built from the shape (full
size, halved twice) against the same weighted sum of the loss on targets resized in advance; masked: a
fixed mask against ``loss(x, target, mask)``. Overhead = wrapper median − baseline median. The issue's
bound: at most 5 % of the baseline, or at most 0.2 ms.

Usage::

    python benchmarks/bench_wrappers.py                     # default losses and shapes, appends to RESULTS.md
    python benchmarks/bench_wrappers.py --loss dice --shape 2x3x64x64 --no-results
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOSSES = ["dice", "ce", "focal", "ce_dice", "dice_focal", "generalized_wasserstein_dice", "hausdorff_dt", "blob"]
SHAPES = ["4x3x128x128", "4x1x128x128"]


def main() -> None:
    import torch

    from segeval.analysis.bench import bench_wrappers, machine_info

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", action="append", help="a loss (repeatable); default: a representative set")
    parser.add_argument("--shape", action="append", help="B x C x spatial (repeatable)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    parser.add_argument(
        "--wall", action="store_true", help="wall-clock time with torch's threads (default: CPU time, one thread)"
    )
    args = parser.parse_args()
    if not args.wall:  # the CPU is shared: count this thread's own work, in one torch thread
        torch.set_num_threads(1)
    losses, shapes = args.loss or LOSSES, args.shape or SHAPES
    load = os.getloadavg()[0]
    timer = time.perf_counter if args.wall else time.thread_time
    table = bench_wrappers(losses, shapes=shapes, device="cpu", repeats=args.repeats, timer=timer)
    clock = "wall-clock time" if args.wall else "CPU time of the timing thread (`time.thread_time`, one torch thread)"
    table["within_bound"] = (table["overhead_share"] <= 0.05) | (table["overhead_ms"] <= 0.2)
    machine = machine_info(torch.device("cpu"))
    lines = [
        f"## Loss wrappers: overhead over the wrapped losses (`benchmarks/bench_wrappers.py`), "
        f"{_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {machine['cpu']}, {machine['cpu_count']} CPU cores shared with other jobs (load average "
        f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), torch {machine['torch']} "
        f"({machine['torch_threads']} threads), device `cpu`, float32. Forward + backward, timed by {clock}; the "
        f"wrapper and its baseline alternate pass by pass (ABBA), {max(args.repeats, 30)} passes each after 2 "
        "warm-ups; "
        "medians in ms. "
        "Deep supervision: three outputs (full size, 1/2, 1/4) against the same weighted sum of the loss on "
        "targets resized in advance; masked: a fixed mask (the first eighth of the rows) against "
        "`loss(x, target, mask)`. Bound (issue 12): overhead ≤ 5 % of the baseline or ≤ 0.2 ms.",
        "",
        "| wrapper | loss | shape | wrapper ms | baseline ms | overhead ms | overhead | within bound |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for row in table.itertuples():
        if row.status != "ok":
            lines.append(f"| {row.wrapper} | `{row.loss}` | {row.shape} | failed: {row.error} | | | | |")
            continue
        lines.append(
            f"| {row.wrapper} | `{row.loss}` | {row.shape} | {row.wrapper_ms:.2f} | {row.baseline_ms:.2f} | "
            f"{row.overhead_ms:+.2f} | {row.overhead_share:+.1%} | {'yes' if row.within_bound else 'no'} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_results:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    main()
