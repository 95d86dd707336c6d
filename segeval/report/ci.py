"""Verdicts for CI systems: JUnit XML (``--junit``) and Markdown summaries (``--markdown``, ``compare --markdown``).

JUnit: one ``<testcase>`` per gate (``<failure>`` when it fails) and one per case that failed
to load or score (``<error>``), in a ``<testsuite name="segeval">``, so CI systems list them
natively. Markdown: the headline metrics, the gate table, the worst cases and the failed cases,
for job pages such as GitHub's step summary; Markdown is appended, never overwritten.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from segeval.errors import UsageError
from segeval.report.render import format_number
from segeval.report.writers import write_atomic
from segeval.status import Status


def junit_xml(gates, failed_cases, *, suite: str = "segeval") -> str:
    """JUnit XML text for gate results and failed cases (``CaseRecord``-like: ``case``, ``error``)."""
    root = ET.Element("testsuites")
    failures = sum(not g.passed for g in gates)
    errors = len(failed_cases)
    tests = len(gates) + len(failed_cases)
    root.attrib.update(name=suite, tests=str(tests), failures=str(failures), errors=str(errors))
    suite_el = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time="0",
    )
    for result in gates:
        case = ET.SubElement(suite_el, "testcase", classname=f"{suite}.gates", name=result.gate.expression, time="0")
        if not result.passed:
            message = (
                f"{result.gate.expression}: value {format_number(result.value, 6)} "
                f"(threshold {result.gate.threshold:g}, margin {format_number(result.margin, 6)})"
            )
            if result.note:
                message += f"; {result.note}"
            ET.SubElement(case, "failure", message=message, type="GateFailed").text = message
    for record in failed_cases:
        case = ET.SubElement(suite_el, "testcase", classname=f"{suite}.inputs", name=record.case, time="0")
        ET.SubElement(case, "error", message=record.error or "failed", type="InputError").text = record.error
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: Path, gates, failed_cases) -> None:
    """Write the JUnit XML of ``gates`` and ``failed_cases`` to ``path`` (atomically)."""
    text = junit_xml(gates, failed_cases)
    try:
        write_atomic(Path(path), lambda handle: handle.write(text))
    except OSError as exc:
        raise UsageError(f"--junit {path}: cannot write: {exc.strerror or exc}") from None


def _cell(value) -> str:
    if isinstance(value, float):
        return format_number(value)
    return str(value).replace("|", "\\|")


def _table(headers: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def markdown_summary(result, gates, comparison=None, *, worst: int = 5) -> str:
    """A Markdown page: verdict, headline metrics, gates, comparison, worst cases, failed cases."""
    passed = all(g.passed for g in gates) and not result.failed
    scored = sum(r.scored for r in result.cases)
    lines = [
        f"## segeval: {'✅ passed' if passed else '❌ failed'}",
        "",
        f"{scored} case(s) scored, {len(result.failed)} failed, "
        f"{len(result.missing_pred)} without prediction, {len(result.missing_gt)} without ground truth.",
        "",
    ]
    headline = result.summary[
        result.summary["metric"].isin(["dice", "iou", "hd95"]) | (result.summary["class"] == "all")
    ]
    lines += _table(
        ["class", "metric", "mean", "median", "pooled"],
        [
            [
                f"{r['class']} ({r['class_name']})" if r["class"] not in ("all", r["class_name"]) else r["class"],
                r["metric"],
                r["mean"],
                r["median"],
                r["pooled"],
            ]
            for _, r in headline.iterrows()
        ],
    )
    if gates:
        lines += ["", "### Gates", ""]
        lines += _table(
            ["gate", "value", "threshold", "margin", "result"],
            [
                [
                    g.gate.expression,
                    g.value,
                    g.gate.threshold,
                    g.margin,
                    "pass" if g.passed else "**FAIL**" + (f" ({g.note})" if g.note else ""),
                ]
                for g in gates
            ],
        )
    if comparison is not None:
        lines += ["", f"### Change versus {comparison.baseline}", ""]
        rows = comparison.table[comparison.table["class"].isin(["foreground", "all"])]
        lines += _table(
            ["metric", "baseline", "current", "delta", "95% CI", "p"],
            [
                [
                    r["metric"],
                    r["baseline_mean"],
                    r["current_mean"],
                    r["delta"],
                    f"[{format_number(r['ci_low'])}, {format_number(r['ci_high'])}]",
                    r["p_value"],
                ]
                for _, r in rows.iterrows()
            ],
        )
    worst_rows = _worst_cases(result, worst)
    if worst_rows:
        lines += ["", "### Worst cases by mean foreground Dice", ""]
        lines += _table(["case", "mean Dice"], worst_rows)
    if result.failed:
        lines += ["", "### Failed cases", ""]
        lines += _table(["case", "error"], [[r.case, r.error] for r in result.failed])
    return "\n".join(lines) + "\n"


def _worst_cases(result, limit: int) -> list[list]:
    rows = result.per_case[
        (result.per_case["metric"] == "mean_dice") & (result.per_case["status"] != Status.FAILED.value)
    ]
    rows = rows.dropna(subset=["value"]).sort_values("value").head(limit)
    return [[r["case"], float(r["value"])] for _, r in rows.iterrows() if not math.isnan(r["value"])]


def write_markdown(path: Path, result, gates, comparison=None) -> None:
    """Append the Markdown summary of a run to ``path``."""
    append_markdown(path, markdown_summary(result, gates, comparison))


def append_markdown(path: Path, text: str) -> None:
    """Append ``text`` to ``path`` in one write, after a blank line when the file has content.

    ``--markdown`` is meant for ``$GITHUB_STEP_SUMMARY``, which collects the summaries of several steps.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(("\n" if handle.tell() > 0 else "") + text)
    except OSError as exc:
        raise UsageError(f"--markdown {path}: cannot write: {exc.strerror or exc}") from None


def comparison_markdown(comparison) -> str:
    """A Markdown page of a comparison: changes of the foreground and case-level means, limits, worst cases."""
    lines = [
        f"## segeval compare: {'✅ passed' if comparison.passed else '❌ failed'}",
        "",
        f"Baseline `{comparison.baseline}`, current `{comparison.current}`.",
        "",
    ]
    rows = comparison.table[comparison.table["class"].isin(["foreground", "all"])]
    lines += _table(
        ["class", "metric", "n", "baseline", "current", "delta", "95% CI", "p"],
        [
            [
                r["class"],
                r["metric"],
                r["n_pairs"],
                r["baseline_mean"],
                r["current_mean"],
                r["delta"],
                f"[{format_number(r['ci_low'])}, {format_number(r['ci_high'])}]",
                r["p_value"],
            ]
            for _, r in rows.iterrows()
        ],
    )
    if comparison.gates:
        lines += ["", "### Limits", ""]
        lines += _table(
            ["limit", "delta", "result"],
            [[g.gate.expression, g.value, "pass" if g.passed else "**FAIL**"] for g in comparison.gates],
        )
    if not comparison.worst_cases.empty:
        lines += ["", "### Cases that got most worse", ""]
        lines += _table(
            ["case", "metric", "baseline", "current", "delta"], comparison.worst_cases.head(10).values.tolist()
        )
    if comparison.only_baseline or comparison.only_current:
        lines += [
            "",
            f"Cases only in the baseline: {', '.join(comparison.only_baseline) or 'none'}; "
            f"only in the current report: {', '.join(comparison.only_current) or 'none'}.",
        ]
    return "\n".join(lines) + "\n"
