"""Distance metrics through segeval.score: the engine's glue, units, gates and label handling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

import segeval
from segeval.errors import UsageError
from segeval.metrics.distance import DistanceOptions, distance_metrics


def _value(result, case, cls, metric):
    rows = result.per_case
    row = rows[(rows["case"] == case) & (rows["class"] == str(cls)) & (rows["metric"] == metric)]
    return float(row["value"].iloc[0]), row["status"].iloc[0]


def _write_nifti(path, array, spacing_xyz):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing_xyz)
    sitk.WriteImage(image, str(path))


@pytest.fixture
def volumes(tmp_path):
    rng = np.random.default_rng(4)
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    cases = {}
    for i in range(3):
        gt = np.zeros((9, 21, 17), np.uint8)
        gt[2:7, 4:15, 3:12] = 1
        gt[3:6, 6:10, 5:9] = 2
        pred = np.roll(gt, shift=int(rng.integers(-2, 3)), axis=1)
        pred[rng.random(pred.shape) < 0.01] = 2
        _write_nifti(tmp_path / "g" / f"v{i}.nii.gz", gt, (0.7, 0.9, 2.5))
        _write_nifti(tmp_path / "p" / f"v{i}.nii.gz", pred, (0.7, 0.9, 2.5))
        cases[f"v{i}"] = (pred, gt)
    return tmp_path, cases


def test_values_equal_the_kernel_on_the_same_arrays_in_mm(volumes):
    root, cases = volumes
    names = ["hd", "hd95", "assd", "msd_pred_to_gt", "msd_gt_to_pred", "nsd", "boundary_iou"]
    result = segeval.score(root / "p", root / "g", metrics=names)
    spacing = result.cases[0].spacing_mm
    assert spacing == pytest.approx((2.5, 0.9, 0.7))
    for case, (pred, gt) in cases.items():
        expected = distance_metrics(pred, gt, [1, 2], spacing, names, DistanceOptions())
        for label in (1, 2):
            for name in names:
                value, status = _value(result, case, label, name)
                assert value == pytest.approx(expected[label][name][0], rel=1e-12, nan_ok=True)
                assert status == expected[label][name][1]
    assert result.to_dict()["units"] == {"distance": "mm", "volume": "mm^3"}
    assert not (result.per_case["class"].eq("0") & result.per_case["metric"].eq("hd")).any()  # no background


def test_background_distances_with_include_background(volumes):
    root, _ = volumes
    result = segeval.score(root / "p", root / "g", metrics=["hd"], include_background=True)
    assert (result.per_case["class"].eq("0") & result.per_case["metric"].eq("hd")).any()


def test_gate_on_a_distance_metric_computes_it(volumes):
    root, _ = volumes
    result = segeval.score(root / "p", root / "g", gates=["hd95[2]<=100", "assd.max<=100"])
    assert [g.passed for g in result.gates] == [True, True]
    assert {"hd95", "assd"} <= set(result.per_case["metric"])


def test_hd_percentile_option_and_conventions(volumes):
    root, cases = volumes
    result = segeval.score(root / "p", root / "g", hd_percentile=99, convention="medpy")
    pred, gt = cases["v0"]
    expected = distance_metrics(
        pred, gt, [1], result.cases[0].spacing_mm, ["hd99"], DistanceOptions(convention="medpy", percentile=99)
    )
    assert _value(result, "v0", 1, "hd99")[0] == pytest.approx(expected[1]["hd99"][0])
    with pytest.raises(UsageError, match="monia"):
        segeval.score(root / "p", root / "g", metrics=["hd"], convention="monia")


def test_empty_policies(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    gt = np.zeros((12, 10), np.uint8)
    gt[3:6, 3:6] = 1
    np.save(tmp_path / "g" / "a.npy", gt)
    np.save(tmp_path / "p" / "a.npy", np.zeros_like(gt))
    worst = segeval.score(tmp_path / "p", tmp_path / "g", metrics=["hd", "nsd"], labels=(0, 1, 2), spacing=(2.0, 1.0))
    assert _value(worst, "a", 1, "hd") == (pytest.approx(math.hypot(24.0, 10.0)), "one_empty")
    assert _value(worst, "a", 1, "nsd") == (0.0, "one_empty")
    value, status = _value(worst, "a", 2, "hd")
    assert math.isnan(value) and status == "both_empty"
    inf = segeval.score(tmp_path / "p", tmp_path / "g", metrics=["hd"], distance_empty="inf")
    assert _value(inf, "a", 1, "hd")[0] == math.inf


def test_binary_255_png_and_pixels_units(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    gt = np.zeros((15, 11), np.uint8)
    gt[4:9, 3:7] = 255
    pred = np.roll(gt, 2, axis=0)
    Image.fromarray(gt).save(tmp_path / "g" / "m.png")
    Image.fromarray(pred).save(tmp_path / "p" / "m.png")
    result = segeval.score(tmp_path / "p", tmp_path / "g", metrics=["hd"])
    assert _value(result, "m", 1, "hd") == (2.0, "ok")
    assert result.to_dict()["units"]["distance"] == "px"


def test_class_axis_channels_map_to_declared_labels(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    gt = np.zeros((8, 8), np.uint8)
    gt[:4] = 4
    probs = np.zeros((2, 8, 8), np.float32)
    probs[1, :4], probs[0, 4:] = 1.0, 1.0
    np.save(tmp_path / "g" / "a.npy", gt)
    np.save(tmp_path / "p" / "a.npy", probs)
    result = segeval.score(tmp_path / "p", tmp_path / "g", labels=(0, 4), metrics=["hd"])
    assert _value(result, "a", 4, "dice") == (1.0, "ok")
    assert _value(result, "a", 4, "hd") == (0.0, "ok")
    wrong = segeval.score(tmp_path / "p", tmp_path / "g", labels=(0, 1, 4))
    assert "2 channels but 3 declared labels" in wrong.failed[0].error


@pytest.mark.reference
def test_monai_convention_end_to_end_equals_monai(volumes):
    monai_utils = pytest.importorskip("monai.metrics")
    import torch

    root, cases = volumes
    result = segeval.score(root / "p", root / "g", metrics=["hd", "hd95", "assd"], convention="monai")
    spacing = result.cases[0].spacing_mm
    for case, (pred, gt) in cases.items():
        for label in (1, 2):
            p = torch.from_numpy(pred == label)[None, None]
            g = torch.from_numpy(gt == label)[None, None]
            hd95 = monai_utils.compute_hausdorff_distance(p, g, percentile=95, spacing=list(spacing)).item()
            assd = monai_utils.compute_average_surface_distance(p, g, symmetric=True, spacing=list(spacing)).item()
            assert _value(result, case, label, "hd95")[0] == pytest.approx(hd95, rel=1e-6)
            assert _value(result, case, label, "assd")[0] == pytest.approx(assd, rel=1e-6)
