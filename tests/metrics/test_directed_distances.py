"""Directed Hausdorff distances (``hd_pred_to_gt``, ``hd95_gt_to_pred`` …) and MASD against MONAI, MedPy and
DeepMind surface-distance under the matching convention, and their empty-mask branches."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage as ndi

from segeval.metrics.catalog import resolve_metric
from segeval.metrics.distance import DistanceOptions, distance_metrics, worst_distance_mm

pytestmark = [
    pytest.mark.reference,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

NAMES = ["hd_pred_to_gt", "hd_gt_to_pred", "hd95_pred_to_gt", "hd95_gt_to_pred", "masd"]
CASES = [((37, 53), (2.0, 1.0)), ((13, 29, 23), (2.5, 0.8, 0.8))]


def _blobs(shape, seed):
    field = ndi.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 2.0)
    return field > 0.3 * field.std()


def _monai(pred, gt, spacing):
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("monai.metrics")
    p, g = (torch.from_numpy(x[None, None].astype(np.float32)) for x in (pred, gt))
    kw = dict(include_background=True, spacing=list(spacing))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        directed = lambda a, b, q=None: metrics.compute_hausdorff_distance(a, b, percentile=q, directed=True, **kw)  # noqa: E731
        mean = lambda a, b: metrics.compute_average_surface_distance(a, b, symmetric=False, **kw).item()  # noqa: E731
        return {
            "hd_pred_to_gt": directed(p, g).item(),
            "hd_gt_to_pred": directed(g, p).item(),
            "hd95_pred_to_gt": directed(p, g, 95).item(),
            "hd95_gt_to_pred": directed(g, p, 95).item(),
            "masd": (mean(p, g) + mean(g, p)) / 2,
        }


def _medpy(pred, gt, spacing):
    mb = pytest.importorskip("medpy.metric.binary")
    surface = getattr(mb, "__surface_distances")  # MedPy's directed surface distances, result → reference
    pg, gp = surface(pred, gt, spacing, 1), surface(gt, pred, spacing, 1)
    return {
        "hd_pred_to_gt": pg.max(),
        "hd_gt_to_pred": gp.max(),
        "hd95_pred_to_gt": np.percentile(pg, 95),
        "hd95_gt_to_pred": np.percentile(gp, 95),
        "masd": (mb.asd(pred, gt, voxelspacing=spacing) + mb.asd(gt, pred, voxelspacing=spacing)) / 2,
    }


def _deepmind(pred, gt, spacing):
    np.Inf, np.NaN = np.inf, np.nan  # surface-distance 0.1 uses the NumPy 1 aliases
    sd = pytest.importorskip("surface_distance")
    dist = sd.compute_surface_distances(gt, pred, spacing)

    def robust(distances, areas, q):  # its percentile rule, one direction: the first distance covering q% of the area
        order = np.argsort(distances)
        covered = np.cumsum(areas[order]) / areas.sum()
        return distances[order][min(np.searchsorted(covered, q / 100.0), len(order) - 1)]

    gp, pg = dist["distances_gt_to_pred"], dist["distances_pred_to_gt"]
    area_g, area_p = dist["surfel_areas_gt"], dist["surfel_areas_pred"]
    gt_to_pred, pred_to_gt = sd.compute_average_surface_distance(dist)
    return {
        "hd_pred_to_gt": pg.max(),
        "hd_gt_to_pred": gp.max(),
        "hd95_pred_to_gt": robust(pg, area_p, 95),
        "hd95_gt_to_pred": robust(gp, area_g, 95),
        "masd": (gt_to_pred + pred_to_gt) / 2,
    }


REFERENCES = {"monai": _monai, "medpy": _medpy, "deepmind": _deepmind}


@pytest.mark.parametrize("convention", list(REFERENCES))
@pytest.mark.parametrize(("shape", "spacing"), CASES)
def test_directed_distances_and_masd_match_the_libraries(convention, shape, spacing):
    gt = _blobs(shape, sum(shape))
    close = ndi.binary_dilation(gt) ^ (np.random.default_rng(1).random(shape) < 0.03)
    for pred in (_blobs(shape, sum(shape) + 1), close):
        expected = REFERENCES[convention](pred, gt, spacing)
        options = DistanceOptions(convention=convention, backend="scipy")
        ours = distance_metrics(pred.astype(np.uint8), gt.astype(np.uint8), [1], spacing, NAMES, options)[1]
        for name in NAMES:
            assert ours[name][0] == pytest.approx(float(expected[name]), rel=1e-6), (convention, name)


def test_directed_values_recombine_into_the_symmetric_ones():
    shape, spacing = (29, 41), (1.5, 0.7)
    gt, pred = _blobs(shape, 3), _blobs(shape, 4)
    names = [*NAMES, "hd", "msd_pred_to_gt", "msd_gt_to_pred", "hd99_pred_to_gt", "hd100_pred_to_gt"]
    values = {k: v for k, (v, _) in distance_metrics(pred, gt, [1], spacing, names, DistanceOptions())[1].items()}
    assert values["hd"] == max(values["hd_pred_to_gt"], values["hd_gt_to_pred"])
    assert values["hd_pred_to_gt"] != values["hd_gt_to_pred"]  # the two directions differ on these masks
    assert values["masd"] == pytest.approx((values["msd_pred_to_gt"] + values["msd_gt_to_pred"]) / 2)
    assert values["hd95_pred_to_gt"] <= values["hd99_pred_to_gt"] <= values["hd_pred_to_gt"]
    assert "hd100_pred_to_gt" not in values  # hd100 is hd: the name resolves to the directed maximum
    assert resolve_metric("hd100_pred_to_gt").name == "hd_pred_to_gt"


def test_only_the_asked_direction_is_searched():
    gt, pred = _blobs((21, 23), 5), _blobs((21, 23), 6)
    one_way = distance_metrics(pred, gt, [1], (1.0, 1.0), ["hd_gt_to_pred"], DistanceOptions())[1]
    both = distance_metrics(pred, gt, [1], (1.0, 1.0), ["hd_gt_to_pred", "hd_pred_to_gt"], DistanceOptions())[1]
    assert one_way["hd_gt_to_pred"] == both["hd_gt_to_pred"]


@pytest.mark.parametrize("policy", ["worst", "nan", "inf"])
def test_empty_masks_follow_the_distance_empty_policy(policy):
    shape = (9, 12)
    mask, empty = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    mask[2:5, 3:7] = 1
    options = DistanceOptions(empty_policy=policy)
    expected = {"worst": worst_distance_mm(shape, (1.0, 1.0)), "nan": math.nan, "inf": math.inf}[policy]
    for pred, gt in ((mask, empty), (empty, mask)):
        out = distance_metrics(pred, gt, [1], (1.0, 1.0), NAMES, options)[1]
        for name in NAMES:
            value, status = out[name]
            assert status == "one_empty"
            assert (math.isnan(value) and math.isnan(expected)) or value == expected, (name, value)
    both = distance_metrics(empty, empty, [1], (1.0, 1.0), NAMES, options)[1]
    assert all(math.isnan(value) and status == "both_empty" for value, status in both.values())
