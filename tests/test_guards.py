"""End-to-end guards through ``segeval.score`` and the CLI on sample_data/png2d.

Each test pins one behaviour that a plausible mutation would break, with expected values computed here
with NumPy/Pillow or by hand, never by segeval's own helpers:

- the summary's bootstrap interval (``ci_low``/``ci_high``) replaced by constants;
- the sign of a gate's margin flipped;
- a metric's direction flipped (gate warnings, compare's worst cases, ``compare --max-drop``);
- a Dice that returns a constant.
"""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.quality.compare import compare_reports, read_report
from segeval.quality.gates import direction_warning, parse_gate

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "png2d"
CASES = ("img_000", "img_001", "img_002", "img_003")
GATES = ("dice>=0.5", "hd95<=0.001", "dice[1]==0.5", "dice[2].pooled>=0.5", "hd95[3]<=0.001")
runner = CliRunner()


@pytest.fixture(scope="module")
def sample_result():
    return segeval.score(SAMPLE / "preds", SAMPLE / "gts", metrics=("hd95",), gates=GATES)


def _read(path: Path) -> np.ndarray:
    """A label map read with Pillow; a 0/255 mask becomes 0/1 (sample png2d holds labels 0..3 directly)."""
    labels = np.asarray(Image.open(path)).astype(np.int64)
    return labels // 255 if set(np.unique(labels)) <= {0, 255} else labels


def _np_dice(pred: np.ndarray, gt: np.ndarray, label: int) -> float:
    p, g = pred == label, gt == label
    return 2.0 * float((p & g).sum()) / float(p.sum() + g.sum())


def _summary_row(result, metric: str, cls: str) -> pd.Series:
    rows = result.summary[(result.summary["metric"] == metric) & (result.summary["class"] == cls)]
    assert len(rows) == 1, (metric, cls)
    return rows.iloc[0]


# ------------------------------------------------------------------------------------------- Dice


def test_per_case_dice_matches_numpy_on_the_sample_pngs(sample_result):
    per_case = sample_result.per_case
    dice = per_case[per_case["metric"] == "dice"].set_index(["case", "class"])["value"]
    found = {}
    for case in CASES:
        pred, gt = _read(SAMPLE / "preds" / f"{case}.png"), _read(SAMPLE / "gts" / f"{case}.png")
        assert set(np.unique(gt)) == {0, 1, 2, 3}
        for label in range(4):
            found[case, label] = dice[case, str(label)]
            assert found[case, label] == pytest.approx(_np_dice(pred, gt, label), rel=1e-12), (case, label)
    for label in range(4):
        per_label = [found[case, label] for case in CASES]
        assert len(set(per_label)) > 1, f"Dice of class {label} is the same in every case: {per_label}"


# ------------------------------------------------------------------------------ bootstrap interval


def _resample_means(drawn: np.ndarray) -> np.ndarray:
    """Mean of each row of resampled values, NaN left out; rows with no value at all are dropped."""
    valid = ~np.isnan(drawn)
    keep = valid.any(axis=1)
    return np.where(valid, drawn, 0.0).sum(axis=1)[keep] / valid.sum(axis=1)[keep]


def _exact_bootstrap_means(values: np.ndarray) -> np.ndarray:
    """Means of every one of the n**n equally likely resamples (NaN left out; all-NaN resamples dropped)."""
    n = values.size
    picks = np.array(list(itertools.product(range(n), repeat=n)))
    return np.sort(_resample_means(values[picks]))


def _exact_quantile(sorted_means: np.ndarray, p: float) -> float:
    """Smallest resample mean whose cumulative probability reaches ``p``."""
    index = min(max(math.ceil(p * sorted_means.size) - 1, 0), sorted_means.size - 1)
    return float(sorted_means[index])


def _our_bootstrap(values: np.ndarray, level: float, seed: int) -> tuple[float, float]:
    """A seeded percentile bootstrap of the mean: 2000 resamples of the cases with replacement."""
    rng = np.random.default_rng(seed)
    means = _resample_means(values[rng.choice(values.size, size=(2000, values.size), replace=True)])
    return float(np.quantile(means, (1 - level) / 2)), float(np.quantile(means, (1 + level) / 2))


