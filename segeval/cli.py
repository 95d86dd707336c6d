"""The ``segeval`` command: a thin Typer shell over the library.

Exit codes (docs/cli.md): 0 ok · 1 a quality gate failed (reserved) · 2 usage error ·
3 input errors (some cases failed, or the folders cannot be paired) · 4 internal error.
Results go to stdout; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.table import Table

from segeval import __version__
from segeval.cli_common import (
    DeviceOpt,
    FormatOpt,
    GtSuffixOpt,
    OutputFormat,
    PairsOpt,
    PredSuffixOpt,
    ProgressOpt,
    RecursiveOpt,
    WorkersOpt,
    float_list,
    handle_errors,
    int_list,
    progress_bar,
    stderr,
    stdout_console,
)
from segeval.cli_losses import losses_app
from segeval.errors import ExitCode, UsageError
from segeval.predictions import PredKind

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


app.add_typer(losses_app, name="losses")


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Trustworthy segmentation metrics: score prediction folders against ground truths."""


def _empty_score(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"--empty-score expects nan or a number in [0, 1], got {text!r}") from None


@app.command(
    epilog="Examples:\n\n  segeval score preds/ gts/\n\n"
    "  segeval score preds/ gts/ --out reports/ --num-classes 4 --ignore-index 255\n\n"
    "  segeval score preds/ gts/ --gate 'dice>=0.85' --gate 'failed==0' --junit gates.xml\n\n"
    "  segeval score --pairs manifest.csv --format json"
)
@handle_errors
def score(
    ctx: typer.Context,
    preds: Annotated[
        Optional[Path],
        typer.Argument(
            help="Folder (or file) of predictions: label maps, probability maps or logits.", show_default=False
        ),
    ] = None,
    gts: Annotated[
        Optional[Path], typer.Argument(help="Folder (or file) of ground-truth label maps.", show_default=False)
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Write per_case.csv, summary.csv and summary.json into this folder."),
    ] = None,
    labels: Annotated[
        Optional[str], typer.Option(help="Label values to score, e.g. 0,1,2,4. Default: inferred from the data.")
    ] = None,
    num_classes: Annotated[Optional[int], typer.Option(help="Score labels 0..N-1.")] = None,
    class_names: Annotated[
        Optional[str],
        typer.Option(help="Names in label order (bg,liver,tumour) or VALUE=NAME items (0=bg,4=enhancing)."),
    ] = None,
    ignore_index: Annotated[
        Optional[int], typer.Option(help="Reference label whose pixels are excluded from every metric, e.g. 255.")
    ] = None,
    include_background: Annotated[
        bool,
        typer.Option(help="Average label 0 in mean_dice too (pixel accuracy, MPA, mIoU and FWIoU always include it)."),
    ] = False,
    empty_score: Annotated[
        str,
        typer.Option(
            help="Dice/IoU/precision/recall when a class is absent from "
            "both sides: nan (excluded from means) or e.g. 1."
        ),
    ] = "nan",
    pred_kind: Annotated[
        PredKind,
        typer.Option(help="What predictions hold; auto infers it from dtype and values.", case_sensitive=False),
    ] = PredKind.AUTO,
    channel_axis: Annotated[
        Optional[int],
        typer.Option(
            help="Class axis of probability/logit maps. Default: "
            "the axis that leaves the ground-truth shape; if "
            "several, the first (NPY) or the 4th NIfTI dimension."
        ),
    ] = None,
    threshold: Annotated[
        Optional[float],
        typer.Option(help="Cut for single-channel maps (>= is foreground). Default 0.5 on probabilities, 0 on logits."),
    ] = None,
    palette: Annotated[
        Optional[Path], typer.Option(help='Colour→label map for RGB masks: CSV label,r,g,b or JSON {"1": [255,0,0]}.')
    ] = None,
    recursive: RecursiveOpt = False,
    pred_suffix: PredSuffixOpt = "",
    gt_suffix: GtSuffixOpt = "",
    pairs: PairsOpt = None,
    allow_missing: Annotated[
        bool, typer.Option(help="Score what matches; a missing prediction counts as an empty one.")
    ] = False,
    skip_missing: Annotated[
        bool, typer.Option(help="With missing predictions, skip the case instead (implies --allow-missing).")
    ] = False,
    spacing: Annotated[
        Optional[str],
        typer.Option(
            help="Spacing in mm in array-axis order (z,y,x: the "
            "reverse of NIfTI's x,y,z), overriding the files'; one "
            "value = isotropic."
        ),
    ] = None,
    geometry_tolerance: Annotated[
        float, typer.Option(help="Tolerance when comparing prediction and ground-truth spacing, origin and direction.")
    ] = 1e-3,
    device: DeviceOpt = "auto",
    batch_size: Annotated[
        Optional[int], typer.Option(help="Cases per kernel call (default 1 on CPU, 8 on CUDA).")
    ] = None,
    workers: WorkersOpt = None,
    metrics: Annotated[
        Optional[str],
        typer.Option(
            "--metrics",
            "-m",
            help="Distance metrics to compute, "
            "comma-separated: hd, hd95 (any hdNN), assd, msd_pred_to_gt, "
            "msd_gt_to_pred, nsd, boundary_iou. Default: none (the overlap "
            "metrics are always computed; a --gate on a distance metric "
            "computes it).",
        ),
    ] = None,
    convention: Annotated[
        str,
        typer.Option(
            help="Distance-metric convention: segeval (default), or monai, medpy, "
            "deepmind to reproduce that library exactly."
        ),
    ] = "segeval",
    hd_percentile: Annotated[
        Optional[float], typer.Option(help="Also compute the Hausdorff distance at this percentile (metric hdNN).")
    ] = None,
    nsd_tolerance: Annotated[
        str, typer.Option(help="NSD tolerance in mm: one value, or LABEL=MM items (1=1.5,2=3).")
    ] = "1.0",
    boundary_iou_width: Annotated[float, typer.Option(help="Boundary IoU band width in mm.")] = 2.0,
    distance_empty: Annotated[
        str,
        typer.Option(
            help="Distance when exactly one mask is empty: worst (the "
            "image diagonal), nan or inf. Both empty: always nan."
        ),
    ] = "worst",
    ci: Annotated[
        float,
        typer.Option(help="Coverage of the bootstrap confidence intervals of the means (seeded); 0 turns them off."),
    ] = 0.95,
    gate: Annotated[
        Optional[list[str]],
        typer.Option(
            "--gate",
            "-g",
            help="Quality gate, repeatable: "
            "METRIC[CLASS].STAT OP NUMBER, e.g. 'dice>=0.85', "
            "'hd95[liver]<=6', 'dice.p05>=0.6', 'failed==0'. "
            "Exit code 1 when one fails.",
        ),
    ] = None,
    baseline: Annotated[
        Optional[Path],
        typer.Option(help="Compare with a previous report folder (paired change, bootstrap CI, Wilcoxon p)."),
    ] = None,
    max_drop: Annotated[
        Optional[list[str]],
        typer.Option(help="With --baseline: largest allowed fall of a mean, e.g. dice=0.01 (repeatable)."),
    ] = None,
    max_rise: Annotated[
        Optional[list[str]],
        typer.Option(help="With --baseline: largest allowed rise of a mean, e.g. hd95=0.5 (repeatable)."),
    ] = None,
    junit: Annotated[Optional[Path], typer.Option(help="Write gate verdicts and failed cases as JUnit XML.")] = None,
    markdown: Annotated[
        Optional[Path], typer.Option(help="Write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY).")
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option(
            help="Settings file: segeval.toml or a pyproject.toml with "
            "[tool.segeval]. Default: ./segeval.toml, then "
            "./pyproject.toml. Command-line options win."
        ),
    ] = None,
    output_format: FormatOpt = OutputFormat.table,
    progress: ProgressOpt = True,
) -> None:
    """Score predictions against ground truths: per-case and summary overlap metrics.

    Pairs files by name (extension stripped), reads PNG/TIFF/BMP, NIfTI/MHA/NRRD and NPY/NPZ,
    counts one confusion matrix per case and derives Dice, IoU, precision, recall, specificity,
    volume similarity, pixel accuracy, mean pixel accuracy, mIoU, FWIoU and mean Dice, per case
    and pooled over the dataset; with --metrics, also distance metrics (HD, HD95, ASSD, NSD …)
    in mm where the files have spacing. Exit codes: 0 ok, 1 a gate failed, 2 usage error, 3 some cases
    failed (3 wins over 1).
    """
    from segeval.api import score as run_score
    from segeval.config_file import find_config, read_config

    given = {
        "out": out,
        "labels": int_list(labels, "--labels"),
        "num_classes": num_classes,
        "class_names": tuple(n.strip() for n in class_names.split(",")) if class_names else None,
        "ignore_index": ignore_index,
        "include_background": include_background,
        "empty_score": _empty_score(empty_score),
        "pred_kind": pred_kind,
        "channel_axis": channel_axis,
        "threshold": threshold,
        "palette": palette,
        "recursive": recursive,
        "pred_suffix": pred_suffix,
        "gt_suffix": gt_suffix,
        "pairs": pairs,
        "allow_missing": allow_missing,
        "skip_missing": skip_missing,
        "spacing": float_list(spacing, "--spacing"),
        "geometry_tolerance": geometry_tolerance,
        "device": device,
        "batch_size": batch_size,
        "workers": workers,
        "ci": ci,
        "metrics": tuple(m.strip() for m in metrics.split(",") if m.strip()) if metrics else None,
        "convention": convention,
        "hd_percentile": hd_percentile,
        "nsd_tolerance": _tolerance(nsd_tolerance),
        "boundary_iou_width": boundary_iou_width,
        "distance_empty": distance_empty,
        "gates": tuple(gate or ()),
        "baseline": baseline,
        "max_drop": tuple(max_drop or ()),
        "max_rise": tuple(max_rise or ()),
        "junit": junit,
        "markdown": markdown,
        "format": output_format,
    }
    parameter = {"gates": "gate", "format": "output_format"}
    config_path = find_config(config)
    from_file = read_config(config_path) if config_path is not None else {}
    settings, sources = {}, {}
    for key, value in given.items():
        if _from_command_line(ctx, parameter.get(key, key)):
            settings[key], sources[key] = value, "cli"
        elif key in from_file:
            settings[key], sources[key] = from_file[key], str(config_path)
        else:
            settings[key] = value
    out, junit, markdown = settings.pop("out"), settings.pop("junit"), settings.pop("markdown")
    fmt = _output_format(settings.pop("format"))
    from segeval.config import ScoreConfig
    from segeval.gate import direction_warning

    score_config = ScoreConfig(**settings, sources=sources)
    for parsed in score_config.parsed_gates():
        if (warning := direction_warning(parsed)) is not None:
            stderr.print(f"warning: {warning}", highlight=False, markup=False)

    show_progress = progress and stderr.is_terminal and fmt is not OutputFormat.quiet
    with progress_bar(show_progress) as advance:
        result = run_score(
            preds,
            gts,
            progress=advance,
            **{f.name: getattr(score_config, f.name) for f in dataclasses.fields(score_config)},
        )
    _write_outputs(result, out, junit, markdown)
    _warn(result)
    _render(result, fmt)
    raise typer.Exit(code=int(run_exit_code(result)))


