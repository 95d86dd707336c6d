"""``--empty-policy``: the presets reproduce MONAI (``ignore_empty=True``) and MetricsReloaded on empty masks,
an explicit option wins over the preset, and ``--convention`` never changes the empty policy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.config import build_config
from segeval.options import DistanceEmpty, EmptyPolicy

SHAPE = (16, 18)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Three cases over labels 0, 1, 2: class 2 absent from both; class 2 predicted on an empty reference;
    class 1 missed by the prediction."""
    root = tmp_path_factory.mktemp("empty")
    (root / "preds").mkdir()
    (root / "gts").mkdir()
    base = np.zeros(SHAPE, np.uint8)
    base[3:9, 4:12] = 1
    cases = {}
    cases["a_both_empty"] = (base.copy(), base.copy())
    pred = base.copy()
    pred[11:14, 2:6] = 2
    cases["b_ref_empty"] = (pred, base.copy())
    gt = base.copy()
    gt[10:15, 10:16] = 2
    pred = np.zeros(SHAPE, np.uint8)
    pred[10:15, 10:16] = 2
    cases["c_pred_empty"] = (pred, gt)
    for name, (p, g) in cases.items():
        np.save(root / "preds" / f"{name}.npy", p)
        np.save(root / "gts" / f"{name}.npy", g)
    return root, cases


def _score(folders, **options):
    root, _ = folders
    return segeval.score(root / "preds", root / "gts", labels=(0, 1, 2), **options)


def _value(result, case, label, metric):
    rows = result.per_case
    row = rows[(rows["case"] == case) & (rows["class"] == str(label)) & (rows["metric"] == metric)]
    return float(row["value"].iloc[0])


def test_monai_policy_reproduces_monai_ignore_empty(folders):
    torch = pytest.importorskip("torch")
    monai = pytest.importorskip("monai.metrics")
    result = _score(folders, empty_policy="monai", metrics=["hd", "iou", "nsd"])
    one_hot = lambda x: torch.from_numpy(np.moveaxis(np.eye(3, dtype=np.float32)[x], -1, 0)[None].copy())  # noqa: E731
    for case, (pred, gt) in folders[1].items():
        p, g = one_hot(pred), one_hot(gt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = {
                "dice": monai.DiceMetric(include_background=True, ignore_empty=True)(p, g)[0].tolist(),
                "iou": monai.MeanIoU(include_background=True, ignore_empty=True)(p, g)[0].tolist(),
                "hd": monai.compute_hausdorff_distance(p, g, include_background=True)[0].tolist(),
                "nsd": monai.compute_surface_dice(p, g, [1.0, 1.0, 1.0], include_background=True)[0].tolist(),
            }
        for metric, values in expected.items():
            for label in (1, 2):
                ours, theirs = _value(result, case, label, metric), values[label]
                assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs), (case, label, metric)


def test_metricsreloaded_policy_scores_both_empty_as_perfect(folders):
    result = _score(folders, empty_policy="metricsreloaded", metrics=["hd", "hd95", "assd", "masd", "nsd", "biou"])
    for metric, expected in {
        "dice": 1,
        "iou": 1,
        "hd": 0,
        "hd95": 0,
        "assd": 0,
        "masd": 0,
        "nsd": 1,
        "boundary_iou": 1,
    }.items():
        assert _value(result, "a_both_empty", 2, metric) == expected, metric
    default = _score(folders, metrics=["hd", "nsd"])
    for metric in ("dice", "hd", "nsd"):
        assert math.isnan(_value(default, "a_both_empty", 2, metric)), metric
    # one side empty is an error under every policy
    assert _value(result, "b_ref_empty", 2, "dice") == 0 and _value(result, "c_pred_empty", 1, "dice") == 0


def test_an_explicit_option_wins_over_the_preset(folders):
    result = _score(folders, empty_policy="metricsreloaded", empty_score=math.nan, metrics=["hd"])
    assert math.isnan(_value(result, "a_both_empty", 2, "dice"))
    assert _value(result, "a_both_empty", 2, "hd") == 0  # the both-empty distance still comes from the preset
    result = _score(folders, empty_policy="monai", distance_empty="worst", metrics=["hd"])
    assert _value(result, "b_ref_empty", 2, "hd") == pytest.approx(math.hypot(*SHAPE))
    assert math.isnan(_value(result, "b_ref_empty", 2, "dice"))


@pytest.mark.parametrize("convention", ["monai", "medpy", "deepmind"])
def test_the_convention_never_changes_the_empty_policy(folders, convention):
    config = build_config(convention=convention)
    assert config.empty_policy is EmptyPolicy.DEFAULT and config.distance_empty is DistanceEmpty.WORST
    assert math.isnan(config.empty_score)
    result = _score(folders, convention=convention, metrics=["hd"])
    assert _value(result, "b_ref_empty", 2, "hd") == pytest.approx(math.hypot(*SHAPE))
    assert _value(result, "b_ref_empty", 2, "dice") == 0


def test_a_new_preset_refills_what_the_old_one_set_but_not_explicit_values():
    reloaded = build_config(empty_policy="metricsreloaded")
    assert reloaded.empty_score == 1.0
    assert math.isnan(build_config(build_config(reloaded, ci=0.9), empty_policy="default").empty_score)
    explicit = build_config(empty_policy="metricsreloaded", empty_score=0.0)
    assert build_config(explicit, empty_policy="monai").empty_score == 0.0
    assert build_config(explicit, empty_policy="monai").distance_empty is DistanceEmpty.INF


def test_cli_takes_the_policy_and_refuses_an_unknown_one(folders):
    root, _ = folders
    runner = CliRunner()
    args = ["score", str(root / "preds"), str(root / "gts"), "--labels", "0,1,2", "-f", "quiet"]
    gate = ["--gate", "dice[2].median>=1"]  # class 2: both empty, predicted on an empty reference, perfect
    assert runner.invoke(app, [*args, *gate, "--empty-policy", "metricsreloaded"]).exit_code == 0
    assert runner.invoke(app, [*args, *gate]).exit_code == 1  # default: NaN, 0, 1
    result = runner.invoke(app, [*args, "--empty-policy", "nnunet"])
    assert result.exit_code == 2 and "--empty-policy" in result.output
