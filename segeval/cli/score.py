"""``segeval score``: its options come from the option table; the work is :func:`segeval.score`."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from segeval.cli.common import (
    handle_errors,
    loading_libraries,
    printable,
    progress_bar,
    resolve_settings,
    stderr,
    stdout_console,
    with_table_options,
)
from segeval.errors import ExitCode, UsageError
from segeval.options import Command, OutputFormat

EPILOG = (
    "Examples:\n\n  segeval score preds/ gts/\n\n"
    "  segeval score preds/ gts/ --out reports/ --num-classes 4 --ignore-index 255\n\n"
    "  segeval score preds/ gts/ --gate 'dice>=0.85' --gate 'failed==0' --junit gates.xml\n\n"
    "  segeval score --pairs manifest.csv --format json"
)


@handle_errors
@with_table_options(Command.SCORE)
def score(
    preds: Annotated[
        Optional[Path],
        typer.Argument(
            help="Folder (or file) of predictions: label maps, probability maps or logits.", show_default=False
        ),
    ] = None,
    gts: Annotated[
        Optional[Path], typer.Argument(help="Folder (or file) of ground-truth label maps.", show_default=False)
    ] = None,
    **options,
) -> None:
    """Score predictions against ground truths: per-case and summary metrics.

    Pairs files by name (extension stripped), reads PNG/TIFF/BMP, NIfTI/MHA/NRRD and NPY/NPZ,
    counts one confusion matrix per case and derives Dice, IoU, precision, recall, specificity,
    volume similarity, pixel accuracy, mean pixel accuracy, mIoU, FWIoU and mean Dice, per case
    and pooled over the dataset; with --metrics, also distance metrics (HD, HD95, ASSD, NSD …)
    in mm where the files have spacing. Exit codes: 0 ok, 1 a gate failed, 2 usage error, 3 some cases
    failed (3 wins over 1), 4 internal error.
    """
    with loading_libraries():
        from segeval.api import score as run_score
        from segeval.config import build_config
        from segeval.options import CONFIG_OPTIONS
        from segeval.quality.gates import direction_warning
        from segeval.report.thumbnails import thumbnail_request

    settings, sources = resolve_settings(options, Command.SCORE)
    config = build_config(**{o.name: settings[o.name] for o in CONFIG_OPTIONS}, sources=sources)
    for gate in config.parsed_gates():
        if (warning := direction_warning(gate)) is not None:
            stderr.print(f"warning: {warning}", markup=False)

    _check_destinations(settings, preds, gts)
    thumbnails = thumbnail_request(
        config,
        worst=settings["worst"],
        worst_by=settings["worst_by"],
        images=settings["images"],
        html=settings["html"] is not None,
    )
    fmt = settings["format"]
    with (
        _cluster(settings["scheduler"], settings["scheduler_file"]) as client,
        progress_bar(settings["progress"] and stderr.is_terminal and fmt is not OutputFormat.QUIET) as advance,
    ):
        result = run_score(preds, gts, config, progress=advance, client=client, thumbnails=thumbnails)
    _write_outputs(result, settings["out"], settings["junit"], settings["markdown"])
    if settings["html"] is not None:
        _write_html(result, settings["out"], settings["html"])
    _warn(result)
    _render(result, fmt)
    raise typer.Exit(code=int(run_exit_code(result)))


def _cluster(scheduler: str | None, scheduler_file: Path | None):
    """The Dask client of ``--scheduler``/``--scheduler-file`` (Dask imported only then), else no client."""
    if scheduler is None and scheduler_file is None:
        return contextlib.nullcontext()
    from segeval.pipeline.dask_run import connect

    return connect(scheduler, scheduler_file)


def run_exit_code(result) -> ExitCode:
    """3 when a case failed (input errors win), else 1 when a gate failed, else 0."""
    if result.failed:
        return ExitCode.INPUT
    if not result.passed:
        return ExitCode.GATE_FAILED
    return ExitCode.OK


def _check_destinations(settings: dict, preds: Path | None, gts: Path | None) -> None:
    """Usage errors for outputs that cannot be written, before any file is scored; a warning for
    ``--out`` inside an input folder."""
    from segeval.report.writers import check_out_dir, check_out_file

    out = settings["out"]
    if out is not None:
        check_out_dir(out, ["per_case.csv", "summary.csv", "summary.json"])
        for side, folder in (("prediction", preds), ("ground-truth", gts)):
            if folder is not None and folder.is_dir() and Path(out).resolve().is_relative_to(folder.resolve()):
                stderr.print(f"warning: --out {out} is inside the {side} folder {folder}", markup=False)
    for option in ("junit", "markdown", "html"):
        if settings[option] is not None:
            check_out_file(settings[option], f"--{option}")
    if settings["worst"] and out is None and settings["html"] is None:
        raise UsageError("--worst draws thumbnails into the --out folder: give --out (or --html) too")


def _write_html(result, out: Path | None, html: Path) -> None:
    """The HTML page of the report folder ``out`` (of a temporary one without ``--out``)."""
    from segeval.report.html_score import write_score_page

    try:
        if out is not None:
            write_score_page(out, html)
        else:
            with tempfile.TemporaryDirectory(prefix="segeval-report-") as folder:
                write_score_page(result.write(folder)["json"].parent, html)
    except OSError as exc:
        raise UsageError(f"--html {html}: cannot write the page: {exc.strerror or exc}") from None
    stderr.print(f"HTML report written to {printable(html)}", markup=False)


def _write_outputs(result, out: Path | None, junit: Path | None, markdown: Path | None) -> None:
    """Write the report set (``--out``), the JUnit file and append the Markdown summary."""
    from segeval.cli.common import output_paths_note
    from segeval.report.ci import write_junit, write_markdown

    if out is not None:
        try:
            paths = result.write(out)
        except OSError as exc:
            raise UsageError(f"--out {out}: cannot write the reports: {exc.strerror or exc}") from None
        stderr.print(output_paths_note(paths), markup=False)
    if junit is not None:
        write_junit(junit, result.gates, result.failed)
    if markdown is not None:
        write_markdown(markdown, result, result.gates, result.comparison)


def _render(result, fmt: OutputFormat) -> None:
    from segeval.report.render import render, render_comparison, render_gates

    console = stdout_console(soft_wrap=fmt is not OutputFormat.TABLE)
    render(result, fmt.value, console)
    if fmt is OutputFormat.TABLE:
        if result.comparison is not None:
            render_comparison(result.comparison, console)
        if result.gates:
            render_gates(result.gates, console)


def _warn(result) -> None:
    """Warnings about the run on stderr: skipped files, missing and failed cases, remapped masks.

    Names and reasons come from files: their control characters are printed as escapes.
    """
    from segeval.report.render import printable

    def names(items) -> str:
        return ", ".join(printable(item) for item in items[:5])

    if result.skipped_files:
        stderr.print(
            f"warning: skipped {len(result.skipped_files)} file(s) with unsupported extensions, e.g. "
            f"{printable(result.skipped_files[0])}",
            markup=False,
        )
    if result.missing_pred:
        what = "skipped" if result.skipped_missing else "scored as empty predictions"
        stderr.print(
            f"warning: {len(result.missing_pred)} case(s) without prediction {what}: {names(result.missing_pred)}",
            markup=False,
        )
    if result.missing_gt:
        stderr.print(
            f"warning: {len(result.missing_gt)} prediction(s) without ground truth not scored: "
            f"{names(result.missing_gt)}",
            markup=False,
        )
    for warning in result.warnings:
        stderr.print(f"warning: {printable(warning)}", markup=False)
    remapped = sum(1 for r in result.cases if r.gt_remapped_0_255 or r.pred_remapped_0_255)
    if remapped:
        stderr.print(f"note: {remapped} case(s) had 0/255 binary masks, read as labels 0/1", markup=False)
    for record in result.failed:
        stderr.print(f"failed: {printable(record.case)}: {printable(record.error)}", markup=False)
    if result.failed:
        failed, total = len(result.failed), len(result.cases)
        scored = sum(1 for record in result.cases if record.scored)
        which = f"all {total}" if failed == total else f"{failed} of {total}"
        if scored == 0:
            outcome = "none was scored"
        elif failed + scored == total:
            outcome = "the others were scored"
        else:
            outcome = f"{scored} case(s) scored"
        stderr.print(f"{which} case(s) failed; {outcome}", markup=False)
