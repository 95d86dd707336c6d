"""A name → entry table with normalised look-up and "did you mean" suggestions.

Used by the metric catalog and the loss catalog. Names are normalised by lower-casing and
turning ``-`` and spaces into ``_``, so ``"Focal-Tversky"`` finds ``focal_tversky``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from segeval.errors import UnknownNameError

T = TypeVar("T")


def normalise_name(name: str) -> str:
    """Lower-case ``name`` and replace ``-`` and spaces by ``_``."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


class Registry(Generic[T]):
    """Entries registered under a canonical name and optional aliases.

    Parameters
    ----------
    kind : str
        What the entries are ("metric", "loss"), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, entry: T, aliases: tuple[str, ...] = ()) -> T:
        """Add ``entry`` under ``name``; a name or alias already taken raises ``ValueError``."""
        canonical = normalise_name(name)
        for key in (canonical, *map(normalise_name, aliases)):
            if key in self._entries or key in self._aliases:
                raise ValueError(f"{self.kind} name {key!r} is already registered")
        self._entries[canonical] = entry
        for alias in aliases:
            self._aliases[normalise_name(alias)] = canonical
        return entry

    def canonical(self, name: str) -> str:
        """The canonical name for ``name`` or one of its aliases.

        Raises
        ------
        UnknownNameError
            With the closest known names as a suggestion and the full list as a hint.
        """
        key = normalise_name(name)
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        known = sorted(self._entries)
        close = difflib.get_close_matches(key, known + sorted(self._aliases), n=3, cutoff=0.6)
        message = f"unknown {self.kind} {name!r}"
        if close:
            message += f"; did you mean {', '.join(repr(c) for c in close)}?"
        raise UnknownNameError(message, hint=f"known {self.kind}s: {', '.join(known)}")

    def get(self, name: str) -> T:
        """The entry registered as ``name`` (or an alias of it)."""
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        """Canonical names in registration order."""
        return list(self._entries)

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            normalise_name(name) in self._entries or normalise_name(name) in self._aliases
        )

    def __len__(self) -> int:
        return len(self._entries)
