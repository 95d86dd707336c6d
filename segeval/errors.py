"""Errors that segeval reports to users as one line, and the exit codes of the CLI.

Every error a user can cause derives from :class:`SegevalError`. The CLI catches it, prints
``error: <message>`` (plus ``hint: ...`` when there is one) on stderr, and exits with
``error.exit_code``; no traceback is shown.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of the ``segeval`` command (documented in docs/cli.md)."""

    OK = 0
    GATE_FAILED = 1
    USAGE = 2
    INPUT = 3
    INTERNAL = 4


class SegevalError(Exception):
    """Base of every user-facing error; carries an exit code and an optional hint."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(SegevalError):
    """An option or argument that cannot be used as given (exit code 2)."""

    exit_code = ExitCode.USAGE


class UnknownNameError(UsageError):
    """A metric, loss, convention or other name that is not in its catalog."""


class InputError(SegevalError):
    """A file that cannot be read or scored as given (exit code 3).

    The message names the file and the problem, e.g.
    ``case_003.png: label value 7 is not among the declared labels 0, 1, 2``.
    """

    exit_code = ExitCode.INPUT


class PairingError(InputError):
    """Prediction and ground-truth folders that cannot be paired (exit code 3)."""