def _tolerance(text: str) -> float | dict[int, float]:
    """``"1.5"`` → 1.5; ``"1=1.5,2=3"`` → {1: 1.5, 2: 3.0}."""
    try:
        if "=" not in text:
            return float(text)
        return {int(k): float(v) for k, v in (item.split("=", 1) for item in text.split(",") if item.strip())}
    except ValueError:
        raise UsageError(f"--nsd-tolerance expects a number or LABEL=MM items, got {text!r}") from None


def _output_format(value: object) -> OutputFormat:
    try:
        return OutputFormat(str(getattr(value, "value", value)).lower())
    except ValueError:
        raise UsageError(f"format must be one of {', '.join(f.value for f in OutputFormat)}, got {value!r}") from None


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def run_exit_code(result) -> ExitCode:
    """3 when a case failed (input errors win), else 1 when a gate failed, else 0."""
    if result.failed:
        return ExitCode.INPUT
    if not result.passed:
        return ExitCode.GATE_FAILED
    return ExitCode.OK


def _write_outputs(result, out: Path | None, junit: Path | None, markdown: Path | None) -> None:
    from segeval.report.ci import write_junit, write_markdown

    if out is not None:
        paths = result.write(out)
        stderr.print(
            f"reports written to {paths['per_case'].parent}/ (per_case.csv, summary.csv, summary.json)", highlight=False
        )
    if junit is not None:
        write_junit(junit, result.gates, result.failed)
    if markdown is not None:
        write_markdown(markdown, result, result.gates, result.comparison)


