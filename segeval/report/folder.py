"""Read a ``segeval score --out`` folder back: ``summary.json`` (schema version checked), the tables, the thumbnails.

The folder is input from elsewhere (a CI artifact, a pull request): the version is checked before any
other key is used, thumbnail paths must be ours (``thumbnails/<hex>.png``), and sizes are bounded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from segeval.errors import InputError
from segeval.report.schema import SCHEMA_VERSION

MAX_SUMMARY_BYTES = 512 * 1024 * 1024
MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_THUMBNAIL_PATH = re.compile(r"^thumbnails/[0-9a-f]{20}\.png$")


@dataclass
class ReportFolder:
    """A report folder as read from disk."""

    path: Path
    summary: dict
    """``summary.json``; an unversioned (schema 1) document gets ``schema_version`` 1."""
    per_case: pd.DataFrame
    table: pd.DataFrame
    """``summary.csv``."""
    lesions: pd.DataFrame | None = None
    """``lesions.csv`` when the folder has one."""
    thumbnails: dict[str, bytes] = field(default_factory=dict)
    """Thumbnail file (as listed in ``summary.json``) → PNG bytes, for the files present and valid."""


def read_summary(path: str | Path) -> dict:
    """``summary.json`` of a report folder, checked for its schema version.

    Raises
    ------
    InputError
        No or unreadable ``summary.json``, not a segeval summary, or a schema version newer than this
        segeval reads (naming both versions and the segeval that wrote it).
    """
    path = Path(path)
    file = path / "summary.json" if path.is_dir() else path
    if not file.is_file():
        raise InputError(
            f"{file}: no summary.json here", hint="give a folder written by segeval score --out, or its summary.json"
        )
    if file.stat().st_size > MAX_SUMMARY_BYTES:
        raise InputError(f"{file}: {file.stat().st_size} bytes is too large for a summary.json")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{file}: cannot read summary.json ({exc})") from None
    if not isinstance(document, dict) or "summary" not in document or "counts" not in document:
        raise InputError(f"{file}: not a summary.json of segeval score")
    version = document.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"{file}: schema_version {version!r} is not a version number")
    if version > SCHEMA_VERSION:
        raise InputError(
            f"{file}: report schema version {version} (written by segeval {document.get('segeval_version', '?')}) is "
            f"newer than this segeval reads (up to {SCHEMA_VERSION})",
            hint="upgrade segeval to read this report",
        )
    document["schema_version"] = version
    return document


def read_folder(path: str | Path) -> ReportFolder:
    """The report folder ``path`` (or the folder of its ``summary.json``): the document, tables and thumbnails."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    summary = read_summary(path)
    tables = {}
    for name in ("per_case.csv", "summary.csv"):
        file = folder / name
        if not file.is_file():
            raise InputError(f"{file}: missing from the report folder")
        try:
            tables[name] = pd.read_csv(file, dtype={"class": str, "case": str}, keep_default_na=False, na_values=[""])
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"{file}: cannot read ({exc})") from None
    lesions = None
    if (folder / "lesions.csv").is_file():
        try:
            lesions = pd.read_csv(folder / "lesions.csv", dtype={"case": str}, keep_default_na=False, na_values=[""])
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"{folder / 'lesions.csv'}: cannot read ({exc})") from None
    return ReportFolder(
        path=folder,
        summary=summary,
        per_case=tables["per_case.csv"],
        table=tables["summary.csv"],
        lesions=lesions,
        thumbnails=_thumbnails(folder, summary),
    )


def _thumbnails(folder: Path, summary: dict) -> dict[str, bytes]:
    listed = summary.get("thumbnails") or {}
    out = {}
    for entry in [*(listed.get("cases") or []), *(listed.get("failed") or [])]:
        name = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _THUMBNAIL_PATH.match(name):
            continue
        file = folder / name
        if file.is_file() and not file.is_symlink() and file.stat().st_size <= MAX_THUMBNAIL_BYTES:
            data = file.read_bytes()
            if data.startswith(PNG_SIGNATURE):
                out[name] = data
    return out