def test_summary_interval_is_a_percentile_bootstrap_of_the_mean(sample_result):
    per_case, summary = sample_result.per_case, sample_result.summary
    # where 2000 resamples put a percentile: within ±0.015 of its cumulative probability (> 4 standard errors)
    slack, checked, varying = 0.015, 0, 0
    for _, row in summary.iterrows():
        rows = per_case[(per_case["metric"] == row["metric"]) & (per_case["class"] == row["class"])]
        values = rows.set_index("case").loc[list(CASES), "value"].to_numpy(float)
        assert row["n"] == 4 and np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]), row.to_dict()
        label = f"{row['metric']}[{row['class']}]"
        scale = max(1.0, abs(row["mean"]))
        assert row["ci_low"] <= row["mean"] + 1e-9 * scale and row["mean"] <= row["ci_high"] + 1e-9 * scale, label
        if np.nanstd(values) > 0:
            varying += 1
            assert row["ci_low"] < row["ci_high"], label
        means = _exact_bootstrap_means(values)
        ours = _our_bootstrap(values, 0.95, seed=12345)
        for got, mine, p in zip((row["ci_low"], row["ci_high"]), ours, (0.025, 0.975)):
            low, high = _exact_quantile(means, p - slack), _exact_quantile(means, p + slack)
            tol = 1e-9 * scale
            assert low - tol <= mine <= high + tol, (label, p, mine, low, high)  # the bracket holds our bootstrap
            assert low - tol <= got <= high + tol, (label, p, got, low, high, mine)
        checked += 1
    assert checked == len(summary) and varying > len(summary) // 2


def test_ci_zero_leaves_the_interval_empty():
    result = segeval.score(SAMPLE / "preds", SAMPLE / "gts", ci=0)
    assert result.summary["ci_low"].isna().all() and result.summary["ci_high"].isna().all()
    assert result.summary["mean"].notna().all()


# ---------------------------------------------------------------------------------------- margins


def test_gate_margins_have_the_passing_side_positive(sample_result):
    per_case, summary = sample_result.per_case, sample_result.summary
    gates = {g.gate.expression: g for g in sample_result.gates}
    assert list(gates) == list(GATES)

    def foreground_mean(metric):  # per case, the mean over classes 1..3; then the mean over cases
        rows = per_case[(per_case["metric"] == metric) & per_case["class"].isin(["1", "2", "3"])]
        return rows.groupby("case")["value"].mean().mean()

    dice, hd95 = foreground_mean("dice"), foreground_mean("hd95")
    assert dice == pytest.approx(summary.query("metric == 'dice' and `class` in ['1', '2', '3']")["mean"].mean())
    dice1 = _summary_row(sample_result, "dice", "1")["mean"]
    pooled2 = _summary_row(sample_result, "dice", "2")["pooled"]
    hd3 = _summary_row(sample_result, "hd95", "3")["mean"]
    # expression: (value, margin, passed), the margin written out by hand for each comparator
    expected = {
        "dice>=0.5": (dice, dice - 0.5, True),
        "hd95<=0.001": (hd95, 0.001 - hd95, False),
        "dice[1]==0.5": (dice1, -abs(dice1 - 0.5), False),
        "dice[2].pooled>=0.5": (pooled2, pooled2 - 0.5, True),
        "hd95[3]<=0.001": (hd3, 0.001 - hd3, False),
    }
    for expression, (value, margin, passed) in expected.items():
        result = gates[expression]
        assert (result.value, result.margin, result.passed) == (pytest.approx(value), pytest.approx(margin), passed)
        assert (result.margin > 0) == passed, expression  # no value sits on a threshold here


# -------------------------------------------------------------------------------------- direction


