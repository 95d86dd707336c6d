"""Tests written from mutation testing (mutmut) of segeval/report: summary.json keys, JUnit, Markdown, tables.

Inputs are two hand-made 6 × 6 cases (and a corrupt one); expected numbers are worked out by hand.
"""

from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import segeval
from segeval.quality.gates import parse_gate, verdict
from segeval.report.ci import comparison_markdown, junit_xml, markdown_summary
from segeval.report.render import format_number, render, render_comparison, render_gates
from segeval.report.writers import json_text, to_json_value, write_report

# dice of class 1 in case a and b; class 2 is only in case b
DICE_A, DICE_B = 1.0, 2 * 2 / (2 + 4)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    for side in ("p", "g"):
        (root / side).mkdir()
    gt_a = np.zeros((6, 6), np.uint8)
    gt_a[0:2, 0:2] = 1
    gt_b = gt_a.copy()
    gt_b[4:6, 4:6] = 2
    pred_b = gt_b.copy()
    pred_b[0:2, 1] = 0  # class 1: 2 of 4 predicted
    np.save(root / "g" / "a.npy", gt_a)
    np.save(root / "p" / "a.npy", gt_a)
    np.save(root / "g" / "b.npy", gt_b)
    np.save(root / "p" / "b.npy", pred_b)
    np.save(root / "g" / "c.npy", gt_b)
    (root / "p" / "c.npy").write_bytes(b"corrupt")
    np.save(root / "g" / "d.npy", gt_a)  # no prediction
    return root


@pytest.fixture(scope="module")
def result(folders):
    return segeval.score(
        folders / "p",
        folders / "g",
        allow_missing=True,
        class_names=("bg", "liver", "spleen"),
        gates=["dice[1]>=0.5", "mean_dice.min>=0.9"],
    )


def _document(result) -> dict:
    """``result.to_dict()`` as the JSON of summary.json reads back."""
    return json.loads(json_text(result.to_dict()))


def test_summary_document_keys_and_counts(result, folders):
    document = _document(result)
    expected_keys = [
        "segeval_version",
        "created",
        "inputs",
        "config",
        "config_sources",
        "labels",
        "class_names",
        "counts",
        "failed",
        "missing",
        "missing_pred_policy",
        "skipped_files",
        "dataset",
        "confusion_matrix",
        "metrics",
        "units",
        "distance",
        "summary",
        "status_counts",
        "gates",
        "comparison",
        "cases",
        "versions",
        "timings",
    ]
    assert [key for key in document if key in expected_keys] == expected_keys  # in this order; newer keys may follow
    assert document["segeval_version"] == segeval.__version__
    assert document["inputs"] == {"preds": str(folders / "p"), "gts": str(folders / "g"), "pairs": None}
    assert document["counts"] == {
        "cases": 4,
        "scored": 3,
        "failed": 1,
        "missing_pred": 1,
        "missing_gt": 0,
        "skipped_files": 0,
    }
    assert document["missing"] == {"pred": ["d"], "gt": []}
    assert document["missing_pred_policy"] == "scored as empty prediction"
    assert document["failed"] == [
        {
            "case": "c",
            "pred": str(folders / "p" / "c.npy"),
            "gt": str(folders / "g" / "c.npy"),
            "error": result.failed[0].error,
        }
    ]
    assert result.failed[0].error.startswith(str(folders / "p" / "c.npy"))
    assert document["config"]["device"] == "cpu"
    assert document["comparison"] is None
    assert document["labels"] == [0, 1, 2] and document["class_names"] == ["bg", "liver", "spleen"]
    assert set(document["versions"]) == {
        "segeval",
        "python",
        "numpy",
        "torch",
        "SimpleITK",
        "pillow",
        "pandas",
        "platform",
    }
    assert document["versions"]["numpy"] == np.__version__ and document["versions"]["pandas"] == pd.__version__


def test_summary_document_metric_entries(result):
    metrics = _document(result)["metrics"]
    assert metrics["dice"] == {
        "level": "class",
        "family": "overlap",
        "formula": "2TP / (2TP + FP + FN)",
        "direction": "higher",
        "higher_is_better": True,
        "range": [0, 1],
        "unit": "1",
    }
    assert metrics["tp"]["direction"] == "none" and metrics["tp"]["higher_is_better"] is None
    assert metrics["tp"]["family"] == "count" and metrics["tp"]["range"] == [0, None]
    assert metrics["miou"]["level"] == "case"
    assert list(metrics) == list(dict.fromkeys(result.per_case["metric"]))


