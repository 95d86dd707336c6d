"""``segeval metrics``: the metric catalog."""

from __future__ import annotations

import csv
import io
import json

import typer
from rich import box
from rich.table import Table

from segeval.cli.common import FormatOpt, handle_errors, parse_format, stdout_console
from segeval.options import OutputFormat


@handle_errors
def metrics_command(
    output_format: FormatOpt = None,
) -> None:
    """The metric catalog: name, aliases, family, level, direction, range, unit, formula, empty masks and reference."""
    output_format = parse_format(output_format)
    from segeval.metrics.catalog import catalog_rows

    rows = catalog_rows()
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(rows, indent=2))
        return
    if output_format is OutputFormat.CSV:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {**row, "aliases": " ".join(row["aliases"]), "range": " ".join(map(str, row["range"]))} for row in rows
        )
        typer.echo(text.getvalue(), nl=False)
        return
    if output_format is OutputFormat.QUIET:
        return
    console = stdout_console()
    table = Table(title="segeval metrics", box=box.SIMPLE_HEAD if console.is_terminal else None, title_justify="left")
    for column in (
        "name",
        "aliases",
        "family",
        "level",
        "better",
        "range",
        "unit",
        "formula",
        "empty masks",
        "reference",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            ", ".join(row["aliases"]),
            row["family"],
            row["level"],
            row["direction"],
            "[{}, {}]".format(*row["range"]),
            row["unit"],
            row["formula"],
            row["empty"],
            row["reference"],
        )
    console.print(table, markup=False)
