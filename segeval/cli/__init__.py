"""The ``segeval`` command: a thin Typer shell over the library, one module per command.

Exit codes (docs/cli.md): 0 ok · 1 a quality gate failed · 2 usage error · 3 input errors (some
cases failed, or the folders cannot be paired) · 4 internal error. Results go to stdout; progress,
warnings and errors go to stderr. Importing this package imports neither torch, pandas nor scipy:
each command imports what it needs when it runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from segeval._version import __version__
from segeval.cli import compare, metrics, report, score
from segeval.cli.losses import losses_app

app = typer.Typer(
    name="segeval",
    help="Trustworthy segmentation metrics: score prediction folders against ground truths.",
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segeval {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Trustworthy segmentation metrics: score prediction folders against ground truths."""


app.command(name="score", epilog=score.EPILOG)(score.score)
app.command(name="compare", epilog=compare.EPILOG)(compare.compare)
app.command(name="metrics")(metrics.metrics_command)
app.command(name="report", epilog=report.EPILOG)(report.report)
app.add_typer(losses_app, name="losses")

__all__ = ["app"]