def test_summary_document_distance_block_and_cases(folders):
    scored = segeval.score(
        folders / "p" / "b.npy", folders / "g" / "b.npy", metrics=["hd95", "nsd"], nsd_tolerance=2.0, skip_missing=False
    )
    document = _document(scored)
    assert document["distance"] == {
        "metrics": ["hd95", "nsd"],
        "convention": scored.config.convention,
        "empty_policy": scored.config.distance_empty.value,
        "nsd_tolerance_mm": 2.0,
        "boundary_iou_width_mm": scored.config.boundary_iou_width,
    }
    assert document["metrics"]["hd95"]["direction"] == "lower"
    assert document["metrics"]["hd95"]["higher_is_better"] is False
    (case,) = document["cases"]
    assert case == {
        "case": "b",
        "status": "ok",
        "pred": str(folders / "p" / "b.npy"),
        "gt": str(folders / "g" / "b.npy"),
        "error": None,
        "pred_kind": "labels",
        "class_axis": None,
        "threshold": None,
        "shape": [6, 6],
        "spacing_mm": [1.0, 1.0],
        "spacing_source": "default (1 per pixel)",
        "notes": [],
    }


def test_missing_pred_policy_when_skipped(folders):
    skipped = segeval.score(folders / "p", folders / "g", allow_missing=True, skip_missing=True)
    document = _document(skipped)
    assert document["missing_pred_policy"] == "skipped"
    assert document["missing"] == {"pred": ["d"], "gt": []}
    assert document["counts"]["missing_pred"] == 1 and document["counts"]["cases"] == 3


def test_case_entries_of_failed_and_0_255_cases(tmp_path):
    from PIL import Image

    for side in ("p", "g"):
        (tmp_path / side).mkdir()
    mask = np.zeros((5, 7), np.uint8)
    mask[1:4, 2:5] = 255
    Image.fromarray(mask).save(tmp_path / "g" / "m.png")
    Image.fromarray(mask).save(tmp_path / "p" / "m.png")
    document = _document(segeval.score(tmp_path / "p", tmp_path / "g"))
    (case,) = document["cases"]
    assert case["notes"] == ["ground truth 0/255 mapped to 0/1", "prediction 0/255 mapped to 0/1"]
    assert case["status"] == "ok" and case["shape"] == [5, 7]


def test_summary_json_on_disk_is_strict_json(result, tmp_path):
    paths = result.write(tmp_path / "out")
    assert paths == {
        "per_case": tmp_path / "out" / "per_case.csv",
        "summary": tmp_path / "out" / "summary.csv",
        "json": tmp_path / "out" / "summary.json",
    }
    text = paths["json"].read_text()
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-strict JSON constant {name}"))
    assert document["metrics"]["tp"]["range"] == [0, None]  # inf is written as null
    assert document["failed"][0]["pred"].endswith("c.npy")
    summary = pd.read_csv(paths["summary"], dtype={"class": str})
    assert summary.columns.tolist()[:4] == ["class", "class_name", "metric", "mean"]
    per_case = pd.read_csv(paths["per_case"], dtype={"class": str})
    assert len(per_case) == len(result.per_case)


def test_write_report_with_a_prefix(tmp_path):
    table = pd.DataFrame({"a": [1.5, math.nan]})
    paths = write_report(tmp_path / "x", table, table, {"v": math.nan}, prefix="anatomy")
    assert paths == {
        "per_case": tmp_path / "x" / "anatomy_per_case.csv",
        "summary": tmp_path / "x" / "anatomy_summary.csv",
        "json": tmp_path / "x" / "anatomy.json",
    }
    assert json.loads(paths["json"].read_text())["v"] is None
    assert pd.read_csv(paths["per_case"])["a"].tolist()[0] == 1.5


def test_to_json_value():
    value = {
        1: np.int64(3),
        "f": np.float32(0.5),
        "inf": math.inf,
        "arr": np.array([[1, 2]]),
        "t": (np.nan, 2.0),
        "s": "x",
        "b": True,
        "n": None,
    }
    assert to_json_value(value) == {
        "1": 3,
        "f": 0.5,
        "inf": None,
        "arr": [[1, 2]],
        "t": [None, 2.0],
        "s": "x",
        "b": True,
        "n": None,
    }
    assert type(to_json_value(np.int64(3))) is int and type(to_json_value(np.float64(2.0))) is float
    assert json_text({"a": math.nan}) == '{\n  "a": null\n}\n'


def test_format_number():
    assert format_number(math.nan) == "nan"
    assert format_number(None) == "nan"
    assert format_number(math.inf) == "inf" and format_number(-math.inf) == "-inf"
    assert format_number(0.0) == "0.0000"
    assert format_number(2 / 3) == "0.6667"
    assert format_number(2 / 3, 6) == "0.666667"
    assert format_number(3) == "3.0000"


