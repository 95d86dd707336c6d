"""Benchmark of the distance-metric kernels: segeval vs MONAI, MedPy and DeepMind surface-distance.

Generates label volumes (3-D NIfTI, default 12 cases of 256x256x128 voxels at 0.8x0.8x2.5 mm,
3 labels) and label images (2-D PNG, default 200 cases of 512x512 pixels, 6 classes), with
random smooth blobs as ground truth and a perturbed copy as prediction. Then, for every case
and every foreground label, each method reads the two files and computes HD, HD95 and ASSD:

* ``segeval[<convention>]``: SimpleITK / Pillow, then ``segeval.metrics.distance.distance_metrics``
  with the preset matching each reference (and the default ``segeval`` convention);
* ``monai``: ``compute_hausdorff_distance`` (percentile None and 95) and
  ``compute_average_surface_distance(symmetric=True)`` on one-hot tensors;
* ``medpy``: ``medpy.metric.binary.hd``, ``hd95`` and ``assd`` per label;
* ``deepmind``: ``compute_surface_distances`` once per label, then ``compute_robust_hausdorff``
  (100 and 95) and ``compute_average_surface_distance``.

Reported per method: marginal cost per case (time for N cases minus time for the first k,
divided by N - k, after one warm-up case; each case run ``--repeat`` times and the fastest
kept, against the noise of a shared machine), start-up (import time in a fresh interpreter,
and the first call's extra cost), the speed-up of segeval under the matching preset, total
and compute-only (reading, timed on its own, subtracted), and the largest relative
difference between the values. MedPy transforms the whole volume six times per label, so in
3-D it is timed on ``--medpy-3d-cases`` cases only.

Usage::

    python benchmarks/bench_distance.py --quick            # 4 x 3-D, 30 x 2-D cases
    python benchmarks/bench_distance.py                    # 12 x 3-D, 200 x 2-D cases
    python benchmarks/bench_distance.py --data-dir /tmp/bd --skip medpy --no-results

The results are printed and appended as a section of ``benchmarks/RESULTS.md`` (unless
``--no-results``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

METRICS = ("hd", "hd95", "assd")
SHAPE_3D = (128, 256, 256)  # array order (z, y, x)
SPACING_3D = (2.5, 0.8, 0.8)  # mm, array order
SHAPE_2D = (512, 512)


# --------------------------------------------------------------------------- data


def _smooth_noise(rng: np.random.Generator, shape, cells) -> np.ndarray:
    """Smooth noise in [-1, 1]: a coarse random grid upsampled linearly to ``shape``."""
    from scipy import ndimage as ndi

    coarse = rng.uniform(-1.0, 1.0, size=tuple(max(2, c) for c in cells))
    zoom = [(s - 1) / (c - 1) for s, c in zip(shape, coarse.shape)]
    out = ndi.zoom(coarse, zoom, order=1, mode="nearest", grid_mode=False)
    return out[tuple(slice(0, s) for s in shape)]


def make_case(rng, shape, n_labels, radius_frac, gt_amplitude, pred_amplitude, cells, spurious):
    """(gt, pred) label maps: perturbed ellipsoids, and the same with extra smooth noise.

    Each label is an ellipsoid whose level set ``sum(((x - c) / r)**2) - 1`` is shifted by
    smooth noise of amplitude ``gt_amplitude`` (the ground truth); the prediction adds an
    independent smooth noise of amplitude ``pred_amplitude`` to the same level set, so its
    boundary moves by a few voxels. ``spurious`` adds a small false-positive blob of label 1.
    """
    gt = np.zeros(shape, dtype=np.uint8)
    pred = np.zeros(shape, dtype=np.uint8)
    for label in range(1, n_labels + 1):
        centre = [rng.uniform(0.25 * s, 0.75 * s) for s in shape]
        radii = [rng.uniform(*radius_frac) * s for s in shape]
        box = tuple(
            slice(max(0, int(c - 1.5 * r) - 2), min(s, int(c + 1.5 * r) + 3)) for c, r, s in zip(centre, radii, shape)
        )
        sub_shape = tuple(b.stop - b.start for b in box)
        level = sum(((g - c) / r) ** 2 for g, c, r in zip(np.ogrid[box], centre, radii)) - 1.0
        level = level + gt_amplitude * _smooth_noise(rng, sub_shape, cells)
        gt[box][level < 0] = label
        level = level + pred_amplitude * _smooth_noise(rng, sub_shape, cells)
        pred[box][level < 0] = label
    if spurious:
        centre = [rng.uniform(0.1 * s, 0.9 * s) for s in shape]
        radius = [max(2.0, 0.03 * s) for s in shape]
        box = tuple(slice(max(0, int(c - r) - 1), min(s, int(c + r) + 2)) for c, r, s in zip(centre, radius, shape))
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(np.ogrid[box], centre, radius)) < 1
        pred[box][inside & (pred[box] == 0)] = 1
    return gt, pred


def generate(data_dir: Path, n3d: int, n2d: int, seed: int = 0) -> dict:
    """Write the cases (skipping those already there); returns the case lists."""
    import SimpleITK as sitk
    from PIL import Image

    rng = np.random.default_rng(seed)
    cases = {"3d": [], "2d": []}
    d3 = data_dir / "nifti"
    d2 = data_dir / "png"
    for d in (d3 / "gt", d3 / "pred", d2 / "gt", d2 / "pred"):
        d.mkdir(parents=True, exist_ok=True)
    for i in range(n3d):
        gt_path, pred_path = d3 / "gt" / f"case_{i:03d}.nii.gz", d3 / "pred" / f"case_{i:03d}.nii.gz"
        case_rng = np.random.default_rng([seed, 3, i])
        if not (gt_path.exists() and pred_path.exists()):
            gt, pred = make_case(case_rng, SHAPE_3D, 3, (0.12, 0.24), 0.35, 0.15, (6, 10, 10), i % 3 == 0)
            for arr, path in ((gt, gt_path), (pred, pred_path)):
                image = sitk.GetImageFromArray(arr)
                image.SetSpacing(tuple(float(s) for s in reversed(SPACING_3D)))  # (x, y, z)
                sitk.WriteImage(image, str(path), True)
        cases["3d"].append((pred_path, gt_path))
    for i in range(n2d):
        gt_path, pred_path = d2 / "gt" / f"img_{i:03d}.png", d2 / "pred" / f"img_{i:03d}.png"
        case_rng = np.random.default_rng([seed, 2, i])
        if not (gt_path.exists() and pred_path.exists()):
            gt, pred = make_case(case_rng, SHAPE_2D, 6, (0.1, 0.3), 0.3, 0.12, (8, 8), i % 4 == 0)
            Image.fromarray(gt).save(gt_path)
            Image.fromarray(pred).save(pred_path)
        cases["2d"].append((pred_path, gt_path))
    del rng
    return cases


# --------------------------------------------------------------------------- readers


def read_case(pred_path: Path, gt_path: Path):
    """(pred, gt, spacing_mm in array order) read with SimpleITK (NIfTI) or Pillow (PNG)."""
    if str(pred_path).endswith(".png"):
        from PIL import Image

        pred = np.asarray(Image.open(pred_path))
        gt = np.asarray(Image.open(gt_path))
        return pred, gt, (1.0, 1.0)
    import SimpleITK as sitk

    pi, gi = sitk.ReadImage(str(pred_path)), sitk.ReadImage(str(gt_path))
    spacing = tuple(reversed(pi.GetSpacing()))
    return sitk.GetArrayFromImage(pi), sitk.GetArrayFromImage(gi), spacing


def method_segeval(convention: str):
    def run(pred_path, gt_path, labels):
        from segeval.metrics.distance import DistanceOptions, distance_metrics

        pred, gt, spacing = read_case(pred_path, gt_path)
        res = distance_metrics(pred, gt, labels, spacing, METRICS, DistanceOptions(convention=convention))
        return {lab: [res[lab][m][0] for m in METRICS] for lab in labels}

    return run


def method_monai(pred_path, gt_path, labels):
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    pred, gt, spacing = read_case(pred_path, gt_path)
    lab = np.asarray(labels).reshape((1, -1) + (1,) * pred.ndim)
    yp = torch.from_numpy(pred[None, None] == lab)
    yg = torch.from_numpy(gt[None, None] == lab)
    kw = dict(include_background=True, spacing=list(spacing))
    hd = compute_hausdorff_distance(yp, yg, **kw)[0]
    hd95 = compute_hausdorff_distance(yp, yg, percentile=95, **kw)[0]
    assd = compute_average_surface_distance(yp, yg, symmetric=True, **kw)[0]
    return {label: [float(hd[i]), float(hd95[i]), float(assd[i])] for i, label in enumerate(labels)}


def method_medpy(pred_path, gt_path, labels):
    from medpy.metric import binary as mb

    pred, gt, spacing = read_case(pred_path, gt_path)
    out = {}
    for label in labels:
        p, g = pred == label, gt == label
        try:
            out[label] = [mb.hd(p, g, spacing), mb.hd95(p, g, spacing), mb.assd(p, g, spacing)]
        except RuntimeError:  # MedPy refuses an empty mask
            out[label] = [math.nan] * 3
    return out


def method_deepmind(pred_path, gt_path, labels):
    import surface_distance as sd

    pred, gt, spacing = read_case(pred_path, gt_path)
    out = {}
    for label in labels:
        dist = sd.compute_surface_distances(gt == label, pred == label, spacing)
        a = sd.compute_average_surface_distance(dist)
        out[label] = [
            float(sd.compute_robust_hausdorff(dist, 100)),
            float(sd.compute_robust_hausdorff(dist, 95)),
            float((a[0] + a[1]) / 2),
        ]
    return out


def method_read(pred_path, gt_path, labels):
    read_case(pred_path, gt_path)
    return {}


IMPORTS = {
    "segeval": "import segeval.metrics.distance",
    "monai": "import torch, monai.metrics",
    "medpy": "import medpy.metric.binary",
    "deepmind": "import numpy; numpy.Inf = numpy.inf; numpy.NaN = numpy.nan; import surface_distance",
}


def import_time(stmt: str) -> float:
    """Seconds to run ``stmt`` in a fresh interpreter (best of 2)."""
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    best = math.inf
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        if res.returncode != 0:
            return math.nan
        best = min(best, float(res.stdout.strip().splitlines()[-1]))
    return best


def measure(fn, cases, labels, k: int, repeat: int) -> dict:
    """Warm-up (first call), then every case ``repeat`` times (the fastest run of each kept).

    marginal = (T(N) - T(k)) / (N - k) over the per-case times; start-up overhead =
    first call - marginal.
    """
    gc.collect()
    t = time.perf_counter()
    fn(*cases[0], labels)
    first = time.perf_counter() - t
    per_case, values = [], []
    for pred_path, gt_path in cases:
        best = math.inf
        for r in range(repeat):
            t = time.perf_counter()
            out = fn(pred_path, gt_path, labels)
            best = min(best, time.perf_counter() - t)
            if r == 0:
                values.append(out)
        per_case.append(best)
    n = len(cases)
    total, head = sum(per_case), sum(per_case[:k])
    marginal = (total - head) / (n - k) if n > k else total / n
    return {"first_s": first, "marginal_s": marginal, "values": values, "n": n, "warmup_s": max(0.0, first - marginal)}


def max_rel_diff(a: list, b: list) -> float:
    """Largest relative difference over the finite values both methods give."""
    worst = 0.0
    for ca, cb in zip(a, b):
        for lab in ca:
            for x, y in zip(ca[lab], cb.get(lab, ())):
                if not (math.isfinite(x) and math.isfinite(y)):
                    continue
                worst = max(worst, abs(x - y) / max(abs(y), 1e-12))
    return worst


# --------------------------------------------------------------------------- report


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        fields = {}
        for line in out.splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                fields.setdefault(key.strip(), value.strip())
        cpu = f"{fields.get('Model name', cpu)}, {fields.get('CPU(s)', '?')} CPU(s)"
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, Python {platform.python_version()}"


def versions() -> str:
    out = []
    for mod in ("numpy", "scipy", "torch", "monai", "medpy", "SimpleITK"):
        try:
            m = __import__(mod)
            out.append(f"{mod} {getattr(m, '__version__', '?')}")
        except Exception:  # noqa: BLE001 - report whatever is importable
            pass
    return ", ".join(out)


PAIRS = {"monai": "segeval[monai]", "medpy": "segeval[medpy]", "deepmind": "segeval[deepmind]"}


def format_rows(kind: str, rows: dict, k: int, repeat: int) -> list[str]:
    read_ms = rows["read"]["marginal_s"] * 1e3
    lines = [
        f"**{kind}** (marginal cost = (T(N) − T({k})) / (N − {k}) after one warm-up case, fastest of "
        f"{repeat} run(s) per case; times include reading the two files, {read_ms:.1f} ms/case)",
        "",
        "| method | cases | ms/case | compute ms/case | segeval speed-up, total (compute) | max rel. diff |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        if name == "read":
            continue
        ms = r["marginal_s"] * 1e3
        speed = diff = ""
        ours = rows.get(PAIRS.get(name, ""))
        if ours is not None:
            ours_ms = ours["marginal_s"] * 1e3
            speed = f"{ms / ours_ms:.1f}× ({(ms - read_ms) / max(ours_ms - read_ms, 1e-6):.1f}×)"
            n = min(len(r["values"]), len(ours["values"]))
            diff = f"{max_rel_diff(ours['values'][:n], r['values'][:n]):.1e}"
        lines.append(f"| {name} | {r['n']} | {ms:.1f} | {ms - read_ms:.1f} | {speed} | {diff} |")
    lines.append("")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="write/reuse the cases here (default: a temp dir)")
    parser.add_argument("--quick", action="store_true", help="4 x 3-D and 30 x 2-D cases")
    parser.add_argument("--cases-3d", type=int, default=None, help="default 12 (4 with --quick)")
    parser.add_argument("--cases-2d", type=int, default=None, help="default 200 (30 with --quick)")
    parser.add_argument("--k", type=int, default=2, help="cases subtracted for the marginal cost (default 2)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per case, fastest kept (default 2)")
    parser.add_argument("--medpy-3d-cases", type=int, default=3, help="MedPy is slow in 3-D: at most this many cases")
    parser.add_argument("--skip", action="append", default=[], choices=["monai", "medpy", "deepmind", "3d", "2d"])
    parser.add_argument("--no-results", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    np.Inf = np.inf  # surface-distance 0.1 still uses the NumPy 1 aliases
    np.NaN = np.nan
    warnings.filterwarnings("ignore")

    n3d = 0 if "3d" in args.skip else (args.cases_3d or (4 if args.quick else 12))
    n2d = 0 if "2d" in args.skip else (args.cases_2d or (30 if args.quick else 200))
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="segeval_bench_")
        data_dir = Path(tmp.name)
    t = time.perf_counter()
    cases = generate(data_dir, n3d, n2d)
    print(f"data in {data_dir} ({time.perf_counter() - t:.1f} s)", flush=True)
    startup = {name: import_time(stmt) for name, stmt in IMPORTS.items() if name not in args.skip}

    methods = {"segeval[segeval]": method_segeval("segeval")}
    for name, fn in (("monai", method_monai), ("medpy", method_medpy), ("deepmind", method_deepmind)):
        if name not in args.skip:
            methods[f"segeval[{name}]"] = method_segeval(name)
            methods[name] = fn

    results = {}
    for kind, case_list, labels in (
        ("3-D NIfTI", cases["3d"], [1, 2, 3]),
        ("2-D PNG", cases["2d"], [1, 2, 3, 4, 5, 6]),
    ):
        if not case_list:
            continue
        k = min(args.k, len(case_list) - 1)
        rows = {"read": measure(method_read, case_list, labels, k, args.repeat)}
        for name, fn in methods.items():
            sub, repeat = case_list, args.repeat
            if name == "medpy" and kind.startswith("3-D"):
                sub, repeat = case_list[: max(2, min(args.medpy_3d_cases, len(case_list)))], 1
            print(f"  {kind}: {name} on {len(sub)} cases ...", flush=True)
            rows[name] = measure(fn, sub, labels, min(k, len(sub) - 1), repeat)
        results[kind] = (rows, k)

    lines = [
        f"## Distance kernels: bench_distance.py ({_dt.datetime.now().strftime('%Y-%m-%d %H:%M')})",
        "",
        f"Machine: {machine()}. Versions: {versions()}.",
        "",
        "HD + HD95 + ASSD of every foreground label of every case; each method reads the two files itself "
        f"(SimpleITK for NIfTI, Pillow for PNG). 3-D: {n3d} cases of {SHAPE_3D[2]}×{SHAPE_3D[1]}×{SHAPE_3D[0]} "
        f"voxels at {SPACING_3D[2]}×{SPACING_3D[1]}×{SPACING_3D[0]} mm, 3 labels. 2-D: {n2d} cases of "
        f"{SHAPE_2D[1]}×{SHAPE_2D[0]} px, 6 classes. Ground truths are random smooth blobs, predictions the "
        "same blobs with extra smooth boundary noise (every 3rd 3-D / 4th 2-D case with a spurious blob). "
        "`segeval[X]` = `distance_metrics` under convention X; its speed-up is against the reference it "
        "reproduces (X), total and compute-only (reading subtracted); max rel. diff = largest relative "
        "difference between the two methods' values.",
        "",
    ]
    for kind, (rows, k) in results.items():
        lines += format_rows(kind, rows, k, args.repeat)
    first = next(iter(results.values()), ({}, 0))[0]
    lines.append(
        "Start-up, import in a fresh interpreter: "
        + ", ".join(f"{name} {sec * 1e3:.0f} ms" for name, sec in startup.items())
        + ". First-call overhead beyond the marginal cost ("
        + next(iter(results), "")
        + "): "
        + ", ".join(f"{name} {r['warmup_s'] * 1e3:.0f} ms" for name, r in first.items() if name != "read")
        + "."
    )
    lines.append("")
    text = "\n".join(lines)
    print()
    print(text)
    if not args.no_results:
        results_path = ROOT / "benchmarks" / "RESULTS.md"
        with open(results_path, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)
        print(f"appended to {results_path}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
