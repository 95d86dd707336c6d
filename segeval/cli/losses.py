"""``segeval losses``: the loss catalog, and losses computed on prediction maps.

``segeval losses [PREDS GTS] [options]`` runs the default command (``run``); further subcommands
(``segeval losses NAME ...``) are added to :data:`losses_app`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from segeval.cli.common import (
    DeviceOpt,
    FormatOpt,
    ProgressOpt,
    check_report_folder,
    handle_errors,
    loading_libraries,
    output_paths_note,
    parse_format,
    printable,
    progress_bar,
    resolve_settings,
    stderr,
    stdout_console,
    with_table_options,
    write_reports,
)
from segeval.errors import ExitCode, UsageError
from segeval.options import Command, OutputFormat
from segeval.status import Status


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


FamilyOpt = Annotated[
    Optional[str],
    typer.Option("--family", help="Only this family's losses.", metavar="[distribution|region|boundary|compound]"),
]


def _family(text: str | None) -> str | None:
    """The loss family given as text, checked against the catalog's families (a one-line usage error)."""
    if text is None:
        return None
    from segeval.losses import Family

    try:
        return Family(text.strip().lower()).value
    except ValueError:
        choices = ", ".join(f.value for f in Family)
        raise UsageError(f"--family expects one of {choices}, got {text!r}") from None


@losses_app.command(
    name="run",
    epilog="Examples:\n\n  segeval losses\n\n  segeval losses --family region\n\n"
    "  segeval losses probs/ gts/ --family region --out loss_report/\n\n"
    "  segeval losses probs/ gts/ --loss dice --loss focal --from-logits",
)
@handle_errors
@with_table_options(Command.LOSSES)
def run(
    preds: Annotated[
        Optional[Path],
        typer.Argument(
            help="Folder (or file) of probability or logit maps: NPY/NPZ "
            "with a class axis, 4-D NIfTI, or single-channel maps.",
            show_default=False,
        ),
    ] = None,
    gts: Annotated[Optional[Path], typer.Argument(help="Folder (or file) of label masks.", show_default=False)] = None,
    family: FamilyOpt = None,
    loss: Annotated[
        Optional[list[str]],
        typer.Option("--loss", "-l", help="A loss to compute (repeatable); default: every loss (of --family)."),
    ] = None,
    from_logits: Annotated[
        Optional[bool],
        typer.Option(
            "--from-logits/--from-probs",
            help="What the maps hold; default: inferred per case (values in [0, 1] → probabilities).",
            show_default=False,
        ),
    ] = None,
    **options,
) -> None:
    """The loss catalog, or every selected loss computed on prediction maps against masks.

    Without PREDS and GTS: the catalog (name, family, formula, defaults, reference). With them:
    per-case and summary values of each loss, with the same pairing, reports and exit codes as
    segeval score (3 when a case failed).
    """
    with loading_libraries():
        from segeval.losses import list_losses

    settings, _ = resolve_settings(options, Command.LOSSES)
    output_format, out = settings.pop("format"), settings.pop("out")
    check_report_folder(out)
    progress = settings.pop("progress")
    family_name = _family(family)
    if preds is None and gts is None and settings["pairs"] is None:
        _print_loss_catalog(list_losses(family_name), output_format)
        return
    with loading_libraries():
        from segeval.analysis.evaluate import evaluate_losses

    show_progress = progress and stderr.is_terminal and output_format is not OutputFormat.QUIET
    with progress_bar(show_progress) as advance:
        result = evaluate_losses(
            preds, gts, losses=loss, family=family_name, from_logits=from_logits, progress=advance, **settings
        )
    if out is not None:
        stderr.print(output_paths_note(write_reports(result.write, out)), markup=False)
    broken = result.per_case[(result.per_case["status"] == Status.FAILED.value) & (result.per_case["loss"] != "")]
    _print_failures(result.failed, broken)
    console = stdout_console(soft_wrap=output_format is not OutputFormat.TABLE)
    if output_format is OutputFormat.JSON:
        from segeval.report.writers import json_text

        console.file.write(json_text(result.to_dict()))
    elif output_format is OutputFormat.CSV:
        console.file.write(result.summary.to_csv(index=False))
    elif output_format is OutputFormat.TABLE:
        from segeval.report.render import fitted_tables, format_number

        statistics = ("mean", "std", "median", "min", "max")
        rows = [
            [row["loss"], row["family"], *(format_number(row[k]) for k in statistics), str(row["n_failed"])]
            for _, row in result.summary.iterrows()
        ]
        columns = [("loss", "left"), ("family", "left"), *((c, "right") for c in (*statistics, "n_failed"))]
        scored = len(result.cases) - len(result.failed)
        for table in fitted_tables(f"Losses: mean over {scored} case(s)", columns, rows, console):
            console.print(table)
    if result.failed or not broken.empty:
        raise typer.Exit(code=int(ExitCode.INPUT))


