"""Pair prediction files with ground-truth files.

Files are matched by *case name*: the path relative to its folder, without the format's
extension (``case_001.nii.gz`` → ``case_001``), and without an optional suffix
(``--pred-suffix _pred`` turns ``case_001_pred.png`` into ``case_001``). A prediction and a ground
truth may be in different formats. An explicit manifest (``--pairs manifest.csv``, columns
``pred,gt`` and optionally ``case``; relative paths are relative to the manifest's folder)
replaces discovery.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from segeval.errors import PairingError, UsageError
from segeval.io.readers import SUPPORTED_SUFFIXES, format_suffix


@dataclass(frozen=True)
class CasePair:
    """One case: its name and its two files (``pred`` is ``None`` for a missing prediction)."""

    case: str
    pred: Path | None
    gt: Path


@dataclass
class Pairing:
    """The outcome of pairing two folders."""

    pairs: list[CasePair]
    missing_pred: list[CasePair] = field(default_factory=list)
    """Cases with a ground truth but no prediction (their ``pred`` is ``None``)."""
    missing_gt: list[str] = field(default_factory=list)
    """Cases with a prediction but no ground truth (never scored)."""
    skipped_files: list[Path] = field(default_factory=list)
    """Files in the folders whose extension segeval does not read."""


def discover_pairs(
    preds: str | Path,
    gts: str | Path,
    *,
    recursive: bool = False,
    pred_suffix: str = "",
    gt_suffix: str = "",
) -> Pairing:
    """Match the files of two folders (or two single files) by case name.

    Returns every match in ``pairs`` (sorted by case name), and the unmatched names of either
    side; deciding whether unmatched files are an error is the caller's job.

    Raises
    ------
    PairingError
        A folder that does not exist or holds no supported file, or two files of one folder
        with the same case name.
    """
    preds, gts = Path(preds), Path(gts)
    if preds.is_file() and gts.is_file():
        return Pairing(pairs=[CasePair(case=_strip(gts.name, gt_suffix), pred=preds, gt=gts)])
    if preds.is_dir() and gts.is_file():
        raise PairingError(
            f"{preds} is a folder but the ground-truth argument is a file; give two folders or two files"
        )
    pred_files, pred_skipped = _case_files(preds, "prediction", recursive, pred_suffix)
    gt_files, gt_skipped = _case_files(gts, "ground-truth", recursive, gt_suffix)
    matched = sorted(set(pred_files) & set(gt_files))
    return Pairing(
        pairs=[CasePair(case=name, pred=pred_files[name], gt=gt_files[name]) for name in matched],
        missing_pred=[
            CasePair(case=name, pred=None, gt=gt_files[name]) for name in sorted(set(gt_files) - set(pred_files))
        ],
        missing_gt=sorted(set(pred_files) - set(gt_files)),
        skipped_files=pred_skipped + gt_skipped,
    )


def read_manifest(path: str | Path) -> Pairing:
    """Read an explicit list of pairs from a CSV file with columns ``pred,gt[,case]``.

    A missing ``case`` column names each case after its ground-truth file.

    Raises
    ------
    UsageError
        Missing file or columns, duplicate case names.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"pairs manifest {path} not found")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not {"pred", "gt"} <= columns:
            raise UsageError(f"pairs manifest {path}: expected columns pred,gt[,case], got {sorted(columns)}")
        rows = list(reader)
    pairs, seen = [], set()
    for line, row in enumerate(rows, start=2):
        if not (row.get("gt") or "").strip() or None in row.values():
            raise UsageError(f"pairs manifest {path}: line {line}: expected pred,gt[,case], got {list(row.values())}")
        gt = _resolve(path.parent, row["gt"])
        pred = _resolve(path.parent, row["pred"]) if (row["pred"] or "").strip() else None
        case = (row.get("case") or "").strip() or _strip(gt.name, "")
        if case in seen:
            raise UsageError(f"pairs manifest {path}: case {case!r} is listed twice")
        seen.add(case)
        pairs.append(CasePair(case=case, pred=pred, gt=gt))
    return Pairing(pairs=[p for p in pairs if p.pred is not None], missing_pred=[p for p in pairs if p.pred is None])


def _resolve(base: Path, name: str) -> Path:
    candidate = Path(name.strip())
    return candidate if candidate.is_absolute() else base / candidate


def _strip(name: str, suffix: str) -> str:
    """Case name of a file name: format extension removed, then ``suffix`` if it ends with it."""
    ext = format_suffix(name)
    stem = name[: len(name) - len(ext)] if ext else name
    if suffix and stem.endswith(suffix) and len(stem) > len(suffix):
        stem = stem[: -len(suffix)]
    return stem


def _case_files(folder: Path, side: str, recursive: bool, suffix: str) -> tuple[dict[str, Path], list[Path]]:
    if not folder.exists():
        raise PairingError(f"{side} folder {folder} does not exist")
    if not folder.is_dir():
        raise PairingError(f"{folder} is a file but the {side} argument is a folder; give two folders or two files")
    files: dict[str, Path] = {}
    skipped: list[Path] = []
    for relative, is_dir in sorted(_entries(folder, recursive), key=lambda entry: entry[0].split("/")):
        folders, _, name = relative.rpartition("/")
        if name.startswith(".") or any(part.startswith(".") for part in folders.split("/") if folders):
            continue  # hidden files and folders (.DS_Store, .ipynb_checkpoints/)
        if is_dir and (recursive or format_suffix(name) is None):
            continue  # a folder named like an image (case_1.png/) is kept: it fails as a case, named
        if name.lower().endswith((".raw", ".raw.gz")):
            continue  # pixel data of a .mhd/.nhdr header, read through the header
        path = folder / relative
        if format_suffix(name) is None:
            skipped.append(path)
            continue
        case = relative[: len(relative) - len(name)] + _strip(name, suffix)
        if case in files:
            raise PairingError(
                f"{side} folder {folder}: {files[case].name} and {name} both give case {case!r}",
                hint="keep one file per case in each folder",
            )
        files[case] = path
    if not files:
        raise PairingError(
            f"{side} folder {folder} holds no supported file"
            + (" (use --recursive to search sub-folders)" if not recursive else ""),
            hint=f"supported extensions: {', '.join(SUPPORTED_SUFFIXES)}",
        )
    return files, skipped


def _entries(folder: Path, recursive: bool) -> list[tuple[str, bool]]:
    """(path relative to ``folder``, with ``/``; whether it is a folder) of each entry of ``folder``, or with
    ``recursive`` of every file under it but in hidden folders, following symlinked folders; a folder reached
    twice (a link loop, or two links to one folder) is listed once, under the first path that reaches it.

    One directory listing per folder (``os.scandir``, ``os.walk``): no call per file."""
    if not recursive:
        with os.scandir(folder) as listing:
            return [(entry.name, entry.is_dir()) for entry in listing]
    seen = {folder.resolve()}
    entries = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        kept = []
        for name in sorted(dirs):
            real = (Path(root) / name).resolve()
            if not name.startswith(".") and real not in seen:
                seen.add(real)
                kept.append(name)
        dirs[:] = kept
        prefix = Path(root).relative_to(folder).as_posix()
        entries += [(name if prefix == "." else f"{prefix}/{name}", False) for name in names]
    return entries
