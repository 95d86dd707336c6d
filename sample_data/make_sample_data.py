"""Regenerate the bundled sample data (deterministic): ``python sample_data/make_sample_data.py``.

- ``png2d/``: 4 pairs of 256×256 PNG label maps, labels 0-3 (background, three structures).
- ``nifti3d/``: 3 pairs of 64×64×24 NIfTI volumes, spacing 0.8×0.8×2.5 mm (x, y, z), labels 0-2.
- ``npy_probs/``: 3 class-probability maps (4, 128, 96) as NPY, ground truths as PNG.
- ``lung_grid/``: the 10×10 lung example of the source posts (Dice 38/39 and 10/27).
- ``lesions3d/``: 3 pairs of 40×80×80 NIfTI volumes, spacing 1×1×1.5 mm (x, y, z), two lesion classes (1, 2) with
  several lesions each: found, missed, false positive, split, merged and under 50 voxels (lesion-wise metrics).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parent


def blobs(rng: np.random.Generator, shape: tuple[int, ...], n_labels: int, sigma: float) -> np.ndarray:
    """Smooth random regions: each label > 0 is where its smoothed noise field is the largest and high."""
    fields = np.stack([ndimage.gaussian_filter(rng.standard_normal(shape), sigma) for _ in range(n_labels - 1)])
    fields /= fields.std(axis=tuple(range(1, fields.ndim)), keepdims=True)
    labels = fields.argmax(axis=0) + 1
    return np.where(fields.max(axis=0) > 0.9, labels, 0).astype(np.uint8)


def perturb(rng: np.random.Generator, gt: np.ndarray, n_labels: int) -> np.ndarray:
    """A plausible prediction: each structure dilated or eroded, plus a few false-positive specks."""
    pred = np.zeros_like(gt)
    for label in range(1, n_labels):
        mask = gt == label
        mask = ndimage.binary_dilation(mask) if rng.random() < 0.5 else ndimage.binary_erosion(mask)
        pred[mask & (pred == 0)] = label
    specks = ndimage.gaussian_filter(rng.standard_normal(gt.shape), 2) > 1.2
    pred[specks] = rng.integers(1, n_labels)
    return pred


def write_png2d(rng: np.random.Generator) -> None:
    for i in range(4):
        gt = blobs(rng, (256, 256), 4, sigma=12)
        save(ROOT / "png2d" / "gts" / f"img_{i:03d}.png", gt)
        save(ROOT / "png2d" / "preds" / f"img_{i:03d}.png", perturb(rng, gt, 4))


def write_nifti3d(rng: np.random.Generator) -> None:
    for i in range(3):
        gt = blobs(rng, (24, 64, 64), 3, sigma=(2, 6, 6))  # (z, y, x)
        for side, array in (("gts", gt), ("preds", perturb(rng, gt, 3))):
            image = sitk.GetImageFromArray(array)
            image.SetSpacing((0.8, 0.8, 2.5))  # SimpleITK order: x, y, z
            image.SetOrigin((-25.6, -25.6, -30.0))
            path = ROOT / "nifti3d" / side / f"vol_{i:03d}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(image, str(path), useCompression=True)


def write_npy_probs(rng: np.random.Generator) -> None:
    for i in range(3):
        gt = blobs(rng, (128, 96), 4, sigma=8)
        logits = 4.0 * np.eye(4)[perturb(rng, gt, 4)].transpose(2, 0, 1) + rng.normal(0, 1.0, (4, 128, 96))
        probs = np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True)
        save(ROOT / "npy_probs" / "gts" / f"slice_{i:03d}.png", gt)
        path = ROOT / "npy_probs" / "preds" / f"slice_{i:03d}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, probs.astype(np.float32))


def write_lung_grid() -> None:
    gt = np.zeros((10, 10), np.uint8)
    gt[1:6, 2:6] = 1
    good = gt.copy()
    good[1, 5] = 0
    bad = np.zeros((10, 10), np.uint8)
    for r, c in [(1, 4), (2, 3), (2, 4), (3, 2), (3, 3), (6, 3), (7, 2)]:
        bad[r, c] = 1
    for name, pred in (("good", good), ("bad", bad)):
        save(ROOT / "lung_grid" / "gts" / f"{name}.png", gt)
        save(ROOT / "lung_grid" / "preds" / f"{name}.png", pred)


def ball(shape: tuple[int, ...], centre, radii) -> np.ndarray:
    """An ellipsoid of ``radii`` (voxels, per axis) around ``centre``."""
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0


def write_lesions3d(rng: np.random.Generator) -> None:
    shape = (40, 80, 80)  # (z, y, x)
    for i in range(3):
        gt, pred = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
        for label in (1, 2):
            for k in range(6):
                centre = rng.uniform((6, 8, 8), (34, 72, 72))
                radii = rng.uniform(3.0, 6.0) * np.array([0.67, 1.0, 1.0])
                lesion = ball(shape, centre, radii)
                gt[lesion] = label
                fate = (k + i) % 6
                if fate == 0:  # missed
                    continue
                if fate == 1:  # split in two along x
                    cut = int(centre[2])
                    found = lesion.copy()
                    found[:, :, cut : cut + 2] = False
                elif fate == 2:  # found, shifted by a voxel
                    found = np.roll(lesion, 1, axis=2)
                else:  # found, a little larger or smaller
                    found = ndimage.binary_dilation(lesion) if fate == 3 else ndimage.binary_erosion(lesion)
                pred[found] = label
            # a false positive and a lesion of under 50 voxels (ignored by the BraTS 2023 preset)
            pred[ball(shape, rng.uniform((6, 8, 8), (34, 72, 72)), (2.0, 3.0, 3.0))] = label
            gt[ball(shape, rng.uniform((4, 4, 4), (36, 76, 76)), (1.0, 1.5, 1.5))] = label
        # two reference lesions 2 voxels apart, found as one predicted lesion (merged; BraTS's dilation joins them)
        gt[20:24, 10:16, 30:36] = 1
        gt[20:24, 10:16, 38:44] = 1
        pred[20:24, 10:16, 30:44] = 1
        for side, array in (("gts", gt), ("preds", pred)):
            image = sitk.GetImageFromArray(array)
            image.SetSpacing((1.0, 1.0, 1.5))  # SimpleITK order: x, y, z
            image.SetOrigin((-40.0, -40.0, -30.0))
            path = ROOT / "lesions3d" / side / f"case_{i:03d}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(image, str(path), useCompression=True)


def save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, optimize=True)


if __name__ == "__main__":
    rng = np.random.default_rng(20261124)
    write_png2d(rng)
    write_nifti3d(rng)
    write_npy_probs(rng)
    write_lung_grid()
    write_lesions3d(np.random.default_rng(11))  # its own generator: the other folders stay as they were
    print(f"sample data written under {ROOT}")