def _print_loss_catalog(names: list[str], output_format: OutputFormat) -> None:
    from segeval.losses import loss_spec

    rows = [
        {
            "name": n,
            "family": loss_spec(n).family.value,
            "formula": loss_spec(n).summary,
            "defaults": loss_spec(n).defaults,
            "reference": loss_spec(n).reference,
        }
        for n in names
    ]
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(rows, indent=2))
    elif output_format is OutputFormat.CSV:
        import pandas as pd

        typer.echo(pd.DataFrame(rows).to_csv(index=False), nl=False)
    elif output_format is OutputFormat.TABLE:
        console = stdout_console()
        table = Table(
            title="segeval losses", box=box.SIMPLE_HEAD if console.is_terminal else None, title_justify="left"
        )
        for column in ("name", "family", "formula", "defaults", "reference"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(str(v)) for v in row.values()))
        console.print(table)


# --------------------------------------------------------------------------- loss analysis


def _print_frame(table, columns: list[str], title: str, output_format: OutputFormat, document: dict | None) -> None:
    """Print ``table[columns]``: rich table on a terminal (plain text otherwise), JSON or CSV."""
    import pandas as pd

    console = stdout_console(soft_wrap=output_format is not OutputFormat.TABLE)
    if output_format is OutputFormat.QUIET:
        return
    if output_format is OutputFormat.JSON:
        from segeval.report.writers import json_text

        console.file.write(json_text(document or {"rows": table.to_dict(orient="records")}))
        return
    if output_format is OutputFormat.CSV:
        console.file.write(table.to_csv(index=False))
        return
    from segeval.report.render import fitted_tables, format_number

    console.print(title, markup=False, highlight=False)
    floats = {c for c in columns if pd.api.types.is_float_dtype(table[c])}
    numeric = {
        c for c in columns if pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
    }
    rows = [
        [format_number(float(row[c]), 3) if c in floats else ("" if row[c] is None else str(row[c])) for c in columns]
        for _, row in table.iterrows()
    ]
    header = [(c, "right" if c in numeric else "left") for c in columns]
    for rich_table in fitted_tables(None, header, rows, console):
        console.print(rich_table)


def _print_failures(failed_cases, failed_rows) -> None:
    """One stderr line per case that failed, then per (case, loss) that failed (the first 10)."""
    for record in failed_cases:
        stderr.print(f"failed: {printable(record.case)}: {printable(record.error)}", markup=False)
    for _, row in failed_rows.head(10).iterrows():
        stderr.print(f"failed: {printable(row['case'])}: {row['loss']}: {printable(row['error'])}", markup=False)


def _bands_option(text: str) -> tuple[float, ...]:
    from segeval.options import FLOAT_LIST, parse_value

    values = parse_value(FLOAT_LIST, text, "--bands")
    return values if values is not None else ()


