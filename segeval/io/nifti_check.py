"""Integrity checks for NIfTI files that SimpleITK (through niftilib) does not make.

niftilib reads a truncated ``.nii``/``.nii.gz`` without complaint and silently replaces NaN and
infinite voxels by 0 (``nifti_read_buffer``), so a broken probability map would be scored as
background. This module reads the fixed header fields (NIfTI-1 and NIfTI-2, either byte order)
to know how many bytes the voxel data must have, checks the file against that, and finds the
non-finite values of float data so that the reader can put them back (the prediction decoder then
reports them like for any other format). The size check runs before SimpleITK allocates anything:
it reads the header of an uncompressed file, and streams a ``.nii.gz`` only when its gzip trailer
disagrees with the header. Float voxels without scaling are read here, once, with their NaN and
infinite values (:func:`float_voxels`); other float images pay one more read of the voxel block.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segeval.errors import InputError

_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of float32 and float64


@dataclass(frozen=True)
class NiftiLayout:
    """Where a NIfTI file's voxels are, from its fixed header fields."""

    compressed: bool
    endian: str
    offset: int
    n_bytes: int
    datatype: int
    n_dims: int
    n_voxels: int
    scaled: bool
    """``scl_slope`` is neither 0 nor 1, or ``scl_inter`` is not 0: the reader rescales the stored values."""

    @property
    def plain_float(self) -> bool:
        """Unscaled float voxels of at most 4 dimensions: the stored values are the image, in C order of the
        (reversed) array axes, so :func:`float_voxels` reads them as SimpleITK would, NaN and infinity kept."""
        return self.datatype in _FLOAT_TYPES and self.n_dims <= 4 and not self.scaled


def check_nifti_size(path: Path) -> NiftiLayout:
    """The file's voxel layout; raise :class:`InputError` when the file is shorter than its header says (a
    ``.nii.gz`` by the size of its decompressed stream); reads no more than the header of an uncompressed file."""
    layout = _read_layout(path)
    expected = layout.offset + layout.n_bytes
    if layout.compressed:
        _check_gzip_size(path, expected)
    elif os.path.getsize(path) < expected:
        raise InputError(f"{path}: truncated NIfTI: {os.path.getsize(path)} bytes, the header needs {expected:,}")
    return layout


def float_voxels(path: Path, layout: NiftiLayout) -> np.ndarray:
    """The voxels of a float NIfTI as stored (flat, native byte order), NaN and infinite values included."""
    dtype = np.dtype(layout.endian + _FLOAT_TYPES[layout.datatype])
    voxels = np.empty(layout.n_bytes // dtype.itemsize, dtype=dtype)
    try:
        with gzip.open(path, "rb") if layout.compressed else open(path, "rb") as handle:
            handle.seek(layout.offset)
            read = handle.readinto(memoryview(voxels).cast("B"))  # straight into the array, no copy
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise InputError(f"{path}: cannot read NIfTI voxels ({exc})") from None
    if read < voxels.nbytes:
        raise InputError(f"{path}: truncated NIfTI: {read:,} bytes of voxels, the header needs {voxels.nbytes:,}")
    return voxels if dtype.isnative else voxels.byteswap(inplace=True).view(dtype.newbyteorder("="))


def non_finite_voxels(path: Path, layout: NiftiLayout) -> tuple[np.ndarray, np.ndarray] | None:
    """The NaN/inf voxels of a float NIfTI, which niftilib reads as 0.

    Returns
    -------
    (indices, values) or None
        Flat indices (in the file's voxel order, which is C order of SimpleITK's array) and
        values of the NaN/inf voxels, or ``None`` when there are none or the data are not float.
    """
    if layout.datatype not in _FLOAT_TYPES:
        return None
    voxels = float_voxels(path, layout)
    bad = np.flatnonzero(~np.isfinite(voxels))
    return (bad, voxels[bad]) if bad.size else None


def _read_layout(path: Path) -> NiftiLayout:
    compressed = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            head = handle.read(544)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read NIfTI header ({exc})") from None
    return _layout(path, head, compressed)


def _layout(path: Path, head: bytes, compressed: bool) -> NiftiLayout:
    """The voxel layout from a NIfTI-1 or NIfTI-2 header, in Python integers (no overflow)."""
    for endian in ("<", ">"):
        size = int(np.frombuffer(head[:4], dtype=endian + "i4")[0]) if len(head) >= 4 else 0
        if size == 348 and len(head) >= 348:
            dims = np.frombuffer(head[40:56], dtype=endian + "i2").tolist()
            datatype, bitpix = np.frombuffer(head[70:74], dtype=endian + "i2").tolist()
            offset = float(np.frombuffer(head[108:112], dtype=endian + "f4")[0])
            slope, inter = np.frombuffer(head[112:120], dtype=endian + "f4").tolist()
            break
        if size == 540 and len(head) >= 540:
            datatype, bitpix = np.frombuffer(head[12:16], dtype=endian + "i2").tolist()
            dims = np.frombuffer(head[16:80], dtype=endian + "i8").tolist()
            offset = float(np.frombuffer(head[168:176], dtype=endian + "i8")[0])
            slope, inter = np.frombuffer(head[176:192], dtype=endian + "f8").tolist()
            break
    else:
        raise InputError(f"{path}: not a NIfTI-1 or NIfTI-2 header")
    if not (math.isfinite(offset) and offset >= 0) or bitpix <= 0:
        raise InputError(f"{path}: invalid NIfTI header (vox_offset {offset:g}, bitpix {bitpix})")
    n_dims = min(max(dims[0], 1), 7)
    n_voxels = math.prod(max(d, 1) for d in dims[1 : n_dims + 1])
    scaled = slope not in (0.0, 1.0) or inter != 0.0  # NaN counts as scaled
    return NiftiLayout(compressed, endian, int(offset), n_voxels * bitpix // 8, datatype, n_dims, n_voxels, scaled)


def _check_gzip_size(path: Path, expected: int) -> None:
    """The gzip trailer's size (mod 2**32) must match; otherwise decompress to the end to be sure."""
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        trailer = int.from_bytes(handle.read(4), "little")
    if trailer == expected % 2**32:
        return
    total = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(1 << 22):
                total += len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: truncated or corrupt .nii.gz ({exc})") from None
    if total < expected:
        raise InputError(f"{path}: truncated NIfTI: {total} bytes of data, the header needs {expected}")
