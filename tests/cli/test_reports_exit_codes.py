"""Output problems, exit codes and the report set: what ``segeval score``/``compare`` do with their destinations.

Rules (docs/cli.md "Exit codes", docs/reports.md): an output that cannot be written is a usage error (2),
found before any file is scored; the report files are written as one set, ``summary.json`` last, listing
its siblings with their sha256; ``--markdown`` appends; ``SEGEVAL_DEBUG=1`` adds a traceback and keeps
exit code 4; Ctrl-C exits 130 with one line; two reports without a common case are an input error (3).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app


@pytest.fixture
def data(files, make_labels) -> tuple[Path, Path]:
    """preds/ and gts/ with two PNG cases, a and b."""
    for case, seed in (("a", 1), ("b", 2)):
        gt = make_labels(seed)
        pred = gt.copy()
        pred[:3] = 0
        files.image(f"gts/{case}.png", gt)
        files.image(f"preds/{case}.png", pred)
    return files.root / "preds", files.root / "gts"


def run(*args: str | Path, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def one_line_error(result, *words: str) -> None:
    """A usage error: exit 2, an ``error:`` line naming ``words``, no traceback and no Typer box."""
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert all(word in errors[0] for word in words), result.output
    assert "Traceback" not in result.output and "╭" not in result.output, result.output


def _summary_json_is_a_folder(root: Path) -> list[str]:
    (root / "out" / "summary.json").mkdir(parents=True)
    return ["--out", "out"]


def _out_below_a_file(root: Path) -> list[str]:
    (root / "plain.txt").write_text("x")
    return ["--out", "plain.txt/reports"]


def _out_is_a_file(root: Path) -> list[str]:
    (root / "plain.txt").write_text("x")
    return ["--out", "plain.txt"]


def _junit_is_a_folder(root: Path) -> list[str]:
    (root / "verdicts.xml").mkdir()
    return ["--junit", "verdicts.xml"]


def _markdown_is_a_folder(root: Path) -> list[str]:
    (root / "summary.md").mkdir()
    return ["--markdown", "summary.md"]


def _unwritable_out(root: Path) -> list[str]:
    (root / "locked").mkdir()
    (root / "locked").chmod(0o555)
    return ["--out", "locked/reports"]


@pytest.mark.parametrize(
    "destination, words",
    [
        (_summary_json_is_a_folder, ["--out", "summary.json", "folder"]),
        (_out_below_a_file, ["--out", "plain.txt", "file"]),
        (_out_is_a_file, ["--out", "plain.txt", "file"]),
        (_junit_is_a_folder, ["--junit", "verdicts.xml", "folder"]),
        (_markdown_is_a_folder, ["--markdown", "summary.md", "folder"]),
        pytest.param(
            _unwritable_out,
            ["--out", "locked", "permission"],
            marks=pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere"),
        ),
    ],
)
def test_output_problem_is_a_usage_error_found_before_scoring(data, tmp_path, monkeypatch, destination, words):
    monkeypatch.chdir(tmp_path)
    options = destination(tmp_path)
    one_line_error(run("score", *data, *options, "--format", "quiet"), *words)
    # checked before the inputs are read: missing input folders (exit 3) come second
    one_line_error(run("score", "no_preds", "no_gts", *options, "--format", "quiet"), *words)
    assert not (tmp_path / "out" / "per_case.csv").exists()  # never a mixed report set


def test_full_disk_while_writing_is_a_one_line_error_and_keeps_the_previous_set(data, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run("score", *data, "--out", out, "--format", "quiet").exit_code == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)
    one_line_error(run("score", *data, "--out", out, "--format", "quiet"), "--out", "No space left on device")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_report_set_lists_its_files_with_sha256(data, tmp_path):
    out = tmp_path / "reports"
    paths = segeval.score(*data).write(out)
    document = json.loads(paths["json"].read_text())
    assert document["files"] == {
        name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in ("per_case.csv", "summary.csv")
    }
    assert sorted(p.name for p in out.iterdir()) == ["per_case.csv", "summary.csv", "summary.json"]  # no leftovers


def test_internal_error_keeps_exit_code_4_with_debug(data, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a planted bug")

    monkeypatch.setattr("segeval.api.score", broken)
    plain = run("score", *data, env={"SEGEVAL_DEBUG": ""})
    debug = run("score", *data, env={"SEGEVAL_DEBUG": "1"})
    assert (plain.exit_code, debug.exit_code) == (4, 4), (plain.output, debug.output)
    assert "Traceback" not in plain.output
    assert "Traceback" in debug.output and "a planted bug" in debug.output


def test_markdown_appends(data, tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("# an earlier step\n")
    for _ in range(2):
        assert run("score", *data, "--markdown", summary, "--format", "quiet").exit_code == 0
    segeval.score(*data).write(tmp_path / "r")
    assert run("compare", tmp_path / "r", tmp_path / "r", "--markdown", summary, "--format", "quiet").exit_code == 0
    text = summary.read_text()
    assert text.startswith("# an earlier step\n")
    assert text.count("## segeval: ") == 2 and text.count("## segeval compare: ") == 1


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--hd-percentile", "200"], "--hd-percentile"),
        (["--nsd-tolerance", "-1"], "--nsd-tolerance"),
        (["--pred-kind", "maybe"], "--pred-kind"),
        (["--format", "xml"], "--format"),
        (["--distance-empty", "x"], "--distance-empty"),
    ],
)
def test_option_errors_name_the_option(data, args, flag):
    one_line_error(run("score", *data, *args), flag)


def test_compare_format_error_is_one_line(data, tmp_path):
    segeval.score(*data).write(tmp_path / "r")
    one_line_error(run("compare", tmp_path / "r", tmp_path / "r", "--format", "xml"), "--format", "xml")


def test_compare_without_a_common_case_is_an_input_error(data, tmp_path, files, make_labels):
    segeval.score(*data).write(tmp_path / "base")
    other = files.image("other/c.png", make_labels(3))
    segeval.score(other, other).write(tmp_path / "current")
    result = run("compare", tmp_path / "base", tmp_path / "current", "--max-drop", "dice=0.01")
    assert result.exit_code == 3, result.output
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == [
        f"error: {tmp_path / 'base' / 'per_case.csv'} and {tmp_path / 'current' / 'per_case.csv'} "
        "have no scored case in common: nothing to compare"
    ]


def test_ctrl_c_during_start_up_exits_130_without_traceback(tmp_path):
    # Ctrl-C while the command-line libraries load: an import hook raises KeyboardInterrupt on "import typer"
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "segeval", "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stderr) == (130, "interrupted\n")


def test_to_dict_is_json(data):
    document = segeval.score(*data).to_dict()
    assert json.loads(json.dumps(document, allow_nan=False))["inputs"]["preds"] == str(data[0])
    assert isinstance(document["summary"][0]["mean"], float) and not np.isnan(document["summary"][0]["mean"])


EXIT_HANDLER_SCRIPT = """
import atexit, sys
marker = sys.argv.pop(1)
atexit.register(lambda: open(marker, "w").close())
from segeval.__main__ import main
sys.argv[0] = "segeval"
main()
"""


@pytest.mark.parametrize(
    "options, code",
    [([], 0), (["--gate", "dice>=1.01"], 1), (["--num-classes", "x"], 2)],
)
def test_the_process_ends_with_the_command_status_after_its_exit_handlers_and_whole_output(
    data, tmp_path, options, code
):
    # The process skips the interpreter's teardown (segeval/__main__.py): the exit status is still the
    # command's, the exit handlers registered before it still run, and stdout reaches a pipe whole.
    marker = tmp_path / "exit-handler-ran"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            EXIT_HANDLER_SCRIPT,
            str(marker),
            "score",
            *map(str, data),
            "--format",
            "json",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == code, done.stderr
    assert marker.is_file()
    if code != 2:
        assert [case["case"] for case in json.loads(done.stdout)["cases"]] == ["a", "b"]


def test_a_profiler_still_gets_its_report(data, tmp_path):
    # Under a profile or trace function (cProfile, coverage, a debugger) the ordinary exit is kept, so that
    # the tool, which reports after segeval's main returns, still does.
    profile = tmp_path / "score.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "segeval", "score", *map(str, data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0