@losses_app.command(
    name="analyze",
    epilog="Examples:\n\n  segeval losses analyze probs/ gts/ --out analysis/\n\n"
    "  segeval losses analyze probs/ gts/ --family region --bands 0.5,2,5 --hard-threshold 0.3\n\n"
    "  segeval losses analyze vols/ gts/ --loss dice --loss boundary --case liver_003 --slice 40 "
    "--out analysis/",
)
@handle_errors
@with_table_options(Command.ANALYZE)
def analyze(
    preds: Annotated[
        Optional[Path], typer.Argument(help="Folder (or file) of probability or logit maps.", show_default=False)
    ] = None,
    gts: Annotated[Optional[Path], typer.Argument(help="Folder (or file) of label masks.", show_default=False)] = None,
    family: FamilyOpt = None,
    loss: Annotated[
        Optional[list[str]],
        typer.Option("--loss", "-l", help="A loss to analyse (repeatable); default: every loss (of --family)."),
    ] = None,
    from_logits: Annotated[
        Optional[bool],
        typer.Option(
            "--from-logits/--from-probs", help="What the maps hold; default: inferred per case.", show_default=False
        ),
    ] = None,
    hard_threshold: Annotated[
        float, typer.Option(help="A pixel is hard when p_t, the probability of its reference class, is below this.")
    ] = 0.5,
    bands: Annotated[
        str,
        typer.Option(
            help="Edges of the distance bands around the reference boundary, in mm (in pixels when the files "
            "have no spacing and --spacing is not given)."
        ),
    ] = "1,3,10",
    eps: Annotated[
        float, typer.Option(help=escape("Probabilities are clamped to [eps, 1-eps] before taking logits."))
    ] = 1e-6,
    case: Annotated[Optional[str], typer.Option(help="Case of the gradient heat maps (default: the first).")] = None,
    slice_index: Annotated[
        Optional[int],
        typer.Option(
            "--slice", help="Slice (first array axis) of a 3-D case for the heat maps (default: most foreground)."
        ),
    ] = None,
    **options,
) -> None:
    """Gradient anatomy: where each loss puts its gradient (FG/BG, hard/easy, distance to the boundary).

    For every case and loss: dL/dz with respect to the logits (probabilities are turned into logits
    first), its share on foreground, on hard pixels and per distance band, and the effective
    per-pixel weight relative to cross entropy. Exit code 3 when a case or a loss failed.
    """
    with loading_libraries():
        from segeval.analysis.analyze import analyze_losses

    settings, _ = resolve_settings(options, Command.ANALYZE)
    output_format, out, html = settings.pop("format"), settings.pop("out"), settings.pop("html")
    check_report_folder(out)
    _check_page(html)
    show_progress = settings.pop("progress") and stderr.is_terminal and output_format is not OutputFormat.QUIET
    with progress_bar(show_progress) as advance:
        result = analyze_losses(
            preds,
            gts,
            losses=loss,
            family=_family(family),
            from_logits=from_logits,
            hard_threshold=hard_threshold,
            bands_mm=_bands_option(bands),
            eps=eps,
            case=case,
            slice_index=slice_index,
            progress=advance,
            **settings,
        )
    for warning in result.warnings:
        stderr.print(f"warning: {printable(warning)}", markup=False)
    if out is not None:
        stderr.print(output_paths_note(write_reports(result.write, out), "analysis"), markup=False)
    if html is not None:
        from segeval.report.html_losses import write_analysis_page

        _write_page(write_analysis_page, result, html)
    broken = result.failed_rows
    _print_failures(result.failed, broken)
    columns = [
        "loss",
        "family",
        "n",
        "fg_share",
        "hard_share",
        *result.options.band_names(),
        "weight_fg_median",
        "weight_bg_median",
        "n_failed",
    ]
    scored = len(result.cases) - len(result.failed)
    _print_frame(
        result.summary,
        columns,
        f"Gradient anatomy: mean over {scored} case(s) (shares of |dL/dz|; weights relative to CE)",
        output_format,
        result.to_dict(),
    )
    if result.failed or not broken.empty:
        raise typer.Exit(code=int(ExitCode.INPUT))


def _check_page(html: Path | None) -> None:
    """A usage error, before any work, when the ``--html`` file cannot be written."""
    if html is not None:
        from segeval.report.writers import check_out_file

        check_out_file(html, "--html")


def _write_page(write, result, html: Path) -> None:
    """``write(result, html)``; a failure to write is a one-line usage error naming the file."""
    from segeval.errors import UsageError

    try:
        write(result, html)
    except OSError as exc:
        raise UsageError(f"--html {html}: cannot write the page: {exc.strerror or exc}") from None
    stderr.print(f"HTML page written to {printable(html)}", markup=False)


def _levels_option(items: list[str] | None) -> dict[str, list[float]]:
    from segeval.errors import UsageError
    from segeval.options import FLOAT_LIST, parse_value

    levels: dict[str, list[float]] = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        if not sep:
            raise UsageError(f"--levels expects NAME=v1,v2,..., e.g. shift=0,2,4; got {item!r}")
        levels[name.strip()] = list(parse_value(FLOAT_LIST, values, "--levels") or ())
    return levels


