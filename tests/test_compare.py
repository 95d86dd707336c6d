"""segeval compare: paired changes, bootstrap intervals and Wilcoxon p-values on hand-made reports."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from segeval.cli import app
from segeval.errors import InputError
from segeval.quality.compare import compare_reports, read_report
from segeval.quality.gates import parse_limits
from segeval.stats import BOOTSTRAP_SAMPLES, SEED, bootstrap_mean_ci, wilcoxon_p


def write_report(folder, dice_by_case: dict[str, float], hd_by_case: dict[str, float] | None = None):
    rows = []
    for case, value in dice_by_case.items():
        rows.append(
            {"case": case, "class": "1", "class_name": "liver", "metric": "dice", "value": value, "status": "ok"}
        )
        rows.append(
            {"case": case, "class": "all", "class_name": "all", "metric": "mean_dice", "value": value, "status": "ok"}
        )
        if hd_by_case:
            rows.append(
                {
                    "case": case,
                    "class": "1",
                    "class_name": "liver",
                    "metric": "hd95",
                    "value": hd_by_case[case],
                    "status": "ok",
                }
            )
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "per_case.csv", index=False)
    (folder / "summary.json").write_text(
        json.dumps({"labels": [0, 1], "class_names": ["bg", "liver"], "config": {"include_background": False}})
    )
    return folder


def test_bootstrap_matches_a_numpy_transcription():
    values = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.3])
    rng = np.random.default_rng(SEED)
    means = values[rng.integers(0, 6, size=(BOOTSTRAP_SAMPLES, 6))].mean(axis=1)
    assert bootstrap_mean_ci(values, 0.9) == pytest.approx(tuple(np.quantile(means, [0.05, 0.95])))
    assert bootstrap_mean_ci(values, 0.9) == bootstrap_mean_ci(values, 0.9)  # reproducible


def test_wilcoxon_matches_scipy():
    diff = np.array([0.1, -0.05, 0.2, 0.3, 0.15, -0.02, 0.25])
    assert wilcoxon_p(diff) == pytest.approx(stats.wilcoxon(diff).pvalue)
    assert wilcoxon_p(np.zeros(4)) == 1.0
    assert np.isnan(wilcoxon_p(np.array([])))


def test_known_differences(tmp_path):
    base = write_report(
        tmp_path / "base",
        {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "gone": 0.5},
        {"a": 2.0, "b": 3.0, "c": 4.0, "d": 5.0, "gone": 1.0},
    )
    cur = write_report(
        tmp_path / "cur",
        {"a": 0.85, "b": 0.8, "c": 0.6, "d": 0.62, "new": 0.1},
        {"a": 2.5, "b": 3.0, "c": 6.0, "d": 5.0, "new": 9.0},
    )
    limits = parse_limits(["dice=0.01"], "drop") + parse_limits(["hd95[liver]=0.5"], "rise")
    comparison = compare_reports(read_report(base), read_report(cur), limits=limits)
    row = comparison.table.query("metric == 'dice' and `class` == '1'").iloc[0]
    diffs = np.array([-0.05, 0.0, -0.1, 0.02])
    assert row["n_pairs"] == 4
    assert row["delta"] == pytest.approx(diffs.mean())
    assert row["baseline_mean"] == pytest.approx(0.75) and row["current_mean"] == pytest.approx(0.7175)
    assert row["p_value"] == pytest.approx(stats.wilcoxon(diffs).pvalue)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(bootstrap_mean_ci(diffs, 0.95))
    assert comparison.only_baseline == ["gone"] and comparison.only_current == ["new"]
    assert comparison.worst_cases["case"].tolist()[:2] == ["c", "a"]
    drop, rise = comparison.gates
    assert not drop.passed and drop.value == pytest.approx(diffs.mean())
    assert not rise.passed and rise.value == pytest.approx(np.mean([0.5, 0.0, 2.0, 0.0]))


def test_cli_compare_exit_codes_and_files(tmp_path):
    base = write_report(tmp_path / "base", {"a": 0.9, "b": 0.8})
    cur = write_report(tmp_path / "cur", {"a": 0.9, "b": 0.79})
    runner = CliRunner()
    ok = runner.invoke(app, ["compare", str(base), str(cur), "--max-drop", "dice=0.01", "-o", str(tmp_path / "o")])
    assert ok.exit_code == 0, ok.output
    assert pd.read_csv(tmp_path / "o" / "comparison.csv")["metric"].tolist()
    strict = runner.invoke(
        app,
        [
            "compare",
            str(base / "summary.json"),
            str(cur / "per_case.csv"),
            "--max-drop",
            "dice=0.001",
            "--markdown",
            str(tmp_path / "c.md"),
        ],
    )
    assert strict.exit_code == 1
    assert "❌ failed" in (tmp_path / "c.md").read_text()
    bad = runner.invoke(app, ["compare", str(base), str(cur), "--max-drop", "dice"])
    assert bad.exit_code == 2 and "cannot parse --max-drop" in bad.output


def test_missing_report_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no per_case.csv report here"):
        read_report(tmp_path)


def test_score_with_baseline_in_one_step(tmp_path):
    from pathlib import Path

    import segeval

    sample = Path(__file__).resolve().parents[1] / "sample_data" / "png2d"
    first = segeval.score(sample / "preds", sample / "gts")
    first.write(tmp_path / "main")
    again = segeval.score(sample / "preds", sample / "gts", baseline=tmp_path / "main", max_drop=["dice=0.0"])
    assert again.passed and again.comparison.table["delta"].abs().max() == 0.0
    assert again.to_dict()["comparison"]["gates"][0]["passed"] is True


def test_columnwise_bootstrap_resamples_cases_and_skips_nan():
    from segeval.stats import bootstrap_mean_cis

    values = np.array([[0.1, np.nan, 1.0], [0.5, 2.0, np.inf], [0.2, 4.0, 1.0], [0.9, np.nan, 1.0]])
    low, high = bootstrap_mean_cis(values, 0.8)
    rng = np.random.default_rng(SEED)
    picks = rng.integers(0, 4, size=(BOOTSTRAP_SAMPLES, 4))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # resamples with no value of a column
        means = np.nanmean(values[picks], axis=1)  # the case bootstrap, NaN left out of each mean
        expected = np.nanquantile(means, [0.1, 0.9], axis=0)
    assert low[:2] == pytest.approx(expected[0][:2]) and high[:2] == pytest.approx(expected[1][:2])
    assert high[2] == np.inf  # a resample holding an infinite distance has an infinite mean
    single = bootstrap_mean_cis(np.array([[1.0], [np.nan]]), 0.95)
    assert np.isnan(single[0][0]) and np.isnan(single[1][0])
