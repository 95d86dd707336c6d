"""Small promises of the public API and of pairing (docs/gates.md, docs/cli.md "Pairing").

``result.metric("dice")`` without a class is what a ``dice`` gate checks; ``--recursive`` follows
symlinked folders and stops at link loops; a folder named like an image is reported as a folder;
``--out`` inside an input folder is warned about.
"""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app


def write_cases(files, folder: str, cases: dict[str, int], make_labels) -> None:
    for case, seed in cases.items():
        gt = make_labels(seed)
        pred = gt.copy()
        pred[: seed + 2] = 0
        files.image(f"{folder}/gts/{case}.png", gt)
        files.image(f"{folder}/preds/{case}.png", pred)


def test_metric_without_class_is_what_a_gate_means(files, make_labels):
    write_cases(files, "d", {"a": 1, "b": 2, "c": 3}, make_labels)
    result = segeval.score(files.root / "d/preds", files.root / "d/gts")
    foreground = result.per_case[(result.per_case["metric"] == "dice") & (result.per_case["class"] != "0")]
    per_case = foreground.groupby("case")["value"].mean()
    assert result.metric("dice") == pytest.approx(per_case.mean(), abs=1e-12)
    assert result.metric("dice") == pytest.approx(result.metric("mean_dice"), abs=1e-12)
    assert result.metric("dice", statistic="min") == pytest.approx(per_case.min(), abs=1e-12)
    pooled = result.summary[(result.summary["metric"] == "dice") & result.summary["class"].isin(["1", "2"])]
    assert result.metric("dice", statistic="pooled") == pytest.approx(pooled["pooled"].mean(), abs=1e-12)
    gate = segeval.score(files.root / "d/preds", files.root / "d/gts", gates=[f"dice>={result.metric('dice')}"])
    assert gate.gates[0].value == result.metric("dice")


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_recursive_follows_symlinked_folders_and_stops_at_loops(files, make_labels):
    write_cases(files, "elsewhere", {"b": 2}, make_labels)
    write_cases(files, "d", {"a": 1}, make_labels)
    files.image("d/gts/linked/b.png", make_labels(2))
    (files.root / "d/preds/linked").symlink_to(files.root / "elsewhere/preds")
    (files.root / "d/preds/loop").symlink_to(files.root / "d/preds")  # a folder that contains itself
    result = segeval.score(files.root / "d/preds", files.root / "d/gts", recursive=True)
    assert sorted(r.case for r in result.cases) == ["a", "linked/b"]
    assert all(r.scored for r in result.cases)


def test_folder_named_like_an_image(files, make_labels, tmp_path):
    write_cases(files, "d", {"a": 1, "b": 2}, make_labels)
    (files.root / "d/preds/b.png").unlink()
    (files.root / "d/preds/b.png").mkdir()
    result = segeval.score(files.root / "d/preds", files.root / "d/gts")
    failed = {r.case: r.error for r in result.failed}
    assert list(failed) == ["b"] and "b.png" in failed["b"]  # reported as a failed case, not silently unpaired
    assert [r.case for r in result.scored] == ["a"]

    cli = CliRunner().invoke(app, ["score", str(files.root / "d/preds/b.png"), str(files.root / "d/gts/b.png")])
    assert cli.exit_code == 3
    assert cli.output.splitlines()[0] == (
        f"error: {files.root / 'd/preds/b.png'} is a folder but the ground-truth argument is a file; "
        "give two folders or two files"
    )


def test_out_inside_an_input_folder_is_warned(files, make_labels):
    write_cases(files, "d", {"a": 1}, make_labels)
    preds = files.root / "d/preds"
    cli = CliRunner().invoke(app, ["score", str(preds), str(files.root / "d/gts"), "--out", str(preds / "reports")])
    assert cli.exit_code == 0, cli.output
    assert f"warning: --out {preds / 'reports'} is inside the prediction folder {preds}" in cli.output
