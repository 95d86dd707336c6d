"""The ``segeval`` command (Typer's CliRunner; stdout and stderr are captured separately) and the
report files it and ``ScoreResult.write`` produce.

Contract (segeval/cli.py, docs/cli.md): exit 0 when every case was scored, 2 for a usage error,
3 when a case failed or the folders cannot be paired; results on stdout, warnings and errors on
stderr, one line each, never a traceback for a user error.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.errors import UsageError

PER_CASE_COLUMNS = ["case", "class", "class_name", "metric", "value", "status"]
SUMMARY_COLUMNS = [
    "class",
    "class_name",
    "metric",
    "mean",
    "std",
    "median",
    "q25",
    "q75",
    "min",
    "max",
    "n",
    "n_nan",
    "pooled",
]
SUMMARY_EXTRA_COLUMNS = ["ci_low", "ci_high"]
"""Added after the report format was first specified (bootstrap interval of the mean), after ``pooled``."""


def assert_summary_columns(columns) -> None:
    columns = list(columns)
    assert columns[: len(SUMMARY_COLUMNS)] == SUMMARY_COLUMNS
    assert columns[len(SUMMARY_COLUMNS) :] in ([], SUMMARY_EXTRA_COLUMNS)


REPORT_FILES = {"per_case.csv", "summary.csv", "summary.json"}


def flat(text: str) -> str:
    """Whitespace collapsed, so that a check does not depend on where a console wraps a line."""
    return " ".join(text.split())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: object):
    result = runner.invoke(app, [str(a) for a in args])
    # never a traceback, whatever happened
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def folders(files, gt2d, make_labels):
    """Three good cases a, b, c (PNG, NPY and 2-D NIfTI predictions against PNG/NIfTI references)."""
    cases = {
        "a": (make_labels(1), gt2d),
        "b": (make_labels(2), make_labels(3)),
        "c": (make_labels(4), make_labels(5)),
    }
    files.image("p/a.png", cases["a"][0])
    files.image("g/a.png", cases["a"][1])
    files.npy("p/b.npy", cases["b"][0])
    files.image("g/b.png", cases["b"][1])
    files.sitk_image("p/c.nii.gz", cases["c"][0])
    files.sitk_image("g/c.nii.gz", cases["c"][1])
    return files.root / "p", files.root / "g", cases


def _dice(pred, gt, label):
    p, g = pred == label, gt == label
    return 2.0 * np.sum(p & g) / (np.sum(p) + np.sum(g))


# --------------------------------------------------------------------------------------------
# Exit codes, stdout and stderr
# --------------------------------------------------------------------------------------------


def test_ok_run_exits_0_with_tables_on_stdout_and_nothing_alarming_on_stderr(runner, folders):
    p, g, cases = folders
    result = invoke(runner, "score", p, g)
    assert result.exit_code == 0, result.stderr
    assert "Per class: mean over 3 scored case(s)" in result.stdout
    assert "Per case (FCN definitions)" in result.stdout
    assert "dice" in result.stdout and "mean_dice" in result.stdout
    mean_dice_1 = np.mean([_dice(pr, gt, 1) for pr, gt in cases.values()])
    row = next(line for line in result.stdout.splitlines() if line.startswith("1 "))
    assert f"{mean_dice_1:.4f}" in row.split()
    assert "error" not in result.stderr and "warning" not in result.stderr and "failed" not in result.stderr


def test_format_json_is_strict_json_with_the_expected_numbers(runner, folders, strict_json):
    p, g, cases = folders
    result = invoke(runner, "score", p, g, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    assert document["labels"] == [0, 1, 2]
    assert document["counts"]["scored"] == 3 and document["failed"] == []
    assert [c["case"] for c in document["cases"]] == ["a", "b", "c"]
    rows = {(r["class"], r["metric"]): r for r in document["summary"]}
    for label in (1, 2):
        values = [_dice(pr, gt, label) for pr, gt in cases.values()]
        assert rows[(str(label), "dice")]["mean"] == pytest.approx(np.mean(values))
        assert rows[(str(label), "dice")]["median"] == pytest.approx(np.median(values))
        assert rows[(str(label), "dice")]["n"] == 3
        tp = sum(np.sum((pr == label) & (gt == label)) for pr, gt in cases.values())
        size = sum(np.sum(pr == label) + np.sum(gt == label) for pr, gt in cases.values())
        assert rows[(str(label), "dice")]["pooled"] == pytest.approx(2 * tp / size)
    assert result.stderr == ""


def test_format_csv_parses_with_pandas(runner, folders):
    p, g, cases = folders
    result = invoke(runner, "score", p, g, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), dtype={"class": str})
    assert_summary_columns(table.columns)
    row = table[(table["class"] == "2") & (table["metric"] == "iou")].iloc[0]
    ious = []
    for pr, gt in cases.values():
        pm, gm = pr == 2, gt == 2
        ious.append(np.sum(pm & gm) / np.sum(pm | gm))
    assert row["mean"] == pytest.approx(np.mean(ious), rel=1e-12)
    assert row["std"] == pytest.approx(np.std(ious, ddof=1), rel=1e-12)
    assert row["n"] == 3 and row["n_nan"] == 0


def test_format_quiet_prints_nothing_on_stdout(runner, folders):
    p, g, _ = folders
    result = invoke(runner, "score", p, g, "--format", "quiet")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_out_writes_the_three_reports(runner, folders, tmp_path, strict_json):
    p, g, cases = folders
    out = tmp_path / "reports" / "run1"
    result = invoke(runner, "score", p, g, "--out", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert set(os.listdir(out)) == REPORT_FILES
    assert "reports written to" in flat(result.stderr) and str(out) in flat(result.stderr)
    strict_json(result.stdout)  # the note went to stderr, stdout is still pure JSON
    per_case = pd.read_csv(out / "per_case.csv", dtype={"class": str})
    assert list(per_case.columns) == PER_CASE_COLUMNS
    value = per_case[(per_case["case"] == "b") & (per_case["class"] == "1") & (per_case["metric"] == "dice")]
    assert float(value["value"].iloc[0]) == pytest.approx(_dice(*cases["b"], 1))
    assert strict_json((out / "summary.json").read_text())["counts"]["cases"] == 3


def test_failed_case_exits_3_reports_on_stderr_and_still_prints_results(runner, folders, files, gt2d, strict_json):
    p, g, _ = folders
    files.raw("p/bad.png", b"definitely not a png")
    files.image("g/bad.png", gt2d)
    result = invoke(runner, "score", p, g, "--format", "json")
    assert result.exit_code == 3
    err = flat(result.stderr)
    assert re.search(r"failed: bad: \S*p/bad\.png: not a readable image \(corrupt or not really \.png\)", err)
    assert "1 of 4 case(s) failed; the others were scored" in err
    document = strict_json(result.stdout)
    assert [f["case"] for f in document["failed"]] == ["bad"]
    assert document["counts"]["scored"] == 3


def test_unpairable_folders_exit_3_with_one_error_line_and_a_hint(runner, folders, files, gt2d):
    p, g, _ = folders
    files.image("g/lonely.png", gt2d)
    result = invoke(runner, "score", p, g)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("error: unmatched files: 1 ground truth(s) without prediction: lonely")
    assert "hint: --allow-missing" in flat(result.stderr)


def test_missing_folder_exits_3(runner, files, gt2d):
    files.image("g/a.png", gt2d)
    result = invoke(runner, "score", files.root / "nowhere", files.root / "g")
    assert result.exit_code == 3
    assert re.search(r"error: prediction folder \S*nowhere does not exist", flat(result.stderr))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels", "1,x"], r"error: --labels expects comma-separated integers, got '1,x'"),
        (["--labels", "0,1", "--num-classes", "2"], r"error: give either --labels or --num-classes, not both"),
        (["--labels", "0,0"], r"error: --labels must be distinct label values, got \[0, 0\]"),
        (["--num-classes", "0"], r"error: --num-classes must be at least 1, got 0"),
        (["--ignore-index", "1", "--labels", "0,1"], r"error: --ignore-index 1 is also one of --labels"),
        (["--empty-score", "2"], r"error: --empty-score must be nan or within \[0, 1\], got 2\.0"),
        (["--empty-score", "high"], r"error: --empty-score expects nan or a number, got 'high'"),
        (["--spacing", "1,a"], r"error: --spacing expects comma-separated numbers, got '1,a'"),
        (["--spacing", "0,1"], r"error: --spacing must be positive numbers, got \[0\.0, 1\.0\]"),
        (["--device", "tpu"], r"error: --device must be auto, cpu, cuda or cuda:N, got 'tpu'"),
        (["--workers", "0"], r"error: --workers must be at least 1, got 0"),
        (["--class-names", "x,y"], r"error: --class-names gives 2 names for 3 labels \[0, 1, 2\]"),
        (["--format", "xml"], r"error: --format expects one of table, json, csv, quiet, got 'xml'"),
        (["--pred-kind", "maybe"], r"error: --pred-kind expects one of auto, labels, probs, logits, got 'maybe'"),
        (["--no-such-option"], r"No such option: --no-such-option"),
    ],
)
def test_usage_errors_exit_2_with_a_message_on_stderr(runner, folders, args, message):
    p, g, _ = folders
    result = invoke(runner, "score", p, g, *args)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert re.search(message, flat(result.stderr)), result.stderr
    assert result.stdout == ""


def test_score_without_folders_is_a_usage_error(runner):
    result = invoke(runner, "score")
    assert result.exit_code == 2
    assert "error: give the PREDS and GTS folders (or --pairs manifest.csv)" in flat(result.stderr)


def test_unavailable_cuda_is_a_usage_error_with_a_hint(runner, folders):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    p, g, _ = folders
    result = invoke(runner, "score", p, g, "--device", "cuda")
    assert result.exit_code == 2
    assert "error: device 'cuda' requested but CUDA is not available" in flat(result.stderr)
    assert "hint: use --device cpu" in flat(result.stderr)


def test_out_that_is_a_file_is_a_usage_error(runner, folders, files):
    p, g, _ = folders
    target = files.text("taken.txt", "x")
    result = invoke(runner, "score", p, g, "--out", target)
    assert result.exit_code == 2
    assert re.search(r"error: --out \S*taken\.txt is a file; give a folder for the reports", flat(result.stderr))
    assert target.read_text() == "x"


def test_warnings_go_to_stderr_and_stdout_stays_parseable(runner, files, gt2d, make_labels, strict_json):
    binary = (gt2d == 1).astype(np.uint8) * 255
    files.image("p/a.png", binary)
    files.image("g/a.png", binary)
    files.image("g/no_pred.png", binary)
    files.image("p/no_gt.png", binary)
    files.text("p/notes.txt", "not an image")
    result = invoke(runner, "score", files.root / "p", files.root / "g", "--allow-missing", "--format", "json")
    assert result.exit_code == 0, result.stderr
    err = flat(result.stderr)
    assert "warning: skipped 1 file(s) with unsupported extensions, e.g." in err and "notes.txt" in err
    assert "warning: 1 case(s) without prediction scored as empty predictions: no_pred" in err
    assert "warning: 1 prediction(s) without ground truth not scored: no_gt" in err
    assert "note: 2 case(s) had 0/255 binary masks, read as labels 0/1" in err
    document = strict_json(result.stdout)
    assert document["missing"] == {"pred": ["no_pred"], "gt": ["no_gt"]}
    assert "warning:" not in result.stdout and "note:" not in result.stdout


def test_skip_missing_says_on_stderr_which_cases_were_skipped(runner, files, gt2d, strict_json):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    files.image("g/skipped_one.png", gt2d)
    result = invoke(runner, "score", files.root / "p", files.root / "g", "--skip-missing", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert [c["case"] for c in strict_json(result.stdout)["cases"]] == ["a"]
    assert "skipped_one" in result.stderr


def test_every_case_failing_exits_3_and_still_prints_the_tables(runner, files, gt2d):
    files.raw("p/a.png", b"junk")
    files.image("g/a.png", gt2d)
    result = invoke(runner, "score", files.root / "p", files.root / "g")
    assert result.exit_code == 3
    assert "Per class: mean over 0 scored case(s)" in result.stdout
    assert "all 1 case(s) failed; none was scored" in flat(result.stderr)


def test_options_reach_the_recorded_config(runner, files, gt2d, rng, strict_json):
    logits = rng.normal(size=(*gt2d.shape, 3)).astype(np.float32)
    files.npy("p/case_1_pred.npy", logits)
    files.image("g/sub/case_1.png", gt2d)
    result = invoke(
        runner,
        "score",
        files.root / "p",
        files.root / "g" / "sub",
        "--format",
        "json",
        "--labels",
        "0, 1,2",
        "--class-names",
        "0=bg,1=liver,2=tumour",
        "--channel-axis",
        "-1",
        "--pred-suffix",
        "_pred",
        "--empty-score",
        "1",
        "--include-background",
        "--spacing",
        "0.5x2",
        "--pred-kind",
        "LOGITS",
        "--workers",
        "1",
        "--batch-size",
        "2",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.stderr
    document = strict_json(result.stdout)
    config = document["config"]
    assert config["labels"] == [0, 1, 2]
    assert config["class_names"] == ["0=bg", "1=liver", "2=tumour"]
    assert document["class_names"] == ["bg", "liver", "tumour"]
    assert (config["channel_axis"], config["pred_suffix"], config["empty_score"]) == (-1, "_pred", 1.0)
    assert (config["include_background"], config["pred_kind"], config["spacing"]) == (True, "logits", [0.5, 2.0])
    assert (config["workers"], config["batch_size"], config["device"]) == (1, 2, "cpu")
    case = document["cases"][0]
    assert (case["case"], case["pred_kind"], case["class_axis"], case["spacing_mm"]) == (
        "case_1",
        "logits",
        2,
        [0.5, 2.0],
    )
    expected = logits.argmax(axis=-1)
    dice = {r["class"]: r["mean"] for r in document["summary"] if r["metric"] == "dice"}
    assert dice["1"] == pytest.approx(_dice(expected, gt2d, 1))


def test_pairs_manifest_and_recursive_from_the_command_line(runner, files, gt2d, make_labels, strict_json):
    pred = make_labels(8)
    files.image("run/p/x/a.png", pred)
    files.image("run/g/x/a.png", gt2d)
    manifest = files.text("run/pairs.csv", "case,pred,gt\nmine,p/x/a.png,g/x/a.png\n")
    by_manifest = invoke(runner, "score", "--pairs", manifest, "--format", "json")
    assert by_manifest.exit_code == 0, by_manifest.stderr
    assert [c["case"] for c in strict_json(by_manifest.stdout)["cases"]] == ["mine"]
    recursive = invoke(runner, "score", files.root / "run" / "p", files.root / "run" / "g", "-r", "-f", "json")
    assert recursive.exit_code == 0, recursive.stderr
    assert [c["case"] for c in strict_json(recursive.stdout)["cases"]] == ["x/a"]


def test_malformed_manifest_row_is_a_usage_error_without_traceback(runner, files, gt2d):
    files.image("p/a.png", gt2d)
    manifest = files.text("pairs.csv", "pred,gt\np/a.png\n")
    result = invoke(runner, "score", "--pairs", manifest)
    assert result.exit_code == 2, (result.exit_code, repr(result.exception))
    assert re.search(r"error: .*pairs\.csv", flat(result.stderr))


# --------------------------------------------------------------------------------------------
# --version, metrics, python -m segeval
# --------------------------------------------------------------------------------------------


def test_version(runner):
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout == f"segeval {segeval.__version__}\n"


def test_metrics_lists_the_catalog(runner):
    table = invoke(runner, "metrics")
    assert table.exit_code == 0
    names = {line.split()[0] for line in table.stdout.splitlines() if line.strip()}
    assert {"dice", "iou", "miou", "fwiou", "pixel_accuracy", "mean_dice"} <= names

    as_json = invoke(runner, "metrics", "--format", "json")
    rows = {row["name"]: row for row in json.loads(as_json.stdout)}
    assert {"dice", "iou", "miou", "fwiou"} <= set(rows)
    assert rows["dice"]["direction"] == "higher" and "dsc" in rows["dice"]["aliases"]
    assert rows["hd"]["direction"] == "lower" and rows["volume_similarity"]["range"] == [0, 1]
    assert rows["miou"]["level"] == "case"

    as_csv = pd.read_csv(io.StringIO(invoke(runner, "metrics", "-f", "csv").stdout))
    assert {"dice", "iou", "miou", "fwiou"} <= set(as_csv["name"])


def test_no_arguments_shows_help(runner):
    result = runner.invoke(app, [])
    assert "score" in result.stdout and "metrics" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_python_dash_m_segeval(files, gt2d):
    env = {**os.environ, "COLUMNS": "200"}
    version = subprocess.run(
        [sys.executable, "-m", "segeval", "--version"], capture_output=True, text=True, timeout=120, env=env
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"segeval {segeval.__version__}"

    files.image("g/a.png", gt2d)
    failing = subprocess.run(
        [sys.executable, "-m", "segeval", "score", str(files.root / "none"), str(files.root / "g")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert failing.returncode == 3
    assert failing.stdout == ""
    assert "error: prediction folder" in flat(failing.stderr) and "Traceback" not in failing.stderr


# --------------------------------------------------------------------------------------------
# Report files (ScoreResult.write, also behind --out)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def scored(files, gt2d, make_labels):
    """Two cases where class 2 is absent from both sides of case y (Dice NaN, status both_empty)."""
    pred_x, gt_x = make_labels(1), gt2d
    gt_y = np.where(make_labels(2) == 2, 0, make_labels(2)).astype(np.uint8)
    pred_y = np.where(make_labels(3) == 2, 1, make_labels(3)).astype(np.uint8)
    files.image("p/x.png", pred_x)
    files.image("g/x.png", gt_x)
    files.image("p/y.png", pred_y)
    files.image("g/y.png", gt_y)
    result = segeval.score(files.root / "p", files.root / "g")
    return result, {"x": (pred_x, gt_x), "y": (pred_y, gt_y)}


def test_write_gives_three_files_that_pandas_and_json_read_back(scored, tmp_path, strict_json):
    result, cases = scored
    paths = result.write(tmp_path / "out")
    assert {p.name for p in paths.values()} == REPORT_FILES
    assert set(os.listdir(tmp_path / "out")) == REPORT_FILES  # nothing else (no temp files)

    per_case = pd.read_csv(paths["per_case"], dtype={"class": str})
    summary = pd.read_csv(paths["summary"], dtype={"class": str})
    assert list(per_case.columns) == PER_CASE_COLUMNS
    assert_summary_columns(summary.columns)

    # per_case: full precision, NaN as an empty field with its status
    for case, (pred, gt) in cases.items():
        for label in (0, 1):
            row = per_case[
                (per_case["case"] == case) & (per_case["class"] == str(label)) & (per_case["metric"] == "dice")
            ]
            assert float(row["value"].iloc[0]) == _dice(pred, gt, label)  # exact: written with 17 digits
    both_empty = per_case[(per_case["case"] == "y") & (per_case["class"] == "2") & (per_case["metric"] == "dice")]
    assert np.isnan(both_empty["value"].iloc[0]) and both_empty["status"].iloc[0] == "both_empty"

    # summary: statistics over cases with a value; n / n_nan count them
    dice_2 = summary[(summary["class"] == "2") & (summary["metric"] == "dice")].iloc[0]
    assert (dice_2["n"], dice_2["n_nan"]) == (1, 1)
    assert dice_2["mean"] == pytest.approx(_dice(*cases["x"], 2))
    assert np.isnan(dice_2["std"])
    dice_1 = summary[(summary["class"] == "1") & (summary["metric"] == "dice")].iloc[0]
    values = [_dice(p, g, 1) for p, g in cases.values()]
    assert dice_1["mean"] == pytest.approx(np.mean(values))
    assert dice_1["q25"] == pytest.approx(np.percentile(values, 25))
    assert (dice_1["min"], dice_1["max"]) == (pytest.approx(min(values)), pytest.approx(max(values)))

    # summary.json: strict JSON, NaN as null
    text = paths["json"].read_text()
    assert "NaN" not in text and "Infinity" not in text
    document = strict_json(text)
    json_row = next(r for r in document["summary"] if r["class"] == "2" and r["metric"] == "dice")
    assert json_row["std"] is None
    assert {"segeval", "python", "numpy", "torch", "SimpleITK", "pillow", "pandas", "platform"} <= set(
        document["versions"]
    )
    assert document["versions"]["segeval"] == segeval.__version__
    assert {"total_s", "pairing_s", "load_and_count_s", "aggregate_s", "per_case_ms"} <= set(document["timings"])
    assert all(isinstance(v, (int, float)) and v >= 0 for v in document["timings"].values())
    assert document["config"]["labels"] is None and document["config"]["empty_score"] is None
    assert document["failed"] == [] and document["missing"] == {"pred": [], "gt": []}
    assert document["confusion_matrix"]["rows"] == "reference"


def test_json_records_failed_and_missing_cases(files, gt2d, tmp_path, strict_json):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    files.image("g/b.png", gt2d)
    files.npy("p/c.npy", gt2d[:, :10])
    files.image("g/c.png", gt2d)
    result = segeval.score(files.root / "p", files.root / "g", allow_missing=True, labels=(0, 1, 2))
    document = strict_json(result.write(tmp_path / "out")["json"].read_text())
    assert document["missing"] == {"pred": ["b"], "gt": []}
    assert document["failed"] == [
        {
            "case": "c",
            "pred": str(files.root / "p" / "c.npy"),
            "gt": str(files.root / "g" / "c.png"),
            "error": f"{files.root / 'p' / 'c.npy'}: prediction shape (23, 10) does not match ground-truth shape (23, 37)"
            " (nor with one class axis more)",
        }
    ]
    assert document["config"]["labels"] == [0, 1, 2] and document["config"]["allow_missing"] is True


def test_rewriting_replaces_the_reports(files, gt2d, make_labels, tmp_path):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    out = tmp_path / "out"
    segeval.score(files.root / "p", files.root / "g").write(out)
    files.image("p/a.png", make_labels(6))
    segeval.score(files.root / "p", files.root / "g").write(out)
    per_case = pd.read_csv(out / "per_case.csv", dtype={"class": str})
    value = per_case[(per_case["class"] == "1") & (per_case["metric"] == "dice")]["value"].iloc[0]
    assert value == pytest.approx(_dice(make_labels(6), gt2d, 1))
    assert set(os.listdir(out)) == REPORT_FILES


@pytest.mark.parametrize("failing_call", [1, 3], ids=["per_case.csv", "summary.json"])
def test_exception_while_writing_keeps_the_previous_file_and_no_temp_file(scored, tmp_path, monkeypatch, failing_call):
    result, _ = scored
    out = tmp_path / "out"
    result.write(out)
    before = {name: (out / name).read_bytes() for name in REPORT_FILES}

    import segeval.report.writers as writers

    calls = {"n": 0}
    real_fsync = writers.os.fsync

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(writers.os, "fsync", failing_fsync)
    monkeypatch.setattr(result, "per_case", result.per_case.assign(value=0.123))  # new content, if it got through
    with pytest.raises(OSError, match="No space left on device"):
        result.write(out)
    assert set(os.listdir(out)) == REPORT_FILES  # no leftover temp file
    target = "per_case.csv" if failing_call == 1 else "summary.json"
    assert (out / target).read_bytes() == before[target]


def test_exception_in_the_middle_of_serialising_keeps_the_previous_file(scored, tmp_path, monkeypatch):
    result, _ = scored
    out = tmp_path / "out"
    result.write(out)
    before = (out / "per_case.csv").read_bytes()

    def half_then_fail(self, handle, **kwargs):
        handle.write("class,class_name\n1,half")
        raise RuntimeError("interrupted while writing")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(RuntimeError, match="interrupted while writing"):
        result.write(out)
    assert (out / "per_case.csv").read_bytes() == before
    assert set(os.listdir(out)) == REPORT_FILES


def test_report_files_get_the_usual_permissions(scored, tmp_path):
    """Atomic writing must not change who can read the reports: mode 0o666 minus the umask, as open() gives."""
    result, _ = scored
    umask = os.umask(0o022)
    os.umask(umask)
    paths = result.write(tmp_path / "out")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    expected = stat.S_IMODE(plain.stat().st_mode)
    for path in paths.values():
        assert oct(stat.S_IMODE(path.stat().st_mode)) == oct(expected), path.name


def test_write_into_a_file_path_is_a_usage_error(scored, tmp_path):
    result, _ = scored
    target = tmp_path / "file"
    target.write_text("keep")
    with pytest.raises(UsageError, match=r"--out \S*file is a file; give a folder for the reports"):
        result.write(target)
    assert target.read_text() == "keep"
