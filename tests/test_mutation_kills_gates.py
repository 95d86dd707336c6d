"""Tests written from mutation testing (mutmut) of segeval/quality/gates.py: values, verdicts and margins.

The data set is three hand-made 6 × 6 cases whose Dice values are known by hand; expected numbers
are computed here with NumPy from those values, never read from segeval.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import segeval
from segeval.errors import UsageError
from segeval.metrics.catalog import Better
from segeval.quality.gates import (
    canonical_metric,
    direction_warning,
    gate_value,
    parse_gate,
    parse_limits,
    statistic_of,
    verdict,
)

# Dice of class 1 and class 2 in cases a, b, c (see _cases)
DICE_1 = np.array([1.0, 2 / 3, 0.0])
DICE_2 = np.array([2 / 3, 1.0, 2 / 3])


def _cases():
    cases = {}
    for name in ("a", "b", "c"):
        gt = np.zeros((6, 6), np.int64)
        gt[0:2, 0:2] = 1
        gt[4:6, 4:6] = 2
        cases[name] = [gt, np.zeros_like(gt)]
    a, b, c = (cases[n][1] for n in "abc")
    a[0:2, 0:2] = 1  # class 1: 4 of 4 -> 1
    a[4:6, 4:5] = 2  # class 2: 2 of 4 -> 2*2/6
    b[0:2, 0:1] = 1  # class 1: 2 of 4 -> 2/3
    b[4:6, 4:6] = 2  # class 2: 1
    c[4:6, 5:6] = 2  # class 1 not predicted -> 0; class 2: 2 of 4 -> 2/3
    return cases


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("gates")
    for side in ("p", "g"):
        (root / side).mkdir()
    for name, (gt, pred) in _cases().items():
        np.save(root / "g" / f"{name}.npy", gt)
        np.save(root / "p" / f"{name}.npy", pred)
    return root


@pytest.fixture(scope="module")
def result(folders):
    return segeval.score(folders / "p", folders / "g", class_names=("bg", "liver", "spleen"))


def test_the_hand_made_cases_have_the_hand_computed_dice(result):
    rows = result.per_case[result.per_case["metric"] == "dice"]
    assert rows[rows["class"] == "1"]["value"].to_numpy() == pytest.approx(DICE_1)
    assert rows[rows["class"] == "2"]["value"].to_numpy() == pytest.approx(DICE_2)


@pytest.mark.parametrize(
    "statistic, expected",
    [
        ("mean", DICE_1.mean()),
        ("min", 0.0),
        ("max", 1.0),
        ("median", 2 / 3),
        ("std", DICE_1.std(ddof=1)),
        ("q25", np.percentile(DICE_1, 25)),
        ("q75", np.percentile(DICE_1, 75)),
        ("p10", np.percentile(DICE_1, 10)),
        ("p90", np.percentile(DICE_1, 90)),
    ],
)
def test_gate_value_of_one_class(result, statistic, expected):
    assert gate_value(parse_gate(f"dice[liver].{statistic}>=0"), result) == pytest.approx(expected)
    assert gate_value(parse_gate(f"dice[1].{statistic}>=0"), result) == pytest.approx(expected)


def test_gate_value_without_class_is_the_foreground_mean_per_case(result):
    foreground = (DICE_1 + DICE_2) / 2
    assert gate_value(parse_gate("dice>=0"), result) == pytest.approx(foreground.mean())
    assert gate_value(parse_gate("dice.min>=0"), result) == pytest.approx(foreground.min())
    assert gate_value(parse_gate("dice.max>=0"), result) == pytest.approx(foreground.max())
    # a case-level metric is read from its class "all" rows
    assert gate_value(parse_gate("mean_dice.min>=0"), result) == pytest.approx(foreground.min())


def test_pooled_gate_values(result):
    # summed over cases: class 1 TP 6, FP 0, FN 6; class 2 TP 8, FP 0, FN 4
    pooled_1, pooled_2 = 2 * 6 / (2 * 6 + 6), 2 * 8 / (2 * 8 + 4)
    assert gate_value(parse_gate("dice[1].pooled>=0"), result) == pytest.approx(pooled_1)
    assert gate_value(parse_gate("dice[spleen].pooled>=0"), result) == pytest.approx(pooled_2)
    assert gate_value(parse_gate("dice.pooled>=0"), result) == pytest.approx((pooled_1 + pooled_2) / 2)


def test_statistic_of_edge_cases():
    assert math.isnan(statistic_of(np.array([0.5]), "std"))
    assert statistic_of(np.array([np.nan, 0.5]), "mean") == 0.5
    assert statistic_of(np.array([0.5]), "p05") == 0.5
    assert statistic_of(np.array([0.5, np.nan, 0.7]), "std") == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert statistic_of(np.array([3.0, np.nan, 1.0, 2.0]), "min") == 1.0
    assert statistic_of(np.array([3.0, np.nan, 1.0, 2.0]), "max") == 3.0
    assert statistic_of(np.array([3.0, 1.0, 2.0, 4.0]), "q25") == pytest.approx(1.75)
    assert statistic_of(np.array([3.0, 1.0, 2.0, 4.0]), "q75") == pytest.approx(3.25)
    assert statistic_of(np.array([3.0, 1.0, 2.0, 4.0]), "median") == pytest.approx(2.5)
    assert statistic_of(np.array([3.0, 1.0, 2.0, 4.0]), "p100") == pytest.approx(4.0)
    assert math.isnan(statistic_of(np.array([np.nan, np.nan]), "max"))


@pytest.mark.parametrize(
    "text, value, passed, margin",
    [
        ("dice>=0.5", 0.75, True, 0.25),
        ("dice>=0.5", 0.5, True, 0.0),
        ("dice>=0.5", 0.25, False, -0.25),
        ("dice>0.5", 0.5, False, 0.0),
        ("dice>0.5", 0.625, True, 0.125),
        ("hd95<=6", 4.0, True, 2.0),
        ("hd95<=6", 6.0, True, 0.0),
        ("hd95<=6", 7.5, False, -1.5),
        ("hd95<6", 6.0, False, 0.0),
        ("hd95<6", 5.0, True, 1.0),
        ("failed==0", 0.0, True, 0.0),
        ("failed==0", 2.0, False, -2.0),
        ("dice!=0.5", 0.75, True, -0.25),
        ("dice!=0.5", 0.5, False, 0.0),
    ],
)
def test_verdict_and_margin(text, value, passed, margin):
    checked = verdict(parse_gate(text), value)
    assert checked.passed is passed
    assert checked.margin == pytest.approx(margin, abs=1e-15)
    assert checked.value == value
    assert checked.note is None


def test_nan_fails_with_nan_margin_and_a_note():
    checked = verdict(parse_gate("dice>=0"), math.nan)
    assert checked.passed is False and math.isnan(checked.margin)
    assert checked.note == "no value (every case NaN or none scored)"
    assert verdict(parse_gate("dice>=0"), math.nan, note="mine").note == "mine"


def test_gate_result_as_dict(result):
    gate = parse_gate(" dice[liver].p10 >= 0.25 ", source="settings.toml")
    document = verdict(gate, 0.5).as_dict()
    assert document == {
        "gate": "dice[liver].p10 >= 0.25",
        "metric": "dice",
        "class": "liver",
        "statistic": "p10",
        "comparator": ">=",
        "threshold": 0.25,
        "value": 0.5,
        "margin": 0.25,
        "passed": True,
        "note": None,
        "source": "settings.toml",
    }


def test_gates_through_score_give_values_margins_and_verdicts(folders):
    gated = segeval.score(
        folders / "p",
        folders / "g",
        class_names=("bg", "liver", "spleen"),
        gates=["dice[liver].min>=0.1", "dice[2]<=0.9", "failed==0", "missing==0"],
    )
    first, second, failed, missing = gated.gates
    assert (first.value, first.passed, first.margin) == (0.0, False, pytest.approx(-0.1))
    assert second.value == pytest.approx(DICE_2.mean())
    assert second.passed is True and second.margin == pytest.approx(0.9 - DICE_2.mean())
    assert (failed.value, failed.passed, missing.value, missing.passed) == (0.0, True, 0.0, True)
    assert gated.passed is False
    assert gated.to_dict()["gates"]["passed"] is False
    assert [g["margin"] for g in gated.to_dict()["gates"]["results"]] == pytest.approx(
        [-0.1, 0.9 - DICE_2.mean(), 0.0, 0.0]
    )


def test_counters_count_failed_and_missing_cases(tmp_path, folders):
    for side in ("p", "g"):
        (tmp_path / side).mkdir()
        for name in ("a", "b"):
            (tmp_path / side / f"{name}.npy").write_bytes((folders / side / f"{name}.npy").read_bytes())
    (tmp_path / "g" / "only_gt_1.npy").write_bytes((folders / "g" / "c.npy").read_bytes())
    (tmp_path / "g" / "only_gt_2.npy").write_bytes((folders / "g" / "c.npy").read_bytes())
    (tmp_path / "p" / "only_pred.npy").write_bytes((folders / "p" / "c.npy").read_bytes())
    (tmp_path / "p" / "b.npy").write_bytes(b"not a numpy file")
    checked = segeval.score(
        tmp_path / "p",
        tmp_path / "g",
        allow_missing=True,
        gates=["failed<=0", "missing<=2", "missing>=4", "FAILED==1"],
    )
    values = [g.value for g in checked.gates]
    assert values == [1.0, 3.0, 3.0, 1.0]
    assert [g.passed for g in checked.gates] == [False, False, False, True]
    assert [g.margin for g in checked.gates] == [-1.0, -1.0, -1.0, 0.0]
    # the failed case is left out of the metric values
    assert gate_value(parse_gate("dice[1]>=0"), checked) == pytest.approx(np.mean([DICE_1[0], 0.0, 0.0]))


def test_a_gate_on_a_metric_not_computed_is_a_usage_error(result):
    with pytest.raises(UsageError) as info:
        gate_value(parse_gate("hd95<=5"), result)
    assert str(info.value) == "gate 'hd95<=5': metric 'hd95' was not computed in this run"
    assert info.value.hint.startswith("computed metrics: dice, fn, fp, fwiou, iou, mean_dice, ")


def test_parse_limits_makes_delta_gates():
    drop, rise = parse_limits(["Dice[liver]=0.02"], "drop") + parse_limits(["hd95 = 1.5"], "rise")
    assert (drop.metric, drop.class_, drop.statistic, drop.comparator, drop.threshold, drop.source) == (
        "dice",
        "liver",
        "delta",
        ">=",
        -0.02,
        "--max-drop",
    )
    assert drop.expression == "dice[liver].delta >= -0.02"
    assert (rise.metric, rise.class_, rise.comparator, rise.threshold, rise.source) == (
        "hd95",
        None,
        "<=",
        1.5,
        "--max-rise",
    )
    assert rise.expression == "hd95.delta <= 1.5"
    assert verdict(drop, -0.01).passed and not verdict(drop, -0.03).passed
    assert verdict(drop, -0.01).margin == pytest.approx(0.01)
    assert verdict(rise, 2.0).margin == pytest.approx(-0.5)
    with pytest.raises(UsageError, match=r"--max-drop 'dice=-1': the amount must be >= 0"):
        parse_limits(["dice=-1"], "drop")
    with pytest.raises(UsageError, match=r"cannot parse --max-rise 'dice'"):
        parse_limits(["dice"], "rise")
    assert parse_limits(["dice=0"], "drop")[0].threshold == 0.0


def test_gate_direction_and_counters():
    assert canonical_metric(" Failed ") == "failed"
    assert canonical_metric("MISSING") == "missing"
    assert canonical_metric("dsc") == "dice"
    assert parse_gate("failed==0").is_metric is False
    assert parse_gate("dice>=0").is_metric is True
    assert parse_gate("failed<=0").direction.better is Better.LOWER
    assert parse_gate("hd95<=3").direction.better is Better.LOWER
    assert parse_gate("dice>=0").direction.better is Better.HIGHER
    assert direction_warning(parse_gate("hd95>=5")) == (
        "gate 'hd95>=5' asks for high values, but hd95 is better when lower"
    )
    assert direction_warning(parse_gate("dice<0.9")) == (
        "gate 'dice<0.9' asks for low values, but dice is better when higher"
    )
    assert direction_warning(parse_gate("dice==0.9")) is None
    assert direction_warning(parse_gate("hd95!=0.9")) is None
    assert direction_warning(parse_gate("hd95<=5")) is None
    assert direction_warning(parse_gate("failed>0")) is not None


def test_unknown_class_messages_and_hint(result):
    from segeval.errors import UnknownNameError

    with pytest.raises(UnknownNameError) as info:
        gate_value(parse_gate("dice[qqq]>=0"), result)
    assert str(info.value) == "unknown class 'qqq' in a gate"
    assert info.value.hint == "classes: 0 (bg), 1 (liver), 2 (spleen)"
    with pytest.raises(UnknownNameError) as info:
        gate_value(parse_gate("dice[spleeen]>=0"), result)
    assert str(info.value) == "unknown class 'spleeen' in a gate; did you mean 'spleen'?"
    # a class name is matched without regard to case; a label value as text
    assert gate_value(parse_gate("dice[SPLEEN]>=0"), result) == pytest.approx(DICE_2.mean())
    assert gate_value(parse_gate("dice[2]>=0"), result) == pytest.approx(DICE_2.mean())


@pytest.mark.parametrize(
    "statistic, suggestion",
    [
        ("medain", "median"),
        ("mni", "min"),
        ("stdd", "std"),
        ("q76", "q75"),
        ("q26", "q25"),
        ("maxx", "max"),
        ("poolled", "pooled"),
    ],
)
def test_unknown_statistic_suggests_the_closest(statistic, suggestion):
    with pytest.raises(UsageError) as info:
        parse_gate(f"dice.{statistic}>=0.5")
    assert (
        str(info.value)
        == f"unknown statistic {statistic!r} in gate 'dice.{statistic}>=0.5'; did you mean {suggestion!r}?"
    )
    assert info.value.hint == "statistics: mean, median, min, max, std, q25, q75, pNN (p05, p95), pooled"


def test_parse_gate_defaults_and_syntax_hint():
    gate = parse_gate("Dice>=0.5")
    assert (gate.statistic, gate.source, gate.class_) == ("mean", "cli", None)
    assert parse_gate("dice.MEDIAN>=0.5").statistic == "median"
    with pytest.raises(UsageError) as info:
        parse_gate("dice => 0.5")
    assert str(info.value) == "cannot parse gate 'dice => 0.5'"
    assert (
        info.value.hint
        == 'write METRIC[CLASS].STATISTIC OP NUMBER, e.g. "dice>=0.85", "hd95[liver]<=6", "dice.p05>=0.6"'
    )


def test_unknown_statistic_without_a_close_name_has_no_suggestion():
    with pytest.raises(UsageError) as info:
        parse_gate("dice.zzz>=0.5")
    assert str(info.value) == "unknown statistic 'zzz' in gate 'dice.zzz>=0.5'"


def test_no_direction_warning_for_equality_gates():
    for text in ("dice==0.9", "dice!=0.9", "hd95==2", "hd95!=2"):
        assert direction_warning(parse_gate(text)) is None, text


def test_unknown_class_lists_every_close_name(result):
    from segeval.errors import UnknownNameError

    with pytest.raises(UnknownNameError) as info:
        gate_value(parse_gate("dice[12]>=0"), result)
    assert str(info.value) in {
        "unknown class '12' in a gate; did you mean '1', '2'?",
        "unknown class '12' in a gate; did you mean '2', '1'?",
    }
