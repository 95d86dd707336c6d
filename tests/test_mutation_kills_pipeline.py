"""Tests written from mutation testing (mutmut) of segeval/pipeline: behaviour the other tests left open.

Every expected value is computed here by hand or with NumPy from the arrays written to disk.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import segeval
from segeval.errors import PairingError, UsageError
from segeval.pipeline.pair import few


def _write(folder, name, array):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{name}.npy", array)


def _value(result, case, cls, metric):
    rows = result.per_case
    row = rows[(rows["case"] == case) & (rows["class"] == str(cls)) & (rows["metric"] == metric)]
    assert len(row) == 1, (case, cls, metric)
    return float(row["value"].iloc[0]), row["status"].iloc[0]


def test_ignored_reference_pixels_are_background_for_the_distance_metrics(tmp_path):
    """A predicted blob on ignored reference pixels is no surface: without it the masks are equal."""
    gt = np.zeros((20, 24), np.int64)
    gt[4:9, 4:10] = 1
    gt[14:18, 16:21] = 255  # ignored
    pred = np.zeros_like(gt)
    pred[4:9, 4:10] = 1
    pred[14:18, 16:21] = 1  # on ignored pixels only
    _write(tmp_path / "p", "a", pred)
    _write(tmp_path / "g", "a", gt)
    result = segeval.score(tmp_path / "p", tmp_path / "g", ignore_index=255, metrics=["hd", "assd"])
    assert [r.status.value for r in result.cases] == ["ok"]
    for metric in ("hd", "assd"):
        value, status = _value(result, "a", 1, metric)
        assert (value, status) == (0.0, "ok")
    assert _value(result, "a", 1, "dice") == (1.0, "ok")


def test_few_lists_at_most_limit_names_and_counts_the_rest():
    names = [f"c{i}" for i in range(7)]
    assert few(names[:5]) == "c0, c1, c2, c3, c4"
    assert few(names[:4]) == "c0, c1, c2, c3"
    assert few(names) == "c0, c1, c2, c3, c4 … (+2 more)"
    assert few(names, limit=6) == "c0, c1, c2, c3, c4, c5 … (+1 more)"


def test_unmatched_message_names_exactly_five_without_a_remainder(tmp_path):
    gt = np.zeros((4, 4), np.int64)
    for i in range(6):
        _write(tmp_path / "g", f"c{i}", gt)
    _write(tmp_path / "p", "c0", gt)
    with pytest.raises(PairingError) as info:
        segeval.score(tmp_path / "p", tmp_path / "g")
    assert "5 ground truth(s) without prediction: c1, c2, c3, c4, c5" in str(info.value)
    assert "more" not in str(info.value)


def test_metric_lookup_of_an_absent_class_names_metric_and_class(tmp_path):
    gt = np.zeros((6, 6), np.int64)
    gt[1:4, 1:4] = 1
    _write(tmp_path / "p", "a", gt)
    _write(tmp_path / "g", "a", gt)
    result = segeval.score(tmp_path / "p", tmp_path / "g")
    assert result.metric("dice", 1) == 1.0
    with pytest.raises(UsageError, match=r"no summary value for metric 'dice' and class 7"):
        result.metric("dsc", 7)
    assert math.isclose(result.metric("pixel_accuracy", statistic="pooled"), 1.0)


def test_status_counts_count_each_branch_per_metric_in_report_order(tmp_path):
    # case a: class 2 absent from both sides; case b: class 2 predicted but not in the reference
    gt = np.zeros((8, 8), np.int64)
    gt[1:5, 1:5] = 1
    pred_a = gt.copy()
    pred_b = gt.copy()
    pred_b[6:8, 6:8] = 2
    _write(tmp_path / "p", "a", pred_a)
    _write(tmp_path / "p", "b", pred_b)
    _write(tmp_path / "g", "a", gt)
    _write(tmp_path / "g", "b", gt)
    result = segeval.score(tmp_path / "p", tmp_path / "g")
    counts = result.status_counts()
    assert counts["dice"] == {"ok": 4, "both_empty": 1, "ref_empty": 1}
    assert counts["precision"] == {"ok": 5, "both_empty": 1}  # class 2 of case b has a prediction: 0/2
    assert counts["recall"] == {"ok": 4, "both_empty": 1, "ref_empty": 1}
    assert counts["tp"] == {"ok": 6}
    assert counts["mean_dice"] == {"ok": 2}
    assert all(isinstance(n, int) for by_status in counts.values() for n in by_status.values())
    # metrics appear in the order of the per-case table (catalog order), not sorted by name
    assert list(counts) == list(dict.fromkeys(result.per_case["metric"]))
    assert list(counts)[:2] == ["dice", "iou"]
    assert result.to_dict()["status_counts"] == counts


def _square(shape):
    array = np.zeros(shape, np.int64)
    array[(slice(1, 3),) * len(shape)] = 1
    return array


def test_units_are_pixels_without_spacing(tmp_path):
    _write(tmp_path / "p", "a", _square((5, 6)))
    _write(tmp_path / "g", "a", _square((5, 6)))
    result = segeval.score(tmp_path / "p", tmp_path / "g")
    assert result.units() == {"distance": "px", "volume": "px"}
    assert result.to_dict()["units"] == {"distance": "px", "volume": "px"}


def test_units_of_cases_of_different_dimensions_with_a_spacing(tmp_path):
    _write(tmp_path / "p", "a", _square((5, 6)))
    _write(tmp_path / "g", "a", _square((5, 6)))
    _write(tmp_path / "p", "b", _square((4, 5, 6)))
    _write(tmp_path / "g", "b", _square((4, 5, 6)))
    result = segeval.score(tmp_path / "p", tmp_path / "g", spacing=(0.5,))
    assert result.units() == {"distance": "mm", "volume": "mm^d"}
    # one dimension only: the exponent is that dimension
    only_3d = segeval.score(tmp_path / "p" / "b.npy", tmp_path / "g" / "b.npy", spacing=(0.5,))
    assert only_3d.units() == {"distance": "mm", "volume": "mm^3"}
    # the volume of a case is in mm^3: 2^3 voxels of 0.5^3 mm^3
    assert _value(only_3d, "b", 1, "ref_volume") == (pytest.approx(8 * 0.125), "ok")


def test_units_are_mixed_when_only_some_cases_have_a_spacing(tmp_path):
    import SimpleITK as sitk

    (tmp_path / "p").mkdir()
    (tmp_path / "g").mkdir()
    for side in ("p", "g"):
        image = sitk.GetImageFromArray(_square((4, 5, 6)).astype(np.uint8))
        image.SetSpacing((0.5, 0.5, 2.0))
        sitk.WriteImage(image, str(tmp_path / side / "a.nii.gz"))
    _write(tmp_path / "p", "b", _square((4, 5, 6)))
    _write(tmp_path / "g", "b", _square((4, 5, 6)))
    result = segeval.score(tmp_path / "p", tmp_path / "g")
    assert sorted(r.spacing_source.value for r in result.cases) == ["default (1 per pixel)", "reference file"]
    assert result.units() == {"distance": "mixed", "volume": "mixed"}


def _summary(result, cls, metric, column):
    rows = result.summary[(result.summary["class"] == str(cls)) & (result.summary["metric"] == metric)]
    assert len(rows) == 1, (cls, metric)
    return float(rows[column].iloc[0])


def test_pooled_volumes_are_the_sum_of_the_case_volumes(tmp_path):
    gt_a, pred_a = np.zeros((6, 6), np.int64), np.zeros((6, 6), np.int64)
    gt_a[0:2, 0:3] = 1  # 6 reference pixels
    pred_a[0:2, 0:2] = 1  # 4 predicted pixels
    gt_b, pred_b = np.zeros((6, 6), np.int64), np.zeros((6, 6), np.int64)
    gt_b[1:5, 1:5] = 1  # 16
    pred_b[1:4, 1:4] = 1  # 9
    for name, pred, gt in (("a", pred_a, gt_a), ("b", pred_b, gt_b)):
        _write(tmp_path / "p", name, pred)
        _write(tmp_path / "g", name, gt)
    result = segeval.score(tmp_path / "p", tmp_path / "g", spacing=(0.5, 2.0))  # 1 mm^2 per pixel
    assert _summary(result, 1, "ref_volume", "pooled") == pytest.approx(6 + 16)
    assert _summary(result, 1, "pred_volume", "pooled") == pytest.approx(4 + 9)
    assert _summary(result, 1, "ref_volume", "mean") == pytest.approx(11.0)
    assert _summary(result, 0, "ref_volume", "pooled") == pytest.approx(2 * 36 - 22)
    # pooled Dice is the Dice of the summed confusion matrix: 2 * 13 / (22 + 13)
    assert _summary(result, 1, "dice", "pooled") == pytest.approx(26 / 35)


def test_pooled_value_of_a_class_absent_everywhere_follows_empty_score(tmp_path):
    gt = np.zeros((6, 6), np.int64)
    gt[1:4, 1:4] = 1
    pred = gt.copy()
    pred[1, 1] = 0
    _write(tmp_path / "p", "a", pred)
    _write(tmp_path / "g", "a", gt)
    result = segeval.score(tmp_path / "p", tmp_path / "g", labels=[0, 1, 2], empty_score=1.0)
    for metric in ("dice", "iou", "volume_similarity", "precision", "recall"):
        assert _summary(result, 2, metric, "pooled") == 1.0, metric
        assert _summary(result, 2, metric, "mean") == 1.0, metric
    assert _summary(result, 1, "dice", "pooled") == pytest.approx(16 / 17)
    nan_default = segeval.score(tmp_path / "p", tmp_path / "g", labels=[0, 1, 2])
    assert math.isnan(_summary(nan_default, 2, "dice", "pooled"))


def test_confusion_matrix_is_summed_over_cases_rows_reference_columns_prediction(tmp_path):
    rng = np.random.default_rng(7)
    labels = [0, 1, 2]
    expected = np.zeros((3, 3), np.int64)
    for name, shape in (("a", (7, 9)), ("b", (5, 11))):
        gt = rng.integers(0, 3, size=shape)
        pred = np.where(rng.random(shape) < 0.6, gt, rng.integers(0, 3, size=shape))
        _write(tmp_path / "p", name, pred)
        _write(tmp_path / "g", name, gt)
        for i, ref in enumerate(labels):
            for j, prd in enumerate(labels):
                expected[i, j] += int(((gt == ref) & (pred == prd)).sum())
    assert not np.array_equal(expected, expected.T)  # the orientation is visible
    result = segeval.score(tmp_path / "p", tmp_path / "g")
    assert result.confusion.shape == (3, 3)
    np.testing.assert_array_equal(result.confusion, expected)
    document = result.to_dict()["confusion_matrix"]
    assert document == {"labels": labels, "rows": "reference", "columns": "prediction", "matrix": expected.tolist()}


def test_per_case_rows_case_by_case_class_rows_first_with_class_names(tmp_path):
    gt = np.zeros((6, 6), np.int64)
    gt[0:3, 0:3] = 1
    gt[4:6, 4:6] = 2
    for name in ("a", "b"):
        _write(tmp_path / "p", name, gt)
        _write(tmp_path / "g", name, gt)
    _write(tmp_path / "g", "c", gt)
    (tmp_path / "p" / "c.npy").write_bytes(b"corrupt")
    result = segeval.score(tmp_path / "p", tmp_path / "g", class_names=("bg", "liver", "spleen"))
    table = result.per_case
    assert list(table.columns) == ["case", "class", "class_name", "metric", "value", "status"]
    cases = table["case"].tolist()
    assert cases == sorted(cases) and cases[0] == "a" and cases[-1] == "c"
    for case in ("a", "b"):
        rows = table[table["case"] == case]
        is_all = (rows["class"] == "all").tolist()
        first_all = is_all.index(True)
        assert not any(is_all[:first_all]) and all(is_all[first_all:])  # class rows, then case-level rows
        classes = rows["class"].tolist()[:first_all]
        assert list(dict.fromkeys(classes)) == ["0", "1", "2"]
        assert classes == sorted(classes)  # each class's metrics together
        names = dict(zip(rows["class"], rows["class_name"]))
        assert names == {"0": "bg", "1": "liver", "2": "spleen", "all": "all"}
        liver = rows[rows["class"] == "1"]
        assert liver["metric"].tolist()[:4] == ["dice", "iou", "precision", "recall"]
        assert liver.set_index("metric").loc["dice", "value"] == 1.0
    failed = table[table["case"] == "c"]
    assert set(failed["class"]) == {"all"} and set(failed["status"]) == {"failed"}
    assert failed["value"].isna().all()
    assert failed["metric"].tolist() == table[(table["case"] == "a") & (table["class"] == "all")]["metric"].tolist()


def test_case_level_statuses_stay_with_their_case_and_metric(tmp_path):
    gt = np.zeros((6, 6), np.int64)
    gt[1:4, 1:4] = 1
    empty = np.zeros_like(gt)  # case b: background only on both sides, so no foreground class has a Dice
    for name, array in (("a", gt), ("b", empty), ("c", gt)):
        _write(tmp_path / "p", name, array)
        _write(tmp_path / "g", name, array)
    result = segeval.score(tmp_path / "p", tmp_path / "g", labels=[0, 1])
    rows = result.per_case[result.per_case["class"] == "all"]
    statuses = {(r.case, r.metric): r.status for r in rows.itertuples()}
    assert statuses[("b", "mean_dice")] == "no_valid_class"
    assert math.isnan(_value(result, "b", "all", "mean_dice")[0])
    others = {key: status for key, status in statuses.items() if key != ("b", "mean_dice")}
    assert set(others.values()) == {"ok"}, others
    assert _value(result, "b", "all", "pixel_accuracy") == (1.0, "ok")
    assert _value(result, "c", "all", "mean_dice") == (1.0, "ok")
