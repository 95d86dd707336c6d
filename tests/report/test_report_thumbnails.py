"""Thumbnails: drawn while scoring from the counted label maps, kept for the N worst and failed cases only.

Expected pictures are derived here from the arrays (where the test put each error), never from segeval's
output.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.report.thumbnails import COLOURS, MAX_SIDE, ThumbnailRequest, class_colour, render

FP_RGB = tuple(int(COLOURS["false positive"][i : i + 2], 16) for i in (1, 3, 5))
FN_RGB = tuple(int(COLOURS["false negative"][i : i + 2], 16) for i in (1, 3, 5))
WRONG_RGB = tuple(int(COLOURS["wrong class"][i : i + 2], 16) for i in (1, 3, 5))


def rgb(thumbnail) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(thumbnail.png)).convert("RGB"))


def at(picture: np.ndarray, shape: tuple[int, int], row: float, col: float) -> tuple[int, ...]:
    """The thumbnail colour at the centre of source pixel (row, col) of an image of ``shape``."""
    r = int((row + 0.5) / shape[0] * picture.shape[0])
    c = int((col + 0.5) / shape[1] * picture.shape[1])
    return tuple(int(v) for v in picture[r, c])


def test_each_kind_of_error_has_its_colour_where_it_was_put():
    gt = np.zeros((40, 60), np.uint8)
    gt[5:20, 5:25] = 1
    gt[25:35, 30:50] = 2
    pred = gt.copy()
    pred[10:15, 40:50] = 1  # false positive on background
    pred[5:20, 5:10] = 0  # false negative
    pred[25:35, 30:35] = 1  # wrong class
    picture = rgb(render(pred, gt, (1.0, 1.0)))
    assert at(picture, gt.shape, 12, 45) == FP_RGB
    assert at(picture, gt.shape, 12, 7) == FN_RGB
    assert at(picture, gt.shape, 30, 32) == WRONG_RGB
    grey = class_colour(1)
    assert at(picture, gt.shape, 12, 20) == tuple(int(grey[i : i + 2], 16) for i in (1, 3, 5))
    assert at(picture, gt.shape, 38, 2) != at(picture, gt.shape, 12, 20)  # background differs from class 1
    assert max(picture.shape[:2]) == MAX_SIDE


def test_a_one_pixel_error_survives_shrinking():
    gt = np.zeros((900, 600), np.uint8)
    pred = gt.copy()
    pred[450, 300] = 1
    picture = rgb(render(pred, gt, (1.0, 1.0)))
    assert picture.shape[:2] == (MAX_SIDE, MAX_SIDE * 600 // 900)
    assert (picture.reshape(-1, 3) == FP_RGB).all(axis=1).sum() >= 1


def test_physical_aspect_ratio_follows_the_spacing():
    gt = np.zeros((50, 50), np.uint8)
    picture = rgb(render(gt, gt, (2.0, 1.0)))  # rows twice as tall as columns are wide
    assert picture.shape[:2] == (MAX_SIDE, MAX_SIDE // 2)


def test_volume_slices_pass_through_the_largest_error_in_physical_proportions():
    gt = np.zeros((10, 30, 40), np.uint8)
    gt[2:8, 5:25, 5:35] = 1
    pred = gt.copy()
    pred[6, 20, 30] = 0  # a small error elsewhere
    pred[3:5, 8:12, 10:16] = 0  # the largest error: centre (3.5, 9.5, 12.5)
    thumbnail = render(pred, gt, (3.0, 1.0, 1.0))
    assert thumbnail.slices["axial"] in (3, 4)
    assert thumbnail.slices["coronal"] in (9, 10)
    assert thumbnail.slices["sagittal"] in (12, 13)
    picture = rgb(thumbnail)
    # axial 30x40 mm, coronal 30x40 mm (10 slices x 3 mm), sagittal 30x30 mm: one height, widths 4:4:3
    assert picture.shape[0] == MAX_SIDE * 30 // 40
    assert (picture.reshape(-1, 3) == FN_RGB).all(axis=1).any()


def write_case(files, name: str, gt: np.ndarray, pred: np.ndarray) -> None:
    files.image(f"gts/{name}.png", gt)
    files.image(f"preds/{name}.png", pred)


@pytest.fixture
def graded(files):
    """Six cases whose Dice falls with the index: case_5 is the worst."""
    gt = np.zeros((30, 40), np.uint8)
    gt[5:25, 5:35] = 1
    for i in range(6):
        pred = gt.copy()
        pred[5 : 5 + 3 * i, 5:35] = 0
        write_case(files, f"case_{i}", gt, pred)
    return files.root


def test_only_the_worst_cases_keep_their_thumbnail_worst_first(graded):
    result = segeval.score(graded / "preds", graded / "gts", thumbnails=ThumbnailRequest(worst=3))
    assert list(result.thumbnails.worst) == ["case_5", "case_4", "case_3"]
    dice = result.per_case.query("metric == 'mean_dice'").set_index("case")["value"]
    assert [v for v, _ in result.thumbnails.worst.values()] == pytest.approx(
        [dice["case_5"], dice["case_4"], dice["case_3"]]
    )
    assert all(record.thumbnail is None for record in result.cases)  # the records do not hold them


def test_worst_by_a_lower_is_better_metric_keeps_the_largest_values(graded):
    request = ThumbnailRequest(worst=2, metric="hd95", class_=1)
    result = segeval.score(graded / "preds", graded / "gts", metrics=["hd95"], thumbnails=request)
    assert list(result.thumbnails.worst) == ["case_5", "case_4"]


def test_default_run_draws_nothing_and_writes_no_thumbnail_key(graded, tmp_path):
    result = segeval.score(graded / "preds", graded / "gts")
    assert result.thumbnails is None
    result.write(tmp_path / "out")
    assert not (tmp_path / "out" / "thumbnails").exists()
    document = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "thumbnails" not in document and document["schema_version"] == 2


def test_cli_writes_thumbnails_and_records_them_in_summary_json(graded, tmp_path):
    out = tmp_path / "rep"
    result = CliRunner().invoke(
        app, ["score", str(graded / "preds"), str(graded / "gts"), "--out", str(out), "--worst", "2", "-f", "quiet"]
    )
    assert result.exit_code == 0, result.output
    listed = json.loads((out / "summary.json").read_text())["thumbnails"]
    assert [entry["case"] for entry in listed["cases"]] == ["case_5", "case_4"]
    assert listed["metric"] == "dice" and listed["slices"] is None if "slices" in listed else True
    for entry in listed["cases"]:
        assert (out / entry["file"]).read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in (out / "thumbnails").iterdir()) == sorted(
        entry["file"].split("/")[1] for entry in listed["cases"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--worst", "2"], "--worst draws thumbnails into the --out folder"),
        (["--html", "x.html", "--worst-by", "nosuchmetric"], "unknown metric"),
        (["--html", "x.html", "--worst-by", "dice[liver]"], "is a name"),
        (["--html", "x.html", "--images", "nowhere"], "--images nowhere: not a folder"),
        (["--html", "x.html", "--worst-by", "hd95"], "add --metrics hd95"),
    ],
)
def test_thumbnail_options_errors_are_one_line_usage_errors(graded, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", str(graded / "preds"), str(graded / "gts"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_thumbnails_over_images_outline_the_reference(files, tmp_path):
    gt = np.zeros((30, 40), np.uint8)
    gt[5:25, 5:35] = 1
    write_case(files, "a", gt, gt)
    image = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))
    files.image("images/a.png", image)
    request = ThumbnailRequest(worst=1, images=files.root / "images")
    thumbnail = segeval.score(files.root / "preds", files.root / "gts", thumbnails=request).thumbnails.worst["a"][1]
    picture = rgb(thumbnail)
    assert thumbnail.base == "image"
    assert at(picture, gt.shape, 15, 3)[0] < at(picture, gt.shape, 15, 37)[0]  # the image's ramp shows
    assert (picture.reshape(-1, 3) == (255, 255, 255)).all(axis=1).any()  # the reference outline


def test_a_failed_case_that_was_read_keeps_a_picture_of_its_reference(files):
    gt = np.zeros((30, 40), np.uint8)
    gt[5:25, 5:35] = 1
    write_case(files, "good", gt, gt)
    bad = gt.copy()
    bad[0:3, 0:3] = 7  # a label outside the declared ones: the case fails after it was read
    write_case(files, "bad", gt, bad)
    request = ThumbnailRequest(worst=5)
    result = segeval.score(files.root / "preds", files.root / "gts", labels=[0, 1], thumbnails=request)
    assert [r.case for r in result.failed] == ["bad"]
    assert list(result.thumbnails.failed) == ["bad"] and "bad" not in result.thumbnails.worst
    picture = rgb(result.thumbnails.failed["bad"])
    assert at(picture, gt.shape, 15, 20) == tuple(int(class_colour(1)[i : i + 2], 16) for i in (1, 3, 5))
    assert not (picture.reshape(-1, 3) == FP_RGB).all(axis=1).any()  # the reference alone: no error drawn


def test_html_without_out_draws_the_page_from_a_temporary_folder(graded, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    args = ["score", str(graded / "preds"), str(graded / "gts"), "--html", "page.html", "--worst", "2", "-f", "quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (work / "page.html").read_text()
    assert page.count('<figure class="case">') == 2 and "data:image/png;base64," in page
    assert [p.name for p in work.iterdir()] == ["page.html"]
