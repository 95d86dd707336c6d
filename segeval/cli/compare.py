"""``segeval compare BASELINE CURRENT``: what changed between two reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from segeval.cli.common import FormatOpt, handle_errors, parse_format, stdout_console
from segeval.errors import ExitCode, InputError, UsageError
from segeval.options import OutputFormat

EPILOG = (
    "Examples:\n\n  segeval compare reports_main/ reports_pr/\n\n"
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
        typer.Option(help=r"Largest allowed fall of a mean, e.g. dice=0.01 or dice\[liver]=0.02 (repeatable)."),
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
    html: Annotated[
        Optional[Path], typer.Option(help="Write a self-contained HTML page of the changes (docs/report.md).")
    ] = None,
    markdown: Annotated[
        Optional[Path], typer.Option(help="Append a Markdown summary of the changes (e.g. $GITHUB_STEP_SUMMARY).")
    ] = None,
    output_format: FormatOpt = None,
) -> None:
    """Compare two reports: change of each mean over paired cases, with a bootstrap 95% interval and a
    Wilcoxon signed-rank p-value; the cases that got most worse; cases in only one report.
    Exit code 1 when a --max-drop/--max-rise limit is exceeded, 3 when the reports have no case in common."""
    from segeval.quality.compare import compare_reports, read_report
    from segeval.quality.gates import parse_limits
    from segeval.report.ci import append_markdown, comparison_markdown, write_junit
    from segeval.report.render import render_comparison, render_gates
    from segeval.report.writers import check_out_dir, check_out_file, json_text, write_report_set

    output_format = parse_format(output_format)
    if not 0.0 < ci < 1.0:
        raise UsageError(f"--ci must be in (0, 1), got {ci}")
    limits = parse_limits(tuple(max_drop or ()), "drop") + parse_limits(tuple(max_rise or ()), "rise")
    if out is not None:
        check_out_dir(out, ["comparison.csv", "comparison.json"])
    for option, path in (("--junit", junit), ("--markdown", markdown), ("--html", html)):
        if path is not None:
            check_out_file(path, option)
    reports = read_report(baseline), read_report(current)
    comparison = compare_reports(*reports, level=ci, limits=limits)
    if not comparison.common_cases:
        raise InputError(
            f"{comparison.baseline} and {comparison.current} have no scored case in common: nothing to compare",
            hint="compare two reports of the same cases (case names are file names without extension)",
        )
    if out is not None:
        try:
            write_report_set(out, {"comparison.csv": comparison.table}, "comparison.json", comparison.as_dict())
        except OSError as exc:
            raise UsageError(f"--out {out}: cannot write the comparison: {exc.strerror or exc}") from None
    if junit is not None:
        write_junit(junit, comparison.gates, [])
    if html is not None:
        from segeval.report.html_compare import write_compare_page

        try:
            write_compare_page(comparison, *reports, html)
        except OSError as exc:
            raise UsageError(f"--html {html}: cannot write the page: {exc.strerror or exc}") from None
    if markdown is not None:
        append_markdown(markdown, comparison_markdown(comparison))
    console = stdout_console(soft_wrap=output_format is not OutputFormat.TABLE)
    if output_format is OutputFormat.JSON:
        console.file.write(json_text(comparison.as_dict()))
    elif output_format is OutputFormat.CSV:
        console.file.write(comparison.table.to_csv(index=False))
    elif output_format is OutputFormat.TABLE:
        render_comparison(comparison, console, classes=() if all_classes else ("foreground", "all"))
        if comparison.gates:
            render_gates(comparison.gates, console)
    raise typer.Exit(code=int(ExitCode.OK if comparison.passed else ExitCode.GATE_FAILED))
