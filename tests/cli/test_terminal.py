"""What the terminal shows is what happened (docs/cli.md "Streams and formats").

Rules: user text (gates, file, case and class names, help texts) is never read as rich markup; control
characters from file names are printed as escapes; tables on an 80-, 100- or 160-column terminal show
every number and header whole (the same ones as the plain text of a log); the closing line of a run
says how many cases failed and how many were scored.

The terminal is simulated: ``TTY_COMPATIBLE=1`` makes rich treat the CliRunner's stdout and stderr as
a terminal, ``COLUMNS`` sets its width and ``TERM=dumb`` keeps colour codes out of the text.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from segeval.cli import app

runner = CliRunner()


def terminal(columns: int) -> dict[str, str]:
    return {"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "TERM": "dumb"}


def shifted(labels: np.ndarray, by: int) -> np.ndarray:
    """``labels`` moved ``by`` columns to the right: a prediction with boundary errors."""
    return np.roll(labels, by, axis=1)


@pytest.fixture
def folders(files, make_labels):
    """Three 2-D cases with labels 0, 1, 2; the current predictions are worse than the baseline's."""
    for i in range(3):
        gt = make_labels(i)
        files.image(f"gts/case_{i}.png", gt)
        files.image(f"base/case_{i}.png", shifted(gt, 1))
        files.image(f"preds/case_{i}.png", shifted(gt, 2 + i))
    return files.root


def test_user_text_is_never_read_as_markup(folders, files, make_labels):
    gt = make_labels(5)
    for folder, prediction in (("gts", gt), ("base", gt), ("preds", shifted(gt, 6))):
        files.image(f"{folder}/[red]x.png", prediction)
    inputs = [str(folders / "preds"), str(folders / "gts"), "--no-progress"]
    gates = ["--gate", "hd95[liver]<=60", "--gate", "hd95[kidney]<=60", "--class-names", "bg,liver,kidney"]
    scored = runner.invoke(app, ["score", *inputs, *gates], env=terminal(160))
    assert scored.exit_code == 0, scored.output
    assert "hd95[liver]<=60" in scored.stdout and "hd95[kidney]<=60" in scored.stdout
    named = runner.invoke(app, ["score", *inputs, "--class-names", "bg,[bold]liver,[red]kidney"], env=terminal(160))
    assert "[bold]liver" in named.stdout and "[red]kidney" in named.stdout

    for folder, out in (("base", "a"), ("preds", "b")):
        runner.invoke(app, ["score", str(folders / folder), str(folders / "gts"), "--out", str(folders / out)])
    compared = runner.invoke(app, ["compare", str(folders / "a"), str(folders / "b")], env=terminal(160))
    assert "[red]x" in compared.stdout  # the worst case
    (folders / "preds" / "[red]x.png").write_bytes(b"not an image")
    failed = runner.invoke(
        app, ["score", str(folders / "preds"), str(folders / "gts"), "--no-progress"], env=terminal(160)
    )
    assert "failed: [red]x: " in failed.stderr and "[red]x.png" in failed.stderr

    bad_gate = runner.invoke(app, ["score", str(folders / "preds"), str(folders / "gts"), "-g", "dice[class_1]>>0.5"])
    assert bad_gate.exit_code == 2 and "dice[class_1]>>0.5" in bad_gate.stderr

    for command, text in ((["score"], "[tool.segeval]"), (["losses", "analyze"], "[eps, 1-eps]")):
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "250"})
        assert text in shown.stdout, (command, text)


def test_control_characters_of_file_names_are_escaped(folders, files, make_labels):
    name = "evil\x1b[2J\x07case"
    files.image(f"gts/{name}.png", make_labels(5))
    files.raw(f"preds/{name}.png", b"not an image")
    result = runner.invoke(
        app, ["score", str(folders / "preds"), str(folders / "gts"), "--no-progress"], env=terminal(160)
    )
    assert result.exit_code == 3
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "failed: evil\\x1b[2J\\x07case: " in result.stderr


