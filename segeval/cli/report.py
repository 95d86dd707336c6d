"""``segeval report DIR -o FILE``: the HTML page of an existing report folder (no re-scoring)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segeval.cli.common import handle_errors, printable, stderr
from segeval.errors import UsageError

EPILOG = "Examples:\n\n  segeval report reports/ -o report.html"


@handle_errors
def report(
    folder: Annotated[
        Path, typer.Argument(help="A report folder written by segeval score --out (or its summary.json).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.", show_default=False)],
) -> None:
    """Write the self-contained HTML page of a report folder: reads only the folder (summary.json,
    summary.csv, per_case.csv, lesions.csv, thumbnails/), computes nothing again. Exit code 3 when the
    folder is not a readable report, or was written by a newer segeval (its schema version)."""
    from segeval.report.html_score import write_score_page
    from segeval.report.writers import check_out_file

    check_out_file(output, "--output")
    try:
        write_score_page(folder, output)
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot write the page: {exc.strerror or exc}") from None
    stderr.print(f"HTML report written to {printable(output)}", markup=False)
