"""Colour → label maps for RGB masks (``--palette FILE``).

A palette file is either

- CSV with a header ``label,r,g,b`` (an optional ``name`` column is ignored here), one colour per
  row, or
- JSON: an object ``{"0": [0, 0, 0], "1": [255, 0, 0], ...}`` from label to ``[r, g, b]``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from segeval.errors import InputError, UsageError


def read_palette(path: str | Path) -> dict[tuple[int, int, int], int]:
    """Read a palette file into ``{(r, g, b): label}``.

    Raises
    ------
    UsageError
        Missing file, bad format, a colour given twice.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"palette file {path} not found")
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(path.read_text())
            items = [(int(label), rgb) for label, rgb in raw.items()]
        else:
            with path.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
            items = [(int(row["label"]), (row["r"], row["g"], row["b"])) for row in rows]
        palette: dict[tuple[int, int, int], int] = {}
        for label, rgb in items:
            colour = tuple(int(c) for c in rgb)
            if len(colour) != 3 or not all(0 <= c <= 255 for c in colour):
                raise ValueError(f"colour {list(rgb)} of label {label} is not three values 0-255")
            if colour in palette:
                raise ValueError(f"colour {colour} is given for labels {palette[colour]} and {label}")
            palette[colour] = label
    except (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"palette file {path}: {exc}",
            hint='expected CSV with columns label,r,g,b or JSON {"label": [r, g, b]}',
        ) from None
    if not palette:
        raise UsageError(f"palette file {path} lists no colours")
    return palette


def colours_to_labels(path: Path, rgb: np.ndarray, palette: dict[tuple[int, int, int], int]) -> np.ndarray:
    """Map an (..., 3) uint8 RGB array to labels; a colour not in ``palette`` is an InputError."""
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    keys = np.array(sorted((r << 16) | (g << 8) | b for r, g, b in palette), dtype=np.int32)
    by_code = {(r << 16) | (g << 8) | b: label for (r, g, b), label in palette.items()}
    values = np.array([by_code[k] for k in keys])
    position = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
    unknown = keys[position] != codes
    if unknown.any():
        code = int(codes[unknown].flat[0])
        colour = (code >> 16, (code >> 8) & 255, code & 255)
        raise InputError(f"{path}: colour {colour} ({int(unknown.sum())} pixels) is not in the palette file")
    dtype = np.uint8 if values.max() < 256 and values.min() >= 0 else np.int32
    return values[position].astype(dtype)
