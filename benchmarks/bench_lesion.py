"""Benchmark of the lesion-wise metrics: segeval vs the whole-mask distances on the same volume, and vs panoptica.

One 256x256x128 label volume at 0.8x0.8x2.5 mm with two lesion classes of 50 ellipsoid lesions each (radii 2 to
8 voxels in-plane); the prediction finds most lesions (shifted, grown or shrunk), splits some, misses some and
adds false positives. Timed, per case (both classes), median of ``--rounds`` interleaved rounds:

* ``segeval lesion-wise``: :func:`segeval.metrics.lesion.lesion_metrics` per class with one-to-one ``assignment``
  matching and per-lesion Dice, IoU, HD95 and ASSD, with a breakdown (labelling, reference dilation, matching,
  per-lesion distances), and with the BraTS 2023 GLI preset (3 dilations, 26-connectivity, any-overlap matching);
* ``segeval whole-mask HD+HD95+ASSD``: :func:`segeval.metrics.distance.distance_metrics` of both classes;
* ``panoptica``: its ``Panoptica_Evaluator`` on the same binary masks (connected components, maximum bipartite
  matching at IoU > 0, per-instance DSC, IoU, HD95 and ASSD). panoptica pins older numpy/pandas/rich, so it runs in
  its own virtual environment (``--panoptica-python``), in a child process that times only its own evaluation.

Usage::

    python benchmarks/bench_lesion.py                       # appends a section to benchmarks/RESULTS.md
    python benchmarks/bench_lesion.py --rounds 1 --no-results
    python benchmarks/bench_lesion.py --panoptica-python /work/panoptica-venv/bin/python
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE = (128, 256, 256)  # (z, y, x)
SPACING = (2.5, 0.8, 0.8)
CLASSES = (1, 2)
LESIONS_PER_CLASS = 50


def make_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark's reference and prediction label volumes (uint8)."""
    rng = np.random.default_rng(seed)
    gt, pred = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    for label in CLASSES:
        for k in range(LESIONS_PER_CLASS):
            radius = rng.uniform(2.0, 8.0)
            radii = np.array([max(1.0, radius * 0.32), radius, radius])  # 2.5 mm slices: flatter in z
            centre = rng.uniform(radii + 1, np.array(SHAPE) - radii - 2)
            lo = np.maximum(np.floor(centre - radii - 2).astype(int), 0)
            hi = np.minimum(np.ceil(centre + radii + 3).astype(int), SHAPE)
            grid = np.ogrid[tuple(slice(a, b) for a, b in zip(lo, hi))]
            inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0
            box = tuple(slice(a, b) for a, b in zip(lo, hi))
            gt[box][inside] = label
            fate = k % 10
            if fate == 0:  # missed
                continue
            found = inside.copy()
            if fate == 1:  # split
                found[:, :, found.shape[2] // 2] = False
            elif fate in (2, 3):
                found = np.roll(found, 1, axis=2)
            elif fate in (4, 5):
                grown = sum(((g - c) / (r + 0.7)) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0
                found = grown
            pred[box][found] = label
        for _ in range(LESIONS_PER_CLASS // 10):  # false positives
            centre = rng.uniform((4, 8, 8), np.array(SHAPE) - (5, 9, 9))
            lo = centre.astype(int)
            pred[lo[0] : lo[0] + 2, lo[1] : lo[1] + 5, lo[2] : lo[2] + 5] = label
    return gt, pred


class _Timers:
    """Wraps the lesion kernel's steps to time them (the kernel itself has no timing code)."""

    def __init__(self) -> None:
        from segeval.metrics import lesion

        self.module = lesion
        self.seconds = {"labelling": 0.0, "dilation": 0.0, "per-lesion distances": 0.0}
        self._originals = {}

    def _wrap(self, owner, name, key):
        original = getattr(owner, name)
        self._originals[(owner, name)] = original

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start

        setattr(owner, name, timed)

    def __enter__(self):
        self._wrap(self.module, "_label", "labelling")
        self._wrap(self.module, "_components", "labelling")
        self._wrap(self.module, "_dilate", "dilation")
        self._wrap(self.module, "_pair_scores", "per-lesion distances")
        return self

    def __exit__(self, *exc) -> None:
        for (owner, name), original in self._originals.items():
            setattr(owner, name, original)


def segeval_lesions(gt, pred, options, timers: _Timers | None = None) -> tuple[float, dict]:
    from segeval.metrics.lesion import lesion_metrics

    start = time.perf_counter()
    results = {label: lesion_metrics(pred == label, gt == label, SPACING, options) for label in CLASSES}
    return time.perf_counter() - start, results


def segeval_whole_mask(gt, pred) -> float:
    from segeval.metrics.distance import DistanceOptions, distance_metrics

    start = time.perf_counter()
    distance_metrics(pred, gt, list(CLASSES), SPACING, ["hd", "hd95", "assd"], DistanceOptions())
    return time.perf_counter() - start


def panoptica_worker(folder: Path) -> None:
    """Child process in panoptica's environment: time its evaluation of each class, print JSON."""
    from panoptica import (
        ConnectedComponentsInstanceApproximator,
        InputType,
        MaxBipartiteMatching,
        Metric,
        Panoptica_Evaluator,
    )
    from panoptica.utils.citation_reminder import disable_citation_reminder

    disable_citation_reminder()
    gt, pred = np.load(folder / "gt.npy"), np.load(folder / "pred.npy")
    evaluator = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC,
        instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=MaxBipartiteMatching(matching_threshold=1e-9),
        instance_metrics=[Metric.DSC, Metric.IOU, Metric.HD95, Metric.ASSD],
    )
    start = time.perf_counter()
    counts = {}
    for label in CLASSES:
        p, g = (pred == label).astype(np.uint8), (gt == label).astype(np.uint8)
        result = evaluator.evaluate(p, g, voxelspacing=SPACING, verbose=False)["ungrouped"]
        counts[label] = [result.tp, result.fp, result.fn]
    print(json.dumps({"seconds": time.perf_counter() - start, "counts": counts}))


def panoptica_time(python: str, folder: Path) -> dict:
    run = subprocess.run(
        [python, __file__, "--panoptica-worker", str(folder)], capture_output=True, text=True, check=True
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def lesion_sizes(gt: np.ndarray) -> str:
    import cc3d

    sizes = []
    for label in CLASSES:
        sizes += list(cc3d.statistics(cc3d.connected_components(gt == label, connectivity=26))["voxel_counts"][1:])
    q = np.percentile(sizes, [0, 25, 50, 75, 100])
    return (
        f"{len(sizes)} reference lesions, voxels min {q[0]:.0f}, q25 {q[1]:.0f}, median {q[2]:.0f}, "
        f"q75 {q[3]:.0f}, max {q[4]:.0f} (mm³ × {np.prod(SPACING):g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--panoptica-python", default="/work/panoptica-venv/bin/python")
    parser.add_argument("--panoptica-rounds", type=int, default=2)
    parser.add_argument("--no-results", action="store_true")
    parser.add_argument("--panoptica-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.panoptica_worker is not None:
        panoptica_worker(args.panoptica_worker)
        return

    from segeval.metrics.lesion import LesionOptions
    from segeval.options import LesionMatching, LesionPreset

    gt, pred = make_case()
    load = os.getloadavg()
    assignment = LesionOptions(matching=LesionMatching.ASSIGNMENT)
    brats = LesionOptions.preset(LesionPreset.BRATS2023_GLI)
    segeval_lesions(gt, pred, assignment)  # warm-up
    segeval_whole_mask(gt, pred)
    times: dict[str, list[float]] = {"lesion": [], "brats": [], "whole": [], "panoptica": []}
    breakdowns = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        np.save(folder / "gt.npy", gt)
        np.save(folder / "pred.npy", pred)
        has_panoptica = Path(args.panoptica_python).exists()
        for round_ in range(args.rounds):
            with _Timers() as timers:
                seconds, results = segeval_lesions(gt, pred, assignment)
            times["lesion"].append(seconds)
            breakdowns.append({**timers.seconds, "total": seconds})
            times["brats"].append(segeval_lesions(gt, pred, brats)[0])
            times["whole"].append(segeval_whole_mask(gt, pred))
            if has_panoptica and round_ < args.panoptica_rounds:
                answer = panoptica_time(args.panoptica_python, folder)
                times["panoptica"].append(answer["seconds"])
                ours = {str(k): [r.tp, r.fp, r.fn] for k, r in results.items()}
                if ours != {str(k): [int(v) for v in c] for k, c in answer["counts"].items()}:
                    print(f"warning: panoptica counts {answer['counts']} differ from segeval's {ours}")
    median = {key: float(np.median(values)) if values else float("nan") for key, values in times.items()}
    steps = {key: float(np.median([b[key] for b in breakdowns])) for key in breakdowns[0]}
    steps["matching and the rest"] = steps["total"] - sum(v for k, v in steps.items() if k != "total")
    counts = {label: (r.tp, r.fp, r.fn, r.merged, r.split) for label, r in results.items()}
    lines = [
        f"## Lesion-wise metrics: bench_lesion.py ({_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}; load average "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the start (the cores are shared with other work).",
        "",
        f"One {SHAPE[2]}×{SHAPE[1]}×{SHAPE[0]} volume (x, y, z) at {SPACING[2]}×{SPACING[1]}×{SPACING[0]} mm, classes "
        f"1 and 2 with {LESIONS_PER_CLASS} lesions each: {lesion_sizes(gt)}. Per class (TP, FP, FN, merged, split) "
        f"of the assignment matching: {counts}. Median of {args.rounds} interleaved rounds "
        f"(panoptica: {len(times['panoptica'])}), both classes, seconds:",
        "",
        "| method | s per case | vs whole-mask distances | panoptica / method |",
        "|---|---:|---:|---:|",
    ]
    for name, key in (
        ("segeval lesion-wise (assignment, Dice/IoU/HD95/ASSD per lesion)", "lesion"),
        ("segeval lesion-wise, BraTS 2023 GLI preset", "brats"),
        ("segeval whole-mask HD+HD95+ASSD", "whole"),
        ("panoptica (bipartite matching, DSC/IoU/HD95/ASSD per instance)", "panoptica"),
    ):
        lines.append(
            f"| {name} | {median[key]:.3f} | {median[key] / median['whole']:.1f}× | "
            f"{median['panoptica'] / median[key]:.1f}× |"
        )
    lines += [
        "",
        "Breakdown of segeval lesion-wise (assignment), median seconds: "
        + ", ".join(f"{k} {v:.3f}" for k, v in steps.items() if k != "total")
        + f" (total {steps['total']:.3f}).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_results:
        with (Path(__file__).with_name("RESULTS.md")).open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    sys.exit(main())
