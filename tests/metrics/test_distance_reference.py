"""The ``monai``, ``medpy`` and ``deepmind`` presets reproduce their library (to 1e-6 relative).

Each test calls the real library (skipped when it is not installed) on the same masks and
compares with :func:`segeval.metrics.distance.distance_metrics` under the matching preset:

* MONAI: ``compute_hausdorff_distance`` (percentile None and 95),
  ``compute_average_surface_distance`` (``symmetric=True``; ``False`` for the directed
  mean from the prediction), ``compute_surface_dice`` with ``spacing``;
* MedPy: ``medpy.metric.binary.hd``, ``hd95``, ``assd`` and ``asd`` (directed, both ways)
  with ``voxelspacing``;
* DeepMind surface-distance: ``compute_surface_distances``, ``compute_robust_hausdorff``
  (100 and 95), ``compute_average_surface_distance`` (its pair; segeval's ASSD is their
  mean) and ``compute_surface_dice_at_tolerance``.

Library-specific definitions: MedPy 0.5's ``assd`` pools both directions (older MedPy
averaged the two directed means); DeepMind returns the directed pair; MONAI computes in
float32. Geometries: analytic pixels, random multi-blob masks (touching the border), 2-D
and 3-D, odd non-square shapes, anisotropic spacing.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage as ndi

from segeval.metrics import _lookup
from segeval.metrics.distance import DistanceOptions, distance_metrics
from segeval.metrics.surface import Convention, surface_distances

pytestmark = [
    pytest.mark.reference,
    # surface-distance 0.1 uses deprecated SciPy namespaces and divides 0/0 on empty masks
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:the (ground truth|prediction) of class:UserWarning"),
]

RTOL = 1e-6


def _deepmind():
    np.Inf = np.inf  # surface-distance 0.1 uses the NumPy 1 aliases
    np.NaN = np.nan
    return pytest.importorskip("surface_distance")


def blobs(shape, seed, sigma=2.0, level=0.3):
    r = np.random.default_rng(seed)
    field = ndi.gaussian_filter(r.standard_normal(shape), sigma)
    return field > level * field.std()


def monai_values(pred, gt, spacing, tolerance):
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("monai.metrics")
    p = torch.from_numpy(pred[None, None].astype(np.float32))
    g = torch.from_numpy(gt[None, None].astype(np.float32))
    kw = dict(include_background=True, spacing=list(spacing))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "hd": metrics.compute_hausdorff_distance(p, g, **kw).item(),
            "hd95": metrics.compute_hausdorff_distance(p, g, percentile=95, **kw).item(),
            "assd": metrics.compute_average_surface_distance(p, g, symmetric=True, **kw).item(),
            "msd_pred_to_gt": metrics.compute_average_surface_distance(p, g, symmetric=False, **kw).item(),
            "nsd": metrics.compute_surface_dice(p, g, [tolerance], **kw).item(),
        }


def medpy_values(pred, gt, spacing, tolerance):
    mb = pytest.importorskip("medpy.metric.binary")
    return {
        "hd": mb.hd(pred, gt, voxelspacing=spacing),
        "hd95": mb.hd95(pred, gt, voxelspacing=spacing),
        "assd": mb.assd(pred, gt, voxelspacing=spacing),
        "msd_pred_to_gt": mb.asd(pred, gt, voxelspacing=spacing),
        "msd_gt_to_pred": mb.asd(gt, pred, voxelspacing=spacing),
    }


def deepmind_values(pred, gt, spacing, tolerance):
    sd = _deepmind()
    dist = sd.compute_surface_distances(gt, pred, spacing)  # DeepMind takes gt first
    gt_to_pred, pred_to_gt = sd.compute_average_surface_distance(dist)
    return {
        "hd": sd.compute_robust_hausdorff(dist, 100),
        "hd95": sd.compute_robust_hausdorff(dist, 95),
        "assd": (gt_to_pred + pred_to_gt) / 2,
        "msd_pred_to_gt": pred_to_gt,
        "msd_gt_to_pred": gt_to_pred,
        "nsd": sd.compute_surface_dice_at_tolerance(dist, tolerance),
    }


REFERENCES = {"monai": monai_values, "medpy": medpy_values, "deepmind": deepmind_values}


def assert_preset_matches(convention, pred, gt, spacing, tolerance=1.0, backend="scipy"):
    expected = REFERENCES[convention](pred, gt, spacing, tolerance)
    opts = DistanceOptions(convention=convention, nsd_tolerance_mm=tolerance, empty_policy="inf", backend=backend)
    ours = distance_metrics(pred.astype(np.uint8), gt.astype(np.uint8), [1], spacing, list(expected), opts)[1]
    for name, value in expected.items():
        got = ours[name][0]
        if math.isinf(value):
            assert got == value, (convention, name)
        else:
            assert got == pytest.approx(float(value), rel=RTOL, abs=1e-12), (convention, name, got, value)


CASES = [
    # (shape, spacing): odd and non-square, anisotropic, 2-D and 3-D
    ((37, 53), (2.0, 1.0)),
    ((41, 29), (0.7, 1.3)),
    ((13, 29, 23), (2.5, 0.8, 0.8)),
    ((11, 14, 17), (1.0, 1.0, 1.0)),
]


@pytest.mark.parametrize("convention", list(REFERENCES))
@pytest.mark.parametrize("shape, spacing", CASES)
def test_preset_reproduces_library_on_random_blobs(convention, shape, spacing):
    seed = sum(shape)
    gt = blobs(shape, seed)
    # an independent prediction, and a close one (dilated gt with speckle noise)
    close = ndi.binary_dilation(gt) ^ (np.random.default_rng(seed).random(shape) < 0.02)
    for pred in (blobs(shape, seed + 1), close):
        assert_preset_matches(convention, pred, gt, spacing)


@pytest.mark.parametrize("convention", list(REFERENCES))
def test_preset_reproduces_library_with_far_surfaces(convention):
    # two blobs far apart: the nearest-point search falls back to brute force / k-d tree
    shape, spacing = (15, 60, 70), (2.5, 0.8, 0.8)
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    gt = ((zz - 7) / 5.0) ** 2 + ((yy - 15) / 10.0) ** 2 + ((xx - 15) / 12.0) ** 2 < 1
    pred = ((zz - 8) / 4.0) ** 2 + ((yy - 45) / 9.0) ** 2 + ((xx - 55) / 10.0) ** 2 < 1
    assert_preset_matches(convention, pred | (gt & (xx < 12)), gt, spacing)


@pytest.mark.parametrize("convention", ["monai", "deepmind"])
@pytest.mark.parametrize("tolerance", [0.8, 2.5, 1.6, 0.0])
def test_nsd_ties_at_the_tolerance(convention, tolerance):
    # tolerances equal to lattice distances (0.8, 2.5, 2 x 0.8) make ties d == tau common;
    # MONAI compares in float32, DeepMind in float64
    shape, spacing = (9, 21, 19), (2.5, 0.8, 0.8)
    gt = blobs(shape, 5)
    pred = np.roll(gt, 1, axis=2) | np.roll(gt, -1, axis=0)
    assert_preset_matches(convention, pred, gt, spacing, tolerance=tolerance)


@pytest.mark.parametrize("convention", list(REFERENCES))
def test_two_pixels_2mm_apart(convention):
    pred = np.zeros((4, 3), bool)
    gt = np.zeros((4, 3), bool)
    pred[0, 1] = True
    gt[1, 1] = True
    assert_preset_matches(convention, pred, gt, (2.0, 1.0), tolerance=1.0)
    pred2 = np.zeros((5, 3), bool)
    pred2[0, 1] = True
    gt2 = np.zeros((5, 3), bool)
    gt2[3, 1] = True
    assert_preset_matches(convention, pred2, gt2, (2.0, 1.0), tolerance=2.0)


@pytest.mark.parametrize("convention", list(REFERENCES))
def test_masks_touching_the_image_border(convention):
    shape = (12, 15)
    gt = np.zeros(shape, bool)
    gt[:, :6] = True  # whole left side, touching three borders
    pred = np.zeros(shape, bool)
    pred[2:, :8] = True
    pred[0, 14] = True  # a corner pixel
    assert_preset_matches(convention, pred, gt, (1.5, 0.9))


def test_one_empty_mask_like_monai_and_deepmind():
    m = blobs((15, 17), 3)
    z = np.zeros_like(m)
    for pred, gt in ((m, z), (z, m)):
        monai = monai_values(pred, gt, (1.0, 1.0), 1.0)
        deepmind = deepmind_values(pred, gt, (1.0, 1.0), 1.0)
        ours = distance_metrics(
            pred.astype(np.uint8),
            gt.astype(np.uint8),
            [1],
            (1.0, 1.0),
            ["hd", "hd95", "nsd"],
            DistanceOptions(empty_policy="inf"),
        )[1]
        for name in ("hd", "hd95"):
            assert deepmind[name] == ours[name][0] == math.inf
            assert ours[name][1] == "one_empty"
        assert monai["hd"] == math.inf
        # MONAI's HD95 is NaN here (torch.quantile interpolates inf - inf); segeval's empty
        # policy, not the preset, decides empty masks (documented deviation)
        assert math.isnan(monai["hd95"])
        assert monai["nsd"] == deepmind["nsd"] == ours["nsd"][0] == 0.0


def test_medpy_connectivity_as_a_custom_convention():
    mb = pytest.importorskip("medpy.metric.binary")
    shape, spacing = (17, 19, 13), (1.2, 0.6, 0.9)
    pred, gt = blobs(shape, 8), blobs(shape, 9)
    for connectivity in (2, 3):
        conv = Convention(name=f"medpy-c{connectivity}", hd_percentile="pooled", connectivity=connectivity)
        sd = surface_distances(pred, gt, spacing, convention=conv)
        ours = distance_metrics(
            pred.astype(np.uint8),
            gt.astype(np.uint8),
            [1],
            spacing,
            ["hd", "hd95", "assd"],
            DistanceOptions(convention=conv),
        )[1]
        assert ours["hd"][0] == pytest.approx(mb.hd(pred, gt, spacing, connectivity), rel=RTOL)
        assert ours["hd95"][0] == pytest.approx(mb.hd95(pred, gt, spacing, connectivity), rel=RTOL)
        assert ours["assd"][0] == pytest.approx(mb.assd(pred, gt, spacing, connectivity), rel=RTOL)
        assert sd.pred_to_gt.mean() == pytest.approx(mb.asd(pred, gt, spacing, connectivity), rel=RTOL)


def test_torch_backend_reproduces_libraries():
    shape, spacing = (9, 17, 15), (2.5, 0.8, 0.8)
    gt, pred = blobs(shape, 21), blobs(shape, 22)
    for convention in REFERENCES:
        assert_preset_matches(convention, pred, gt, spacing, backend="torch")


def test_surfel_tables_equal_deepmind_tables():
    _deepmind()
    from surface_distance import lookup_tables

    rng = np.random.default_rng(0)
    for _ in range(10):
        spacing = tuple(rng.uniform(0.1, 5.0, 3))
        np.testing.assert_allclose(
            _lookup.neighbour_code_table(spacing),
            lookup_tables.create_table_neighbour_code_to_surface_area(spacing),
            rtol=1e-14,
        )
        np.testing.assert_allclose(
            _lookup.neighbour_code_table(spacing[:2]),
            lookup_tables.create_table_neighbour_code_to_contour_length(spacing[:2]),
            rtol=1e-14,
        )


def test_deepmind_surfel_distances_and_areas_are_the_same_multiset():
    sd = _deepmind()
    shape, spacing = (10, 21, 18), (2.5, 0.8, 0.8)
    pred, gt = blobs(shape, 31), blobs(shape, 32)
    ref = sd.compute_surface_distances(gt, pred, spacing)
    ours = surface_distances(pred, gt, spacing, convention="deepmind")
    for d, w, rd, rw in (
        (ours.pred_to_gt, ours.pred_weights, ref["distances_pred_to_gt"], ref["surfel_areas_pred"]),
        (ours.gt_to_pred, ours.gt_weights, ref["distances_gt_to_pred"], ref["surfel_areas_gt"]),
    ):
        order = np.lexsort((w, d))
        np.testing.assert_allclose(d[order], rd, rtol=1e-12)
        assert w.sum() == pytest.approx(rw.sum(), rel=1e-12)
        np.testing.assert_allclose(np.sort(w), np.sort(rw), rtol=1e-12)
