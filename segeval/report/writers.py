"""Write report files atomically.

A report set (``per_case.csv``, ``summary.csv``, ``summary.json``) is written into a temporary folder
inside the target folder, then each file is renamed into place, the JSON document last; the document
lists its sibling files with their sha256. A crash or a full disk therefore never leaves a half-written
file, and a reader can check that the CSV files beside a ``summary.json`` are the ones it describes.
Single files (``--junit``) are written to a temporary file beside the target, then renamed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from segeval.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd  # the tables arrive as DataFrames; importing pandas here would slow the start of `score`


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
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most leaves of a report: returned as they are
        return value
    if kind is float:
        return value if math.isfinite(value) else None
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


def check_out_dir(out: Path, names: list[str], option: str = "--out") -> None:
    """Check, before any work, that the report files ``names`` can be written into folder ``out``.

    Nothing is created. Raises :class:`UsageError` for a file where the folder should be, a folder that
    cannot be created or written, or a folder where one of the files should go.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out} is a file; give a folder for the reports")
    for name in names:
        if (out / name).is_dir():
            raise UsageError(f"{option} {out}: {name} is a folder; cannot write the report file there")
    _check_writable(out, option)


def check_out_file(path: Path, option: str) -> None:
    """Check, before any work, that the file ``path`` (``--junit``, ``--markdown``) can be written."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    _check_writable(path.parent, option)


def _check_writable(folder: Path, option: str) -> None:
    """``folder``, or its nearest existing parent when it does not exist yet, is a writable folder."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option}: cannot create {folder}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: cannot write into {existing}: permission denied")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_report_set(
    out: str | Path, tables: dict[str, pd.DataFrame], json_name: str, document: dict
) -> dict[str, Path]:
    """Write the CSV ``tables`` (file name → table) and the JSON ``document`` into ``out`` as one set.

    Every file is first written into a temporary folder inside ``out``; then each is renamed into place,
    ``json_name`` last. The JSON document gets a ``files`` key: the sibling files' names and sha256.
    Returns the paths by file name. Raises :class:`UsageError` for a folder where a file should go (before
    writing anything), ``OSError`` when writing fails (a full disk); the files in place are then untouched
    or complete.
    """
    folder = prepare_out_dir(Path(out))
    check_out_dir(folder, [*tables, json_name], option="report folder")
    staging = Path(tempfile.mkdtemp(prefix=".segeval-", dir=folder))
    try:
        for name, table in tables.items():
            _write_staged(staging / name, lambda handle, table=table: table.to_csv(handle, index=False))
        files = {name: sha256_of(staging / name) for name in tables}
        text = json_text({**document, "files": files})
        _write_staged(staging / json_name, lambda handle: handle.write(text))
        for name in [*tables, json_name]:
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: folder / name for name in [*tables, json_name]}


def _write_staged(path: Path, write: Callable[[IO[str]], None]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def write_report(
    out: str | Path,
    per_case: pd.DataFrame,
    summary: pd.DataFrame,
    document: dict,
    *,
    prefix: str = "",
    lesions: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write a report folder: ``{prefix}per_case.csv``, ``{prefix}summary.csv`` (and ``{prefix}lesions.csv`` when
    ``lesions`` is given) and a JSON document, as one set.

    The JSON file is ``summary.json`` (``{prefix}.json`` with a prefix, e.g. ``anatomy.json``); see
    :func:`write_report_set`. Returns the paths under the keys ``per_case``, ``summary``, (``lesions``,) ``json``.
    """
    lead = f"{prefix}_" if prefix else ""
    names = {"per_case": f"{lead}per_case.csv", "summary": f"{lead}summary.csv"}
    tables = {names["per_case"]: per_case, names["summary"]: summary}
    if lesions is not None:
        names["lesions"] = f"{lead}lesions.csv"
        tables[names["lesions"]] = lesions
    json_name = f"{prefix}.json" if prefix else "summary.json"
    paths = write_report_set(out, tables, json_name, document)
    return {key: paths[name] for key, name in [*names.items(), ("json", json_name)]}
