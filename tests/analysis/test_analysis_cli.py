"""``segeval losses analyze | sweep | bench``: exit codes, stdout formats, files and figures."""

from __future__ import annotations

import json
import shutil
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from segeval.analysis import analyze_losses
from segeval.cli import app

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "npy_probs"
runner = CliRunner()


def _png_ok(path: Path, max_kb: int = 1500) -> tuple[int, int]:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 2_000 < path.stat().st_size < max_kb * 1024
    with Image.open(path) as image:
        assert image.width >= 300 and image.height >= 120
        return image.size


def test_analyze_writes_tables_and_figures(tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "losses",
            "analyze",
            str(SAMPLE / "preds"),
            str(SAMPLE / "gts"),
            "--loss",
            "ce",
            "--loss",
            "dice",
            "--loss",
            "boundary",
            "--case",
            "slice_001",
            "--out",
            str(out),
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(StringIO(result.stdout))
    assert summary["loss"].tolist() == ["ce", "dice", "boundary"]
    assert (summary["n"] == 3).all()
    per_case = pd.read_csv(out / "anatomy_per_case.csv")
    assert len(per_case) == 9 and set(per_case["case"]) == {"slice_000", "slice_001", "slice_002"}
    document = json.loads((out / "anatomy.json").read_text())
    assert document["maps"] == {"case": "slice_001", "slice": None}
    assert document["config"]["bands_mm"] == [1.0, 3.0, 10.0]
    _png_ok(out / "gradient_heatmaps.png")
    _png_ok(out / "gradient_shares.png")
    assert "analysis written to" in result.stderr


def test_analyze_json_and_options(tmp_path):
    result = runner.invoke(
        app,
        [
            "losses",
            "analyze",
            str(SAMPLE / "preds"),
            str(SAMPLE / "gts"),
            "--family",
            "boundary",
            "--bands",
            "0.5,2",
            "--hard-threshold",
            "0.3",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["losses"] == ["boundary", "hausdorff_dt", "log_hausdorff_dt", "erosion_hausdorff", "shape_aware"]
    assert set(document["summary"][0]) >= {"band_0-0.5px", "band_0.5-2px", "band_>2px"}  # NPY: no spacing
    assert "p_t < 0.3" in document["definitions"]["hard"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--bands", "3,1"], "--bands"),
        (["--case", "nope"], "--case"),
        (["--hard-threshold", "1.5"], "--hard-threshold"),
        (["--loss", "dicee"], "dice"),
    ],
)
def test_analyze_usage_errors_exit_2(arguments, message):
    result = runner.invoke(app, ["losses", "analyze", str(SAMPLE / "preds"), str(SAMPLE / "gts"), *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_analyze_a_failed_case_exits_3_and_keeps_the_others(tmp_path):
    preds, gts = tmp_path / "p", tmp_path / "g"
    shutil.copytree(SAMPLE / "preds", preds)
    shutil.copytree(SAMPLE / "gts", gts)
    np.save(preds / "slice_002.npy", np.zeros((128, 96), np.uint8))  # labels, not scores
    result = runner.invoke(
        app,
        [
            "losses",
            "analyze",
            str(preds),
            str(gts),
            "--loss",
            "bce",
            "--format",
            "quiet",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "failed: slice_002" in result.stderr and result.stdout == ""
    per_case = pd.read_csv(tmp_path / "out" / "anatomy_per_case.csv")
    assert per_case.set_index("case").at["slice_002", "status"] == "failed"
    assert (per_case[per_case["case"] != "slice_002"]["status"] == "ok").all()


def test_analyze_a_3d_case_picks_a_slice(tmp_path, files):
    reference = np.zeros((6, 20, 24), np.uint8)
    reference[1:5, 5:15, 6:18] = 1
    reference[3, 2:18, 2:22] = 1  # slice 3 holds the most foreground
    probs = np.where(reference == 1, 0.8, 0.1).astype(np.float32)
    files.sitk_image("g/vol.nii.gz", reference, spacing=(0.8, 0.8, 2.5))
    files.sitk_image("p/vol.nii.gz", probs, spacing=(0.8, 0.8, 2.5))
    result = analyze_losses(files.root / "p", files.root / "g", losses=["bce", "boundary"])
    assert result.maps.slice_index == 3 and result.maps.reference.shape == (20, 24)
    assert result.maps.spacing_mm == pytest.approx((0.8, 0.8))
    assert (result.per_case["status"] == "ok").all()
    chosen = analyze_losses(files.root / "p", files.root / "g", losses=["bce"], slice_index=1)
    assert chosen.maps.slice_index == 1
    bad = runner.invoke(
        app, ["losses", "analyze", str(files.root / "p"), str(files.root / "g"), "--loss", "bce", "--slice", "9"]
    )
    assert bad.exit_code == 2 and "--slice 9" in bad.stderr


def test_sweep_on_generated_masks(tmp_path):
    out = tmp_path / "sweep"
    result = runner.invoke(
        app,
        [
            "losses",
            "sweep",
            "--shape",
            "64x64",
            "--loss",
            "bce",
            "--loss",
            "dice",
            "-d",
            "shift",
            "-d",
            "fp_blobs",
            "--levels",
            "shift=0,2",
            "--levels",
            "fp_blobs=0,1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "hard_dice" in result.stdout and "hd95" in result.stdout
    table = pd.read_csv(out / "sweep.csv")
    assert set(table["degradation"]) == {"shift", "fp_blobs"}
    assert set(table["name"]) == {"bce", "dice", "hard_dice", "hd95"}
    for name in ("sweep.png", "sweep_matrix.png", "sweep_examples.png"):
        _png_ok(out / name)
    assert json.loads((out / "sweep.json").read_text())["options"]["confidence"] == 3.0


def test_sweep_on_a_given_case_and_errors(files):
    labels = np.zeros((40, 44), np.uint8)
    labels[8:30, 10:30] = 1
    path = files.image("ref.png", labels)
    result = runner.invoke(
        app,
        [
            "losses",
            "sweep",
            "--reference",
            str(path),
            "--loss",
            "bce",
            "-d",
            "erode",
            "-d",
            "drop_object",
            "--levels",
            "erode=0,1",
            "--levels",
            "drop_object=0,1",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(StringIO(result.stdout))
    assert (table[table["degradation"] == "drop_object"]["status"].tolist()[-3:]) == ["skipped"] * 3
    assert "skipped: drop_object level 1" in result.stderr
    missing = runner.invoke(app, ["losses", "sweep", "--reference", str(files.root / "none.png")])
    assert missing.exit_code == 3 and "file not found" in missing.stderr
    assert runner.invoke(app, ["losses", "sweep", "-d", "blur"]).exit_code == 2
    assert runner.invoke(app, ["losses", "sweep", "--label", "1"]).exit_code == 2
    assert runner.invoke(app, ["losses", "sweep", "--levels", "shift"]).exit_code == 2


def test_bench_writes_table_and_chart(tmp_path):
    out = tmp_path / "bench"
    result = runner.invoke(
        app,
        [
            "losses",
            "bench",
            "--loss",
            "ce",
            "--loss",
            "hausdorff_dt",
            "--shape",
            "1x2x20x20",
            "--shape",
            "1x1x6x12x12",
            "--warmup",
            "0",
            "--repeats",
            "2",
            "--out",
            str(out),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["rows"]) == 4 and document["machine"]["device"] == "cpu"
    assert pd.read_csv(out / "bench.csv")["status"].eq("ok").all()
    _png_ok(out / "bench.png")
    assert runner.invoke(app, ["losses", "bench", "--shape", "8x4"]).exit_code == 2
    assert runner.invoke(app, ["losses", "bench", "--repeats", "0", "--loss", "ce"]).exit_code == 2


def test_the_default_command_still_runs():
    catalog = runner.invoke(app, ["losses", "--family", "boundary", "--format", "csv"])
    assert catalog.exit_code == 0 and "hausdorff_dt" in catalog.stdout
    values = runner.invoke(
        app, ["losses", str(SAMPLE / "preds"), str(SAMPLE / "gts"), "--loss", "ce", "--format", "csv"]
    )
    assert values.exit_code == 0, values.output
    table = runner.invoke(app, ["losses", "--family", "distribution"])
    assert "-mean[g ln p + (1-g) ln(1-p)]" in table.stdout  # brackets are not read as rich markup
    assert runner.invoke(app, ["losses", "analyze", "--help"]).exit_code == 0


def test_sweep_shape_and_spacing_options(tmp_path):
    result = runner.invoke(
        app,
        [
            "losses",
            "sweep",
            "--shape",
            "40x48x36",
            "--spacing",
            "2",
            "--loss",
            "bce",
            "-d",
            "shift",
            "--levels",
            "shift=0,1",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["shape"] == [40, 48, 36] and document["spacing_mm"] == [2.0, 2.0, 2.0]
    hd95 = [r for r in document["rows"] if r["name"] == "hd95" and r["level"] == 1.0][0]
    assert hd95["value"] == 2.0  # 1 px at 2 mm
    bad = runner.invoke(app, ["losses", "sweep", "--shape", "1x1x64x64"])
    assert bad.exit_code == 2 and "2 or 3 sizes" in bad.stderr
