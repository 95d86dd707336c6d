"""segeval losses: the catalog command and losses computed on files, against torch built-ins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from segeval.analysis.evaluate import evaluate_losses
from segeval.cli import app
from segeval.losses import list_losses

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "npy_probs"
runner = CliRunner()


def test_catalog_command_lists_every_loss_and_filters_by_family():
    everything = runner.invoke(app, ["losses", "--format", "csv"])
    assert everything.exit_code == 0, everything.output
    table = pd.read_csv(pd.io.common.StringIO(everything.stdout))
    assert table["name"].tolist() == list_losses()
    region = runner.invoke(app, ["losses", "--family", "region", "--format", "json"])
    assert [row["name"] for row in __import__("json").loads(region.stdout)] == list_losses("region")
    assert runner.invoke(app, ["losses", "--family", "regoin"]).exit_code == 2


def test_multiclass_probabilities_match_torch_cross_entropy():
    result = evaluate_losses(SAMPLE / "preds", SAMPLE / "gts", losses=["ce", "nll", "dice"])
    for case in ("slice_000", "slice_001", "slice_002"):
        probs = torch.from_numpy(np.load(SAMPLE / "preds" / f"{case}.npy")).double()[None]
        target = torch.from_numpy(np.array(Image.open(SAMPLE / "gts" / f"{case}.png")).astype(np.int64))[None]
        expected = F.nll_loss(torch.log(probs), target).item()
        rows = result.per_case[result.per_case["case"] == case].set_index("loss")
        assert rows.at["ce", "value"] == pytest.approx(expected, rel=1e-5)
        assert rows.at["nll", "value"] == pytest.approx(expected, rel=1e-5)
        assert rows.at["ce", "mode"] == "multiclass"
    assert [c.pred_kind for c in result.cases] == ["probs"] * 3


def test_single_channel_logits_against_a_binary_png_mask(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    mask = (rng.random((23, 31)) < 0.3).astype(np.uint8)
    logits = (rng.normal(size=(23, 31)) * 3).astype(np.float32)
    Image.fromarray(mask * 255).save(tmp_path / "g" / "a.png")
    np.save(tmp_path / "p" / "a.npy", logits)
    result = evaluate_losses(tmp_path / "p", tmp_path / "g", losses=["bce", "dice"])
    row = result.per_case.set_index("loss")
    expected = F.binary_cross_entropy_with_logits(
        torch.from_numpy(logits).double(), torch.from_numpy(mask).double()
    ).item()
    assert row.at["bce", "value"] == pytest.approx(expected, rel=1e-5)
    assert row.at["bce", "mode"] == "binary" and result.cases[0].pred_kind == "logits"
    forced = evaluate_losses(tmp_path / "p", tmp_path / "g", losses=["bce"], from_logits=True)
    assert forced.per_case["value"].iloc[0] == pytest.approx(expected, rel=1e-5)


def test_bad_cases_fail_alone_and_set_exit_code_3(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    gt = np.zeros((8, 9), np.uint8)
    gt[2:5, 3:6] = 1
    for name in ("good", "labels", "nonfinite"):
        np.save(tmp_path / "g" / f"{name}.npy", gt)
    np.save(tmp_path / "p" / "good.npy", np.stack([1.0 - gt, gt]).astype(np.float32))
    np.save(tmp_path / "p" / "labels.npy", gt)
    broken = np.full((2, 8, 9), 0.5, np.float32)
    broken[0, 0, 0] = np.nan
    np.save(tmp_path / "p" / "nonfinite.npy", broken)
    result = evaluate_losses(tmp_path / "p", tmp_path / "g", losses=["dice", "ce"])
    failed = {r.case: r.error for r in result.failed}
    assert set(failed) == {"labels", "nonfinite"}
    assert "label map" in failed["labels"] and "NaN" in failed["nonfinite"]
    good = result.per_case[result.per_case["case"] == "good"].set_index("loss")
    assert good.at["ce", "value"] == pytest.approx(0.0, abs=1e-6)  # one-hot probabilities of the right class
    assert good.at["dice", "value"] == pytest.approx(0.0, abs=1e-4)
    cli = runner.invoke(
        app,
        ["losses", str(tmp_path / "p"), str(tmp_path / "g"), "-l", "dice", "-f", "quiet", "-o", str(tmp_path / "out")],
    )
    assert cli.exit_code == 3
    assert "failed: labels:" in cli.stderr
    per_case = pd.read_csv(tmp_path / "out" / "per_case.csv")
    assert list(per_case.columns) == ["case", "loss", "family", "mode", "value", "status", "error"]
    assert sorted(per_case[per_case["status"] == "failed"]["case"]) == ["labels", "nonfinite"]


def test_channel_count_must_match_labels(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    np.save(tmp_path / "g" / "a.npy", np.array([[0, 4], [4, 0]], np.uint8))
    np.save(tmp_path / "p" / "a.npy", np.full((2, 2, 2), 0.5, np.float32))
    unmapped = evaluate_losses(tmp_path / "p", tmp_path / "g", losses=["dice"])
    assert "label value 4 has no channel" in unmapped.failed[0].error
    mapped = evaluate_losses(tmp_path / "p", tmp_path / "g", losses=["dice"], labels=(0, 4))
    assert not mapped.failed and mapped.per_case["status"].tolist() == ["ok"]


def test_grayscale_png_is_a_foreground_probability(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    mask = np.zeros((9, 13), np.uint8)
    mask[2:6, 3:9] = 1
    levels = np.arange(mask.size).reshape(mask.shape) % 40  # 40 grey levels: a probability image, not labels
    prob = np.where(mask == 1, 180 + levels, 20 + levels).astype(np.uint8)
    Image.fromarray(mask).save(tmp_path / "g" / "a.png")
    Image.fromarray(prob).save(tmp_path / "p" / "a.png")
    result = evaluate_losses(tmp_path / "p", tmp_path / "g", losses=["bce"])
    expected = F.binary_cross_entropy(torch.from_numpy(prob / 255.0), torch.from_numpy(mask).double()).item()
    assert result.per_case["value"].iloc[0] == pytest.approx(expected, rel=1e-5)
    assert result.cases[0].pred_kind == "probs"
