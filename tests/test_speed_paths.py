"""Guards of the fast paths of issue 15, without timing: the same bits as the plain computation, each file
decoded once, the heavy libraries off the path to the first case."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from segeval.stats import bootstrap_mean_cis

ROOT = Path(__file__).resolve().parents[1]


def plain_bootstrap(values: np.ndarray, level: float, samples: int = 2000, seed: int = 0):
    """The bootstrap of segeval.stats written out plainly: three matrix products and ``np.nanquantile``."""
    n = values.shape[0]
    picks = np.random.default_rng(seed).integers(0, n, size=(samples, n))
    weights = np.bincount((picks + n * np.arange(samples)[:, None]).ravel(), minlength=samples * n)
    weights = weights.reshape(samples, n).astype(np.float64)
    valid, infinite = ~np.isnan(values), np.isinf(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (weights @ np.where(valid & ~infinite, values, 0.0)) / (weights @ valid)
    means[(weights @ (infinite & (values > 0))) > 0] = np.inf
    low, high = np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)
    enough = valid.sum(axis=0) >= 2
    if enough.any():
        capped = np.where(np.isinf(means[:, enough]), np.finfo(np.float64).max, means[:, enough])
        quantiles = np.nanquantile(capped, [(1 - level) / 2, (1 + level) / 2], axis=0)
        quantiles[quantiles > 1e300] = np.inf
        low[enough], high[enough] = quantiles
    return low, high


@pytest.mark.parametrize("n", [1, 2, 3, 17, 200])
@pytest.mark.parametrize("level", [0.95, 0.5])
def test_bootstrap_has_the_bits_of_the_plain_computation(n, level):
    rng = np.random.default_rng(n)
    values = rng.random((n, 9)) * 10.0 ** rng.integers(-3, 4, size=9)
    values[rng.random((n, 9)) < 0.3] = np.nan  # columns with gaps
    values[:, 0] = rng.random(n)  # a column without gaps
    values[:, 1] = np.nan  # no value at all
    values[0, 2], values[-1, 3] = np.inf, -np.inf  # infinite distances
    values[:, 4] = np.where(rng.random(n) < 0.9, np.nan, 1.0)  # resamples without any value: NaN means
    for got, want in zip(bootstrap_mean_cis(values, level), plain_bootstrap(values, level)):
        np.testing.assert_array_equal(got, want)


FIRST_CASE_MODULES = """
import atexit
import gc
import sys

from segeval.pipeline import chunks

seen = []
count_batch = chunks.count_batch


def spy(*args, **kwargs):
    if not seen:
        seen.append(sorted(m for m in ("pandas", "scipy") if m in sys.modules))
        seen.append(gc.isenabled())
    return count_batch(*args, **kwargs)


chunks.count_batch = spy
sys.argv = ["segeval", "score", *sys.argv[1:], "--format", "quiet", "--device", "cpu"]
atexit.register(lambda: print(*seen, sorted(m for m in ("pandas", "scipy") if m in sys.modules)))
from segeval.__main__ import main