def test_gate_direction_warnings():
    assert direction_warning(parse_gate("hd95>=5")) is not None
    assert direction_warning(parse_gate("dice<=0.5")) is not None
    assert direction_warning(parse_gate("dice>=0.5")) is None
    assert direction_warning(parse_gate("hd95<=5")) is None
    warned = runner.invoke(
        app, ["score", str(SAMPLE / "preds"), str(SAMPLE / "gts"), "-f", "quiet", "--gate", "mean_dice<0.999"]
    )
    assert "warning" in warned.output and "mean_dice" in warned.output


@pytest.fixture(scope="module")
def reports(sample_result, tmp_path_factory):
    """A baseline report of the sample data and a current one where case img_001's prediction got worse."""
    root = tmp_path_factory.mktemp("reports")
    sample_result.write(root / "base")
    preds = root / "preds"
    shutil.copytree(SAMPLE / "preds", preds)
    worse = np.asarray(Image.open(preds / "img_001.png")).copy()
    worse[:, : worse.shape[1] // 2] = 0  # the left half of every class lost to the background
    Image.fromarray(worse).save(preds / "img_001.png")
    segeval.score(preds, SAMPLE / "gts", metrics=("hd95",)).write(root / "cur")
    return root / "base", root / "cur"


def _only(report_dir: Path, metric: str, out: Path) -> Path:
    """A copy of a report with only one metric's rows, so that compare ranks worst cases by that metric."""
    out.mkdir(exist_ok=True)
    per_case = pd.read_csv(report_dir / "per_case.csv", dtype={"class": str, "case": str})
    per_case[per_case["metric"] == metric].to_csv(out / "per_case.csv", index=False)
    shutil.copy(report_dir / "summary.json", out / "summary.json")
    return out


@pytest.mark.parametrize("metric", ["dice", "hd95"])
def test_compare_lists_the_case_that_got_worse_first(reports, metric, tmp_path):
    base, cur = (_only(path, metric, tmp_path / name) for path, name in zip(reports, ("base", "cur")))
    # the independent expectation: per-case foreground means from the two CSVs, with pandas
    means = []
    for path in (base, cur):
        table = pd.read_csv(path / "per_case.csv", dtype={"class": str})
        means.append(table[table["class"].isin(["1", "2", "3"])].groupby("case")["value"].mean())
    change = means[1] - means[0]
    assert change["img_001"] < 0 if metric == "dice" else change["img_001"] > 0
    assert (change.drop("img_001") == 0).all()

    worst = compare_reports(read_report(base), read_report(cur)).worst_cases
    assert worst["metric"].iloc[0] == metric
    assert worst["case"].iloc[0] == "img_001"
    assert worst["delta"].iloc[0] == pytest.approx(change["img_001"])


def test_compare_max_drop_fails_when_dice_fell(reports):
    base, cur = reports
    fell = runner.invoke(app, ["compare", str(base), str(cur), "--max-drop", "dice=0.0", "-f", "quiet"])
    assert fell.exit_code == 1, fell.output
    same = runner.invoke(app, ["compare", str(base), str(base), "--max-drop", "dice=0.0", "-f", "quiet"])
    assert same.exit_code == 0, same.output
    rose = runner.invoke(app, ["compare", str(base), str(cur), "--max-rise", "hd95=0.0", "-f", "quiet"])
    assert rose.exit_code == 1, rose.output
    # the limit is an amount: a fall of the foreground-mean Dice within it passes, beyond it fails
    fall = _foreground_dice(base) - _foreground_dice(cur)
    assert fall > 0
    for amount, code in ((2 * fall, 0), (fall / 2, 1)):
        limited = runner.invoke(
            app, ["compare", str(base), str(cur), "--max-drop", f"dice={amount:.6f}", "-f", "quiet"]
        )
        assert limited.exit_code == code, (amount, fall, limited.output)


def _foreground_dice(report_dir: Path) -> float:
    """Mean over cases of the per-case mean Dice of classes 1..3, read from per_case.csv with pandas."""
    table = pd.read_csv(report_dir / "per_case.csv", dtype={"class": str})
    rows = table[(table["metric"] == "dice") & table["class"].isin(["1", "2", "3"])]
    return float(rows.groupby("case")["value"].mean().mean())