def _render(result, fmt: OutputFormat) -> None:
    from segeval.report.render import render, render_comparison, render_gates

    console = stdout_console(soft_wrap=fmt is not OutputFormat.table)
    render(result, fmt.value, console)
    if fmt is OutputFormat.table:
        if result.comparison is not None:
            render_comparison(result.comparison, console)
        if result.gates:
            render_gates(result.gates, console)


def _warn(result) -> None:
    """Warnings about the run on stderr: skipped files, missing and failed cases, remapped masks."""
    if result.skipped_files:
        stderr.print(
            f"warning: skipped {len(result.skipped_files)} file(s) with unsupported extensions, e.g. "
            f"{result.skipped_files[0]}",
            highlight=False,
        )
    if result.missing_pred:
        what = "skipped" if result.skipped_missing else "scored as empty predictions"
        stderr.print(
            f"warning: {len(result.missing_pred)} case(s) without prediction {what}: "
            f"{', '.join(result.missing_pred[:5])}",
            highlight=False,
        )
    if result.missing_gt:
        stderr.print(
            f"warning: {len(result.missing_gt)} prediction(s) without ground truth not scored: "
            f"{', '.join(result.missing_gt[:5])}",
            highlight=False,
        )
    remapped = sum(1 for r in result.cases if any("0/255" in note for note in r.notes))
    if remapped:
        stderr.print(f"note: {remapped} case(s) had 0/255 binary masks, read as labels 0/1", highlight=False)
    for record in result.failed:
        stderr.print(f"failed: {record.case}: {record.error}", markup=False, highlight=False, soft_wrap=True)
    if result.failed:
        stderr.print(
            f"{len(result.failed)} of {len(result.cases)} case(s) failed; the others were scored", highlight=False
        )