def test_junit_xml_counts_messages_and_errors(result):
    root = ET.fromstring(junit_xml(result.gates, result.failed, suite="seg"))
    assert root.attrib == {"name": "seg", "tests": "3", "failures": "1", "errors": "1"}
    suite = root.find("testsuite")
    assert suite.attrib == {
        "name": "seg",
        "tests": "3",
        "failures": "1",
        "errors": "1",
        "skipped": "0",
        "time": "0",
    }
    passing, failing, error = suite.findall("testcase")
    assert passing.attrib == {"classname": "seg.gates", "name": "dice[1]>=0.5", "time": "0"}
    assert passing.find("failure") is None
    failure = failing.find("failure")
    # mean Dice per case: a 1, b (2/3 + 1)/2, d 0 (empty prediction)
    assert failure.get("message") == "mean_dice.min>=0.9: value 0.000000 (threshold 0.9, margin -0.900000)"
    assert failure.text == failure.get("message") and failure.get("type") == "GateFailed"
    assert error.attrib == {"classname": "seg.inputs", "name": "c", "time": "0"}
    assert error.find("error").get("type") == "InputError"
    assert error.find("error").get("message") == result.failed[0].error
    text = junit_xml([], [])
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites') and text.endswith("\n")


def test_junit_failure_message_carries_the_note():
    failed = verdict(parse_gate("dice>=0.5"), math.nan)
    message = ET.fromstring(junit_xml([failed], [])).find("testsuite/testcase/failure").get("message")
    assert message == "dice>=0.5: value nan (threshold 0.5, margin nan); no value (every case NaN or none scored)"


def test_markdown_summary(result):
    text = markdown_summary(result, result.gates, worst=2)
    lines = text.splitlines()
    assert lines[0] == "## segeval: ❌ failed"
    assert lines[2] == "3 case(s) scored, 1 failed, 1 without prediction, 0 without ground truth."
    assert "| class | metric | mean | median | pooled |" in lines
    assert f"| 1 (liver) | dice | {format_number((DICE_A + DICE_B + 0.0) / 3)} | {format_number(DICE_B)} |" in text
    assert "| all | miou |" in text and "| 1 (liver) | tp |" not in text
    assert "| gate | value | threshold | margin | result |" in lines
    assert f"| dice[1]>=0.5 | {format_number((DICE_A + DICE_B) / 3)} | 0.5000 |" in text
    assert "| mean_dice.min>=0.9 | 0.0000 | 0.9000 | -0.9000 | **FAIL** |" in lines
    worst = lines.index("### Worst cases by mean foreground Dice")
    assert lines[worst + 2 : worst + 6] == [
        "| case | mean Dice |",
        "|---|---|",
        "| d | 0.0000 |",
        f"| b | {format_number((DICE_B + 1.0) / 2)} |",
    ]
    failed = lines.index("### Failed cases")
    assert lines[failed + 4].startswith("| c | ")
    assert text.endswith("\n")


def test_markdown_summary_passes_without_failures_and_escapes_pipes(folders):
    clean = segeval.score(folders / "p" / "a.npy", folders / "g" / "a.npy", class_names=("bg", "a|b"))
    gates = [verdict(parse_gate("dice>=0.5"), 1.0)]
    text = markdown_summary(clean, gates)
    assert text.startswith("## segeval: ✅ passed\n")
    assert "| 1 (a\\|b) | dice |" in text
    assert "| dice>=0.5 | 1.0000 | 0.5000 | 0.5000 | pass |" in text
    assert "### Failed cases" not in text and "### Change versus" not in text


def _comparison(tmp_path):
    from segeval.quality.compare import compare_reports, read_report
    from segeval.quality.gates import parse_limits

    def write(folder, values):
        rows = []
        for case, value in values.items():
            rows.append(
                {"case": case, "class": "1", "class_name": "x", "metric": "dice", "value": value, "status": "ok"}
            )
        folder.mkdir()
        pd.DataFrame(rows).to_csv(folder / "per_case.csv", index=False)
        return folder

    base = write(tmp_path / "base", {"a": 0.5, "b": 0.75, "gone": 0.5})
    cur = write(tmp_path / "cur", {"a": 0.25, "b": 0.75, "new": 0.5})
    return compare_reports(read_report(base), read_report(cur), limits=parse_limits(["dice=0.1"], "drop"))


