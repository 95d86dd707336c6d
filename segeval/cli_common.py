"""Pieces shared by the ``segeval`` commands: consoles, output formats, error handling, progress."""

from __future__ import annotations

import enum
import functools
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from segeval.errors import ExitCode, SegevalError, UsageError

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    quiet = "quiet"


# Options shared by the commands that read prediction and ground-truth folders.
RecursiveOpt = Annotated[
    bool, typer.Option("--recursive", "-r", help="Search sub-folders; case names keep their relative path.")
]
PredSuffixOpt = Annotated[str, typer.Option(help="Strip this suffix from prediction names (case_1_pred.png → case_1).")]
GtSuffixOpt = Annotated[str, typer.Option(help="Strip this suffix from ground-truth names.")]
PairsOpt = Annotated[
    Optional[Path], typer.Option(help="CSV manifest with columns pred,gt[,case] instead of PREDS and GTS.")
]
DeviceOpt = Annotated[str, typer.Option(help="auto (CUDA when available), cpu, cuda or cuda:N.")]
WorkersOpt = Annotated[Optional[int], typer.Option(help="Threads decoding files (default min(4, CPUs)).")]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="What to print on stdout.", case_sensitive=False)
]
ProgressOpt = Annotated[bool, typer.Option(help="Progress bar on stderr (only on a terminal).")]


def handle_errors(command):
    """Turn a :class:`SegevalError` into one line on stderr and its exit code; no traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SegevalError as error:
            stderr.print(f"[bold red]error:[/] {error.message}", markup=True, soft_wrap=True, highlight=False)
            if error.hint:
                stderr.print(f"hint: {error.hint}", markup=False, soft_wrap=True)
            raise typer.Exit(code=int(error.exit_code)) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:  # a bug: one line, exit 4; SEGEVAL_DEBUG=1 shows the traceback
            if os.environ.get("SEGEVAL_DEBUG"):
                raise
            stderr.print(f"internal error: {type(error).__name__}: {error}", markup=False, soft_wrap=True)
            stderr.print(
                "hint: this is a bug in segeval; rerun with SEGEVAL_DEBUG=1 for the traceback and report it",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(code=int(ExitCode.INTERNAL)) from None

    return wrapper


def int_list(text: str | None, option: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        raise UsageError(f"{option} expects comma-separated integers, got {text!r}") from None


def float_list(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(" ", "").replace("x", ",").split(",") if v != "")
    except ValueError:
        raise UsageError(f"{option} expects comma-separated numbers, got {text!r}") from None


class progress_bar:
    """Context manager giving ``advance(done, total)``; a no-op when not on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        self.bar = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=stderr,
            transient=True,
        )
        self.bar.__enter__()
        return self.advance

    def advance(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task("scoring", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def stdout_console(soft_wrap: bool = False) -> Console:
    """stdout: rich on a terminal; plain, wide enough never to truncate, in logs and pipes."""
    probe = Console()
    if probe.is_terminal:
        return Console(highlight=False, soft_wrap=soft_wrap)
    return Console(highlight=False, soft_wrap=soft_wrap, width=200, no_color=True)
