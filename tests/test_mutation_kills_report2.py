"""More tests written from mutation testing (mutmut) of segeval/report: the Markdown of ``segeval compare``
(limits that pass, the worst cases, cases on one side only, case-level rows), JUnit defaults and errors,
the Markdown summary's defaults, and the single-file writers.

Expected numbers are worked out by hand from hand-made inputs.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import segeval
from segeval.errors import UsageError
from segeval.quality.gates import parse_gate, verdict
from segeval.report.ci import comparison_markdown, junit_xml, markdown_summary, write_junit, write_markdown
from segeval.report.render import format_number
from segeval.report.writers import write_csv, write_json

# 12 cases at Dice 0.9 in the baseline; case i (0-based) drops by 0.01 * (i + 1) in the current report
DROPS = [0.01 * (i + 1) for i in range(12)]
MEAN_DROP = sum(DROPS) / 12  # 0.065


def _per_case(folder, values: dict[str, float]):
    rows = []
    for case, value in values.items():
        rows.append({"case": case, "class": "1", "class_name": "x", "metric": "dice", "value": value, "status": "ok"})
        rows.append(
            {"case": case, "class": "all", "class_name": "all", "metric": "miou", "value": value / 2, "status": "ok"}
        )
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "per_case.csv", index=False)
    return folder


def _compare(tmp_path, base: dict, cur: dict, limits: list[str]):
    from segeval.quality.compare import compare_reports, read_report
    from segeval.quality.gates import parse_limits

    b = _per_case(tmp_path / "base", base)
    c = _per_case(tmp_path / "cur", cur)
    return compare_reports(read_report(b), read_report(c), limits=parse_limits(limits, "drop"))


@pytest.fixture
def failing(tmp_path):
    base = {f"c{i:02d}": 0.9 for i in range(12)} | {"gone1": 0.5, "gone2": 0.4}
    cur = {f"c{i:02d}": 0.9 - drop for i, drop in enumerate(DROPS)}
    return _compare(tmp_path, base, cur, ["dice=0.5", "miou=0.001"])


def _ci(comparison, cls: str) -> str:
    row = comparison.table[comparison.table["class"] == cls].iloc[0]
    return f"[{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"


def test_comparison_markdown_limits_worst_cases_and_one_sided_cases(failing):
    lines = comparison_markdown(failing).splitlines()
    assert lines[0] == "## segeval compare: ❌ failed"
    assert lines[1] == "" and lines[3] == ""
    table = lines.index("| class | metric | n | baseline | current | delta | 95% CI | p |")
    assert lines[table + 1] == "|---|---|---|---|---|---|---|---|"
    rows = lines[table + 2 : table + 4]
    assert rows[0].startswith(
        f"| all | miou | 12 | 0.4500 | {format_number(0.45 - MEAN_DROP / 2)} | {format_number(-MEAN_DROP / 2)} | "
        f"{_ci(failing, 'all')} | "
    )
    assert rows[1].startswith(
        f"| foreground | dice | 12 | 0.9000 | {format_number(0.9 - MEAN_DROP)} | {format_number(-MEAN_DROP)} | "
        f"{_ci(failing, 'foreground')} | "
    )
    assert "nan" not in _ci(failing, "all") + _ci(failing, "foreground")
    assert lines[table + 4 : table + 11] == [
        "",
        "### Limits",
        "",
        "| limit | delta | result |",
        "|---|---|---|",
        f"| dice.delta >= -0.5 | {format_number(-MEAN_DROP)} | pass |",
        f"| miou.delta >= -0.001 | {format_number(-MEAN_DROP / 2)} | **FAIL** |",
    ]
    worst = lines.index("### Cases that got most worse")
    assert lines[worst - 1] == "" and lines[worst + 1] == ""
    assert lines[worst + 2 : worst + 4] == ["| case | metric | baseline | current | delta |", "|---|---|---|---|---|"]
    worst_rows = lines[worst + 4 : worst + 14]
    # the 10 largest drops, largest first: c11 (0.12) down to c02 (0.03)
    expected = [
        f"| c{i:02d} | dice | 0.9000 | {format_number(0.9 - DROPS[i])} | {format_number(-DROPS[i])} |"
        for i in range(11, 1, -1)
    ]
    assert worst_rows == expected
    assert lines[worst + 14] == ""
    assert lines[worst + 15] == "Cases only in the baseline: gone1, gone2; only in the current report: none."
    assert len(lines) == worst + 16


def test_comparison_markdown_that_passes_with_a_case_only_in_the_current_report(tmp_path):
    base = {"a": 0.8, "b": 0.6}
    cur = {"a": 0.8, "b": 0.6, "new1": 0.1, "new2": 0.2}
    comparison = _compare(tmp_path, base, cur, ["dice=0.1"])
    lines = comparison_markdown(comparison).splitlines()
    assert lines[0] == "## segeval compare: ✅ passed"
    assert "| dice.delta >= -0.1 | 0.0000 | pass |" in lines
    assert lines[-2:] == ["", "Cases only in the baseline: none; only in the current report: new1, new2."]


def test_comparison_markdown_without_one_sided_cases_has_no_such_line(tmp_path):
    comparison = _compare(tmp_path, {"a": 0.8}, {"a": 0.8}, [])
    text = comparison_markdown(comparison)
    assert "Cases only in" not in text and "### Limits" not in text


def test_junit_xml_default_suite_and_input_errors():
    gates = [verdict(parse_gate("dice>=0.5"), 0.75)]
    records = [SimpleNamespace(case="x", error=None), SimpleNamespace(case="y", error="cannot read y.npy")]
    root = ET.fromstring(junit_xml(gates, records))
    assert root.get("name") == "segeval"
    suite = root.find("testsuite")
    assert suite.get("name") == "segeval"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "0", "2")
    gate, x, y = suite.findall("testcase")
    assert gate.get("classname") == "segeval.gates" and gate.find("failure") is None
    assert x.get("classname") == "segeval.inputs"
    assert x.find("error").get("message") == "failed" and not x.find("error").text
    assert y.find("error").get("message") == "cannot read y.npy"
    assert y.find("error").text == "cannot read y.npy"


def test_write_junit_into_a_file_is_a_usage_error_with_the_reason(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    path = blocker / "junit.xml"
    with pytest.raises(UsageError) as info:
        write_junit(path, [], [])
    message = str(info.value)
    assert message.startswith(f"--junit {path}: cannot write: ")
    reason = message.removeprefix(f"--junit {path}: cannot write: ")
    assert reason and "Errno" not in reason and str(path) not in reason


@pytest.fixture(scope="module")
def seven_cases(tmp_path_factory):
    """Seven 4 × 4 cases; case k has k of its 7 reference pixels of class 1 predicted (k = 1 … 7)."""
    root = tmp_path_factory.mktemp("seven")
    (root / "p").mkdir()
    (root / "g").mkdir()
    for k in range(1, 8):
        gt = np.zeros((4, 4), np.uint8)
        gt.flat[:7] = 1
        pred = np.zeros((4, 4), np.uint8)
        pred.flat[:k] = 1
        np.save(root / "g" / f"case{k}.npy", gt)
        np.save(root / "p" / f"case{k}.npy", pred)
    return root


def _dice(k: int) -> float:
    return 2 * k / (k + 7)


def test_markdown_summary_lists_the_five_worst_cases_by_default(seven_cases):
    result = segeval.score(seven_cases / "p", seven_cases / "g")
    lines = markdown_summary(result, []).splitlines()
    assert lines[0] == "## segeval: ✅ passed"
    assert lines[1] == "" and lines[3] == ""
    assert lines[2] == "7 case(s) scored, 0 failed, 0 without prediction, 0 without ground truth."
    worst = lines.index("### Worst cases by mean foreground Dice")
    rows = lines[worst + 4 :]
    assert rows == [f"| case{k} | {format_number(_dice(k))} |" for k in range(1, 6)]


def test_write_markdown_includes_the_comparison(seven_cases, tmp_path):
    result = segeval.score(seven_cases / "p", seven_cases / "g")
    comparison = _compare(tmp_path, {"a": 0.8}, {"a": 0.7}, [])
    path = tmp_path / "summary.md"
    write_markdown(path, result, [], comparison)
    text = path.read_text(encoding="utf-8")
    assert f"### Change versus {comparison.baseline}" in text
    assert "| dice | 0.8000 | 0.7000 | -0.1000 | [" in text


def test_write_csv_has_no_index_column_and_full_precision(tmp_path):
    table = pd.DataFrame({"case": ["a", "b"], "value": [1 / 3, math.nan]})
    path = tmp_path / "t.csv"
    write_csv(path, table)
    assert path.read_text(encoding="utf-8") == f"case,value\na,{1 / 3!r}\nb,\n"


def test_write_json_is_strict_json_of_the_document(tmp_path):
    path = tmp_path / "d.json"
    write_json(path, {"a": 1.5, "b": math.nan, "c": np.int64(3), "d": [math.inf]})
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == {"a": 1.5, "b": None, "c": 3, "d": [None]}
    assert text.endswith("\n")


def _console(terminal: bool = False):
    import io

    from rich.console import Console

    buffer = io.StringIO()
    return Console(
        file=buffer, force_terminal=terminal, width=250, color_system="standard" if terminal else None
    ), buffer


def test_render_gates_verdict_without_a_note_and_colours_on_a_terminal():
    from segeval.report.render import render_gates

    gates = [verdict(parse_gate("dice>=0.5"), 0.75), verdict(parse_gate("dice>=0.9"), 0.75)]
    assert gates[1].note is None or gates[1].note == ""
    console, buffer = _console()
    render_gates(gates, console)
    lines = buffer.getvalue().splitlines()
    assert lines[2].split() == ["dice>=0.5", "0.7500", "0.5", "0.2500", "pass", "cli"]
    assert lines[3].split() == ["dice>=0.9", "0.7500", "0.9", "-0.1500", "FAIL", "cli"]
    assert "\x1b" not in buffer.getvalue()
    console, buffer = _console(terminal=True)
    render_gates(gates, console)
    text = buffer.getvalue()
    assert "\x1b[32mpass" in text  # green
    assert "\x1b[1;31mFAIL" in text  # bold red


def test_render_comparison_headers(failing):
    from segeval.report.render import render_comparison

    console, buffer = _console()
    render_comparison(failing, console)
    lines = buffer.getvalue().splitlines()
    header = next(line for line in lines if line.split()[:2] == ["class", "metric"])
    assert header.split() == ["class", "metric", "n", "baseline", "current", "delta", "ci_low", "ci_high", "p"]
    row = next(line for line in lines if line.startswith("all ")).split()
    assert row[:6] == [
        "all",
        "miou",
        "12",
        "0.4500",
        format_number(0.45 - MEAN_DROP / 2),
        format_number(-MEAN_DROP / 2),
    ]


def test_write_junit_creates_folders_and_gives_the_file_a_plain_mode(tmp_path):
    import os

    path = tmp_path / "a" / "b" / "junit.xml"
    gates = [verdict(parse_gate("dice>=0.9"), 0.75)]
    write_junit(path, gates, [SimpleNamespace(case="é", error="café")])
    assert sorted(p.name for p in path.parent.iterdir()) == ["junit.xml"]
    root = ET.fromstring(path.read_bytes())
    assert root.find("testsuite/testcase[2]").get("name") == "é"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o7777 == 0o666 & ~mask


def test_write_junit_failure_leaves_no_temporary_file(tmp_path, monkeypatch):
    import segeval.report.ci as ci

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ci, "junit_xml", lambda *a, **k: "<x/>")
    monkeypatch.setattr("os.fsync", broken)
    path = tmp_path / "junit.xml"
    with pytest.raises(UsageError, match="cannot write: No space left on device"):
        write_junit(path, [], [])
    assert list(tmp_path.iterdir()) == []


def test_check_out_file_names_the_option(tmp_path):
    from segeval.report.writers import check_out_file

    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(UsageError) as info:
        check_out_file(blocker / "sub" / "summary.md", "--markdown")
    assert str(info.value).startswith("--markdown: cannot create ")
    assert str(info.value).endswith(f"{blocker} is a file")


@pytest.fixture(scope="module")
def two_cases_and_a_bad_one(tmp_path_factory):
    """case3 and case7 (3 and 7 of 7 reference pixels predicted) and an unreadable prediction."""
    root = tmp_path_factory.mktemp("two")
    (root / "p").mkdir()
    (root / "g").mkdir()
    gt = np.zeros((4, 4), np.uint8)
    gt.flat[:7] = 1
    for k in (3, 7):
        pred = np.zeros((4, 4), np.uint8)
        pred.flat[:k] = 1
        np.save(root / "g" / f"case{k}.npy", gt)
        np.save(root / "p" / f"case{k}.npy", pred)
    np.save(root / "g" / "bad.npy", gt)
    (root / "p" / "bad.npy").write_bytes(b"junk")
    return segeval.score(root / "p", root / "g", metrics=["dice", "hd95"], gates=["dice>=0.5", "hd95<=0.1"])


def test_markdown_summary_sections(two_cases_and_a_bad_one, failing):
    result = two_cases_and_a_bad_one
    gates = [*result.gates, verdict(parse_gate("nsd>=0.5"), math.nan)]
    lines = markdown_summary(result, gates, failing).splitlines()
    assert lines[:4] == [
        "## segeval: ❌ failed",
        "",
        "2 case(s) scored, 1 failed, 0 without prediction, 0 without ground truth.",
        "",
    ]
    iou_1 = (3 / 7 + 1) / 2
    assert f"| 1 (class_1) | iou | {format_number(iou_1)} | {format_number(iou_1)} | {format_number(iou_1)} |" in lines
    assert any(line.startswith("| 1 (class_1) | hd95 | ") for line in lines)
    gates_at = lines.index("### Gates")
    assert lines[gates_at - 1] == "" and lines[gates_at + 1] == ""
    assert lines[gates_at + 2] == "| gate | value | threshold | margin | result |"
    dice_1 = (2 * 3 / 10 + 1) / 2
    assert lines[gates_at + 4 : gates_at + 7] == [
        f"| dice>=0.5 | {format_number(dice_1)} | 0.5000 | {format_number(dice_1 - 0.5)} | pass |",
        lines[gates_at + 5],
        "| nsd>=0.5 | nan | 0.5000 | nan | **FAIL** (no value (every case NaN or none scored)) |",
    ]
    assert lines[gates_at + 5].startswith("| hd95<=0.1 | ") and lines[gates_at + 5].endswith(" | **FAIL** |")
    change = lines.index(f"### Change versus {failing.baseline}")
    assert lines[change - 1] == "" and lines[change + 1] == ""
    assert lines[change + 2] == "| metric | baseline | current | delta | 95% CI | p |"
    assert lines[change + 4].startswith(
        f"| miou | 0.4500 | {format_number(0.45 - MEAN_DROP / 2)} | {format_number(-MEAN_DROP / 2)} | "
        f"{_ci(failing, 'all')} | "
    )
    assert lines[change + 5].startswith(
        f"| dice | 0.9000 | {format_number(0.9 - MEAN_DROP)} | {format_number(-MEAN_DROP)} | "
        f"{_ci(failing, 'foreground')} | "
    )
    worst = lines.index("### Worst cases by mean foreground Dice")
    assert lines[worst - 1] == "" and lines[worst + 1] == ""
    assert lines[worst + 4 : worst + 6] == [f"| case3 | {format_number(0.6)} |", "| case7 | 1.0000 |"]
    failed = lines.index("### Failed cases")
    assert lines[failed - 1] == "" and lines[failed + 1] == ""
    assert lines[failed + 2 : failed + 4] == ["| case | error |", "|---|---|"]
    assert lines[failed + 4].startswith("| bad | ")


def test_append_markdown_creates_folders_and_separates_summaries(tmp_path):
    from segeval.report.ci import append_markdown

    path = tmp_path / "x" / "y" / "step.md"
    append_markdown(path, "# one\n")
    assert path.read_text(encoding="utf-8") == "# one\n"
    append_markdown(path, "# twö\n")
    assert path.read_text(encoding="utf-8") == "# one\n\n# twö\n"
    single = tmp_path / "single.md"
    single.write_text("x", encoding="utf-8")
    append_markdown(single, "y\n")
    assert single.read_text(encoding="utf-8") == "x\ny\n"


def test_append_markdown_into_a_file_is_a_usage_error_with_the_reason(tmp_path):
    from segeval.report.ci import append_markdown

    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    path = blocker / "step.md"
    with pytest.raises(UsageError) as info:
        append_markdown(path, "text")
    message = str(info.value)
    assert message.startswith(f"--markdown {path}: cannot write: ")
    assert "Errno" not in message.removeprefix(f"--markdown {path}: cannot write: ")


def _table_lines(text: str, title: str, count: int) -> list[str]:
    """The ``count`` lines (header and rows) below the title of a plain-text table."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(title))
    return lines[start + 1 : start + 1 + count]


