"""Bad input never stops a run: the bad case is reported as failed, the others are scored.

Each bad case ("bad") sits beside two good cases in the same folders. For each, ``segeval.score``
must not raise; ``result.failed`` names the case with a message naming the file and the problem;
summary.json lists it under ``failed``; per_case.csv gives it rows with status ``failed``; and the
good cases' numbers are exactly what NumPy computes from the arrays.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import segeval
from segeval.metrics.catalog import Level, counted_metrics
from segeval.pipeline.aggregate import PER_CASE_COLUMNS

CASE_METRICS = [spec.name for spec in counted_metrics(Level.CASE)]

SHAPE_2D = (23, 37)
SHAPE_3D = (5, 7, 9)
SPACING_XYZ = (0.8, 0.7, 2.5)


@dataclass
class Bad:
    """A way of writing a bad case ``bad`` into ``p/`` and ``g/``, and what its error must say."""

    write: Callable
    messages: list[str]
    """Regular expressions the case's error message must all match."""
    options: dict | Callable = field(default_factory=dict)
    """Options of ``segeval.score``, or a function of the ``files`` fixture returning them."""


def _volume(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(np.array([0, 1, 2], np.uint8), size=SHAPE_3D)


def _half(content: bytes) -> bytes:
    return content[: len(content) // 2]


def _geometry_pair(files, pred_geometry: dict, gt_geometry: dict) -> None:
    files.sitk_image("g/bad.nii.gz", _volume(0), **gt_geometry)
    files.sitk_image("p/bad.nii.gz", _volume(1), **pred_geometry)


def _rgb(files, gt2d):
    rgb = np.zeros((*SHAPE_2D, 3), np.uint8)
    rgb[gt2d == 1] = (255, 0, 0)
    files.image("g/bad.png", rgb)
    files.image("p/bad.png", gt2d)


def _object_npy(files, gt2d):
    files.image("g/bad.png", gt2d)
    np.save(files.path("p/bad.npy"), np.array([{"label": 1}, None], dtype=object), allow_pickle=True)


def _nan_probabilities(files, gt2d):
    probs = np.random.default_rng(5).random((3, *SHAPE_2D)).astype(np.float32)
    probs[0, 3, 4] = probs[2, 20, 36] = np.nan
    probs[1, 0, 0] = -np.inf
    files.image("g/bad.png", gt2d)
    files.npy("p/bad.npy", probs)


def _nan_nifti_probabilities(files, gt2d):
    """NIfTI stores NaN/inf fine (the bytes are in the file); the reader must not turn them into 0."""
    probs = np.random.default_rng(7).random(SHAPE_2D).astype(np.float32)
    probs[2, 3] = np.nan
    probs[4, 5] = np.inf
    files.sitk_image("p/bad.nii.gz", probs)
    files.image("g/bad.png", (gt2d == 1).astype(np.uint8))


def _unknown_colour(files, gt2d):
    rgb = np.zeros((*SHAPE_2D, 3), np.uint8)
    rgb[gt2d == 1] = (255, 0, 0)
    rgb[gt2d == 2] = (1, 2, 3)
    files.image("g/bad.png", rgb)
    files.image("p/bad.png", gt2d)
    files.text("palette.csv", "label,r,g,b\n0,0,0,0\n1,255,0,0\n")


def _truncated_nifti_gt(files, gt2d):
    labels = np.random.default_rng(6).integers(0, 3, size=SHAPE_2D).astype(np.uint8)
    full = files.sitk_image("full/bad.nii.gz", labels).read_bytes()
    files.raw("g/bad.nii.gz", full[: len(full) - 60])
    files.npy("p/bad.npy", labels)


def _ragged_tiff(files, gt2d):
    files.tiff_pages("g/bad.tif", [gt2d, gt2d[:-2]])
    files.npy("p/bad.npy", np.stack([gt2d, gt2d]))


def _non_integer_gt(files, gt2d):
    gt = gt2d.astype(np.float32)
    gt[7, 8] = 0.5
    files.sitk_image("g/bad.nii.gz", gt)
    files.image("p/bad.png", gt2d)


def _nan_gt(files, gt2d):
    gt = gt2d.astype(np.float32)
    gt[1, 1] = np.nan
    files.sitk_image("g/bad.mha", gt)  # (SimpleITK's NIfTI writer turns NaN into 0)
    files.image("p/bad.png", gt2d)


def _value_3_in(side: str):
    def write(files, gt2d):
        odd = gt2d.copy()
        odd[10:12, 3:6] = 3
        files.image("g/bad.png", odd if side == "gt" else gt2d)
        files.image("p/bad.png", gt2d if side == "gt" else odd)

    return write


BAD_CASES = {
    "random-bytes-png": Bad(
        lambda files, gt2d: (
            files.raw("p/bad.png", np.random.default_rng(1).bytes(256)),
            files.image("g/bad.png", gt2d),
        ),
        [r"p/bad\.png: not a readable image \(corrupt or not really \.png\)"],
    ),
    "truncated-png": Bad(
        lambda files, gt2d: (
            files.raw("p/bad.png", _half(files.image("full/x.png", gt2d).read_bytes())),
            files.image("g/bad.png", gt2d),
        ),
        [r"p/bad\.png: truncated or corrupt PNG"],
    ),
    "truncated-nii-gz": Bad(_truncated_nifti_gt, [r"g/bad\.nii\.gz"]),
    "ragged-multipage-tiff": Bad(_ragged_tiff, [r"g/bad\.tif"]),
    "shape-mismatch": Bad(
        lambda files, gt2d: (files.npy("p/bad.npy", gt2d[:, :-1]), files.image("g/bad.png", gt2d)),
        [r"p/bad\.npy: prediction shape \(23, 36\) does not match ground-truth shape \(23, 37\)"],
    ),
    "spacing-mismatch": Bad(
        lambda files, gt2d: _geometry_pair(files, {"spacing": (0.8, 0.7, 3.0)}, {"spacing": SPACING_XYZ}),
        [
            r"p/bad\.nii\.gz: spacing \(x, y, z\) \(0\.8, 0\.7, 3\) differs from the ground truth's \(0\.8, 0\.7, 2\.5\) "
            r"\(bad\.nii\.gz\) by more than --geometry-tolerance 0\.001; resample the prediction, or raise --geometry-tolerance"
        ],
    ),
    "origin-mismatch": Bad(
        lambda files, gt2d: _geometry_pair(files, {"origin": (0.0, 0.0, 5.0)}, {"origin": (0.0, 0.0, 0.0)}),
        [r"p/bad\.nii\.gz: origin \(x, y, z\) \(0, 0, 5\) differs from the ground truth's \(0, 0, 0\)"],
    ),
    "direction-mismatch": Bad(
        lambda files, gt2d: _geometry_pair(files, {"direction": (-1, 0, 0, 0, 1, 0, 0, 0, 1)}, {}),
        [
            r"p/bad\.nii\.gz: direction \(-1, 0, 0, 0, 1, 0, 0, 0, 1\) differs from the ground truth's "
            r"\(1, 0, 0, 0, 1, 0, 0, 0, 1\)"
        ],
    ),
    "nan-in-probabilities": Bad(_nan_probabilities, [r"p/bad\.npy: prediction holds 2 NaN and 1 infinite values"]),
    "nan-in-nifti-probabilities": Bad(
        _nan_nifti_probabilities, [r"p/bad\.nii\.gz: prediction holds 1 NaN and 1 infinite values"]
    ),
    "unknown-palette-colour": Bad(
        _unknown_colour,
        [r"g/bad\.png: colour \(1, 2, 3\) \(\d+ pixels\) is not in the palette"],
        lambda files: {"palette": files.root / "palette.csv"},
    ),
    "label-3-in-gt": Bad(
        _value_3_in("gt"),
        [r"g/bad\.png: label value 3 is not among the declared labels 0, 1, 2"],
        {"labels": (0, 1, 2)},
    ),
    "label-3-in-pred": Bad(
        _value_3_in("pred"), [r"p/bad\.png: label value 3 is not among the declared labels 0, 1, 2"], {"num_classes": 3}
    ),
    "non-integer-gt": Bad(
        _non_integer_gt,
        [r"g/bad\.nii\.gz: ground truth holds non-integer values \(e\.g\. 0\.5\); it must be a label map"],
    ),
    "nan-in-gt": Bad(_nan_gt, [r"g/bad\.mha: ground truth holds NaN or infinite values"]),
    "rgb-gt-without-palette": Bad(_rgb, [r"g/bad\.png: RGB colour image; segeval needs a label map"]),
    "object-npy": Bad(_object_npy, [r"p/bad\.npy: array of dtype object is not a label or probability map$"]),
    "npz-unknown-keys": Bad(
        lambda files, gt2d: (files.npz("p/bad.npz", logit_map=gt2d, extra=gt2d), files.image("g/bad.png", gt2d)),
        [r"p/bad\.npz: \.npz holds arrays \['logit_map', 'extra'\]"],
    ),
}


@pytest.fixture
def good_cases(files, gt2d, make_labels):
    """Two good cases, ``good_1`` (PNG/PNG) and ``good_2`` (NPY/PNG); returns {case: (pred, gt)}."""
    gt_2 = make_labels(21)
    cases = {"good_1": (make_labels(11), gt2d), "good_2": (make_labels(12), gt_2)}
    files.image("p/good_1.png", cases["good_1"][0])
    files.image("g/good_1.png", gt2d)
    files.npy("p/good_2.npy", cases["good_2"][0].astype(np.int64))
    files.image("g/good_2.png", gt_2)
    return cases


@pytest.mark.parametrize("batch_size", [1, 3], ids=["batch1", "batch3"])
@pytest.mark.parametrize("bad", list(BAD_CASES.values()), ids=list(BAD_CASES))
def test_bad_case_fails_alone_and_the_others_are_scored(
    files, gt2d, good_cases, bad, batch_size, np_dice, case_value, strict_json, tmp_path
):
    bad.write(files, gt2d)
    options = bad.options(files) if callable(bad.options) else bad.options
    result = segeval.score(files.root / "p", files.root / "g", batch_size=batch_size, **options)

    # the bad case, and only it, failed, with a message naming the file and the problem
    assert [r.case for r in result.failed] == ["bad"]
    error = result.failed[0].error
    for message in bad.messages:
        assert re.search(message, error), f"{message!r} not found in {error!r}"
    assert "internal error" not in error

    # the good cases are scored, with their own numbers
    statuses = {r.case: r.status for r in result.cases}
    assert statuses == {"bad": "failed", "good_1": "ok", "good_2": "ok"}
    for case, (pred, gt) in good_cases.items():
        for label in (1, 2):
            assert case_value(result.per_case, case, label, "dice") == pytest.approx(np_dice(pred, gt, label))
        assert case_value(result.per_case, case, "all", "pixel_accuracy") == pytest.approx(np.mean(pred == gt))
    expected_mean = np.mean([np_dice(p, g, 1) for p, g in good_cases.values()])
    assert result.metric("dice", 1) == pytest.approx(expected_mean)
    summary_row = result.summary[(result.summary["metric"] == "dice") & (result.summary["class"] == "1")]
    assert int(summary_row["n"].iloc[0]) == 2

    # the reports say so
    paths = result.write(tmp_path / "out")
    document = strict_json(paths["json"].read_text())
    assert document["counts"]["failed"] == 1 and document["counts"]["scored"] == 2
    assert [f["case"] for f in document["failed"]] == ["bad"]
    assert document["failed"][0]["error"] == error
    assert document["failed"][0]["pred"].endswith("bad" + "".join(result.failed[0].pred.suffixes))
    per_case = pd.read_csv(paths["per_case"])
    assert list(per_case.columns) == PER_CASE_COLUMNS
    bad_rows = per_case[per_case["case"] == "bad"]
    assert list(bad_rows["metric"]) == list(CASE_METRICS)
    assert set(bad_rows["status"]) == {"failed"}
    assert bad_rows["value"].isna().all()
    assert "failed" not in set(per_case[per_case["case"] != "bad"]["status"])


def test_declared_binary_labels_with_a_value_3_name_the_file_and_the_value(files, gt2d, case_value):
    binary = (gt2d == 1).astype(np.uint8)
    with_3 = binary.copy()
    with_3[4:6, 20:23] = 3
    files.image("g/ok.png", binary)
    files.image("p/ok.png", binary)
    files.image("g/odd.png", binary)
    files.npy("p/odd.npy", with_3)
    result = segeval.score(files.root / "p", files.root / "g", labels=(0, 1))
    assert [r.case for r in result.failed] == ["odd"]
    assert re.search(r"p/odd\.npy: label value 3 is not among the declared labels 0, 1$", result.failed[0].error)
    assert case_value(result.per_case, "ok", 1, "dice") == 1.0


def test_several_undeclared_values_are_listed(files, gt2d):
    odd = gt2d.copy()
    odd[0, 0], odd[0, 1], odd[0, 2] = 7, 9, 12
    files.image("g/odd.png", odd)
    files.image("p/odd.png", gt2d)
    result = segeval.score(files.root / "g" / "odd.png", files.root / "g" / "odd.png", labels=(0, 1))
    assert re.search(
        r"odd\.png: label value 2 is not among the declared labels 0, 1 \(also 7, 9, 12\)", result.failed[0].error
    )


def test_geometry_tolerance_accepts_a_tiny_difference_and_rejects_it_when_tightened(files, case_value):
    gt, pred = _volume(0), _volume(1)
    files.sitk_image("g/case.nii.gz", gt, spacing=SPACING_XYZ, origin=(10.0, 20.0, 30.0))
    files.sitk_image("p/case.nii.gz", pred, spacing=(0.8, 0.7, 2.5 + 2e-4), origin=(10.0 + 2e-4, 20.0, 30.0))

    result = segeval.score(files.root / "p", files.root / "g")  # default tolerance 1e-3
    assert [r.case for r in result.cases if r.status == "ok"] == ["case"]
    assert case_value(result.per_case, "case", 1, "ref_volume") == pytest.approx(
        np.sum(gt == 1) * 0.8 * 0.7 * 2.5, rel=1e-6
    )

    strict = segeval.score(files.root / "p", files.root / "g", geometry_tolerance=1e-6)
    assert [r.case for r in strict.failed] == ["case"]
    assert re.search(
        r"p/case\.nii\.gz: spacing \(x, y, z\) \(0\.8, 0\.7, 2\.5002\) differs from the ground truth's "
        r"\(0\.8, 0\.7, 2\.5\) \(case\.nii\.gz\) by more than --geometry-tolerance 1e-06",
        strict.failed[0].error,
    )

    loose = segeval.score(files.root / "p", files.root / "g", geometry_tolerance=1e-2)
    assert not loose.failed


def test_load_case_reports_a_geometry_mismatch_with_both_values(files):
    _geometry_pair(files, {"spacing": (1.0, 1.0, 1.0)}, {"spacing": (1.0, 1.0, 2.0)})
    from segeval.config import ScoreConfig
    from segeval.io.pairing import CasePair
    from segeval.pipeline.load import load_case

    record = load_case(
        CasePair("bad", files.root / "p" / "bad.nii.gz", files.root / "g" / "bad.nii.gz"), ScoreConfig(), None
    )
    assert record.status == "failed"
    assert "spacing (x, y, z) (1, 1, 1) differs from the ground truth's (1, 1, 2)" in record.error


def test_spacing_option_of_the_wrong_length_fails_each_case_with_a_message(files, gt2d):
    files.image("g/a.png", gt2d)
    files.image("p/a.png", gt2d)
    result = segeval.score(files.root / "p", files.root / "g", spacing=(1.0, 2.0, 3.0))
    assert re.search(r"g/a\.png: --spacing has 3 values for a 2-D image of shape \(23, 37\)", result.failed[0].error)


def test_every_case_bad_still_returns_a_result_and_writes_reports(files, gt2d, strict_json, tmp_path):
    files.raw("p/a.png", b"not a png")
    files.image("g/a.png", gt2d)
    files.npy("p/b.npy", np.full(SHAPE_2D, np.nan, np.float32))
    files.image("g/b.png", gt2d)
    result = segeval.score(files.root / "p", files.root / "g")
    assert sorted(r.case for r in result.failed) == ["a", "b"]
    assert "p/b.npy: prediction holds 851 NaN and 0 infinite values" in result.failed[1].error
    paths = result.write(tmp_path / "out")
    document = strict_json(paths["json"].read_text())
    assert document["counts"] == {
        "cases": 2,
        "scored": 0,
        "failed": 2,
        "missing_pred": 0,
        "missing_gt": 0,
        "skipped_files": 0,
    }
    per_case = pd.read_csv(paths["per_case"])
    assert set(per_case["status"]) == {"failed"} and len(per_case) == 2 * len(CASE_METRICS)
    summary = pd.read_csv(paths["summary"])
    assert (summary["n"] == 0).all()
    assert all(math.isnan(v) for v in summary["mean"])


def test_missing_prediction_with_bad_ground_truth_fails_not_crashes(files, gt2d, case_value):
    files.image("p/a.png", gt2d)
    files.image("g/a.png", gt2d)
    files.raw("g/b.png", b"\x89PNG\r\n\x1a\n broken")
    result = segeval.score(files.root / "p", files.root / "g", allow_missing=True)
    assert [r.case for r in result.failed] == ["b"]
    assert re.search(r"g/b\.png: (not a readable image|cannot decode image)", result.failed[0].error)
    assert case_value(result.per_case, "a", 2, "dice") == 1.0