def tokens(text: str) -> tuple[set[str], Counter]:
    """The words of a table rendering (box lines left out) and the multiset of its decimal numbers."""
    words = [w for w in text.split() if not set(w) <= set("─━-")]
    return set(words), Counter(w for w in words if re.fullmatch(r"-?\d+\.\d+|nan|inf", w))


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_tables_show_every_number_and_header_whole_at_any_width(folders, monkeypatch, columns):
    monkeypatch.chdir(folders)  # short paths: the baseline's is in a table title
    base = runner.invoke(app, ["score", "base", "gts", "--out", "a"])
    assert base.exit_code == 0, base.output
    arguments = [
        *("score", "preds", "gts", "--class-names", "background,liver,kidney"),
        *("--metrics", "hd,hd95,assd,nsd,boundary_iou", "--gate", "hd95[liver]<=60", "--gate", "dice>=0.2"),
        *("--baseline", "a", "--max-drop", "dice=0.5", "--no-progress"),
    ]
    log = runner.invoke(app, arguments)  # not a terminal: plain text, wide enough for every table
    shown = runner.invoke(app, arguments, env=terminal(columns))
    assert log.exit_code == shown.exit_code == 0, shown.output
    assert "…" not in shown.stdout
    assert max(len(line.rstrip()) for line in shown.stdout.splitlines()) <= columns
    log_words, log_numbers = tokens(log.stdout)
    words, numbers = tokens(shown.stdout)
    assert words == log_words
    assert numbers == log_numbers
    for header in ("class", "name", "precision", "specificity", "hd95", "boundary_iou", "dice pooled", "ci_high"):
        assert re.search(rf"(^|\s){re.escape(header)}(\s|$)", shown.stdout, re.M), header


@pytest.mark.parametrize("columns", [80, 160])
def test_loss_tables_show_every_number_and_header_whole(files, make_labels, columns):
    for i in range(2):
        gt = make_labels(i) == 1
        probability = np.where(shifted(gt, 1), 0.8, 0.1).astype(np.float32)
        files.npy(f"gts/c{i}.npy", gt.astype(np.uint8))
        files.npy(f"preds/c{i}.npy", np.stack([1 - probability, probability]))
    for command in (["losses"], ["losses", "analyze"]):
        arguments = [
            *command,
            str(files.root / "preds"),
            str(files.root / "gts"),
            "--family",
            "region",
            "--no-progress",
        ]
        log = runner.invoke(app, arguments)
        shown = runner.invoke(app, arguments, env=terminal(columns))
        assert log.exit_code == shown.exit_code == 0, shown.output
        assert "…" not in shown.stdout
        assert max(len(line.rstrip()) for line in shown.stdout.splitlines()) <= columns
        assert tokens(shown.stdout) == tokens(log.stdout), command


def test_the_closing_line_says_what_happened(folders, files, make_labels):
    for i in range(3):
        (folders / "preds" / f"case_{i}.png").write_bytes(b"not an image")
    result = runner.invoke(app, ["score", str(folders / "preds"), str(folders / "gts"), "--no-progress"])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == "all 3 case(s) failed; none was scored"

    files.image("preds/case_0.png", make_labels(0))
    result = runner.invoke(app, ["score", str(folders / "preds"), str(folders / "gts"), "--no-progress"])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[-1] == "2 of 3 case(s) failed; the others were scored"


def test_metrics_asked_for_appear_in_the_per_class_table(folders):
    """A class-level metric named in --metrics is a column of the per-class table (mean over cases), whatever its
    family; a case-level one is a row of the per-case table; a metric not asked for is neither."""
    inputs = [str(folders / "preds"), str(folders / "gts"), "--no-progress"]
    result = runner.invoke(app, ["score", *inputs, "--metrics", "mcc,fbeta2,hd95,adjusted_rand_index"])
    assert result.exit_code == 0, result.output
    per_class, per_case = result.stdout.split("Per case")
    columns = [word for line in per_class.splitlines() if line.startswith("class") for word in line.split()[2:]]
    assert columns[5:8] == ["mcc", "fbeta2", "hd95"]
    assert "kappa" not in columns and "adjusted_rand_index" not in columns
    assert re.search(r"^adjusted_rand_index\s+\d", per_case, re.M)
