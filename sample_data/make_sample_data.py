"""Regenerate the bundled sample data (deterministic): ``python sample_data/make_sample_data.py``.

- ``png2d/``: 4 pairs of 256×256 PNG label maps, labels 0-3 (background, three structures).
- ``nifti3d/``: 3 pairs of 64×64×24 NIfTI volumes, spacing 0.8×0.8×2.5 mm (x, y, z), labels 0-2.
- ``npy_probs/``: 3 class-probability maps (4, 128, 96) as NPY, ground truths as PNG.
- ``lung_grid/``: the 10×10 lung example of the source posts (Dice 38/39 and 10/27).
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


def save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, optimize=True)


if __name__ == "__main__":
    rng = np.random.default_rng(20261124)
    write_png2d(rng)
    write_nifti3d(rng)
    write_npy_probs(rng)
    write_lung_grid()
    print(f"sample data written under {ROOT}")
