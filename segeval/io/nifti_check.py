"""Integrity checks for NIfTI files that SimpleITK (through niftilib) does not make.

niftilib reads a truncated ``.nii``/``.nii.gz`` without complaint and silently replaces NaN and
infinite voxels by 0 (``nifti_read_buffer``), so a broken probability map would be scored as
background. This module reads the fixed header fields (NIfTI-1 and NIfTI-2, either byte order)
to know how many bytes the voxel data must have, checks the file against that, and finds the
non-finite values of float data so that the reader can put them back (the prediction decoder then
reports them like for any other format). Valid files pay one small header read, plus one read of
the voxel block for float images.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from segeval.errors import InputError

_FLOAT_TYPES = {16: "f4", 64: "f8"}  # NIfTI datatype codes of float32 and float64


def check_nifti(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Raise :class:`InputError` for a truncated NIfTI; return its non-finite float voxels.

    Returns
    -------
    (indices, values) or None
        Flat indices (in the file's voxel order, which is C order of SimpleITK's array) and
        values of the NaN/inf voxels, or ``None`` when there are none or the data are not float.
    """
    compressed = path.name.lower().endswith(".gz")
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            head = handle.read(544)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read NIfTI header ({exc})") from None
    endian, offset, n_bytes, datatype = _layout(path, head)
    expected = offset + n_bytes
    if compressed:
        _check_gzip_size(path, expected)
    elif os.path.getsize(path) < expected:
        raise InputError(f"{path}: truncated NIfTI: {os.path.getsize(path)} bytes, the header needs {expected}")
    if datatype in _FLOAT_TYPES:
        return _non_finite(path, compressed, offset, n_bytes, np.dtype(endian + _FLOAT_TYPES[datatype]))
    return None


def _layout(path: Path, head: bytes) -> tuple[str, int, int, int]:
    """(byte order, voxel offset, voxel bytes, datatype) from a NIfTI-1 or NIfTI-2 header."""
    for endian in ("<", ">"):
        size = int(np.frombuffer(head[:4], dtype=endian + "i4")[0]) if len(head) >= 4 else 0
        if size == 348 and len(head) >= 348:
            dims = np.frombuffer(head[40:56], dtype=endian + "i2").astype(np.int64)
            datatype, bitpix = (int(v) for v in np.frombuffer(head[70:74], dtype=endian + "i2"))
            offset = int(np.frombuffer(head[108:112], dtype=endian + "f4")[0])
            break
        if size == 540 and len(head) >= 540:
            datatype, bitpix = (int(v) for v in np.frombuffer(head[12:16], dtype=endian + "i2"))
            dims = np.frombuffer(head[16:80], dtype=endian + "i8").astype(np.int64)
            offset = int(np.frombuffer(head[168:176], dtype=endian + "i8")[0])
            break
    else:
        raise InputError(f"{path}: not a NIfTI-1 or NIfTI-2 header")
    n_dims = int(np.clip(dims[0], 1, 7))
    n_voxels = int(np.prod(np.maximum(dims[1 : n_dims + 1], 1)))
    return endian, offset, n_voxels * bitpix // 8, datatype


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


def _non_finite(
    path: Path, compressed: bool, offset: int, n_bytes: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray] | None:
    with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
        handle.seek(offset)
        voxels = np.frombuffer(handle.read(n_bytes), dtype=dtype)
    bad = np.flatnonzero(~np.isfinite(voxels))
    return (bad, voxels[bad].astype(dtype.newbyteorder("="))) if bad.size else None