main()
"""


@pytest.mark.parametrize("folder", ["png2d", "nifti3d"])
def test_pandas_and_scipy_are_not_imported_before_the_first_case_and_the_collector_runs(folder, tmp_path):
    """Start-up of `segeval score --out`: the first case is counted before pandas is imported (the tables need
    it, after the cases), and the overlap metrics never import SciPy. The garbage collector, paused while the
    libraries load, runs again when the cases are counted."""
    data = ROOT / "sample_data" / folder
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CASE_MODULES, str(data / "preds"), str(data / "gts"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert out.split() == ["[]", "True", "['pandas']"]
    assert (tmp_path / "per_case.csv").is_file()


def _side_name(path) -> str:
    """``pred/c0.png`` for ``.../pred/c0.png``."""
    return "/".join(Path(path).parts[-2:])


def _decode_counter(monkeypatch, folder: Path) -> Counter:
    """Count the pixel decodes per file of ``folder`` at the libraries' doors: Pillow's tile decoding (of a file,
    or of a file's bytes read into memory), SimpleITK's reader, NumPy's array reader (per stream name; an ``.npz``
    member counts under ``npz:``), and segeval's own read of float NIfTI voxels."""
    import PIL.ImageFile
    import SimpleITK as sitk

    from segeval.io import nifti_check, readers

    decodes: Counter = Counter()
    by_content = {path.read_bytes(): _side_name(path) for path in folder.rglob("*") if path.is_file()}

    def counted(name, original):
        def wrapper(*args, **kwargs):
            decodes[name(*args)] += 1
            return original(*args, **kwargs)

        return wrapper

    pillow_load = PIL.ImageFile.ImageFile.load

    def load(self):
        if self.tile:  # not yet decoded: the later calls (tobytes, __array_interface__) decode nothing
            decodes[_side_name(self.filename) if self.filename else by_content[self.fp.getvalue()]] += 1
        return pillow_load(self)

    monkeypatch.setattr(PIL.ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(
        sitk.ImageFileReader, "Execute", counted(lambda r: _side_name(r.GetFileName()), sitk.ImageFileReader.Execute)
    )
    voxels = counted(lambda p, *_: _side_name(p), nifti_check.float_voxels)
    monkeypatch.setattr(readers, "float_voxels", voxels)
    monkeypatch.setattr(nifti_check, "float_voxels", voxels)  # the NaN scan of SimpleITK-decoded float files
    read_array = np.lib.format.read_array
    monkeypatch.setattr(
        np.lib.format,
        "read_array",
        counted(lambda fp, *_: _side_name(fp.name) if Path(fp.name).is_absolute() else "npz:", read_array),
    )
    return decodes


def test_each_file_of_a_case_is_decoded_exactly_once(files, monkeypatch):
    """Headers are read before decoding (sizes checked), but the pixels of every file are decoded once."""
    import segeval

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(4, 16, 16)).astype(np.uint8)
    probs = rng.random((3, 4, 16, 16)).astype(np.float32)
    for i in range(2):
        files.image(
            f"png/gt/c{i}.png", labels[i]
        )  # four different files: a file read into memory is known by its bytes
        files.image(f"png/pred/c{i}.png", labels[i + 2])
        files.sitk_image(f"nii/gt/c{i}.nii.gz", labels, spacing=(1.0, 1.0, 2.0))
        files.sitk_image(f"nii/pred/c{i}.nii.gz", labels[::-1].copy(), spacing=(1.0, 1.0, 2.0))
        files.sitk_image(f"nii_float/gt/c{i}.nii.gz", labels, spacing=(1.0, 1.0, 2.0))
        files.nifti_4d(f"nii_float/pred/c{i}.nii.gz", probs, spacing=(1.0, 1.0, 2.0))
        files.sitk_image(f"mha/gt/c{i}.mha", labels)
        files.sitk_image(f"mha/pred/c{i}.mha", labels[::-1].copy())
        files.image(f"npy/gt/c{i}.png", labels[i])
        files.npy(f"npy/pred/c{i}.npy", probs[:, 0])
        files.image(f"npz/gt/c{i}.png", labels[i])
        files.npz(f"npz/pred/c{i}.npz", probs=probs[:, 0], other=labels[0])
    for folder in ("png", "nii", "nii_float", "mha", "npy", "npz"):
        decodes = _decode_counter(monkeypatch, files.root / folder)
        result = segeval.score(files.root / folder / "pred", files.root / folder / "gt", device="cpu")
        monkeypatch.undo()
        assert not result.failed, result.failed
        names = {f"{side}/{p.name}" for side in ("pred", "gt") for p in (files.root / folder / side).iterdir()}
        npz = {name for name in names if name.endswith(".npz")}
        assert decodes == Counter({name: 1 for name in names - npz} | ({"npz:": len(npz)} if npz else {})), folder


def test_a_png_is_opened_once(files, monkeypatch):
    """The header check reads a small PNG whole, and Pillow decodes those bytes: one open per file."""
    import builtins

    import segeval

    rng = np.random.default_rng(1)
    for i in range(2):
        for side in ("gt", "pred"):
            files.image(f"{side}/c{i}.png", rng.integers(0, 3, size=(16, 16)).astype(np.uint8))
    opened: Counter = Counter()
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file).endswith(".png"):
            opened[_side_name(file)] += 1
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    result = segeval.score(files.root / "pred", files.root / "gt", device="cpu")
    monkeypatch.undo()
    assert not result.failed, result.failed
    assert opened == Counter({f"{side}/c{i}.png": 1 for side in ("gt", "pred") for i in range(2)})


def test_gpu_check_steps_run_on_the_cpu(monkeypatch):
    """What benchmarks/gpu_check.sh runs besides the `gpu` tests (bench_gpu.py: counting, distances, score and
    losses on the device against the CPU) works on the CPU, and the script parses."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_gpu

    assert bench_gpu.main(["--device", "cpu", "--quick", "--cases", "1", "--repeats", "1"]) == 0
    subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu_check.sh")], check=True)