def test_comparison_markdown(tmp_path):
    comparison = _comparison(tmp_path)
    text = comparison_markdown(comparison)
    lines = text.splitlines()
    assert lines[0] == "## segeval compare: ❌ failed"
    assert (
        lines[2] == f"Baseline `{tmp_path / 'base' / 'per_case.csv'}`, current `{tmp_path / 'cur' / 'per_case.csv'}`."
    )
    assert "| class | metric | n | baseline | current | delta | 95% CI | p |" in lines
    row = next(line for line in lines if line.startswith("| foreground | dice |"))
    assert row.startswith("| foreground | dice | 2 | 0.6250 | 0.5000 | -0.1250 | [")
    assert "| dice.delta >= -0.1 | -0.1250 | **FAIL** |" in lines
    assert "| a | dice | 0.5000 | 0.2500 | -0.2500 |" in lines
    assert lines[-1] == "Cases only in the baseline: gone; only in the current report: new."


def test_markdown_summary_with_a_comparison(result, tmp_path):
    comparison = _comparison(tmp_path)
    text = markdown_summary(result, [], comparison)
    assert f"### Change versus {comparison.baseline}" in text
    assert "| metric | baseline | current | delta | 95% CI | p |" in text
    assert "| dice | 0.6250 | 0.5000 | -0.1250 | [" in text
    assert "### Gates" not in text


def _console(terminal=False):
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=250, color_system=None), buffer


def test_terminal_tables(result):
    console, buffer = _console()
    render(result, "table", console)
    lines = buffer.getvalue().splitlines()
    assert any(line.strip() == "Per class: mean over 3 scored case(s)" for line in lines)
    header = next(line for line in lines if line.split()[:3] == ["class", "name", "dice"]).split()
    assert header[-4:] == ["dice", "pooled", "dice", "n_nan"]
    spleen = next(line for line in lines if " spleen " in line).split()
    # class 2 is in case b only: mean 1, pooled 1, two NaN values (both empty in a and d)
    assert spleen[:3] == ["2", "spleen", "1.0000"] and spleen[-2:] == ["1.0000", "2"]
    liver = next(line for line in lines if " liver " in line).split()
    assert liver[2] == format_number((DICE_A + DICE_B + 0.0) / 3) and liver[-1] == "0"
    header = next(line for line in lines if line.split()[:1] == ["metric"]).split()
    assert header == ["metric", "mean", "std", "median", "min", "max", "pooled", "n_nan"]
    mean_dice = next(line for line in lines if line.startswith("mean_dice")).split()
    values = np.array([1.0, (DICE_B + 1) / 2, 0.0])
    assert mean_dice == [
        "mean_dice",
        format_number(values.mean()),
        format_number(values.std(ddof=1)),
        format_number(np.median(values)),
        "0.0000",
        "1.0000",
        mean_dice[6],
        "0",
    ]


def test_render_formats(result):
    console, buffer = _console()
    render(result, "quiet", console)
    assert buffer.getvalue() == ""
    render(result, "csv", console)
    assert buffer.getvalue() == result.summary.to_csv(index=False)
    console, buffer = _console()
    render(result, "json", console)
    assert json.loads(buffer.getvalue())["counts"]["scored"] == 3
    console, buffer = _console()
    render(result, "table", console)
    assert "Per class: mean over 3 scored case(s)" in buffer.getvalue()
    assert "Per case (FCN definitions)" in buffer.getvalue()


def test_render_gates():
    gates = [verdict(parse_gate("dice>=0.5"), 0.75), verdict(parse_gate("hd95<=2", source="file.toml"), math.nan)]
    console, buffer = _console()
    render_gates(gates, console)
    lines = buffer.getvalue().splitlines()
    assert lines[0].strip() == "Quality gates"
    assert lines[1].split() == ["gate", "value", "threshold", "margin", "result", "source"]
    assert lines[2].split() == ["dice>=0.5", "0.7500", "0.5", "0.2500", "pass", "cli"]
    assert lines[3].split()[:5] == ["hd95<=2", "nan", "2", "nan", "FAIL"]
    assert "no value (every case NaN or none scored)" in lines[3] and lines[3].split()[-1] == "file.toml"


def test_render_comparison(tmp_path):
    comparison = _comparison(tmp_path)
    console, buffer = _console()
    render_comparison(comparison, console)
    text = buffer.getvalue()
    lines = text.splitlines()
    assert "".join(text.split()).startswith("Changeversusbaseline" + "".join(comparison.baseline.split()))
    row = next(line for line in lines if line.startswith("foreground")).split()
    assert row[:6] == ["foreground", "dice", "2", "0.6250", "0.5000", "-0.1250"]
    assert not any(line.startswith("1 ") for line in lines)  # class rows are left out by default
    assert "cases only in the baseline: 1; only in the current report: 1" in text
    assert "Cases that got most worse" in text
    worst = next(line for line in lines if line.startswith("a ")).split()
    assert worst == ["a", "dice", "0.5000", "0.2500", "-0.2500"]
    console, buffer = _console()
    render_comparison(comparison, console, classes=())
    assert any(line.startswith("1 ") for line in buffer.getvalue().splitlines())
