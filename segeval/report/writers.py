"""Write report files atomically: each goes to a temporary file in the target folder, then is renamed.

A crash or a full disk therefore never leaves a half-written ``per_case.csv``, ``summary.csv`` or
``summary.json``: a reader sees the previous file or the complete new one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from segeval.errors import UsageError


def write_atomic(path: Path, write: Callable[[IO[str]], None]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Write ``table`` as CSV at full precision (shortest round-trip repr of each float; NaN as an empty field)."""
    write_atomic(path, lambda handle: table.to_csv(handle, index=False))


def to_json_value(value: object) -> object:
    """``value`` with NaN/inf floats as ``None`` and NumPy scalars/arrays as Python values."""
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def json_text(document: dict) -> str:
    """Strict JSON (no NaN literals) of ``document``."""
    return json.dumps(to_json_value(document), indent=2, allow_nan=False) + "\n"


def write_json(path: Path, document: dict) -> None:
    """Write ``document`` as strict JSON, atomically."""
    text = json_text(document)
    write_atomic(path, lambda handle: handle.write(text))


def prepare_out_dir(out: Path) -> Path:
    """Create the report folder (a path that is an existing file is a usage error)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the reports")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create report folder {out}: {exc.strerror}") from None
    return out


def write_report(
    out: str | Path, per_case: pd.DataFrame, summary: pd.DataFrame, document: dict, *, prefix: str = ""
) -> dict[str, Path]:
    """Write a report folder: ``{prefix}per_case.csv``, ``{prefix}summary.csv`` and a JSON document.

    The JSON file is ``summary.json`` (``{prefix}.json`` with a prefix, e.g. ``anatomy.json``). Each
    file is written atomically; returns the paths under the keys ``per_case``, ``summary``, ``json``.
    """
    folder = prepare_out_dir(Path(out))
    paths = {
        "per_case": folder / f"{prefix}{'_' if prefix else ''}per_case.csv",
        "summary": folder / f"{prefix}{'_' if prefix else ''}summary.csv",
        "json": folder / (f"{prefix}.json" if prefix else "summary.json"),
    }
    write_csv(paths["per_case"], per_case)
    write_csv(paths["summary"], summary)
    write_json(paths["json"], document)
    return paths