@losses_app.command(
    name="sweep",
    epilog="Examples:\n\n  segeval losses sweep --out sweep/\n\n"
    "  segeval losses sweep --family region -d shift -d imbalance --out sweep/\n\n"
    "  segeval losses sweep --reference gts/case_003.nii.gz --label 2 --levels erode=0,1,2 "
    "--out sweep/",
)
@handle_errors
def sweep(
    reference: Annotated[
        Optional[Path],
        typer.Option(help="A label file to degrade (default: a generated mask: one large and four small objects)."),
    ] = None,
    label: Annotated[
        Optional[int], typer.Option(help="Foreground label of --reference (default: every label != 0).")
    ] = None,
    shape: Annotated[str, typer.Option(help="Shape of the generated reference, 2-D or 3-D.")] = "128x128",
    spacing: Annotated[
        Optional[str], typer.Option(help="Spacing in mm, array order (default: the file's, or 1).")
    ] = None,
    family: FamilyOpt = None,
    loss: Annotated[
        Optional[list[str]],
        typer.Option("--loss", "-l", help="A loss to sweep (repeatable); default: every loss (of --family)."),
    ] = None,
    degradation: Annotated[
        Optional[list[str]],
        typer.Option(
            "--degradation",
            "-d",
            help="shift, erode, dilate, fp_blobs, drop_object or imbalance (repeatable; default all).",
        ),
    ] = None,
    levels: Annotated[
        Optional[list[str]],
        typer.Option(help="Levels of one degradation, e.g. shift=0,2,4 or imbalance=0.5,0.01 (repeatable)."),
    ] = None,
    confidence: Annotated[float, typer.Option(help="Logits of the degraded masks: +c inside, -c outside.")] = 3.0,
    blob_radius: Annotated[float, typer.Option(help="Radius (px) of the false-positive blobs.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Seed of the blob positions.")] = 0,
    out: Annotated[
        Optional[Path],
        typer.Option(
            "--out", "-o", help="Write sweep.csv, sweep.json, sweep.png, sweep_matrix.png and sweep_examples.png here."
        ),
    ] = None,
    html: Annotated[
        Optional[Path], typer.Option(help="Write a self-contained HTML page of the sweep (docs/report.md).")
    ] = None,
    output_format: FormatOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Sensitivity sweeps: each loss, Dice and HD95 against controlled degradations of a mask.

    The degraded mask is given to the losses as logits of fixed confidence (+c inside, -c outside,
    binary mode). The table shows each loss's response at the strongest level of each degradation
    (1 = its strongest reaction anywhere in the sweep; positive = looks worse).
    """
    output_format = parse_format(output_format)
    check_report_folder(out)
    _check_page(html)
    with loading_libraries():
        from segeval.analysis.sweep import SweepOptions, parse_spatial_shape, reference_from_file, run_sweep
    from segeval.options import FLOAT_LIST, parse_value

    spacing_mm = parse_value(FLOAT_LIST, spacing, "--spacing")
    mask, source, generated = None, None, parse_spatial_shape(shape)
    if reference is not None:
        mask, spacing_mm, source = reference_from_file(reference, label=label, spacing_mm=spacing_mm)
    elif label is not None:
        from segeval.errors import UsageError

        raise UsageError("--label needs --reference")
    options = SweepOptions(confidence=confidence, blob_radius=blob_radius, seed=seed)
    show_progress = progress and stderr.is_terminal and output_format is not OutputFormat.QUIET
    with progress_bar(show_progress) as advance:
        result = run_sweep(
            mask,
            spacing_mm=spacing_mm,
            losses=loss,
            family=_family(family),
            degradations=degradation,
            levels=_levels_option(levels),
            options=options,
            shape=generated,
            source=source,
            progress=advance,
        )
    if out is not None:
        stderr.print(output_paths_note(write_reports(result.write, out), "sweep"), markup=False)
    if html is not None:
        from segeval.report.html_losses import write_sweep_page

        _write_page(write_sweep_page, result, html)
    table = result.table
    failed = table[table["status"] == Status.FAILED.value]
    for _, row in failed.drop_duplicates(["name"]).head(10).iterrows():
        stderr.print(f"failed: {row['name']}: {row['note']}", markup=False)
    skipped = table[table["status"] == Status.SKIPPED.value].drop_duplicates(["degradation", "level"])
    for _, row in skipped.iterrows():
        stderr.print(f"skipped: {row['degradation']} level {row['level']:g}: {row['note']}", markup=False)
    ok = table[table["status"] == Status.OK.value]
    strongest = ok[ok["level_index"] == ok.groupby("degradation")["level_index"].transform("max")]
    matrix = strongest.pivot_table(index=["kind", "name"], columns="degradation", values="response", sort=False)
    matrix = matrix.reindex(columns=[d for d in dict.fromkeys(table["degradation"]) if d in matrix.columns])
    matrix = matrix.reset_index().drop(columns="kind")
    if output_format is OutputFormat.CSV:
        stdout_console(soft_wrap=True).file.write(table.to_csv(index=False))
    else:
        _print_frame(
            matrix,
            list(matrix.columns),
            f"Loss response at the strongest level of each degradation "
            f"({result.source}; 1 = strongest reaction in the sweep)",
            output_format,
            result.to_dict(),
        )
    if not failed.empty:
        raise typer.Exit(code=int(ExitCode.INPUT))


@losses_app.command(
    name="bench",
    epilog="Examples:\n\n  segeval losses bench --shape 8x4x256x256 --out bench/\n\n"
    "  segeval losses bench --family boundary --shape 2x2x64x128x128 --device cuda --repeats 20",
)
@handle_errors
def bench(
    shape: Annotated[
        Optional[list[str]],
        typer.Option(help="B x C x spatial sizes, e.g. 8x4x256x256 or 2x2x64x128x128 (repeatable; C = 1 is binary)."),
    ] = None,
    family: FamilyOpt = None,
    loss: Annotated[
        Optional[list[str]],
        typer.Option("--loss", "-l", help="A loss to time (repeatable); default: every loss (of --family)."),
    ] = None,
    device: DeviceOpt = "auto",
    warmup: Annotated[int, typer.Option(help="Untimed passes before timing.")] = 2,
    repeats: Annotated[int, typer.Option(help="Timed forward + backward passes.")] = 10,
    memory: Annotated[bool, typer.Option("--memory/--no-memory", help="Measure peak memory (two more passes).")] = True,
    wrappers: Annotated[
        bool,
        typer.Option(
            "--wrappers/--no-wrappers",
            help="Also time DeepSupervisionLoss and MaskedLoss against the losses they wrap (bench_wrappers.csv).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the random logits.")] = 0,
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Write bench.csv, bench.json and bench.png here.")
    ] = None,
    output_format: FormatOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Execution time (forward + backward: median and quartiles) and peak memory of each loss.

    CUDA is synchronised around every timed pass. Memory: peak allocated CUDA memory on GPU; on CPU
    the peak of torch's CPU allocator (profiler memory events) plus NumPy's (tracemalloc).
    Losses that run a CPU distance transform are flagged with their share of the time.
    """
    output_format = parse_format(output_format)
    check_report_folder(out)
    with loading_libraries():
        from segeval.analysis.bench import bench_losses, summary_line

    show_progress = progress and stderr.is_terminal and output_format is not OutputFormat.QUIET
    with progress_bar(show_progress) as advance:
        result = bench_losses(
            loss,
            family=_family(family),
            shapes=shape or ["8x4x256x256"],
            device=device,
            warmup=warmup,
            repeats=repeats,
            memory=memory,
            seed=seed,
            wrappers=wrappers,
            progress=advance,
        )
    if out is not None:
        stderr.print(output_paths_note(write_reports(result.write, out), "benchmark"), markup=False)
    table = result.table
    failed = table[table["status"] == Status.FAILED.value]
    for _, row in failed.iterrows():
        stderr.print(f"failed: {row['loss']} at {row['shape']}: {row['error']}", markup=False)
    note = summary_line(table)
    if note:
        stderr.print(note, markup=False)
    shown = table.assign(
        iqr_ms=table["q75_ms"] - table["q25_ms"], cpu_transform=table["cpu_transform"].map({True: "yes", False: ""})
    )
    _print_frame(
        shown,
        ["loss", "shape", "device", "median_ms", "iqr_ms", "cpu_transform", "transform_share", "peak_mb", "status"],
        f"Loss benchmark: forward + backward, {repeats} repeats ({result.machine['device']})",
        output_format,
        result.to_dict(),
    )
    if result.wrappers is not None and output_format is OutputFormat.TABLE:
        _print_frame(
            result.wrappers,
            [
                "loss",
                "shape",
                "wrapper",
                "scales",
                "wrapper_ms",
                "baseline_ms",
                "overhead_ms",
                "overhead_share",
                "status",
            ],
            "Wrapper overhead: wrapper time minus the wrapped losses on pre-resized targets (median)",
            output_format,
            None,
        )
    wrapper_failed = result.wrappers is not None and (result.wrappers["status"] == Status.FAILED.value).any()
    if not failed.empty or wrapper_failed:
        raise typer.Exit(code=int(ExitCode.INPUT))
