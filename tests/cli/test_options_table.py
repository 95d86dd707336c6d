"""The option table and the metric catalog drive the CLI, the settings file and the docs.

Each test is one rule, checked over every row of its table.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from segeval.cli import app
from segeval.config import ScoreConfig
from segeval.errors import UsageError
from segeval.metrics import catalog
from segeval.options import CONFIG_OPTIONS, EMPTY_PRESETS, OPTIONS, Command, merge, options_for
from segeval.options import markdown_table as options_markdown

ROOT = Path(__file__).resolve().parents[2]
PNG = ROOT / "sample_data" / "png2d"
runner = CliRunner()


def _click_command(*path: str):
    group = typer.main.get_command(app)
    command = group
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize(
    ("command", "path"),
    [(Command.SCORE, ("score",)), (Command.LOSSES, ("losses", "run")), (Command.ANALYZE, ("losses", "analyze"))],
)
def test_every_table_option_is_a_parameter_of_its_command_with_its_flags(command, path):
    params = {p.name: p for p in _click_command(*path).params}
    for option in options_for(command):
        assert option.name in params, f"{option.flag} missing from segeval {' '.join(path)}"
        flags = set(params[option.name].opts) | set(params[option.name].secondary_opts)
        assert option.flag in flags and (option.short is None or option.short in flags), (option.name, flags)
    outside = {o.name for o in OPTIONS} - {o.name for o in options_for(command)}
    assert not outside & set(params), f"options of other commands leak into {path}: {outside & set(params)}"


def test_config_fields_are_the_config_options_with_the_table_defaults():
    config = ScoreConfig()
    assert [f for f in ScoreConfig.__dataclass_fields__ if f != "sources"] == [o.name for o in CONFIG_OPTIONS]
    for option in CONFIG_OPTIONS:
        value, default = getattr(config, option.name), option.default
        if option.name in config._policy_filled:  # left unset: the --empty-policy preset gives the value
            default = getattr(EMPTY_PRESETS[config.empty_policy], option.name)
        assert value == default or (isinstance(default, float) and math.isnan(default) and math.isnan(value))


def test_a_value_means_the_same_from_the_cli_a_settings_file_and_the_library(tmp_path):
    cases = {  # option → (command-line text, TOML text, library value, parsed value)
        "num_classes": ("4", "4", 4, 4),
        "labels": ("0,1,3", "[0, 1, 3]", (0, 1, 3), (0, 1, 3)),
        "spacing": ("1x1x2", "[1, 1, 2]", (1, 1, 2), (1.0, 1.0, 2.0)),
        "empty_score": ("nan", '"nan"', float("nan"), float("nan")),
        "nsd_tolerance": ("1=1.5,2=3", "{ 1 = 1.5, 2 = 3 }", {1: 1.5, 2: 3.0}, ((1, 1.5), (2, 3.0))),
        "max_drop": (["dice=0.01"], "{ dice = 0.01 }", ("dice=0.01",), ("dice=0.01",)),
        "gates": (["dice>=0.5"], '["dice>=0.5"]', ["dice>=0.5"], ("dice>=0.5",)),
    }
    from segeval.config_file import read_config
    from segeval.options import BY_NAME

    for name, (cli, toml, library, parsed) in cases.items():
        option = BY_NAME[name]
        path = tmp_path / f"{name}.toml"
        path.write_text(f"{option.file_keys[0].replace('_', '-')} = {toml}\n")
        from_cli = option.coerce(cli)
        from_file = read_config(path)[name]
        from_library = option.coerce(library)
        for got in (from_cli, from_file, from_library):
            assert got == parsed or (got != got and parsed != parsed), (name, got, parsed)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('num-classes = "4"', r"segeval\.toml: num-classes expects an integer, got '4'"),
        ('labels = "0,x"', r"segeval\.toml: labels expects comma-separated integers, got '0,x'"),
        ("ci = 2", r"segeval\.toml: ci must be in \[0, 1\), got 2\.0"),
        ("recursive = 1", r"segeval\.toml: recursive expects true or false, got 1"),
        ('pred-kind = "maybe"', r"segeval\.toml: pred-kind expects one of auto, labels, probs, logits"),
        ("gatez = []", r"unknown setting 'gatez'; did you mean 'gate'\?"),
    ],
)
def test_a_wrong_settings_file_value_is_a_usage_error_naming_key_and_file(tmp_path, toml, message):
    (tmp_path / "segeval.toml").write_text(f"[tool.segeval]\n{toml}\n")
    result = runner.invoke(
        app,
        [
            "score",
            str(PNG / "preds"),
            str(PNG / "gts"),
            "--config",
            str(tmp_path / "segeval.toml"),
            "--format",
            "quiet",
        ],
    )
    assert result.exit_code == 2, result.output
    assert re.search(message, " ".join(result.stderr.split())), result.stderr


def test_num_classes_works_from_the_cli_and_the_settings_file_and_cli_wins(tmp_path):
    args = ["score", str(PNG / "preds"), str(PNG / "gts"), "--format", "json"]
    from_cli = runner.invoke(app, [*args, "--num-classes", "4"])
    assert from_cli.exit_code == 0, from_cli.stderr
    assert json.loads(from_cli.stdout)["labels"] == [0, 1, 2, 3]
    config = tmp_path / "segeval.toml"
    config.write_text("[tool.segeval]\nlabels = [0, 1, 2, 3, 4]\n")
    overridden = runner.invoke(app, [*args, "--config", str(config), "--num-classes", "4"])
    assert overridden.exit_code == 0, overridden.stderr
    document = json.loads(overridden.stdout)
    assert document["labels"] == [0, 1, 2, 3] and document["config_sources"]["num_classes"] == "cli"
    assert "labels" not in document["config_sources"]
    both = runner.invoke(app, [*args, "--labels", "0,1,2,3", "--num-classes", "4"])
    assert both.exit_code == 2 and "give either --labels or --num-classes" in both.stderr


def test_the_old_gates_key_still_works_with_a_warning_naming_the_new_key(tmp_path):
    config = tmp_path / "segeval.toml"
    config.write_text('[tool.segeval]\ngates = ["dice>=0.99"]\n')
    result = runner.invoke(
        app, ["score", str(PNG / "preds"), str(PNG / "gts"), "--config", str(config), "--format", "quiet"]
    )
    assert result.exit_code == 1  # the gate ran and failed
    assert "'gates' is now 'gate'" in result.stderr and "0.3" in result.stderr
    config.write_text('[tool.segeval]\ngate = ["dice>=0.99"]\n')
    assert (
        runner.invoke(
            app, ["score", str(PNG / "preds"), str(PNG / "gts"), "--config", str(config), "--format", "quiet"]
        ).exit_code
        == 1
    )


def test_merge_lets_a_stronger_layer_replace_the_other_spelling_of_the_labels():
    settings, sources = merge(("file", {"labels": (0, 1, 2)}), ("cli", {"num_classes": 4}))
    assert settings == {"num_classes": 4} and sources == {"num_classes": "cli"}
    with pytest.raises(UsageError, match="give either --labels or --num-classes"):
        merge(("cli", {"labels": (0, 1), "num_classes": 2}))


def test_every_metric_that_metrics_accepts_is_accepted_by_a_gate_and_shown_in_the_table():
    names = [spec.name for spec in catalog.CATALOG if spec.needs_distances and spec.name != "hdNN"] + ["hd99"]
    aliases = [alias for spec in catalog.CATALOG if spec.needs_distances for alias in spec.aliases]
    args = ["score", str(PNG / "preds"), str(PNG / "gts"), "--metrics", ",".join(names + aliases)]
    gates = [arg for name in names + aliases for arg in ("--gate", f"{name}>=0")]
    result = runner.invoke(app, [*args, *gates])
    assert result.exit_code in (0, 1), result.stderr  # a gate may fail; none is refused
    header = " ".join(line for line in result.stdout.splitlines() if line.startswith("class"))  # a split table
    for name in names:
        assert catalog.resolve_metric(name).name in header.split(), (name, header)
    assert "unknown metric" not in result.stderr


def test_docs_embed_the_generated_tables():
    for path, generated, marker in (
        (ROOT / "docs" / "cli.md", options_markdown(), "options"),
        (ROOT / "docs" / "metrics.md", catalog.markdown_table(), "catalog"),
    ):
        text = path.read_text(encoding="utf-8")
        embedded = text.split(f"<!-- {marker}:start -->\n", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
        assert embedded == generated, f"regenerate the table of {path.name} from the code"


def test_help_is_grouped_into_the_table_panels_and_quotes_brackets_literally():
    result = runner.invoke(app, ["score", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for panel in (
        "Inputs",
        "Labels",
        "Predictions",
        "Distance metrics",
        "Statistics and gates",
        "Output",
        "Performance",
    ):
        assert panel in result.stdout
    assert "pred,gt[,case]" in result.stdout and "[default: 0.95]" in result.stdout


def test_cli_start_up_imports_neither_torch_pandas_nor_scipy():
    code = (
        "import sys, segeval, segeval.cli; print(sorted(m for m in ('torch', 'pandas', 'scipy') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
