"""Settings from a file: ``[tool.segeval]`` in pyproject.toml, or a ``segeval.toml``.

Keys are the long option names of ``segeval score`` (``-`` or ``_``), with the option table's
types (:data:`segeval.options.OPTIONS`)::

    [tool.segeval]
    num-classes = 4
    ignore-index = 255
    class-names = ["background", "liver", "tumour", "vessel"]
    gate = ["dice>=0.85", "hd95[liver]<=6", "failed==0"]
    max-drop = { dice = 0.01 }
    out = "reports"

Command-line options override the file; a list given on the command line (``--gate``) replaces
the file's list. Without ``--config``, ``./segeval.toml`` and then ``./pyproject.toml`` (if it
has a ``[tool.segeval]`` table) are used. Paths are relative to the file's folder.
"""

from __future__ import annotations

import difflib
import tomllib
import warnings
from pathlib import Path

from segeval.errors import UsageError
from segeval.options import OPTIONS, PATH, Option

FILE_OPTIONS: dict[str, Option] = {key: option for option in OPTIONS if option.in_file for key in option.file_keys}
"""Settings-file key (``_`` spelling) → option."""
LEGACY_KEYS = {"gates": ("gate", "0.3")}
"""Old spellings still read, with a warning: key → (new key, version that removes the old one)."""


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
    if pyproject.is_file() and "segeval" in _load(pyproject).get("tool", {}):
        return pyproject
    return None


def read_config(path: Path) -> dict[str, object]:
    """The settings of ``path`` by option name, coerced by the option table; paths relative to the file's folder.

    Raises
    ------
    UsageError
        Unparsable TOML, an unknown key (with a did-you-mean suggestion), a value of the wrong type
        (naming the key and the file).
    """
    data = _load(path)
    tool = data.get("tool", {}).get("segeval")
    table = tool if path.name == "pyproject.toml" else (tool if tool is not None else data)
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.segeval] must be a table")
    settings: dict[str, object] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in FILE_OPTIONS:
            close = difflib.get_close_matches(key, sorted(FILE_OPTIONS), n=1)
            raise UsageError(
                f"{path}: unknown setting {raw_key!r}"
                + (f"; did you mean {close[0].replace('_', '-')!r}?" if close else ""),
                hint="settings: "
                + ", ".join(sorted({o.file_keys[0].replace("_", "-") for o in FILE_OPTIONS.values()})),
            )
        if key in LEGACY_KEYS:
            new, version = LEGACY_KEYS[key]
            warnings.warn(
                f"{path}: setting {raw_key!r} is now {new!r}; the old name goes in segeval {version}",
                FutureWarning,
                stacklevel=2,
            )
        option = FILE_OPTIONS[key]
        coerced = option.coerce(value, where=f"{path}: {raw_key}", from_file=True)
        if option.type is PATH and not coerced.is_absolute():
            coerced = path.parent / coerced
        settings[option.name] = coerced
    return settings


def _load(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"config file {path}: {exc}") from None
