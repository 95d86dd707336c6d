"""``segeval losses``: the loss catalog, and losses computed on prediction maps.

``segeval losses [PREDS GTS] [options]`` runs the default command (``run``); further subcommands
(``segeval losses NAME ...``) are added to :data:`losses_app`.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table
from typer.core import TyperGroup

from segeval.cli_common import OutputFormat, handle_errors, int_list, progress_bar, stderr, stdout_console
from segeval.errors import ExitCode


class DefaultCommandGroup(TyperGroup):
    """A group whose first argument, when it names no subcommand, goes to the ``run`` command.

    So ``segeval losses``, ``segeval losses --family region`` and ``segeval losses PREDS GTS`` all run
    ``run``, while ``segeval losses NAME ...`` runs the subcommand NAME.
    """

    default_command = "run"

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


losses_app = typer.Typer(
    cls=DefaultCommandGroup,
    help="The loss catalog (segeval losses [--family F]) and losses computed on prediction maps "
         "(segeval losses PREDS GTS); both run the default command 'run' (see segeval losses run --help).",
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


class LossFamily(str, enum.Enum):
    distribution = "distribution"
    region = "region"
    boundary = "boundary"
    compound = "compound"


@losses_app.command(name="run", epilog="Examples:\n\n  segeval losses\n\n  segeval losses --family region\n\n"
                    "  segeval losses probs/ gts/ --family region --out loss_report/\n\n"
                    "  segeval losses probs/ gts/ --loss dice --loss focal --from-logits")
@handle_errors
def run(
    preds: Annotated[Optional[Path], typer.Argument(help="Folder (or file) of probability or logit maps: NPY/NPZ "
                                                         "with a class axis, 4-D NIfTI, or single-channel maps.",
                                                    show_default=False)] = None,
    gts: Annotated[Optional[Path], typer.Argument(help="Folder (or file) of label masks.", show_default=False)] = None,
    family: Annotated[Optional[LossFamily], typer.Option(help="Only this family's losses.",
                                                         case_sensitive=False)] = None,
    loss: Annotated[Optional[list[str]], typer.Option("--loss", "-l", help="A loss to compute (repeatable); "
                                                      "default: every loss (of --family).")] = None,
    from_logits: Annotated[Optional[bool], typer.Option("--from-logits/--from-probs", help="What the maps hold; "
                                                        "default: inferred per case (values in [0, 1] → "
                                                        "probabilities).", show_default=False)] = None,
    labels: Annotated[Optional[str], typer.Option(help="Label of each channel, e.g. 0,1,2,4 (default 0..C-1).")] = None,
    channel_axis: Annotated[Optional[int], typer.Option(help="Class axis of the maps (default: inferred from the "
                                                        "shapes, else the first axis / 4th NIfTI dimension).")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Search sub-folders.")] = False,
    pred_suffix: Annotated[str, typer.Option(help="Strip this suffix from prediction names.")] = "",
    gt_suffix: Annotated[str, typer.Option(help="Strip this suffix from ground-truth names.")] = "",
    pairs: Annotated[Optional[Path], typer.Option(help="CSV manifest with columns pred,gt[,case].")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu, cuda or cuda:N.")] = "auto",
    workers: Annotated[Optional[int], typer.Option(help="Threads decoding files.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write per_case.csv, summary.csv and "
                                                "summary.json here.")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="What to print on stdout.",
                                                        case_sensitive=False)] = OutputFormat.table,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr (only on a terminal).")] = True,
) -> None:
    """The loss catalog, or every selected loss computed on prediction maps against masks.

    Without PREDS and GTS: the catalog (name, family, formula, defaults, reference). With them:
    per-case and summary values of each loss, with the same pairing, reports and exit codes as
    segeval score (3 when a case failed).
    """
    from segeval.losses import list_losses

    family_name = family.value if family is not None else None
    if preds is None and gts is None and pairs is None:
        _print_loss_catalog(list_losses(family_name), output_format)
        return
    from segeval.loss_eval import evaluate_losses

    show_progress = progress and stderr.is_terminal and output_format is not OutputFormat.quiet
    with progress_bar(show_progress) as advance:
        result = evaluate_losses(
            preds, gts, losses=loss, family=family_name, from_logits=from_logits, progress=advance,
            labels=int_list(labels, "--labels"), channel_axis=channel_axis, recursive=recursive,
            pred_suffix=pred_suffix, gt_suffix=gt_suffix, pairs=pairs, device=device, workers=workers,
        )
    if out is not None:
        paths = result.write(out)
        stderr.print(f"reports written to {paths['per_case'].parent}/ (per_case.csv, summary.csv, summary.json)")
    for record in result.failed:
        stderr.print(f"failed: {record.case}: {record.error}", markup=False)
    broken = result.per_case[(result.per_case["status"] == "failed") & (result.per_case["loss"] != "")]
    for _, row in broken.head(10).iterrows():
        stderr.print(f"failed: {row['case']}: {row['loss']}: {row['error']}", markup=False)
    console = stdout_console(soft_wrap=output_format is not OutputFormat.table)
    if output_format is OutputFormat.json:
        from segeval.report.writers import json_text

        console.file.write(json_text(result.to_dict()))
    elif output_format is OutputFormat.csv:
        console.file.write(result.summary.to_csv(index=False))
    elif output_format is OutputFormat.table:
        from segeval.report.render import format_number

        table = Table(title=f"Losses: mean over {len(result.cases) - len(result.failed)} case(s)",
                      box=box.SIMPLE_HEAD if console.is_terminal else None, title_justify="left", pad_edge=False)
        for column in ("loss", "family", "mean", "std", "median", "min", "max", "n_failed"):
            table.add_column(column, justify="left" if column in ("loss", "family") else "right")
        for _, row in result.summary.iterrows():
            table.add_row(row["loss"], row["family"], *(format_number(row[k]) for k in ("mean", "std", "median", "min",
                                                                                         "max")), str(row["n_failed"]))
        console.print(table)
    if result.failed or not broken.empty:
        raise typer.Exit(code=int(ExitCode.INPUT))


def _print_loss_catalog(names: list[str], output_format: OutputFormat) -> None:
    from segeval.losses import loss_spec

    rows = [{"name": n, "family": loss_spec(n).family.value, "formula": loss_spec(n).summary,
             "defaults": loss_spec(n).defaults, "reference": loss_spec(n).reference} for n in names]
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
    elif output_format is OutputFormat.csv:
        import pandas as pd

        typer.echo(pd.DataFrame(rows).to_csv(index=False), nl=False)
    elif output_format is OutputFormat.table:
        console = stdout_console()
        table = Table(title="segeval losses", box=box.SIMPLE_HEAD if console.is_terminal else None,
                      title_justify="left")
        for column in ("name", "family", "formula", "defaults", "reference"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