def test_render_comparison_right_aligns_numbers_and_lists_five_worst_cases(failing):
    from segeval.report.render import render_comparison

    console, buffer = _console()
    render_comparison(failing, console)
    text = buffer.getvalue()
    assert "cases only in the baseline: 2; only in the current report: 0" in text
    worst = _table_lines(text, "Cases that got most worse", 6)
    assert not text.splitlines()[text.splitlines().index(worst[-1]) + 1 :]  # five rows, then nothing
    assert worst[0].split() == ["case", "metric", "baseline", "current", "delta"]
    assert [line.split()[0] for line in worst[1:]] == ["c11", "c10", "c09", "c08", "c07"]
    assert len({len(line.rstrip()) for line in worst}) == 1  # "delta" right-aligned over "-0.1200"
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["class", "metric"])
    main = lines[header : header + 3]
    assert main[0].split()[:3] == ["class", "metric", "n"]
    assert len({len(line.rstrip()) for line in main}) == 1  # "p" right-aligned over "0.0005"


def test_render_comparison_with_a_case_only_in_the_current_report(tmp_path):
    from segeval.report.render import render_comparison

    comparison = _compare(tmp_path, {"a": 0.8}, {"a": 0.8, "new1": 0.1}, [])
    console, buffer = _console()
    render_comparison(comparison, console)
    assert "cases only in the baseline: 0; only in the current report: 1" in buffer.getvalue()


