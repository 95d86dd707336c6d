"""The loss commands and ``segeval metrics`` answer bad options and unwritable outputs with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from segeval.cli import app

ROOT = Path(__file__).resolve().parents[2]
NPY = ROOT / "sample_data" / "npy_probs"
runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["metrics", "--format", "xml"], "error: --format expects one of table, json, csv, quiet, got 'xml'"),
        (["losses", "--family", "nope"], "error: --family expects one of distribution, region, boundary, compound"),
        (["losses", "sweep", "--format", "xml"], "error: --format expects one of table, json, csv, quiet"),
        (["losses", "bench", "--family", "nope"], "error: --family expects one of"),
        (["compare", "a", "b", "--format", "xml"], "error: --format expects one of table, json, csv, quiet"),
    ],
)
def test_enum_options_give_one_line_errors(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr and "╭" not in result.stderr and "Usage:" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["losses", str(NPY / "preds"), str(NPY / "gts"), "--loss", "dice"],
        ["losses", "analyze", str(NPY / "preds"), str(NPY / "gts"), "--loss", "dice"],
        ["losses", "sweep", "--loss", "dice", "--degradation", "erode"],
        ["losses", "bench", "--loss", "dice", "--shape", "1x2x16x16", "--repeats", "1", "--warmup", "0"],
    ],
)
def test_a_report_folder_that_is_a_file_is_a_usage_error_before_any_work(tmp_path, command):
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder")
    result = runner.invoke(app, [*command, "--out", str(blocker), "--format", "quiet"])
    assert result.exit_code == 2
    assert f"error: --out {blocker} is a file" in " ".join(result.stderr.split())


def test_bench_without_memory_writes_its_figure(tmp_path):
    args = ["losses", "bench", "--loss", "dice", "--shape", "1x2x16x16", "--repeats", "1", "--warmup", "0"]
    result = runner.invoke(app, [*args, "--no-memory", "--out", str(tmp_path / "b"), "--format", "quiet"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "b" / "bench.png").stat().st_size > 0
