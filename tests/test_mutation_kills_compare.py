"""Tests written from mutation testing (mutmut) of segeval/quality/compare.py: rows, means, ordering, schema.

The reports are written by hand; every expected number below is worked out from the values in them.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from segeval.quality.compare import COMPARISON_COLUMNS, compare_reports, read_report
from segeval.quality.gates import parse_limits

NAN = math.nan

BASE = {
    # case: (dice class 1, dice class 2, hd95 class 1)
    "a": (0.9, 0.5, 2.0),
    "b": (0.8, 0.6, 3.0),
    "c": (0.7, 0.7, 4.0),
    "d": (0.6, 0.8, 5.0),
    "zz": (0.9, 0.9, 1.0),
    "gone": (0.5, 0.1, 1.0),
}
CURRENT = {
    "a": (0.85, 0.45, 2.5),
    "b": (0.8, 0.6, 3.0),
    "c": (0.6, 0.75, 6.0),
    "d": (0.62, NAN, 4.0),
    "new": (0.3, 0.2, 9.0),
    "other": (0.3, 0.2, 9.0),
}


def _rows(values: dict, failed=()):
    rows = []

    def row(case, cls, name, metric, value, status="ok"):
        rows.append(
            {"case": case, "class": cls, "class_name": name, "metric": metric, "value": value, "status": status}
        )

    for case, (d1, d2, hd) in values.items():
        if case in failed:
            row(case, "all", "all", "mean_dice", NAN, "failed")
            continue
        row(case, "1", "liver", "dice", d1)
        row(case, "2", "spleen", "dice", d2, "ok" if not math.isnan(d2) else "pred_empty")
        row(case, "1", "liver", "hd95", hd)
        row(case, "1", "liver", "tp", 100.0 * d1)
        present = [v for v in (d1, d2) if not math.isnan(v)]
        row(case, "all", "all", "mean_dice", sum(present) / len(present) if present else NAN)
    return rows


def _write(folder, values, failed=(), summary=True, include_background=False):
    folder.mkdir(parents=True)
    pd.DataFrame(_rows(values, failed)).to_csv(folder / "per_case.csv", index=False)
    if summary:
        document = {
            "labels": [0, 1, 2],
            "class_names": ["bg", "liver", "spleen"],
            "config": {"include_background": include_background},
        }
        (folder / "summary.json").write_text(json.dumps(document))
    return folder


@pytest.fixture
def comparison(tmp_path):
    base = _write(tmp_path / "base", BASE)
    cur = _write(tmp_path / "cur", {**CURRENT, "zz": (0.0, 0.0, 0.0)}, failed=("zz",))
    limits = (
        parse_limits(["dice=0.04", "dice[spleen]=0.01", "hd=1"], "drop")
        + parse_limits(["hd95=0.5"], "rise")
        + parse_limits(["mean_dice=0.03"], "drop")
    )
    return compare_reports(read_report(base), read_report(cur / "summary.json"), limits=limits)


def _row(table, cls, metric):
    rows = table[(table["class"] == cls) & (table["metric"] == metric)]
    assert len(rows) == 1, (cls, metric)
    return rows.iloc[0]


def test_rows_in_report_order_then_foreground_rows_by_metric_name(comparison):
    table = comparison.table
    assert list(table.columns) == COMPARISON_COLUMNS
    assert list(zip(table["class"], table["metric"])) == [
        ("1", "dice"),
        ("2", "dice"),
        ("1", "hd95"),
        ("all", "mean_dice"),
        ("foreground", "dice"),
        ("foreground", "hd95"),
    ]  # tp (a count) has no direction and is left out
    assert _row(table, "1", "dice")["class_name"] == "liver"
    assert _row(table, "foreground", "dice")["class_name"] == "foreground mean"


def test_class_rows_use_the_pairs_where_both_values_exist(comparison):
    table = comparison.table
    liver = _row(table, "1", "dice")
    diffs = np.array([-0.05, 0.0, -0.1, 0.02])
    assert liver["n_pairs"] == 4
    assert liver["baseline_mean"] == pytest.approx(0.75)
    assert liver["current_mean"] == pytest.approx(np.mean([0.85, 0.8, 0.6, 0.62]))
    assert liver["delta"] == pytest.approx(diffs.mean())
    assert bool(liver["higher_is_better"]) is True
    spleen = _row(table, "2", "dice")  # case d has no current value
    assert spleen["n_pairs"] == 3
    assert spleen["baseline_mean"] == pytest.approx(0.6)
    assert spleen["current_mean"] == pytest.approx(np.mean([0.45, 0.6, 0.75]))
    assert spleen["delta"] == pytest.approx(0.0, abs=1e-12)
    hd = _row(table, "1", "hd95")
    assert hd["delta"] == pytest.approx(np.mean([0.5, 0.0, 2.0, -1.0]))
    assert bool(hd["higher_is_better"]) is False
    assert hd["ci_low"] <= hd["delta"] <= hd["ci_high"]


def test_foreground_rows_average_the_classes_per_case_first(comparison):
    table = comparison.table
    base_fg = np.array([0.7, 0.7, 0.7, 0.7])
    cur_fg = np.array([0.65, 0.7, 0.675, 0.62])  # case d: the spleen has no value, the liver's is the mean
    fg = _row(table, "foreground", "dice")
    assert fg["n_pairs"] == 4
    assert fg["baseline_mean"] == pytest.approx(base_fg.mean())
    assert fg["current_mean"] == pytest.approx(cur_fg.mean())
    assert fg["delta"] == pytest.approx((cur_fg - base_fg).mean())
    assert _row(table, "foreground", "hd95")["delta"] == pytest.approx(np.mean([0.5, 0.0, 2.0, -1.0]))
    mean_dice = _row(table, "all", "mean_dice")
    assert mean_dice["delta"] == pytest.approx((cur_fg - base_fg).mean())
    assert bool(mean_dice["higher_is_better"]) is True


def test_failed_and_unpaired_cases(comparison):
    assert comparison.only_baseline == ["gone", "zz"]  # zz failed in the current run
    assert comparison.only_current == ["new", "other"]
    assert _row(comparison.table, "all", "mean_dice")["n_pairs"] == 4


def test_worst_cases_fell_most_first(comparison):
    worst = comparison.worst_cases
    assert list(worst.columns) == ["case", "metric", "baseline", "current", "delta"]
    assert worst["case"].tolist() == ["d", "a", "c", "b"]
    assert set(worst["metric"]) == {"dice"}
    assert worst["baseline"].to_numpy() == pytest.approx([0.7, 0.7, 0.7, 0.7])
    assert worst["current"].to_numpy() == pytest.approx([0.62, 0.65, 0.675, 0.7])
    assert worst["delta"].to_numpy() == pytest.approx([-0.08, -0.05, -0.025, 0.0], abs=1e-12)


def test_limit_verdicts(comparison):
    by_expression = {g.gate.expression: g for g in comparison.gates}
    fg_delta = np.mean([-0.05, 0.0, -0.025, -0.08])
    dice = by_expression["dice.delta >= -0.04"]
    assert dice.value == pytest.approx(fg_delta) and dice.passed is True
    assert dice.margin == pytest.approx(fg_delta + 0.04)
    spleen = by_expression["dice[spleen].delta >= -0.01"]
    assert spleen.value == pytest.approx(0.0, abs=1e-12) and spleen.passed is True
    missing = by_expression["hd.delta >= -1"]
    assert missing.passed is False and math.isnan(missing.value)
    assert missing.note == "hd is not in both reports"
    rise = by_expression["hd95.delta <= 0.5"]
    assert rise.value == pytest.approx(0.375) and rise.passed is True
    assert rise.margin == pytest.approx(0.125)
    mean_dice = by_expression["mean_dice.delta >= -0.03"]
    assert mean_dice.value == pytest.approx(fg_delta) and mean_dice.passed is False
    assert comparison.passed is False


def test_as_dict(comparison, tmp_path):
    document = comparison.as_dict()
    assert list(document) == [
        "baseline",
        "current",
        "changes",
        "worst_cases",
        "only_in_baseline",
        "only_in_current",
        "gates",
    ]
    assert document["baseline"] == str(tmp_path / "base" / "per_case.csv")
    assert document["current"] == str(tmp_path / "cur" / "per_case.csv")
    assert len(document["changes"]) == 6 and document["changes"][0]["metric"] == "dice"
    assert document["worst_cases"][0]["case"] == "d"
    assert document["only_in_baseline"] == ["gone", "zz"] and document["only_in_current"] == ["new", "other"]
    assert [g["gate"] for g in document["gates"]][0] == "dice.delta >= -0.04"


def test_without_interval_level_the_bounds_are_nan(tmp_path):
    base = _write(tmp_path / "base", BASE)
    cur = _write(tmp_path / "cur", CURRENT)
    table = compare_reports(read_report(base), read_report(cur), level=0).table
    assert table["ci_low"].isna().all() and table["ci_high"].isna().all()
    assert not table["delta"].isna().any()


def test_labels_without_summary_json_come_from_the_per_case_rows(tmp_path):
    folder = _write(tmp_path / "r", BASE, summary=False)
    report = read_report(folder / "per_case.csv")
    assert report.labels == [1, 2]
    assert report.class_names == ["liver", "spleen"]
    assert report.foreground_labels == [1, 2]
    with_summary = read_report(_write(tmp_path / "s", BASE))
    assert (with_summary.labels, with_summary.foreground_labels) == ([0, 1, 2], [1, 2])
    assert with_summary.class_names == ["bg", "liver", "spleen"]
    background = read_report(_write(tmp_path / "t", BASE, include_background=True))
    assert background.foreground_labels == [0, 1, 2]


def test_worst_cases_without_dice_use_the_first_metric_and_its_direction(tmp_path):
    def only_hd(values):
        return {case: (NAN, NAN, hd) for case, (_, _, hd) in values.items()}

    rows_base = [r for r in _rows(only_hd(BASE)) if r["metric"] == "hd95"]
    rows_cur = [r for r in _rows(only_hd(CURRENT)) if r["metric"] == "hd95"]
    for name, rows in (("base", rows_base), ("cur", rows_cur)):
        (tmp_path / name).mkdir()
        pd.DataFrame(rows).to_csv(tmp_path / name / "per_case.csv", index=False)
    comparison = compare_reports(read_report(tmp_path / "base"), read_report(tmp_path / "cur"))
    worst = comparison.worst_cases
    assert set(worst["metric"]) == {"hd95"}
    # lower is better: the largest rise first
    assert worst["case"].tolist() == ["c", "a", "b", "d"]
    assert worst["delta"].to_numpy() == pytest.approx([2.0, 0.5, 0.0, -1.0])


def test_score_with_a_baseline_compares_with_this_run(tmp_path):
    import segeval

    gt = np.zeros((6, 6), np.int64)
    gt[0:2, 0:2] = 1
    gt[3:6, 3:6] = 2
    better = gt.copy()
    worse = gt.copy()
    worse[3:6, 5] = 0  # class 2: 6 of 9 pixels -> Dice 2 * 6 / 15
    for name, pred in (("old", better), ("new", worse)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "a.npy", pred)
    (tmp_path / "g").mkdir()
    np.save(tmp_path / "g" / "a.npy", gt)
    segeval.score(tmp_path / "old", tmp_path / "g", class_names=("bg", "liver", "spleen")).write(tmp_path / "base")
    result = segeval.score(
        tmp_path / "new",
        tmp_path / "g",
        class_names=("bg", "liver", "spleen"),
        baseline=tmp_path / "base",
        max_drop=["dice[spleen]=0.1", "dice[liver]=0"],
    )
    comparison = result.comparison
    assert comparison.current == "this run"
    assert comparison.baseline == str(tmp_path / "base" / "per_case.csv")
    spleen, liver = result.gates
    assert spleen.value == pytest.approx(2 * 6 / 15 - 1.0) and spleen.passed is False
    assert liver.value == 0.0 and liver.passed is True
    assert _row(comparison.table, "2", "dice")["class_name"] == "spleen"


def test_summary_json_without_config_leaves_the_background_out(tmp_path):
    folder = _write(tmp_path / "r", BASE, summary=False)
    (folder / "summary.json").write_text(json.dumps({"labels": [0, 1, 2], "class_names": ["bg", "liver", "spleen"]}))
    report = read_report(folder)
    assert (report.labels, report.foreground_labels) == ([0, 1, 2], [1, 2])
    assert report.class_names == ["bg", "liver", "spleen"]
    (folder / "summary.json").write_text(
        json.dumps({"labels": [0, 1, 2], "class_names": ["bg", "liver", "spleen"], "config": {}})
    )
    assert read_report(folder).foreground_labels == [1, 2]
