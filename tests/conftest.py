"""Shared fixtures: real image files written by the libraries that users write them with.

Every file a test reads is written here by the real library of its format: PNG/TIFF/BMP by Pillow,
NIfTI/MHA/NRRD by SimpleITK, NPY/NPZ by NumPy. Shapes are non-square and odd-sized on purpose
(23 × 37 in 2-D, 5 × 7 × 9 in 3-D), so that a transposed or reversed axis cannot go unnoticed.

Expected metric values are computed in the tests from the arrays with NumPy (see ``np_dice`` and
``case_value``), never copied from segeval's output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

SHAPE_2D = (23, 37)
"""Rows × columns of the 2-D test images: odd and non-square."""

SHAPE_3D = (5, 7, 9)
"""(z, y, x) of the 3-D test volumes: every axis a different odd length."""

SPACING_XYZ = (0.8, 0.7, 2.5)
"""An anisotropic spacing in SimpleITK (x, y, z) order; in array order (z, y, x) it is (2.5, 0.7, 0.8)."""


class Files:
    """Writes real image files under one root folder; every method returns the written path.

    Relative paths may contain sub-folders, which are created.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, rel: str | Path) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    # Pillow -------------------------------------------------------------------------------------
    def image(self, rel: str | Path, array: np.ndarray, **save_options) -> Path:
        """Save ``array`` with ``PIL.Image.fromarray`` (uint8 → "L", uint16 → "I;16", float32 → "F",
        bool → "1", (H, W, 3) uint8 → "RGB"); the format follows the extension."""
        path = self.path(rel)
        Image.fromarray(np.ascontiguousarray(array)).save(path, **save_options)
        return path

    def palette_image(self, rel: str | Path, indices: np.ndarray, colours: list[tuple[int, int, int]]) -> Path:
        """A palette ("P") image whose pixel values are ``indices`` and whose palette is ``colours``."""
        path = self.path(rel)
        indices = np.ascontiguousarray(indices, dtype=np.uint8)
        image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
        flat = [c for rgb in colours for c in rgb]
        image.putpalette(flat + [0] * (768 - len(flat)))
        image.save(path)
        return path

    def tiff_pages(self, rel: str | Path, pages: list[np.ndarray]) -> Path:
        """A multi-page TIFF, one page per 2-D array."""
        path = self.path(rel)
        images = [Image.fromarray(np.ascontiguousarray(p)) for p in pages]
        images[0].save(path, save_all=True, append_images=images[1:])
        return path

    # SimpleITK ----------------------------------------------------------------------------------
    def sitk_image(
        self,
        rel: str | Path,
        array: np.ndarray,
        *,
        spacing: tuple[float, ...] | None = None,
        origin: tuple[float, ...] | None = None,
        direction: tuple[float, ...] | None = None,
        vector: bool = False,
    ) -> Path:
        """Write ``array`` (NumPy order z, y, x) with SimpleITK; ``spacing``/``origin``/``direction``
        are given in SimpleITK's (x, y, z) order. ``vector=True`` makes the last axis the components."""
        path = self.path(rel)
        image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=vector)
        if spacing is not None:
            image.SetSpacing(tuple(float(s) for s in spacing))
        if origin is not None:
            image.SetOrigin(tuple(float(o) for o in origin))
        if direction is not None:
            image.SetDirection(tuple(float(d) for d in direction))
        sitk.WriteImage(image, str(path))
        return path

    def nifti_4d(
        self,
        rel: str | Path,
        channels: np.ndarray,
        *,
        spacing: tuple[float, float, float],
        origin: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> Path:
        """A 4-D NIfTI (x, y, z, c) from ``channels`` of NumPy shape (c, z, y, x): the class is the
        4th NIfTI dimension, as nnU-Net-style probability exports store it."""
        path = self.path(rel)
        volumes = []
        for channel in channels:
            volume = sitk.GetImageFromArray(np.ascontiguousarray(channel))
            volume.SetSpacing(tuple(float(s) for s in spacing))
            volume.SetOrigin(tuple(float(o) for o in origin))
            volumes.append(volume)
        image = sitk.JoinSeries(volumes)
        assert image.GetDimension() == 4
        sitk.WriteImage(image, str(path))
        return path

    # NumPy and raw bytes ------------------------------------------------------------------------
    def npy(self, rel: str | Path, array: np.ndarray) -> Path:
        path = self.path(rel)
        np.save(path, array)
        return path

    def npz(self, rel: str | Path, **arrays: np.ndarray) -> Path:
        path = self.path(rel)
        np.savez(path, **arrays)
        return path

    def text(self, rel: str | Path, content: str) -> Path:
        path = self.path(rel)
        path.write_text(content)
        return path

    def raw(self, rel: str | Path, content: bytes) -> Path:
        path = self.path(rel)
        path.write_bytes(content)
        return path


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """A :class:`Files` writer rooted at a fresh temporary folder."""
    return Files(tmp_path)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240607)


def blobs_2d(shape: tuple[int, int] = SHAPE_2D, seed: int = 0) -> np.ndarray:
    """A deterministic uint8 label map with labels 0, 1 and 2 as rectangles (every label present)."""
    rows, cols = shape
    labels = np.zeros(shape, dtype=np.uint8)
    r = np.random.default_rng(seed)
    top, left = int(r.integers(1, 4)), int(r.integers(1, 5))
    labels[top : rows // 2 + 2, left : cols // 2 + 3] = 1
    labels[rows // 2 : rows - 2, cols // 2 - 1 : cols - 3 + int(r.integers(0, 2))] = 2
    return labels


@pytest.fixture
def gt2d() -> np.ndarray:
    """A 23 × 37 uint8 ground truth with labels 0, 1, 2."""
    return blobs_2d()


@pytest.fixture
def make_labels():
    """``make_labels(seed, shape=(23, 37))``: another deterministic 0/1/2 label map."""
    return lambda seed=0, shape=SHAPE_2D: blobs_2d(shape, seed)


def np_dice(pred: np.ndarray, gt: np.ndarray, label: int) -> float:
    """Dice of ``label`` computed directly from the arrays (NaN when absent from both)."""
    p, g = np.asarray(pred) == label, np.asarray(gt) == label
    denominator = p.sum() + g.sum()
    return math.nan if denominator == 0 else 2.0 * float(np.sum(p & g)) / float(denominator)


@pytest.fixture(name="np_dice")
def np_dice_fixture():
    return np_dice


def case_value(table, case: str, class_: int | str, metric: str) -> float:
    """The one ``value`` of ``per_case`` (DataFrame) for ``(case, class, metric)``."""
    rows = table[(table["case"] == case) & (table["class"].astype(str) == str(class_)) & (table["metric"] == metric)]
    assert len(rows) == 1, f"expected one per_case row for {(case, class_, metric)}, got {len(rows)}"
    return float(rows["value"].iloc[0])


@pytest.fixture(name="case_value")
def case_value_fixture():
    return case_value


def _refuse_constant(name: str):
    raise ValueError(f"summary.json holds the non-standard JSON constant {name}")


def strict_json(text: str):
    """Parse JSON, failing on NaN/Infinity literals (which Python's json accepts by default)."""
    return json.loads(text, parse_constant=_refuse_constant)


@pytest.fixture(name="strict_json")
def strict_json_fixture():
    return strict_json
