"""Pieces shared by the ``segeval`` commands: the options from the option table, consoles, errors, progress.

The Typer parameters of the commands that read folders are generated from
:data:`segeval.options.OPTIONS` (:func:`with_table_options`): every such option arrives as the raw
text the user typed (``None`` when not given), and :func:`resolve_settings` coerces it with the
option's own rules, merges it over a settings file, and says where each value came from.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from segeval.errors import ExitCode, SegevalError, UsageError
from segeval.options import BY_NAME, Command, Option, OutputFormat, merge, options_for

stderr = Console(stderr=True, highlight=False, soft_wrap=True)

INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells report it."""

# The options that are not in the option table, shared by several loss commands.
FormatOpt = Annotated[
    Optional[str],
    typer.Option(
        "--format", "-f", help=BY_NAME["format"].help + r" \[default: table]", metavar=BY_NAME["format"].type.metavar
    ),
]
"""``--format`` of the commands whose options are not generated from the table; read with :func:`parse_format`."""
ProgressOpt = Annotated[bool, typer.Option(help=BY_NAME["progress"].help)]
DeviceOpt = Annotated[str, typer.Option(help=BY_NAME["device"].help)]


def parse_format(text: str | None) -> OutputFormat:
    """The ``--format`` given as text (a usage error naming the option when it is not a format)."""
    return BY_NAME["format"].coerce(text) or OutputFormat.TABLE


def typer_parameter(option: Option) -> inspect.Parameter:
    """The Typer parameter of one option: its flags, help, panel and metavar; the value arrives raw."""
    flags = [option.flag]
    if option.type.flag:
        flags = [f"{option.flag}/--no-{option.flag[2:]}"]
    if option.short:
        flags.append(option.short)
    help_text = escape(option.help)
    if option.default not in (None, (), "", False):
        shown = option.flag[2:] if option.default is True else getattr(option.default, "value", option.default)
        help_text += escape(f" [default: {shown}]")
    settings = dict(help=help_text, rich_help_panel=option.panel.value, show_default=False)
    if option.type.flag:
        annotation = Annotated[Optional[bool], typer.Option(*flags, **settings)]
    elif option.type.repeatable:
        annotation = Annotated[Optional[list[str]], typer.Option(*flags, metavar=option.type.metavar, **settings)]
    else:
        annotation = Annotated[Optional[str], typer.Option(*flags, metavar=option.type.metavar, **settings)]
    return inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def with_table_options(command: Command):
    """Give a command function ``f(..., **options)`` the Typer parameters of ``command``'s table options."""

    def decorate(function):
        signature = inspect.signature(function, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        generated = [typer_parameter(option) for option in options_for(command)]
        function.__signature__ = inspect.Signature(own + generated)
        return function

    return decorate


def resolve_settings(given: dict[str, object], command: Command) -> tuple[dict[str, object], dict[str, str]]:
    """Settings of a run: the table defaults, then the settings file (``score`` only), then the command line.

    Returns the values of every option of ``command`` (coerced) and the source of each value that
    was not a default (``cli`` or the file's path).
    """
    from segeval.config_file import find_config, read_config

    cli = {name: BY_NAME[name].coerce(value) for name, value in given.items() if value is not None}
    layers = []
    if BY_NAME["config"] in options_for(command):
        path = find_config(cli.pop("config", None))
        if path is not None:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                layers.append((str(path), read_config(path)))
            for warning in caught:
                stderr.print(f"warning: {printable(warning.message)}", markup=False)
    layers.append(("cli", cli))
    settings, sources = merge(*layers)
    values = {option.name: settings.get(option.name, option.default) for option in options_for(command)}
    return values, sources


@contextlib.contextmanager
def loading_libraries():
    """Import the command's libraries with the garbage collector paused, then freeze what they made.

    Importing torch makes about a million objects that live as long as the process; the collector's full
    passes over them cost 0.2-0.4 s of each start-up on a 2-core machine, and one more pass in a long run
    (benchmarks/RESULTS.md). Frozen (``gc.freeze``), they are never traversed again; the collector runs as
    usual for everything the command makes afterwards.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def handle_errors(command):
    """Turn a :class:`SegevalError` into one line on stderr and its exit code; no traceback.

    Any other exception is a bug: one line and exit 4 (``SEGEVAL_DEBUG=1`` adds the traceback, the code
    stays 4); Ctrl-C prints ``interrupted`` and exits 130.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SegevalError as error:
            message = escape(printable(error.message))
            stderr.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True, highlight=False)
            if error.hint:
                stderr.print(f"hint: {printable(error.hint)}", markup=False, soft_wrap=True)
            raise typer.Exit(code=int(error.exit_code)) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            stderr.print("interrupted", markup=False)
            raise typer.Exit(code=INTERRUPTED) from None
        except Exception as error:  # a bug: one line, exit 4; SEGEVAL_DEBUG=1 shows the traceback too
            if os.environ.get("SEGEVAL_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            stderr.print(f"internal error: {type(error).__name__}: {printable(error)}", markup=False, soft_wrap=True)
            stderr.print(
                "hint: this is a bug in segeval; rerun with SEGEVAL_DEBUG=1 for the traceback and report it",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(code=int(ExitCode.INTERNAL)) from None

    return wrapper


def printable(text: object) -> str:
    """``str(text)`` with control characters written as escapes (:func:`segeval.report.render.printable`)."""
    from segeval.report.render import printable as escaped

    return escaped(text)


def escape(text: str) -> str:
    """``text`` with rich markup escaped."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


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


def check_report_folder(out: Path | None, names: tuple[str, ...] = ()) -> None:
    """A usage error, before any work, when the report folder ``out`` (and its files ``names``) cannot be written."""
    if out is not None:
        from segeval.report.writers import check_out_dir

        check_out_dir(out, list(names))


def write_reports(write, out: Path) -> dict[str, Path]:
    """``write(out)``; a failure to write (a full disk) is a one-line usage error naming the folder."""
    try:
        return write(out)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write the reports: {exc.strerror or exc}") from None


def output_paths_note(paths: dict[str, Path], what: str = "reports") -> str:
    """``reports written to DIR/ (a, b, c)`` for the files of a report folder (control characters escaped)."""
    folder = next(iter(paths.values())).parent
    return printable(f"{what} written to {folder}/ ({', '.join(p.name for p in paths.values())})")