@app.command(
    epilog="Examples:\n\n  segeval compare reports_main/ reports_pr/\n\n"
    "  segeval compare reports_main/ reports_pr/ --max-drop dice=0.01 --max-rise hd95=0.5 --junit cmp.xml"
)
@handle_errors
def compare(
    baseline: Annotated[
        Path,
        typer.Argument(
            help="Baseline report: a folder from --out, its summary.json or per_case.csv.", show_default=False
        ),
    ],
    current: Annotated[Path, typer.Argument(help="Current report, in the same forms.", show_default=False)],
    max_drop: Annotated[
        Optional[list[str]],
        typer.Option(help="Largest allowed fall of a mean, e.g. dice=0.01 or dice[liver]=0.02 (repeatable)."),
    ] = None,
    max_rise: Annotated[
        Optional[list[str]], typer.Option(help="Largest allowed rise of a mean, e.g. hd95=0.5 (repeatable).")
    ] = None,
    ci: Annotated[float, typer.Option(help="Coverage of the bootstrap interval of the mean paired difference.")] = 0.95,
    all_classes: Annotated[
        bool, typer.Option("--all-classes", help="Show every class, not only foreground means and case-level metrics.")
    ] = False,
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Write comparison.csv and comparison.json here.")
    ] = None,
    junit: Annotated[Optional[Path], typer.Option(help="Write the limit verdicts as JUnit XML.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a Markdown summary of the changes.")] = None,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Compare two reports: change of each mean over paired cases, with a bootstrap 95% interval and a
    Wilcoxon signed-rank p-value; the cases that got most worse; cases in only one report.
    Exit code 1 when a --max-drop/--max-rise limit is exceeded."""
    from segeval.compare import compare_reports, comparison_markdown, parse_limits, read_report
    from segeval.report.ci import write_junit
    from segeval.report.render import render_comparison, render_gates
    from segeval.report.writers import json_text, prepare_out_dir, write_atomic, write_csv, write_json

    if not 0.0 < ci < 1.0:
        raise UsageError(f"--ci must be in (0, 1), got {ci}")
    limits = parse_limits(tuple(max_drop or ()), "drop") + parse_limits(tuple(max_rise or ()), "rise")
    comparison = compare_reports(read_report(baseline), read_report(current), level=ci, limits=limits)
    if out is not None:
        folder = prepare_out_dir(out)
        write_csv(folder / "comparison.csv", comparison.table)
        write_json(folder / "comparison.json", comparison.as_dict())
    if junit is not None:
        write_junit(junit, comparison.gates, [])
    if markdown is not None:
        text = comparison_markdown(comparison)
        write_atomic(markdown, lambda handle: handle.write(text))
    console = stdout_console(soft_wrap=output_format is not OutputFormat.table)
    if output_format is OutputFormat.json:
        console.file.write(json_text(comparison.as_dict()))
    elif output_format is OutputFormat.csv:
        console.file.write(comparison.table.to_csv(index=False))
    elif output_format is OutputFormat.table:
        render_comparison(comparison, console, classes=() if all_classes else ("foreground", "all"))
        if comparison.gates:
            render_gates(comparison.gates, console)
    raise typer.Exit(code=int(ExitCode.OK if comparison.passed else ExitCode.GATE_FAILED))


@app.command(name="metrics")
@handle_errors
def metrics_command(
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, json or csv.", case_sensitive=False)
    ] = OutputFormat.table,
) -> None:
    """The metric catalog: name, level, formula, direction, unit and reference."""
    from segeval.metrics.catalog import METRICS

    rows = [
        {
            "name": s.name,
            "level": s.level,
            "family": s.family,
            "formula": s.formula,
            "higher_is_better": s.higher_is_better,
            "unit": s.unit,
            "pooled": s.pooled,
            "reference": s.reference,
            "aliases": list(s.aliases),
        }
        for s in METRICS
    ]
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if output_format is OutputFormat.csv:
        import pandas as pd

        typer.echo(
            pd.DataFrame(rows).assign(aliases=lambda d: d["aliases"].map(" ".join)).to_csv(index=False), nl=False
        )
        return
    if output_format is OutputFormat.quiet:
        return
    console = stdout_console()
    table = Table(title="segeval metrics", box=box.SIMPLE_HEAD if console.is_terminal else None, title_justify="left")
    for column in ("name", "level", "formula", "better", "unit", "reference"):
        table.add_column(column, overflow="fold")
    for row in rows:
        better = {True: "higher", False: "lower", None: "-"}[row["higher_is_better"]]
        table.add_row(row["name"], row["level"], row["formula"], better, row["unit"], row["reference"])
    console.print(table)
