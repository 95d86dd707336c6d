"""Settings from a file: ``[tool.segeval]`` in pyproject.toml, or a ``segeval.toml``.

Keys are the long option names of ``segeval score`` (``-`` or ``_``)::

    [tool.segeval]
    num-classes = 4
    ignore-index = 255
    class-names = ["background", "liver", "tumour", "vessel"]
    gates = ["dice>=0.85", "hd95[liver]<=6", "failed==0"]
    out = "reports"

Command-line options override the file; a list given on the command line (``--gate``) replaces
the file's list. Without ``--config``, ``./segeval.toml`` and then ``./pyproject.toml`` (if it
has a ``[tool.segeval]`` table) are used.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path

from segeval.errors import UsageError

FILE_KEYS = (
    "labels",
    "num_classes",
    "class_names",
    "ignore_index",
    "include_background",
    "empty_score",
    "pred_kind",
    "channel_axis",
    "threshold",
    "palette",
    "recursive",
    "pred_suffix",
    "gt_suffix",
    "pairs",
    "allow_missing",
    "skip_missing",
    "spacing",
    "geometry_tolerance",
    "device",
    "batch_size",
    "workers",
    "ci",
    "gates",
    "baseline",
    "max_drop",
    "max_rise",
    "out",
    "format",
    "junit",
    "markdown",
    "metrics",
    "convention",
    "hd_percentile",
    "nsd_tolerance",
    "boundary_iou_width",
    "distance_empty",
)
PATH_KEYS = ("palette", "pairs", "baseline", "out", "junit", "markdown")


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path | None:
    """The config file to use: ``explicit``, else ./segeval.toml, else ./pyproject.toml with [tool.segeval]."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"config file {explicit} not found")
        return explicit
    cwd = cwd or Path.cwd()
    if (cwd / "segeval.toml").is_file():
        return cwd / "segeval.toml"
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file() and "tool" in _load(pyproject) and "segeval" in _load(pyproject)["tool"]:
        return pyproject
    return None


def read_config(path: Path) -> dict[str, object]:
    """The settings of ``path`` with normalised keys; paths are made relative to the file's folder.

    Raises
    ------
    UsageError
        Unparsable TOML, unknown keys (with a did-you-mean suggestion), wrongly typed lists.
    """
    data = _load(path)
    table = (
        data.get("tool", {}).get("segeval")
        if path.name == "pyproject.toml"
        else data.get("tool", {}).get("segeval", data)
    )
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.segeval] must be a table")
    settings: dict[str, object] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in FILE_KEYS:
            close = difflib.get_close_matches(key, FILE_KEYS, n=1)
            raise UsageError(
                f"{path}: unknown setting {raw_key!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                hint="settings: " + ", ".join(k.replace("_", "-") for k in FILE_KEYS),
            )
        settings[key] = _normalise(path, key, value)
    return settings


def _load(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"config file {path}: {exc}") from None


def _normalise(path: Path, key: str, value: object) -> object:
    if key in PATH_KEYS and isinstance(value, str):
        candidate = Path(value)
        return candidate if candidate.is_absolute() else path.parent / candidate
    if key in ("labels", "spacing") and isinstance(value, str):
        return tuple(float(v) if key == "spacing" else int(v) for v in value.split(","))
    if key in ("max_drop", "max_rise") and isinstance(value, dict):
        return tuple(f"{metric}={amount}" for metric, amount in value.items())
    if key == "nsd_tolerance" and isinstance(value, dict):
        return {int(label): float(mm) for label, mm in value.items()}
    if key == "metrics" and isinstance(value, str):
        return tuple(m.strip() for m in value.split(","))
    if key in ("labels", "spacing", "class_names", "gates", "max_drop", "max_rise", "metrics"):
        if isinstance(value, str):
            return (value,) if key in ("gates", "max_drop", "max_rise") else tuple(value.split(","))
        if not isinstance(value, list):
            raise UsageError(f"{path}: {key.replace('_', '-')} must be a list, got {value!r}")
        return tuple(value)
    if key == "empty_score" and isinstance(value, str):
        return float(value)
    return value
