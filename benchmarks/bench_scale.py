"""How the cost of ``segeval score`` grows with the number of cases, locally and on a 2-worker Dask cluster.

    python benchmarks/bench_scale.py [--counts 1000 5000 20000] [--rounds 3] [--data /tmp/segeval-scale]

Data (generated once, deterministic, into --data): N small 2-D cases, 64×64 PNG pairs with 3 labels, and 240
3-D cases, 48×96×96 NIfTI pairs with 3 labels. Every run is a fresh process (``_child``) that scores one set
and writes the reports, as ``segeval score --out`` does:

  local   segeval.score(..., workers=2): the thread pool (this machine has 2 cores)
  dask    segeval.score(..., client=...) on a LocalCluster of 2 worker processes, 1 thread each

Per run: seconds per case (scoring and reports), the client's peak RSS above its RSS before scoring (after a
warm-up run of sample_data/png2d: the imports, and for dask the cluster started), each worker's peak RSS, and the bytes of one record (the
memory that unpickling the records takes, per case). Rounds are interleaved (local, dask, local, ...) and the
median is reported. A model of where a cluster pays off (labelled as a model) follows from the measured
per-case compute and the Dask overhead per case. Results are appended to --results.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

SHAPE_2D = (64, 64)
SHAPE_3D = (48, 96, 96)
N_3D = 240


def make_2d(root: Path, n: int) -> tuple[Path, Path]:
    """``n`` 64×64 PNG pairs: a disc and a square on background, the prediction shifted by a few pixels."""
    from PIL import Image

    preds, gts = root / f"png{n}" / "preds", root / f"png{n}" / "gts"
    if gts.is_dir() and len(os.listdir(gts)) == n:
        return preds, gts
    preds.mkdir(parents=True, exist_ok=True), gts.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    yy, xx = np.mgrid[: SHAPE_2D[0], : SHAPE_2D[1]]
    for i in range(n):
        cy, cx, r = rng.integers(16, 48), rng.integers(16, 48), rng.integers(5, 14)
        gt = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, 1, 0).astype(np.uint8)
        gt[4:14, 4 : 4 + rng.integers(5, 20)] = 2
        pred = np.roll(gt, (rng.integers(-2, 3), rng.integers(-2, 3)), axis=(0, 1))
        Image.fromarray(gt).save(gts / f"case_{i:05d}.png")
        Image.fromarray(pred).save(preds / f"case_{i:05d}.png")
    return preds, gts


def make_3d(root: Path) -> tuple[Path, Path]:
    """:data:`N_3D` NIfTI pairs of :data:`SHAPE_3D`: an ellipsoid and a slab, the prediction shifted."""
    import SimpleITK as sitk

    preds, gts = root / "nii" / "preds", root / "nii" / "gts"
    if gts.is_dir() and len(os.listdir(gts)) == N_3D:
        return preds, gts
    preds.mkdir(parents=True, exist_ok=True), gts.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    zz, yy, xx = np.mgrid[: SHAPE_3D[0], : SHAPE_3D[1], : SHAPE_3D[2]]
    for i in range(N_3D):
        c, r = rng.integers(16, 32, size=3), rng.integers(6, 15, size=3)
        gt = np.where(((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2 < 1, 1, 0)
        gt = gt.astype(np.uint8)
        gt[5:15, 70:85, 10 : 20 + i % 30] = 2
        pred = np.roll(gt, rng.integers(-2, 3), axis=2)
        for array, folder in ((gt, gts), (pred, preds)):
            image = sitk.GetImageFromArray(array)
            image.SetSpacing((0.8, 0.8, 2.0))
            sitk.WriteImage(image, str(folder / f"vol_{i:03d}.nii.gz"))
    return preds, gts


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    """User and system CPU time of this process so far."""
    times = os.times()
    return times.user + times.system


def record_bytes(records: list) -> float:
    """Memory per record: what unpickling the records allocates, per record (traced by tracemalloc)."""
    import pickle
    import tracemalloc

    payload = pickle.dumps(records)
    tracemalloc.start()
    copy = pickle.loads(payload)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del copy
    return size / max(1, len(records))


def child(executor: str, preds: str, gts: str) -> dict:
    """One run in this (fresh) process: score, write the reports, and measure."""
    import segeval

    cluster = client = None
    if executor == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
    warm = Path(__file__).resolve().parents[1] / "sample_data" / "png2d"
    segeval.score(warm / "preds", warm / "gts", client=client)  # the imports, here and on the workers
    baseline = rss_bytes()
    cpu_before = cpu_seconds()
    workers_before = sum(client.run(cpu_seconds).values()) if client is not None else 0.0
    started = time.perf_counter()
    result = segeval.score(preds, gts, client=client, workers=2)
    with tempfile.TemporaryDirectory() as out:
        result.write(out)
    seconds = time.perf_counter() - started
    client_cpu = cpu_seconds() - cpu_before
    workers, workers_cpu = [], 0.0
    if client is not None:
        workers = sorted(client.run(peak_rss_bytes).values())
        workers_cpu = sum(client.run(cpu_seconds).values()) - workers_before
        client.close()
        cluster.close()
    return {
        "executor": executor,
        "cases": len(result.cases),
        "failed": len(result.failed),
        "seconds": seconds,
        "s_per_case": seconds / len(result.cases),
        "client_cpu_per_case": client_cpu / len(result.cases),
        "cpu_per_case": (client_cpu + workers_cpu) / len(result.cases),
        "client_baseline_mb": baseline / 2**20,
        "client_peak_above_baseline_mb": (peak_rss_bytes() - baseline) / 2**20,
        "worker_peak_mb": [w / 2**20 for w in workers],
        "record_bytes": record_bytes(result.cases),
        "per_case_rows": len(result.per_case),
    }


def run(executor: str, preds: Path, gts: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "_child", executor, str(preds), str(gts)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    """The run of median wall time, with every run's ms per case, and the median CPU per case."""
    middle = sorted(runs, key=lambda r: r["s_per_case"])[len(runs) // 2]
    return {
        **middle,
        "s_per_case_runs": [round(r["s_per_case"] * 1000, 2) for r in runs],
        "cpu_per_case": statistics.median(r["cpu_per_case"] for r in runs),
        "client_cpu_per_case": statistics.median(r["client_cpu_per_case"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-rounds", type=int, default=1, help="rounds for the sets of 10,000 cases or more")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "segeval-scale")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the section, do not append it")
    args = parser.parse_args()
    sets = {f"2-D {n:,}": make_2d(args.data, n) for n in args.counts}
    sets[f"3-D {N_3D}"] = make_3d(args.data)
    values = {name: 2 * math.prod(SHAPE_3D if name.startswith("3-D") else SHAPE_2D) for name in sets}
    load_before = os.getloadavg()
    results: dict[tuple[str, str], dict] = {}
    for name, (preds, gts) in sets.items():
        runs: dict[str, list[dict]] = {"local": [], "dask": []}
        for _ in range(args.big_rounds if len(os.listdir(gts)) >= 10_000 else args.rounds):
            for executor in runs:
                runs[executor].append(run(executor, preds, gts))
                print(name, executor, json.dumps(runs[executor][-1]), flush=True)
        for executor, measured in runs.items():
            results[name, executor] = median_of(measured)
    load_after = os.getloadavg()
    text = report(results, values, load_before, load_after, args.rounds, args.big_rounds)
    print(text)
    if not args.no_write:
        with args.results.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)


def report(results: dict, values: dict, load_before, load_after, rounds: int, big_rounds: int) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Scale: cost per case from 1,000 to 20,000 cases, local and on Dask (`bench_scale.py`) — {now}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after: the 2 cores were shared with other work, so wall "
        f"times are noisy (median of {rounds} interleaved rounds, {big_rounds} for 10,000 cases or more, each a "
        "fresh process) and CPU seconds (client and workers, user + system) are the steadier measure. local: "
        "the thread pool, `workers=2`; dask: a LocalCluster of 2 processes × 1 thread on the same 2 cores. Per "
        "case: pairing, scoring and writing the reports. RSS: peak above the RSS after a warm-up run.",
        "",
        "| set | executor | wall ms per case (median; runs) | CPU ms per case (client) | client peak RSS "
        "above baseline | worker peak RSS | bytes per record | per-case rows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, executor), r in results.items():
        workers = ", ".join(f"{w:.0f} MB" for w in r["worker_peak_mb"]) or "—"
        lines.append(
            f"| {name} | {executor} | {r['s_per_case'] * 1000:.2f} ({', '.join(map(str, r['s_per_case_runs']))}) "
            f"| {r['cpu_per_case'] * 1000:.2f} ({r['client_cpu_per_case'] * 1000:.2f}) | "
            f"{r['client_peak_above_baseline_mb']:.0f} MB | {workers} | {r['record_bytes']:.0f} | "
            f"{r['per_case_rows']:,} |"
        )
    two_d = [name for name in dict.fromkeys(n for n, _ in results) if name.startswith("2-D")]
    lines += ["", "Growth of the client's peak with the number of cases (2-D, smallest to largest set):", ""]
    for executor in ("local", "dask"):
        small, large = results[two_d[0], executor], results[two_d[-1], executor]
        growth = large["client_peak_above_baseline_mb"] - small["client_peak_above_baseline_mb"]
        per_case = growth * 2**20 / (large["cases"] - small["cases"])
        lines.append(
            f"- {executor}: {growth:+.0f} MB for {large['cases'] - small['cases']:,} more cases, {per_case:,.0f} bytes per case"
        )
    lines += ["", *break_even(results, values), ""]
    return "\n".join(lines)


def break_even(results: dict, values: dict, machines: int = 4, cores: int = 2) -> list[str]:
    """Dask's overhead per case in CPU time, and the model of where a cluster pays off."""
    lines = ["Dask overhead per case, in CPU time (dask − local, client and workers together):", ""]
    for name in dict.fromkeys(n for n, _ in results):
        local, dask = results[name, "local"], results[name, "dask"]
        lines.append(
            f"- {name}: local {local['cpu_per_case'] * 1000:.2f} ms, dask {dask['cpu_per_case'] * 1000:.2f} ms "
            f"(of which the client {dask['client_cpu_per_case'] * 1000:.2f} ms): overhead "
            f"{(dask['cpu_per_case'] - local['cpu_per_case']) * 1000:+.2f} ms per case"
        )
    lines += [
        "",
        f"Model (not a measurement). A case costs C CPU seconds locally; on a cluster it costs u on the client "
        f"(serial: scheduling, records, reports) and C + o − u on the workers, o being the overhead above. One "
        f"machine of P cores takes n·C/P; W such machines as workers take max(n·u, n·(C + o − u)/(W·P)). The "
        f"cluster pays off when C > max(P·u, (o − u)/(W − 1)); for W = {machines}, P = {cores}:",
        "",
    ]
    for name in dict.fromkeys(n for n, _ in results):
        local, dask = results[name, "local"], results[name, "dask"]
        c, u = local["cpu_per_case"], dask["client_cpu_per_case"]
        o = dask["cpu_per_case"] - c
        needed = max(cores * u, (o - u) / (machines - 1))
        speedup = (c / cores) / max(u, (c + o - u) / (machines * cores))
        verdict = "pays off" if c > needed else "does not pay off"
        lines.append(
            f"- {name}: C = {c * 1000:.2f} ms, break-even C = {needed * 1000:.2f} ms: the cluster {verdict} "
            f"(modelled speed-up {speedup:.1f}×)"
        )
    # compute per case as a line through the largest 2-D set and the 3-D set (local CPU per case against values)
    names = [n for n in dict.fromkeys(n for n, _ in results) if n.startswith("2-D")][-1:] + [
        n for n in dict.fromkeys(n for n, _ in results) if n.startswith("3-D")
    ]
    if len(names) == 2:
        (x0, y0), (x1, y1) = ((values[n], results[n, "local"]["cpu_per_case"]) for n in names)
        slope = (y1 - y0) / (x1 - x0)
        dask3 = results[names[1], "dask"]
        u, o = dask3["client_cpu_per_case"], dask3["cpu_per_case"] - y1
        needed = max(cores * u, (o - u) / (machines - 1))
        size = x0 + (needed - y0) / slope
        lines += [
            "",
            f"Extrapolated (model): local CPU per case ≈ {y0 * 1000:.2f} ms + {slope * 1e9:.1f} ns per value "
            f"(through {names[0]} and {names[1]}); with the 3-D overheads (u = {u * 1000:.2f} ms, o = {o * 1000:.2f} "
            f"ms per case, taken as constant per case) a cluster of {machines} × {cores} cores pays off above about "
            f"{size / 1e6:.1f} million values per case (prediction and reference together), e.g. two 128×128×{max(1, round(size / 2 / 128 / 128))} "
            "volumes; a 512×512×300 CT pair (157 million values) is far above it.",
        ]
    return lines


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(child(*sys.argv[2:5])))
    else:
        main()
