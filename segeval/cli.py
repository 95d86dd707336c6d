"""The ``segeval`` command: a thin Typer shell over the library.

Exit codes (docs/cli.md): 0 ok · 1 a quality gate failed (reserved) · 2 usage error ·
3 input errors (some cases failed, or the folders cannot be paired) · 4 internal error.
Results go to stdout; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from segeval import __version__
from segeval.errors import ExitCode, SegevalError, UsageError
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

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    quiet = "quiet"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segeval {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Trustworthy segmentation metrics: score prediction folders against ground truths."""


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

    return wrapper


def _int_list(text: str | None, option: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        raise UsageError(f"{option} expects comma-separated integers, got {text!r}") from None


def _float_list(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(" ", "").replace("x", ",").split(",") if v != "")
    except ValueError:
        raise UsageError(f"{option} expects comma-separated numbers, got {text!r}") from None


def _empty_score(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"--empty-score expects nan or a number in [0, 1], got {text!r}") from None


@app.command(epilog="Examples:\n\n  segeval score preds/ gts/\n\n"
                    "  segeval score preds/ gts/ --out reports/ --num-classes 4 --ignore-index 255\n\n"
                    "  segeval score preds/ gts/ --gate 'dice>=0.85' --gate 'failed==0' --junit gates.xml\n\n"
                    "  segeval score --pairs manifest.csv --format json")
@handle_errors
def score(
    ctx: typer.Context,
    preds: Annotated[Optional[Path], typer.Argument(help="Folder (or file) of predictions: label maps, "
                                                         "probability maps or logits.", show_default=False)] = None,
    gts: Annotated[Optional[Path], typer.Argument(help="Folder (or file) of ground-truth label maps.",
                                                  show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write per_case.csv, summary.csv and "
                                                "summary.json into this folder.")] = None,
    labels: Annotated[Optional[str], typer.Option(help="Label values to score, e.g. 0,1,2,4. "
                                                  "Default: inferred from the data.")] = None,
    num_classes: Annotated[Optional[int], typer.Option(help="Score labels 0..N-1.")] = None,
    class_names: Annotated[Optional[str], typer.Option(help="Names in label order (bg,liver,tumour) "
                                                       "or VALUE=NAME items (0=bg,4=enhancing).")] = None,
    ignore_index: Annotated[Optional[int], typer.Option(help="Reference label whose pixels are excluded "
                                                        "from every metric, e.g. 255.")] = None,
    include_background: Annotated[bool, typer.Option(help="Average label 0 in mean_dice too (pixel "
                                                     "accuracy, MPA, mIoU and FWIoU always include it).")] = False,
    empty_score: Annotated[str, typer.Option(help="Dice/IoU/precision/recall when a class is absent from "
                                             "both sides: nan (excluded from means) or e.g. 1.")] = "nan",
    pred_kind: Annotated[PredKind, typer.Option(help="What predictions hold; auto infers it from dtype and "
                                                "values.", case_sensitive=False)] = PredKind.AUTO,
    channel_axis: Annotated[Optional[int], typer.Option(help="Class axis of probability/logit maps. Default: "
                                                        "the axis that leaves the ground-truth shape; if "
                                                        "several, the first (NPY) or the 4th NIfTI dimension.")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="Cut for single-channel maps (>= is "
                                                       "foreground). Default 0.5 on probabilities, 0 on logits.")] = None,
    palette: Annotated[Optional[Path], typer.Option(help="Colour→label map for RGB masks: CSV label,r,g,b or "
                                                    "JSON {\"1\": [255,0,0]}.")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Search sub-folders; case names keep "
                                            "their relative path.")] = False,
    pred_suffix: Annotated[str, typer.Option(help="Strip this suffix from prediction names (case_1_pred.png "
                                             "→ case_1).")] = "",
    gt_suffix: Annotated[str, typer.Option(help="Strip this suffix from ground-truth names.")] = "",
    pairs: Annotated[Optional[Path], typer.Option(help="CSV manifest with columns pred,gt[,case] instead of "
                                                  "PREDS and GTS.")] = None,
    allow_missing: Annotated[bool, typer.Option(help="Score what matches; a missing prediction counts as an "
                                                "empty one.")] = False,
    skip_missing: Annotated[bool, typer.Option(help="With missing predictions, skip the case instead "
                                               "(implies --allow-missing).")] = False,
    spacing: Annotated[Optional[str], typer.Option(help="Spacing in mm in array-axis order (z,y,x: the "
                                                   "reverse of NIfTI's x,y,z), overriding the files'; one "
                                                   "value = isotropic.")] = None,
    geometry_tolerance: Annotated[float, typer.Option(help="Tolerance when comparing prediction and ground-truth "
                                                      "spacing, origin and direction.")] = 1e-3,
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[Optional[int], typer.Option(help="Cases per kernel call (default 1 on CPU, 8 on "
                                                      "CUDA).")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Threads decoding files while the kernel runs "
                                                   "(default min(4, CPUs)).")] = None,
    ci: Annotated[float, typer.Option(help="Coverage of the bootstrap confidence intervals of the means "
                                      "(seeded); 0 turns them off.")] = 0.95,
    gate: Annotated[Optional[list[str]], typer.Option("--gate", "-g", help="Quality gate, repeatable: "
                                                      "METRIC[CLASS].STAT OP NUMBER, e.g. 'dice>=0.85', "
                                                      "'hd95[liver]<=6', 'dice.p05>=0.6', 'failed==0'. "
                                                      "Exit code 1 when one fails.")] = None,
    baseline: Annotated[Optional[Path], typer.Option(help="Compare with a previous report folder (paired "
                                                     "change, bootstrap CI, Wilcoxon p).")] = None,
    max_drop: Annotated[Optional[list[str]], typer.Option(help="With --baseline: largest allowed fall of a "
                                                          "mean, e.g. dice=0.01 (repeatable).")] = None,
    max_rise: Annotated[Optional[list[str]], typer.Option(help="With --baseline: largest allowed rise of a "
                                                          "mean, e.g. hd95=0.5 (repeatable).")] = None,
    junit: Annotated[Optional[Path], typer.Option(help="Write gate verdicts and failed cases as JUnit XML.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a Markdown summary (e.g. "
                                                     "$GITHUB_STEP_SUMMARY).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="Settings file: segeval.toml or a pyproject.toml with "
                                                   "[tool.segeval]. Default: ./segeval.toml, then "
                                                   "./pyproject.toml. Command-line options win.")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="What to print on stdout.",
                                                        case_sensitive=False)] = OutputFormat.table,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr (only on a terminal).")] = True,
) -> None:
    """Score predictions against ground truths: per-case and summary overlap metrics.

    Pairs files by name (extension stripped), reads PNG/TIFF/BMP, NIfTI/MHA/NRRD and NPY/NPZ,
    counts one confusion matrix per case and derives Dice, IoU, precision, recall, specificity,
    volume similarity, pixel accuracy, mean pixel accuracy, mIoU, FWIoU and mean Dice, per case
    and pooled over the dataset. Exit codes: 0 ok, 1 a gate failed, 2 usage error, 3 some cases
    failed (3 wins over 1).
    """
    from segeval.api import score as run_score
    from segeval.config_file import find_config, read_config

    given = {
        "out": out, "labels": _int_list(labels, "--labels"), "num_classes": num_classes,
        "class_names": tuple(n.strip() for n in class_names.split(",")) if class_names else None,
        "ignore_index": ignore_index, "include_background": include_background,
        "empty_score": _empty_score(empty_score), "pred_kind": pred_kind, "channel_axis": channel_axis,
        "threshold": threshold, "palette": palette, "recursive": recursive, "pred_suffix": pred_suffix,
        "gt_suffix": gt_suffix, "pairs": pairs, "allow_missing": allow_missing, "skip_missing": skip_missing,
        "spacing": _float_list(spacing, "--spacing"), "geometry_tolerance": geometry_tolerance, "device": device,
        "batch_size": batch_size, "workers": workers, "ci": ci, "gates": tuple(gate or ()), "baseline": baseline,
        "max_drop": tuple(max_drop or ()), "max_rise": tuple(max_rise or ()), "junit": junit,
        "markdown": markdown, "format": output_format,
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
    with _progress_bar(show_progress) as advance:
        result = run_score(preds, gts, progress=advance, **{f.name: getattr(score_config, f.name)
                                                            for f in dataclasses.fields(score_config)})
    _write_outputs(result, out, junit, markdown)
    _warn(result)
    _render(result, fmt)
    raise typer.Exit(code=int(run_exit_code(result)))


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
        stderr.print(f"reports written to {paths['per_case'].parent}/ (per_case.csv, summary.csv, summary.json)",
                     highlight=False)
    if junit is not None:
        write_junit(junit, result.gates, result.failed)
    if markdown is not None:
        write_markdown(markdown, result, result.gates, result.comparison)


def _render(result, fmt: OutputFormat) -> None:
    from segeval.report.render import render, render_comparison, render_gates

    console = _stdout_console(soft_wrap=fmt is not OutputFormat.table)
    render(result, fmt.value, console)
    if fmt is OutputFormat.table:
        if result.comparison is not None:
            render_comparison(result.comparison, console)
        if result.gates:
            render_gates(result.gates, console)


class _progress_bar:
    """Context manager giving ``advance(done, total)``; a no-op when not on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        self.bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=stderr, transient=True)
        self.bar.__enter__()
        return self.advance

    def advance(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task("scoring", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _stdout_console(soft_wrap: bool = False) -> Console:
    """stdout: rich on a terminal; plain, wide enough never to truncate, in logs and pipes."""
    probe = Console()
    if probe.is_terminal:
        return Console(highlight=False, soft_wrap=soft_wrap)
    return Console(highlight=False, soft_wrap=soft_wrap, width=200, no_color=True)


def _warn(result) -> None:
    """Warnings about the run on stderr: skipped files, missing and failed cases, remapped masks."""
    if result.skipped_files:
        stderr.print(f"warning: skipped {len(result.skipped_files)} file(s) with unsupported extensions, e.g. "
                     f"{result.skipped_files[0]}", highlight=False)
    if result.missing_pred:
        what = "skipped" if result.skipped_missing else "scored as empty predictions"
        stderr.print(f"warning: {len(result.missing_pred)} case(s) without prediction {what}: "
                     f"{', '.join(result.missing_pred[:5])}", highlight=False)
    if result.missing_gt:
        stderr.print(f"warning: {len(result.missing_gt)} prediction(s) without ground truth not scored: "
                     f"{', '.join(result.missing_gt[:5])}", highlight=False)
    remapped = sum(1 for r in result.cases if any("0/255" in note for note in r.notes))
    if remapped:
        stderr.print(f"note: {remapped} case(s) had 0/255 binary masks, read as labels 0/1", highlight=False)
    for record in result.failed:
        stderr.print(f"failed: {record.case}: {record.error}", markup=False, highlight=False, soft_wrap=True)
    if result.failed:
        stderr.print(f"{len(result.failed)} of {len(result.cases)} case(s) failed; the others were scored",
                     highlight=False)


@app.command(epilog="Examples:\n\n  segeval compare reports_main/ reports_pr/\n\n"
                    "  segeval compare reports_main/ reports_pr/ --max-drop dice=0.01 --max-rise hd95=0.5 --junit cmp.xml")
@handle_errors
def compare(
    baseline: Annotated[Path, typer.Argument(help="Baseline report: a folder from --out, its summary.json or "
                                             "per_case.csv.", show_default=False)],
    current: Annotated[Path, typer.Argument(help="Current report, in the same forms.", show_default=False)],
    max_drop: Annotated[Optional[list[str]], typer.Option(help="Largest allowed fall of a mean, e.g. dice=0.01 or "
                                                          "dice[liver]=0.02 (repeatable).")] = None,
    max_rise: Annotated[Optional[list[str]], typer.Option(help="Largest allowed rise of a mean, e.g. "
                                                          "hd95=0.5 (repeatable).")] = None,
    ci: Annotated[float, typer.Option(help="Coverage of the bootstrap interval of the mean paired "
                                      "difference.")] = 0.95,
    all_classes: Annotated[bool, typer.Option("--all-classes", help="Show every class, not only foreground "
                                              "means and case-level metrics.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write comparison.csv and comparison.json "
                                                "here.")] = None,
    junit: Annotated[Optional[Path], typer.Option(help="Write the limit verdicts as JUnit XML.")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a Markdown summary of the changes.")] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="What to print on stdout.",
                                                        case_sensitive=False)] = OutputFormat.table,
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
    console = _stdout_console(soft_wrap=output_format is not OutputFormat.table)
    if output_format is OutputFormat.json:
        console.file.write(json_text(comparison.as_dict()))
    elif output_format is OutputFormat.csv:
        console.file.write(comparison.table.to_csv(index=False))
    elif output_format is OutputFormat.table:
        render_comparison(comparison, console, classes=() if all_classes else ("foreground", "all"))
        if comparison.gates:
            render_gates(comparison.gates, console)
    raise typer.Exit(code=int(ExitCode.OK if comparison.passed else ExitCode.GATE_FAILED))


class LossFamily(str, enum.Enum):
    distribution = "distribution"
    region = "region"
    boundary = "boundary"
    compound = "compound"


@app.command(epilog="Examples:\n\n  segeval losses\n\n  segeval losses --family region\n\n"
                    "  segeval losses probs/ gts/ --family region --out loss_report/\n\n"
                    "  segeval losses probs/ gts/ --loss dice --loss focal --from-logits")
@handle_errors
def losses(
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
    from segeval.losses import list_losses, loss_spec

    family_name = family.value if family is not None else None
    if preds is None and gts is None and pairs is None:
        _print_loss_catalog(list_losses(family_name), output_format)
        return
    from segeval.loss_eval import evaluate_losses

    show_progress = progress and stderr.is_terminal and output_format is not OutputFormat.quiet
    with _progress_bar(show_progress) as advance:
        result = evaluate_losses(
            preds, gts, losses=loss, family=family_name, from_logits=from_logits, progress=advance,
            labels=_int_list(labels, "--labels"), channel_axis=channel_axis, recursive=recursive,
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
    console = _stdout_console(soft_wrap=output_format is not OutputFormat.table)
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
        console = _stdout_console()
        table = Table(title="segeval losses", box=box.SIMPLE_HEAD if console.is_terminal else None,
                      title_justify="left")
        for column in ("name", "family", "formula", "defaults", "reference"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row.values())
        console.print(table)


@app.command(name="metrics")
@handle_errors
def metrics_command(
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, json or csv.",
                                                        case_sensitive=False)] = OutputFormat.table,
) -> None:
    """The metric catalog: name, level, formula, direction, unit and reference."""
    from segeval.metrics.catalog import METRICS

    rows = [
        {"name": s.name, "level": s.level, "family": s.family, "formula": s.formula,
         "higher_is_better": s.higher_is_better, "unit": s.unit, "pooled": s.pooled, "reference": s.reference,
         "aliases": list(s.aliases)}
        for s in METRICS
    ]
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if output_format is OutputFormat.csv:
        import pandas as pd

        typer.echo(pd.DataFrame(rows).assign(aliases=lambda d: d["aliases"].map(" ".join)).to_csv(index=False),
                   nl=False)
        return
    if output_format is OutputFormat.quiet:
        return
    console = _stdout_console()
    table = Table(title="segeval metrics", box=box.SIMPLE_HEAD if console.is_terminal else None,
                  title_justify="left")
    for column in ("name", "level", "formula", "better", "unit", "reference"):
        table.add_column(column, overflow="fold")
    for row in rows:
        better = {True: "higher", False: "lower", None: "-"}[row["higher_is_better"]]
        table.add_row(row["name"], row["level"], row["formula"], better, row["unit"], row["reference"])
    console.print(table)



if __name__ == "__main__":  # pragma: no cover
    app(prog_name="segeval")
    sys.exit(0)
