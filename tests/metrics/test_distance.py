"""Distance metrics: hand-computed geometry, empty policy, validation, invariants, engines.

Expected values are computed by hand (documented next to each case) or by an independent
oracle written here with SciPy (binary erosion + ``scipy.spatial.distance.cdist``), never
copied from segeval's output. Comparisons with MONAI, MedPy and DeepMind live in
``test_distance_reference.py``.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial.distance import cdist

from segeval.errors import InputError, UnknownNameError, UsageError
from segeval.metrics import _edt, _lookup, distance, surface
from segeval.metrics.distance import (
    CONVENTIONS,
    EMPTY_POLICIES,
    DistanceOptions,
    average_symmetric_surface_distance,
    boundary_iou,
    distance_metrics,
    hausdorff_distance,
    mean_surface_distance,
    normalized_surface_dice,
    parse_distance_metric,
    percentile_hausdorff_distance,
)
from segeval.metrics.surface import CONVENTION_PRESETS, Convention, get_convention, surface_distances

ALL = ["hd", "hd95", "assd", "msd_pred_to_gt", "msd_gt_to_pred", "nsd", "boundary_iou"]


def blobs(shape, seed, sigma=2.0, level=0.3):
    """A random smooth binary mask (several blobs, some touching the border)."""
    r = np.random.default_rng(seed)
    field = ndi.gaussian_filter(r.standard_normal(shape), sigma)
    return field > level * field.std()


def oracle_voxel(pred, gt, spacing, connectivity=1):
    """Independent voxel-surface distances: SciPy erosion + brute-force cdist."""
    structure = ndi.generate_binary_structure(pred.ndim, connectivity)
    sp = np.asarray(spacing, float)

    def points(m):
        return np.argwhere(m & ~ndi.binary_erosion(m, structure)) * sp

    p, g = points(pred), points(gt)
    d = cdist(p, g)
    return d.min(axis=1), d.min(axis=0)


# --------------------------------------------------------------------------- analytic


def two_pixels(gap_rows):
    """Two single pixels in one column, ``gap_rows`` rows apart, in a 5x3 image."""
    pred = np.zeros((5, 3), np.uint8)
    gt = np.zeros((5, 3), np.uint8)
    pred[0, 1] = 1
    gt[gap_rows, 1] = 1
    return pred, gt


@pytest.mark.parametrize("convention", ["segeval", "monai", "medpy"])
def test_two_pixels_2mm_apart_voxel_conventions(convention):
    # centres one row apart at spacing (2, 1): every distance is 2 mm
    pred, gt = two_pixels(1)
    opts = DistanceOptions(convention=convention, nsd_tolerance_mm=1.0)
    res = distance_metrics(pred, gt, [1], (2.0, 1.0), ["hd", "hd95", "assd", "msd_pred_to_gt", "nsd"], opts)[1]
    assert res == {
        "hd": (2.0, "ok"),
        "hd95": (2.0, "ok"),
        "assd": (2.0, "ok"),
        "msd_pred_to_gt": (2.0, "ok"),
        "nsd": (0.0, "ok"),
    }
    assert distance_metrics(
        pred, gt, [1], (2.0, 1.0), ["nsd"], DistanceOptions(convention=convention, nsd_tolerance_mm=2.0)
    )[1]["nsd"] == (1.0, "ok")


def test_two_pixels_deepmind_surfels():
    # Pixels at rows 0 and 2, spacing (2, 1). Their corner points sit on corner rows {0, 1}
    # and {2, 3}: from each pixel two corners are 2 mm from the other's nearest corners and
    # two are 4 mm; all four corners weigh the same (half the cell diagonal, sqrt(5)/2).
    pred, gt = two_pixels(2)
    sd = surface_distances(pred.astype(bool), gt.astype(bool), (2.0, 1.0), convention="deepmind")
    assert sorted(sd.pred_to_gt.tolist()) == [2.0, 2.0, 4.0, 4.0]
    assert sorted(sd.gt_to_pred.tolist()) == [2.0, 2.0, 4.0, 4.0]
    np.testing.assert_allclose(sd.pred_weights, [math.sqrt(5) / 2] * 4)
    assert hausdorff_distance(sd) == 4.0
    assert percentile_hausdorff_distance(sd, 95) == 4.0  # cumulative area 0.25, .5, .75, 1
    assert percentile_hausdorff_distance(sd, 50) == 2.0
    assert average_symmetric_surface_distance(sd) == 3.0
    assert normalized_surface_dice(sd, 2.0) == 0.5
    # the voxel conventions see two centres 4 mm apart
    sd_vox = surface_distances(pred.astype(bool), gt.astype(bool), (2.0, 1.0))
    assert sd_vox.pred_to_gt.tolist() == [4.0] and sd_vox.gt_to_pred.tolist() == [4.0]


def conventions_case():
    """1x5 strip: pred at columns 0 and 4, gt at column 0.

    pred→gt distances [0, 4], gt→pred [0]. By hand:
    HD50 directed max = max(2, 0) = 2 (segeval/MONAI); pooled = median of [0, 4, 0] = 0 (MedPy).
    ASSD pooled = 4 / 3; mean of the directed means = (2 + 0) / 2 = 1.
    """
    pred = np.zeros((1, 5), bool)
    pred[0, [0, 4]] = True
    gt = np.zeros((1, 5), bool)
    gt[0, 0] = True
    return pred, gt


def test_percentile_directed_max_vs_pooled():
    pred, gt = conventions_case()
    assert percentile_hausdorff_distance(surface_distances(pred, gt, (1, 1)), 50) == 2.0
    assert percentile_hausdorff_distance(surface_distances(pred, gt, (1, 1), convention="medpy"), 50) == 0.0


def test_assd_pooled_vs_mean_of_means():
    pred, gt = conventions_case()
    assert average_symmetric_surface_distance(surface_distances(pred, gt, (1, 1))) == pytest.approx(4 / 3)
    custom = Convention(name="mom", assd="mean_of_means")
    assert average_symmetric_surface_distance(surface_distances(pred, gt, (1, 1), convention=custom)) == 1.0
    sd = surface_distances(pred, gt, (1, 1))
    assert mean_surface_distance(sd, "pred_to_gt") == 2.0
    assert mean_surface_distance(sd, "gt_to_pred") == 0.0


def test_linear_percentile_interpolates():
    # pred→gt distances 0, 1, 2, 3 (gt a single pixel at column 0, pred a 1x4 row);
    # 95th percentile by linear interpolation: rank 0.95 * 3 = 2.85 -> 2 + 0.85 = 2.85
    pred = np.zeros((1, 6), bool)
    pred[0, 0:4] = True
    gt = np.zeros((1, 6), bool)
    gt[0, 0] = True
    sd = surface_distances(pred, gt, (1.0, 1.0), directions="pred_to_gt")
    assert sorted(sd.pred_to_gt.tolist()) == [0.0, 1.0, 2.0, 3.0]
    assert distance._linear_percentile(sd.pred_to_gt, 95.0, False) == pytest.approx(2.85)
    assert distance._linear_percentile(sd.pred_to_gt, 95.0, False) == np.percentile(sd.pred_to_gt, 95)


def test_square_shifted_by_one_column():
    # 4x4 square vs the same square one column to the right (spacing 1): the surface
    # (12-pixel ring) of each; every ring pixel is within 1 px of the other ring, except
    # none. HD = 1.
    pred = np.zeros((6, 7), np.uint8)
    pred[1:5, 1:5] = 1
    gt = np.zeros((6, 7), np.uint8)
    gt[1:5, 2:6] = 1
    res = distance_metrics(pred, gt, [1], (1.0, 1.0), ["hd", "nsd"], DistanceOptions(nsd_tolerance_mm=0.5))[1]
    assert res["hd"] == (1.0, "ok")
    # rings share rows 1 and 4 at columns 2-4 (6 pixels each side): 12 of 24 within 0.5
    assert res["nsd"] == (0.5, "ok")


def test_identity_gives_zero_distances_and_unit_overlaps():
    m = blobs((31, 26), 1).astype(np.uint8)
    for convention in CONVENTIONS:
        res = distance_metrics(m, m, [1], (1.5, 0.7), ALL, DistanceOptions(convention=convention))[1]
        for name in ("hd", "hd95", "assd", "msd_pred_to_gt", "msd_gt_to_pred"):
            assert res[name] == (0.0, "ok"), (convention, name)
        assert res["nsd"] == (1.0, "ok")
        assert res["boundary_iou"] == (1.0, "ok")


# --------------------------------------------------------------------------- empty masks


def test_both_empty_is_nan_for_every_metric():
    z = np.zeros((4, 5), np.uint8)
    res = distance_metrics(z, z, [1], (1, 1), ALL)[1]
    assert set(res) == set(ALL)
    for value, status in res.values():
        assert math.isnan(value) and status == "both_empty"


@pytest.mark.parametrize("pred_empty", [True, False])
def test_one_empty_worst_is_image_diagonal(pred_empty):
    shape, spacing = (4, 6), (2.0, 0.5)
    m = np.zeros(shape, np.uint8)
    m[1, 2] = 1
    z = np.zeros(shape, np.uint8)
    pred, gt = (z, m) if pred_empty else (m, z)
    diagonal = math.hypot(4 * 2.0, 6 * 0.5)  # sqrt(8**2 + 3**2)
    res = distance_metrics(pred, gt, [1], spacing, ALL)[1]
    for name in ("hd", "hd95", "assd", "msd_pred_to_gt", "msd_gt_to_pred"):
        assert res[name] == (pytest.approx(diagonal), "one_empty")
    assert res["nsd"] == (0.0, "one_empty")
    assert res["boundary_iou"] == (0.0, "one_empty")


@pytest.mark.parametrize("policy, distance_value, overlap_value", [("inf", math.inf, 0.0), ("nan", math.nan, math.nan)])
def test_one_empty_policies(policy, distance_value, overlap_value):
    m = np.zeros((3, 3), np.uint8)
    m[1, 1] = 1
    res = distance_metrics(m, np.zeros_like(m), [1], (1, 1), ALL, DistanceOptions(empty_policy=policy))[1]
    for name, (value, status) in res.items():
        expected = overlap_value if name in ("nsd", "boundary_iou") else distance_value
        assert status == "one_empty"
        assert (math.isnan(value) and math.isnan(expected)) or value == expected, name


def test_low_level_empty_statistics():
    z = np.zeros((3, 4), bool)
    m = z.copy()
    m[1, 1] = True
    sd = surface_distances(m, z, (1, 1))
    assert sd.status == "one_empty" and sd.n_pred == 1 and sd.n_gt == 0
    assert sd.pred_to_gt.tolist() == [math.inf]
    assert hausdorff_distance(sd, empty_policy="inf") == math.inf
    assert hausdorff_distance(sd) == pytest.approx(5.0)  # 3x4 image: diagonal 5
    assert normalized_surface_dice(sd) == 0.0
    assert surface_distances(z, z, (1, 1)).status == "both_empty"
    assert math.isnan(average_symmetric_surface_distance(surface_distances(z, z, (1, 1))))


def test_label_absent_from_both_and_present_in_one_among_others():
    pred = np.zeros((8, 9), np.uint8)
    gt = np.zeros((8, 9), np.uint8)
    pred[1:3, 1:3] = 1
    gt[1:3, 2:4] = 1
    pred[5:7, 5:7] = 2  # label 2 only in pred; label 3 nowhere
    res = distance_metrics(pred, gt, [1, 2, 3], (1, 1), ["hd"])
    assert res[1]["hd"] == (1.0, "ok")
    assert res[2]["hd"][1] == "one_empty"
    assert math.isnan(res[3]["hd"][0]) and res[3]["hd"][1] == "both_empty"


# --------------------------------------------------------------------------- validation


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(InputError, match=r"\(4, 5\) \(pred\) and \(4, 6\) \(gt\)"):
        distance_metrics(np.zeros((4, 5), np.uint8), np.zeros((4, 6), np.uint8), [1], (1, 1), ["hd"])


def test_spacing_length_must_match_ndim():
    m = np.zeros((3, 4, 5), np.uint8)
    with pytest.raises(
        InputError, match=r"Expected `spacing_mm` to have 3 values for a 3-D mask of shape \(3, 4, 5\), got 2"
    ):
        distance_metrics(m, m, [1], (1.0, 1.0), ["hd"])


@pytest.mark.parametrize("spacing", [(0.0, 1.0), (-1.0, 1.0), (math.nan, 1.0), (math.inf, 1.0)])
def test_spacing_must_be_finite_positive(spacing):
    m = np.zeros((3, 4), np.uint8)
    with pytest.raises(InputError, match="finite and > 0"):
        distance_metrics(m, m, [1], spacing, ["hd"])


def test_label_maps_must_be_integer_and_2d_or_3d():
    with pytest.raises(InputError, match="integer labels, got dtype float32"):
        distance_metrics(np.zeros((3, 3), np.float32), np.zeros((3, 3), np.float32), [1], (1, 1), ["hd"])
    with pytest.raises(InputError, match="2-D or 3-D"):
        distance_metrics(np.zeros(5, np.uint8), np.zeros(5, np.uint8), [1], (1,), ["hd"])
    with pytest.raises(InputError, match="numpy array, got list"):
        surface_distances([[1]], np.ones((1, 1), bool), (1, 1))


def test_unknown_metric_and_convention():
    m = np.zeros((3, 3), np.uint8)
    with pytest.raises(UnknownNameError, match="unknown distance metric 'dice'") as info:
        distance_metrics(m, m, [1], (1, 1), ["dice"])
    assert "hd95" in info.value.hint
    with pytest.raises(UnknownNameError, match="did you mean 'monai'"):
        DistanceOptions(convention="monia")
    with pytest.raises(UsageError, match="ambiguous"):
        parse_distance_metric("msd")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(percentile=101), "between 0 and 100"),
        (dict(percentile=True), "to be a number"),
        (dict(nsd_tolerance_mm=-1), r"`nsd_tolerance_mm` to be >= 0"),
        (dict(nsd_tolerance_mm={1: math.inf}), r"nsd_tolerance_mm\[1\]"),
        (dict(empty_policy="zero"), "one of worst, nan, inf, got 'zero'"),
        (dict(backend="numba"), "one of auto, scipy, torch"),
    ],
)
def test_options_are_validated(kwargs, message):
    with pytest.raises(UsageError, match=message):
        DistanceOptions(**kwargs)


def test_per_label_tolerance_and_missing_label():
    pred, gt = two_pixels(1)
    pred[4, 0] = gt[3, 0] = 2  # label 2: also 2 mm apart
    opts = DistanceOptions(nsd_tolerance_mm={1: 1.0, 2: 2.0})
    res = distance_metrics(pred, gt, [1, 2], (2.0, 1.0), ["nsd"], opts)
    assert res[1]["nsd"] == (0.0, "ok") and res[2]["nsd"] == (1.0, "ok")
    with pytest.raises(UsageError, match="no NSD tolerance for label 3; `nsd_tolerance_mm` names labels 1, 2"):
        distance_metrics(pred, gt, [1, 2, 3], (2.0, 1.0), ["nsd"], opts)


def test_device_and_backend_checks():
    m = np.zeros((3, 3), np.uint8)
    with pytest.raises(UsageError, match="'cpu' or 'cuda"):
        distance_metrics(m, m, [1], (1, 1), ["hd"], DistanceOptions(device="tpu"))
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="CUDA is not available"):
            distance_metrics(m, m, [1], (1, 1), ["hd"], DistanceOptions(device="cuda"))


@pytest.mark.parametrize(
    "name, canonical",
    [
        ("HD", "hd"),
        ("hausdorff", "hd"),
        ("hd95", "hd95"),
        ("HD-95", "hd95"),
        ("hd_99", "hd99"),
        ("hd99.5", "hd99.5"),
        ("hd99_5", "hd99.5"),
        ("hd100", "hd"),
        ("hd0", "hd0"),
        ("hd_percentile", "hd_percentile"),
        ("ASSD", "assd"),
        ("msd pred to gt", "msd_pred_to_gt"),
        ("asd_gt_to_pred", "msd_gt_to_pred"),
        ("surface-dice", "nsd"),
        ("normalised_surface_dice", "nsd"),
        ("biou", "boundary_iou"),
        ("dice", None),
        ("hd101", UsageError),
    ],
)
def test_parse_distance_metric(name, canonical):
    if canonical is UsageError:
        with pytest.raises(UsageError, match="between 0 and 100"):
            parse_distance_metric(name)
    else:
        assert parse_distance_metric(name) == canonical


def test_only_asked_metrics_and_directions_are_returned():
    pred, gt = conventions_case()
    res = distance_metrics(pred.astype(np.uint8), gt.astype(np.uint8), [1], (1, 1), ["msd_gt_to_pred", "HD-50", "hd50"])
    assert list(res[1]) == ["msd_gt_to_pred", "hd50"]
    sd = surface_distances(pred, gt, (1, 1), directions="gt_to_pred")
    assert sd.pred_to_gt is None
    with pytest.raises(UsageError, match="without the pred_to_gt direction"):
        hausdorff_distance(sd)


def test_hd_percentile_metric_uses_the_option():
    pred, gt = conventions_case()
    res = distance_metrics(
        pred.astype(np.uint8),
        gt.astype(np.uint8),
        [1],
        (1, 1),
        ["hd_percentile", "hd50"],
        DistanceOptions(percentile=50),
    )
    assert res[1]["hd_percentile"] == res[1]["hd50"] == (2.0, "ok")


# --------------------------------------------------------------------------- oracle & invariants


@pytest.mark.parametrize("shape, spacing", [((37, 23), (1.3, 0.7)), ((9, 17, 13), (2.5, 0.8, 0.8))])
@pytest.mark.parametrize("connectivity", [1, 2])
def test_voxel_distances_match_bruteforce_oracle(shape, spacing, connectivity):
    pred, gt = blobs(shape, 3), blobs(shape, 4)
    conv = Convention(name="c", connectivity=connectivity)
    sd = surface_distances(pred, gt, spacing, convention=conv)
    d_pg, d_gp = oracle_voxel(pred, gt, spacing, connectivity)
    np.testing.assert_allclose(np.sort(sd.pred_to_gt), np.sort(d_pg), rtol=1e-12)
    np.testing.assert_allclose(np.sort(sd.gt_to_pred), np.sort(d_gp), rtol=1e-12)


def test_far_points_use_bruteforce_and_kdtree_exactly():
    # Surfaces far apart (beyond the local search ball): small sets are resolved by brute
    # force, large ones with the k-d tree. Both must equal the cdist oracle.
    for size, gap in ((6, 40), (170, 90)):
        pred = np.zeros((size + 2, size + gap + 2 * size), bool)
        gt = np.zeros_like(pred)
        pred[1 : size + 1, 1 : size + 1] = True
        gt[1 : size + 1, size + gap : 2 * size + gap] = True
        spacing = (0.9, 1.1)
        sd = surface_distances(pred, gt, spacing)
        d_pg, d_gp = oracle_voxel(pred, gt, spacing)
        pairs = sd.n_pred * sd.n_gt
        assert (pairs > _edt._BRUTE_FORCE_PAIRS) == (size == 170)
        np.testing.assert_allclose(np.sort(sd.pred_to_gt), np.sort(d_pg), rtol=1e-12)
        np.testing.assert_allclose(np.sort(sd.gt_to_pred), np.sort(d_gp), rtol=1e-12)


def test_symmetry_of_symmetric_metrics():
    pred, gt = blobs((29, 34), 5).astype(np.uint8), blobs((29, 34), 6).astype(np.uint8)
    for convention in CONVENTIONS:
        opts = DistanceOptions(convention=convention)
        a = distance_metrics(pred, gt, [1], (0.9, 1.7), ALL, opts)[1]
        b = distance_metrics(gt, pred, [1], (0.9, 1.7), ALL, opts)[1]
        for name in ("hd", "hd95", "assd", "nsd", "boundary_iou"):
            assert a[name][0] == pytest.approx(b[name][0], rel=1e-12), (convention, name)
        assert a["msd_pred_to_gt"][0] == pytest.approx(b["msd_gt_to_pred"][0], rel=1e-12)


def test_isotropic_spacing_scales_distances():
    pred, gt = blobs((13, 15, 11), 7).astype(np.uint8), blobs((13, 15, 11), 8).astype(np.uint8)
    for convention in CONVENTIONS:
        one = distance_metrics(
            pred, gt, [1], (1, 1, 1), ["hd", "hd95", "assd"], DistanceOptions(convention=convention)
        )[1]
        three = distance_metrics(
            pred, gt, [1], (3, 3, 3), ["hd", "hd95", "assd"], DistanceOptions(convention=convention)
        )[1]
        for name in one:
            assert three[name][0] == pytest.approx(3 * one[name][0], rel=1e-6), (convention, name)


def test_crop_and_embedding_do_not_change_values():
    # the same masks embedded in a larger image (away from the border) give the same
    # values; the border itself counts as background (a mask touching it has a surface there)
    pred, gt = blobs((17, 21), 9), blobs((17, 21), 10)
    big_p = np.zeros((40, 50), np.uint8)
    big_g = np.zeros((40, 50), np.uint8)
    big_p[10:27, 15:36] = pred
    big_g[10:27, 15:36] = gt
    metrics = ["hd", "hd95", "assd", "nsd", "boundary_iou"]
    for convention in CONVENTIONS:
        opts = DistanceOptions(convention=convention)
        small = distance_metrics(pred.astype(np.uint8), gt.astype(np.uint8), [1], (1.2, 0.8), metrics, opts)[1]
        large = distance_metrics(big_p, big_g, [1], (1.2, 0.8), metrics, opts)[1]
        assert small == large, convention


def test_full_image_mask_has_its_border_as_surface():
    full = np.ones((4, 5), np.uint8)
    inner = np.zeros((4, 5), np.uint8)
    inner[1:3, 1:4] = 1
    # surface of the full mask = its 14 border pixels; inner's surface = all of its 6;
    # the image corners are one diagonal step from the inner block's corners
    sd = surface_distances(full.astype(bool), inner.astype(bool), (1, 1))
    assert sd.n_pred == 14 and sd.n_gt == 6
    assert sorted(sd.gt_to_pred.tolist()) == [1.0] * 6
    assert hausdorff_distance(sd) == math.sqrt(2)


def test_many_labels_in_one_case_equal_one_label_at_a_time():
    # the CPU engine batches the classes of a case; each must equal its own run
    shape = (40, 47)
    pred = np.zeros(shape, np.uint8)
    gt = np.zeros(shape, np.uint8)
    for label in range(1, 7):
        pred[blobs(shape, 20 + label, sigma=1.5, level=1.2)] = label
        gt[blobs(shape, 40 + label, sigma=1.5, level=1.2)] = label
    gt[0:3, 0:40] = 7  # a wide, flat class next to small ones
    pred[0:2, 5:44] = 7
    labels = list(range(1, 9))
    for convention in CONVENTIONS:
        opts = DistanceOptions(convention=convention)
        together = distance_metrics(pred, gt, labels, (0.7, 1.1), ALL, opts)
        for label in labels:
            alone = distance_metrics(pred, gt, [label], (0.7, 1.1), ALL, opts)[label]
            assert together[label] == alone, (convention, label)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
@pytest.mark.parametrize("big", [9, 40])
def test_label_boxes_for_small_large_and_signed_labels(dtype, big):
    # small unsigned labels (9) take the one-pass combined map, large (40) or signed ones a
    # pass per map; every path must equal the binary masks scored one by one
    shape = (21, 26)
    pred = np.zeros(shape, dtype)
    gt = np.zeros(shape, dtype)
    pred[2:6, 3:9] = 3
    gt[3:7, 4:10] = 3
    pred[10:15, 12:20] = big
    gt[9:16, 13:19] = big
    gt[18:20, 1:4] = 7  # only in gt
    res = distance_metrics(pred, gt, [3, 7, big, 41], (1.0, 0.5), ["hd", "assd"])
    for label in (3, big):
        sd = surface_distances(pred == label, gt == label, (1.0, 0.5))
        assert res[label]["hd"] == (hausdorff_distance(sd), "ok")
        assert res[label]["assd"] == (average_symmetric_surface_distance(sd), "ok")
    assert res[7]["hd"][1] == "one_empty"
    assert res[41]["hd"][1] == "both_empty"


def test_labels_zero_and_bool_maps():
    pred = np.zeros((5, 6), np.int16)
    gt = np.zeros((5, 6), np.int16)
    pred[1:3, 1:3] = 1
    gt[1:3, 2:4] = 1
    # label 0 (the background) is scored like any other label
    res = distance_metrics(pred, gt, [0, 1], (1, 1), ["hd"])
    assert res[1]["hd"] == (1.0, "ok")
    assert res[0]["hd"] == (1.0, "ok")
    res_bool = distance_metrics(pred.astype(bool), gt.astype(bool), [1], (1, 1), ["hd"])
    assert res_bool[1]["hd"] == (1.0, "ok")


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("shape, spacing", [((19, 27), (0.7, 1.3)), ((7, 12, 10), (2.5, 0.8, 0.8))])
def test_torch_backend_on_cpu_equals_scipy(convention, shape, spacing):
    rng_seed = 30 + len(shape)
    pred = np.zeros(shape, np.uint8)
    gt = np.zeros(shape, np.uint8)
    pred[blobs(shape, rng_seed, sigma=1.5)] = 1
    gt[blobs(shape, rng_seed + 1, sigma=1.5)] = 1
    pred[blobs(shape, rng_seed + 2, sigma=1.5, level=1.0)] = 2
    gt[blobs(shape, rng_seed + 3, sigma=1.5, level=1.0)] = 2
    metrics = ALL + ["hd50"]
    a = distance_metrics(pred, gt, [1, 2], spacing, metrics, DistanceOptions(convention=convention, backend="scipy"))
    b = distance_metrics(
        pred, gt, [1, 2], spacing, metrics, DistanceOptions(convention=convention, backend="torch", device="cpu")
    )
    for label in (1, 2):
        for name in metrics:
            assert a[label][name][1] == b[label][name][1]
            assert a[label][name][0] == pytest.approx(b[label][name][0], rel=1e-12, abs=0), (label, name)


def test_squared_edt_torch_matches_scipy():
    import torch

    mask = ~blobs((11, 14, 9), 50, sigma=1.0, level=1.5)
    spacing = (2.5, 0.8, 1.1)
    ours = torch.sqrt(_edt.squared_edt_torch(torch.from_numpy(~mask), spacing)).numpy()
    np.testing.assert_allclose(ours, ndi.distance_transform_edt(mask, sampling=spacing), rtol=1e-14)
    empty = _edt.squared_edt_torch(torch.zeros((3, 4), dtype=torch.bool), (1.0, 1.0))
    assert torch.isinf(empty).all()


@pytest.mark.gpu
def test_cuda_backend_equals_scipy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    pred = blobs((9, 30, 28), 60).astype(np.uint8)
    gt = blobs((9, 30, 28), 61).astype(np.uint8)
    for convention in CONVENTIONS:
        a = distance_metrics(pred, gt, [1], (2.5, 0.8, 0.8), ALL, DistanceOptions(convention=convention))
        b = distance_metrics(pred, gt, [1], (2.5, 0.8, 0.8), ALL, DistanceOptions(convention=convention, device="cuda"))
        for name in ALL:
            assert a[1][name][0] == pytest.approx(b[1][name][0], rel=1e-12)


# --------------------------------------------------------------------------- boundary IoU


def oracle_band(mask, spacing, width):
    padded = np.pad(mask, 1)
    depth = ndi.distance_transform_edt(padded, sampling=spacing)[1:-1, 1:-1]
    surface = mask & ~ndi.binary_erosion(mask, border_value=0)
    return (mask & (depth <= width)) | surface


@pytest.mark.parametrize("width", [0.5, 1.0, 2.0, 6.0])
def test_boundary_iou_matches_edt_oracle(width):
    spacing = (0.8, 1.25)
    pred, gt = blobs((33, 28), 12, sigma=3.0), blobs((33, 28), 13, sigma=3.0)
    bp, bg = oracle_band(pred, spacing, width), oracle_band(gt, spacing, width)
    expected = (bp & bg).sum() / (bp | bg).sum()
    assert boundary_iou(pred, gt, spacing, width_mm=width) == pytest.approx(expected, rel=1e-12)
    assert boundary_iou(pred, gt, spacing, width_mm=width, backend="torch") == pytest.approx(expected, rel=1e-12)
    res = distance_metrics(
        pred.astype(np.uint8),
        gt.astype(np.uint8),
        [1],
        spacing,
        ["boundary_iou"],
        DistanceOptions(boundary_iou_width_mm=width),
    )
    assert res[1]["boundary_iou"] == (pytest.approx(expected, rel=1e-12), "ok")


def test_boundary_iou_empty_masks():
    z = np.zeros((3, 3), bool)
    m = z.copy()
    m[1, 1] = True
    assert math.isnan(boundary_iou(z, z, (1, 1)))
    assert boundary_iou(m, z, (1, 1)) == 0.0
    assert math.isnan(boundary_iou(m, z, (1, 1), empty_policy="nan"))


# --------------------------------------------------------------------------- tables, docs


def test_surfel_tables_are_complement_symmetric_and_known_cases():
    t2 = _lookup.neighbour_code_table((2.0, 1.0))
    assert t2[0] == t2[15] == 0.0
    assert t2[0b0011] == 1.0 and t2[0b0101] == 2.0  # edge along axis 1 / axis 0
    assert t2[0b0001] == pytest.approx(math.sqrt(5) / 2)  # corner cut: half the diagonal
    assert t2[0b0110] == pytest.approx(math.sqrt(5))  # saddle: two cuts
    t3 = _lookup.neighbour_code_table((1.0, 1.0, 1.0))
    np.testing.assert_allclose(t3, t3[::-1], rtol=1e-15)
    assert t3[0b00001111] == 1.0  # a face-parallel square
    assert t3[0b00000001] == pytest.approx(math.sqrt(3) / 8)  # corner triangle
    t3b = _lookup.neighbour_code_table((2.0, 3.0, 5.0))
    assert t3b[0b00001111] == 15.0  # square across axes 1, 2: area 3 x 5


def test_presets_and_conventions():
    assert tuple(CONVENTION_PRESETS) == CONVENTIONS == distance.CONVENTIONS
    assert EMPTY_POLICIES == ("worst", "nan", "inf")
    assert get_convention("DeepMind").surface == "surfel"
    assert get_convention("medpy").hd_percentile == "pooled"
    assert get_convention("monai").float32
    with pytest.raises(UsageError, match="Convention.surface"):
        Convention(name="x", surface="mesh")
    with pytest.raises(UsageError, match="connectivity >= 1"):
        Convention(name="x", connectivity=0)


@pytest.mark.parametrize("module", [distance, surface, _lookup])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