def test_summary_tables_right_align_numbers(two_cases_and_a_bad_one):
    from segeval.report.render import render

    console, buffer = _console()
    render(two_cases_and_a_bad_one, "table", console)
    text = buffer.getvalue()
    case_level = [line for line in _table_lines(text, "Per case (FCN definitions)", 6) if line.strip()]
    assert case_level[0].split() == ["metric", "mean", "std", "median", "min", "max", "pooled", "n_nan"]
    assert len({len(line.rstrip()) for line in case_level}) == 1  # "n_nan" right-aligned over "0"
    per_class = [line for line in _table_lines(text, "Per class: mean over 2 scored case(s)", 3) if line.strip()]
    assert per_class[0].split()[:2] == ["class", "name"]
    assert [line.split()[:2] for line in per_class[1:]] == [["0", "class_0"], ["1", "class_1"]]
    assert len({len(line.rstrip()) for line in per_class}) == 1
    assert per_class[1].split()[7] == "-"  # no hd95 for the background class


def test_render_csv_has_no_index_column(two_cases_and_a_bad_one):
    from segeval.report.render import render

    console, buffer = _console()
    render(two_cases_and_a_bad_one, "csv", console)
    assert buffer.getvalue().splitlines()[0].startswith("class,")


def test_prepare_out_dir_that_cannot_be_created_says_why(tmp_path):
    from segeval.report.writers import prepare_out_dir

    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(UsageError) as info:
        prepare_out_dir(blocker / "reports")
    assert str(info.value) == f"cannot create report folder {blocker / 'reports'}: Not a directory"


def test_printable_keeps_non_ascii_letters_and_escapes_control_characters():
    from segeval.report.render import printable

    assert printable("foie gras é 肝") == "foie gras é 肝"
    assert printable("a\x1b[31mb\n") == "a\\x1b[31mb\\n"


def test_run_header_creation_time_is_utc():
    from datetime import datetime, timedelta

    from segeval.report.schema import run_header

    header = run_header({"pred": "p"})
    created = datetime.fromisoformat(header["created"])
    assert created.utcoffset() == timedelta(0)
    assert header["created"].endswith("+00:00")
    assert header["inputs"] == {"pred": "p"}
