"""Quality gates: grammar, values, verdicts, exit codes, JUnit XML, Markdown, config files."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.errors import UnknownNameError, UsageError
from segeval.quality.gates import direction_warning, parse_gate, statistic_of
from segeval.report.ci import junit_xml, markdown_summary

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "png2d"
runner = CliRunner()


@pytest.mark.parametrize(
    "text, metric, cls, stat, op, value",
    [
        ("dice>=0.85", "dice", None, "mean", ">=", 0.85),
        ("hd95[liver]<=6", "hd95", "liver", "mean", "<=", 6.0),
        ("dice.p05>=0.6", "dice", None, "p05", ">=", 0.6),
        ("dice[2].median > .5", "dice", "2", "median", ">", 0.5),
        ("Jaccard[tumour core].pooled>=1e-1", "iou", "tumour core", "pooled", ">=", 0.1),
        ("failed==0", "failed", None, "mean", "==", 0.0),
        ("mean_dice.min!=0", "mean_dice", None, "min", "!=", 0.0),
        ("hd99.p95 < inf", "hd99", None, "p95", "<", math.inf),
    ],
)
def test_grammar_accepts(text, metric, cls, stat, op, value):
    gate = parse_gate(text)
    assert (gate.metric, gate.class_, gate.statistic, gate.comparator, gate.threshold) == (metric, cls, stat, op, value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("dice => 0.8", "cannot parse gate"),
        ("dice>=", "cannot parse gate"),
        ("dcie>=0.8", "did you mean 'dice'"),
        ("dice.avg>=0.8", "unknown statistic 'avg'"),
        ("dice.meen>=0.8", "did you mean 'mean'"),
        ("failed[1]==0", "takes no class or statistic"),
    ],
)
def test_grammar_rejects_with_a_clear_message(text, message):
    with pytest.raises(UsageError, match=message):
        parse_gate(text)


def test_direction_warning():
    assert "better when lower" in direction_warning(parse_gate("hd95>=5"))
    assert "better when higher" in direction_warning(parse_gate("dice<0.9"))
    assert direction_warning(parse_gate("dice>=0.9")) is None
    assert direction_warning(parse_gate("tp>=3")) is None  # counts have no direction


def test_statistics_match_numpy():
    values = np.array([0.2, np.nan, 0.9, 0.4, 0.7])
    finite = values[~np.isnan(values)]
    assert statistic_of(values, "mean") == pytest.approx(finite.mean())
    assert statistic_of(values, "median") == pytest.approx(np.median(finite))
    assert statistic_of(values, "p05") == pytest.approx(np.percentile(finite, 5))
    assert statistic_of(values, "q75") == pytest.approx(np.percentile(finite, 75))
    assert statistic_of(values, "std") == pytest.approx(finite.std(ddof=1))
    assert math.isnan(statistic_of(np.array([np.nan]), "mean"))


@pytest.fixture(scope="module")
def sample_result():
    return segeval.score(SAMPLE / "preds", SAMPLE / "gts", class_names=("bg", "liver", "spleen", "kidney"))


def _per_case(result, metric, cls):
    rows = result.per_case[(result.per_case["metric"] == metric) & (result.per_case["class"] == cls)]
    return rows["value"].to_numpy(float)


def test_gate_values_by_class_id_name_and_foreground_mean(sample_result):
    from segeval.quality.gates import gate_value

    liver = _per_case(sample_result, "dice", "1")
    assert gate_value(parse_gate("dice[1]>=0"), sample_result) == pytest.approx(liver.mean())
    assert gate_value(parse_gate("dice[Liver].min>=0"), sample_result) == pytest.approx(liver.min())
    fg = np.mean([_per_case(sample_result, "dice", c) for c in ("1", "2", "3")], axis=0)
    assert gate_value(parse_gate("dice.p05>=0"), sample_result) == pytest.approx(np.percentile(fg, 5))
    pooled = sample_result.summary.query("metric == 'miou' and `class` == 'all'")["pooled"].iloc[0]
    assert gate_value(parse_gate("miou.pooled>=0"), sample_result) == pytest.approx(pooled)
    with pytest.raises(UnknownNameError, match="did you mean 'liver'"):
        gate_value(parse_gate("dice[livr]>=0"), sample_result)


def test_nan_never_passes(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "g").mkdir()
    np.save(tmp_path / "p" / "a.npy", np.zeros((3, 3), np.uint8))
    np.save(tmp_path / "g" / "a.npy", np.zeros((3, 3), np.uint8))
    result = segeval.score(tmp_path / "p", tmp_path / "g", num_classes=2, gates=["dice[1]>=0"])
    assert not result.gates[0].passed and "no value" in result.gates[0].note


def test_junit_xml_has_the_required_elements(sample_result):
    from segeval.pipeline.load import CaseRecord
    from segeval.quality.gates import evaluate_gates
    from segeval.status import Status

    results = evaluate_gates([parse_gate("dice>=0.5"), parse_gate("dice[1]>=0.999")], sample_result)
    failed = [CaseRecord(case="broken", pred=None, gt=Path("g.png"), status=Status.FAILED, error="g.png: corrupt")]
    root = ET.fromstring(junit_xml(results, failed))
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert all(c.get("name") and c.get("classname") for c in cases)
    assert cases[0].find("failure") is None
    assert "dice[1]>=0.999" in cases[1].find("failure").get("message")
    assert cases[2].find("error").get("message") == "g.png: corrupt"


def test_markdown_lists_gates_and_worst_cases(sample_result):
    from segeval.quality.gates import evaluate_gates

    text = markdown_summary(sample_result, evaluate_gates([parse_gate("dice>=0.999")], sample_result))
    assert text.startswith("## segeval: ❌ failed")
    assert "| dice>=0.999 |" in text and "**FAIL**" in text
    assert "### Worst cases by mean foreground Dice" in text and "img_002" in text


def _cli(*args):
    return runner.invoke(app, ["score", str(SAMPLE / "preds"), str(SAMPLE / "gts"), "--format", "quiet", *args])


def test_cli_exit_codes_and_precedence(tmp_path):
    assert _cli("--gate", "dice>=0.5", "--gate", "failed==0").exit_code == 0
    failing = _cli("--gate", "dice>=0.99", "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "m.md"))
    assert failing.exit_code == 1
    assert ET.parse(tmp_path / "j.xml").getroot().find("testsuite").get("failures") == "1"
    assert "❌ failed" in (tmp_path / "m.md").read_text()
    assert _cli("--gate", "dice>>0.5").exit_code == 2
    # a failed case (exit 3) wins over a failed gate (exit 1)
    preds = tmp_path / "preds"
    preds.mkdir()
    for path in (SAMPLE / "preds").iterdir():
        (preds / path.name).write_bytes(path.read_bytes())
    (preds / "img_001.png").write_bytes(b"not a png")
    mixed = runner.invoke(app, ["score", str(preds), str(SAMPLE / "gts"), "-f", "quiet", "--gate", "dice>=0.99"])
    assert mixed.exit_code == 3
    assert (
        runner.invoke(app, ["score", str(preds), str(SAMPLE / "gts"), "-f", "quiet", "--gate", "failed==0"]).exit_code
        == 3
    )


def test_gates_in_summary_json(tmp_path):
    import json

    result = _cli("--gate", "dice>=0.5", "--out", str(tmp_path / "r"))
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["gates"]["passed"] is True
    assert summary["gates"]["results"][0]["gate"] == "dice>=0.5"
    assert summary["config_sources"]["gates"] == "cli"


def test_config_file_and_cli_override(tmp_path):
    import json

    config = tmp_path / "segeval.toml"
    config.write_text('[tool.segeval]\ngates = ["dice>=0.99"]\nclass-names = ["bg", "a", "b", "c"]\nout = "reports"\n')
    from_file = _cli("--config", str(config))
    assert from_file.exit_code == 1
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["config_sources"]["gates"] == str(config)
    assert summary["class_names"] == ["bg", "a", "b", "c"]
    overridden = _cli("--config", str(config), "--gate", "dice>=0.5")
    assert overridden.exit_code == 0
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n[tool.segeval]\ngatez = ["dice>=0.5"]\n')
    bad = _cli("--config", str(pyproject))
    assert bad.exit_code == 2 and "did you mean 'gate'" in bad.output


def test_end_to_end_ci_style_run_on_sample_data(tmp_path):
    """What a CI job does: score with gates, get JUnit and Markdown, read the verdict from the exit code."""
    passing = _cli(
        "--gate",
        "dice>=0.9",
        "--gate",
        "miou.pooled>=0.85",
        "--gate",
        "failed==0",
        "--junit",
        str(tmp_path / "pass.xml"),
    )
    assert passing.exit_code == 0
    assert ET.parse(tmp_path / "pass.xml").getroot().find("testsuite").get("failures") == "0"
    failing = _cli("--gate", "dice[3].min>=0.95", "--junit", str(tmp_path / "fail.xml"))
    assert failing.exit_code == 1
