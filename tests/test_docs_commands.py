"""Every documented command runs as written: the ``segeval …`` lines and Python snippets of README.md and docs/*.md.

What is collected (one test id per doc line, e.g. ``README.md:29``):

- fenced ```` ```bash ````, ```` ```console ````, ```` ```sh ```` and ```` ```shell ```` blocks: every line (after a
  ``$`` prompt, with ``\\`` continuations joined, a trailing ``# comment`` dropped) or ``&&`` part of a line that
  starts with ``segeval`` is a command. Other programs (``pip install``, ``python -m pytest``) are set-up, not run.
- fenced ```` ```python ```` blocks: each is run with ``exec``.
- inline ```segeval …``` in prose and tables: run when it is a full example, i.e. gives an argument or an option
  value and no placeholder in capitals (``PREDS``, ``DIR``) or ``...``. ```segeval compare A B``` is a synopsis,
  ```segeval losses sweep``` a command's name and ```segeval compare --markdown``` an option's: none is run.
- plain ```` ``` ```` fences hold output, grammars and synopses: not run.

How: in a fresh working directory holding ``sample_data/`` (a link) and the placeholders of ``PLACEHOLDERS`` (links
to sample folders, a manifest, report folders), so that the text runs unchanged; commands through Typer's
CliRunner on ``segeval.cli.app`` (one import for all of them keeps the whole file within its 3-minute budget),
with ``$VARS`` expanded from ``ENV`` and ``> FILE`` redirecting stdout. Expected: exit code 0, or the one a marker
or the command's own comment (``# exit 1``) gives; every file named by ``--out``/``-o`` (the command's report files,
``OUT_FILES``), ``--junit``, ``--markdown`` or ``>`` exists afterwards.

Markers, HTML comments that Markdown does not render, on the lines right above a fenced block (or on the same line
as an inline command): ``<!-- docs-test: ["FRAGMENT"] ACTION [TEXT] -->`` where FRAGMENT (double quotes) picks the
block's commands containing it (default: all of them) and ACTION is one of ``skip REASON``, ``xfail REASON``
(strict: segeval is wrong, the docs are right), ``exit N``, ``args ARGS [# REASON]`` (appended, e.g. ``--device cpu``
or a smaller workload for a minute-long run) or ``after-python`` (run the page's previous Python block first, in the
same directory). At most 5 % of the collected items may be skipped; a marker that matches nothing fails.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segeval.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"bash", "console", "sh", "shell"}
MAX_SKIPPED = 0.05

PLACEHOLDERS = {
    "preds": "sample_data/png2d/preds",
    "probs": "sample_data/npy_probs/preds",
    "a": "sample_data/png2d/preds",
    "b": "sample_data/png2d/gts",
}
"""Placeholder → what it stands for in the working directory. ``gts`` is the ground truth of the prediction
placeholder that the same command names (``probs/ gts/`` → npy_probs); ``manifest.csv`` pairs png2d's files;
``reports_main`` and ``reports_pr`` are report folders of png2d (written by ``segeval.score`` once)."""

ENV = {"GITHUB_STEP_SUMMARY": "step_summary.md"}

OUT_FILES = {
    "score": ("per_case.csv", "summary.csv", "summary.json"),
    "compare": ("comparison.csv", "comparison.json"),
    "losses": ("per_case.csv", "summary.csv", "summary.json"),
    "losses analyze": ("anatomy_per_case.csv", "anatomy_summary.csv", "anatomy.json"),
    "losses sweep": ("sweep.csv", "sweep.json"),
    "losses bench": ("bench.csv", "bench.json"),
}
"""The files that ``--out DIR`` of each command writes into DIR (docs/reports.md, docs/losses.md,
docs/loss-analysis.md, docs/gates.md)."""

MARKER = re.compile(r"<!--\s*docs-test:\s*(?:\"(?P<fragment>[^\"]+)\"\s+)?(?P<action>[\w-]+)\s*(?P<text>.*?)\s*-->")
ACTIONS = {"skip", "xfail", "exit", "args", "after-python"}
COMMAND_WORDS = {"score", "compare", "metrics", "report", "losses", "analyze", "sweep", "bench"}
INLINE = re.compile(r"`(segeval [^`]*)`")


@dataclass
class Marker:
    action: str
    text: str
    fragment: str | None
    where: str
    used: bool = False


@dataclass
class Item:
    """One documented command or Python block."""

    doc: Path
    line: int
    kind: str  # "command" or "python"
    text: str
    comment: str = ""
    markers: list[Marker] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    def marker(self, action: str) -> Marker | None:
        return next((m for m in self.markers if m.action == action), None)


def is_full_example(command: str) -> bool:
    """An inline command worth running: it gives an argument or an option value, and no placeholder in capitals
    or ``...`` (``segeval compare --markdown`` mentions an option, ``segeval losses sweep`` a command)."""
    words = command.split()[1:]
    while words and words[0] in COMMAND_WORDS:
        words.pop(0)
    if "..." in command or any(re.fullmatch(r"\[?[A-Z][A-Z_]*\]?", word) for word in words):
        return False
    return any(not word.startswith("-") for word in words)


def shell_commands(block: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """``(line, command, comment)`` for each ``segeval`` command of a shell block."""
    commands, pending, start = [], "", 0
    for number, raw in block:
        text = raw.strip()
        if not pending:
            start = number
            text = text.removeprefix("$ ")
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        code, comment = split_comment(text)
        for part in code.split("&&"):
            part = part.strip()
            if part.startswith("segeval ") or part == "segeval":
                commands.append((start, part, comment))
    return commands


def split_comment(text: str) -> tuple[str, str]:
    """The command and its trailing ``# comment`` (a ``#`` outside quotes, after a space)."""
    quote = None
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return text[:index].rstrip(), text[index + 1 :].strip()
    return text.rstrip(), ""


def collect(doc: Path) -> tuple[list[Item], list[str]]:
    """The items of one page, and the problems with its markers."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    items: list[Item] = []
    problems: list[str] = []
    pending: list[Marker] = []
    index = 0
    rel = doc.relative_to(ROOT)
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        markers = [Marker(m["action"], m["text"], m["fragment"], f"{rel}:{index + 1}") for m in MARKER.finditer(line)]
        problems += [f"{m.where}: unknown action {m.action!r}" for m in markers if m.action not in ACTIONS]
        markers = [m for m in markers if m.action in ACTIONS]
        if markers and not MARKER.sub("", line).strip():
            pending += markers
            index += 1
            continue
        if stripped.startswith("```"):
            language = stripped[3:].strip().lower()
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip().startswith("```"))
            block = [(i + 1, lines[i]) for i in range(index + 1, end)]
            found: list[Item] = []
            if language in SHELL_LANGUAGES:
                found = [Item(doc, n, "command", c, comment) for n, c, comment in shell_commands(block)]
            elif language == "python":
                found = [Item(doc, index + 2, "python", "\n".join(text for _, text in block))]
            attach(pending, found, problems)
            items += found
            pending = []
            index = end + 1
            continue
        if stripped:
            inline = [Item(doc, index + 1, "command", c) for c in INLINE.findall(line) if is_full_example(c)]
            attach(pending + markers, inline, problems)
            items += inline
            pending = []
        index += 1
    attach(pending, [], problems)
    return items, problems


def attach(markers: list[Marker], items: list[Item], problems: list[str]) -> None:
    for marker in markers:
        for item in items:
            if marker.fragment is None or marker.fragment in item.text:
                item.markers.append(marker)
                marker.used = True
        if not marker.used:
            problems.append(f"{marker.where}: marker {marker.action} {marker.fragment or ''} matches no command")


COLLECTED = [collect(doc) for doc in DOCS]
ITEMS = [item for items, _ in COLLECTED for item in items]
PROBLEMS = [problem for _, problems in COLLECTED for problem in problems]


def param(item: Item):
    marks = []
    if (skip := item.marker("skip")) is not None:
        marks.append(pytest.mark.skip(reason=f"{skip.where}: {skip.text}"))
    if (xfail := item.marker("xfail")) is not None:
        marks.append(pytest.mark.xfail(reason=f"{xfail.where}: {xfail.text}", strict=True))
    return pytest.param(item, id=item.id, marks=marks)


def test_docs_have_commands_and_markers_are_well_formed():
    assert len([i for i in ITEMS if i.kind == "command"]) >= 20 and any(i.kind == "python" for i in ITEMS)
    assert PROBLEMS == []


def test_at_most_five_percent_are_skipped():
    skipped = [f"{item.id}: {item.marker('skip').text}" for item in ITEMS if item.marker("skip")]
    print("skipped docs items:", *skipped, sep="\n  ")
    assert len(skipped) <= MAX_SKIPPED * len(ITEMS), skipped


# -- running ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory) -> Path:
    """A report of png2d (``--out``) standing for ``reports_main`` and ``reports_pr``."""
    import segeval

    folder = tmp_path_factory.mktemp("report") / "report"
    segeval.score(ROOT / PLACEHOLDERS["preds"], ROOT / "sample_data/png2d/gts", metrics=["hd95"]).write(folder)
    return folder


def workdir(path: Path, text: str, report: Path) -> None:
    """Make ``path`` a working directory where the placeholders that ``text`` names exist."""
    (path / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    words = set(re.findall(r"[\w.]+", text))
    preds = "probs" if "probs" in words else "preds"
    for name, target in PLACEHOLDERS.items():
        if name in words:
            (path / name).symlink_to(ROOT / target, target_is_directory=True)
    if "gts" in words:
        (path / "gts").symlink_to(ROOT / Path(PLACEHOLDERS[preds]).parent / "gts", target_is_directory=True)
    if "manifest.csv" in text:
        cases = sorted(p.name for p in (ROOT / "sample_data/png2d/preds").glob("*.png"))
        rows = [f"sample_data/png2d/preds/{c},sample_data/png2d/gts/{c}" for c in cases]
        (path / "manifest.csv").write_text("\n".join(["pred,gt", *rows]) + "\n")
    for name in ("reports_main", "reports_pr"):
        if name in words:
            (path / name).symlink_to(report, target_is_directory=True)


def expected_files(words: list[str]) -> list[str]:
    """The files the command's options say it writes."""
    key = " ".join(words[1:3]) if words[1:3] in (["losses", w] for w in ("analyze", "sweep", "bench")) else words[1]
    files = []
    for option, value in zip(words, words[1:]):
        if key == "report" and option in ("--output", "-o"):
            files.append(value)  # the HTML page
        elif option in ("--out", "-o"):
            files += [str(Path(value) / name) for name in OUT_FILES[key]]
        elif option in ("--junit", "--markdown", "--html", ">"):
            files.append(value)
    return files


def run_python(item: Item) -> None:
    exec(compile(item.text, item.id, "exec"), {"__name__": "__docs__"})


def run_command(item: Item) -> None:
    words = [os.path.expandvars(word) for word in shlex.split(item.text)]
    if marker := item.marker("args"):
        words += shlex.split(split_comment(marker.text)[0])
    redirect = words.index(">") if ">" in words else None
    args = words[1:redirect] if redirect is not None else words[1:]
    expected = 0
    if marker := item.marker("exit"):
        expected = int(marker.text)
    elif match := re.search(r"\bexit(?:s| code)? (\d)\b", item.comment):
        expected = int(match[1])
    result = CliRunner().invoke(app, args, env=ENV)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == expected, f"{item.id}: `{item.text}` exited {result.exit_code}:\n{result.output}"
    if redirect is not None:
        Path(words[redirect + 1]).write_text(result.stdout)
    missing = [name for name in expected_files(words) if not Path(name).is_file()]
    assert missing == [], f"{item.id}: `{item.text}` did not write {missing}"


@pytest.mark.parametrize("item", [param(item) for item in ITEMS])
def test_documented_item_runs(item: Item, tmp_path: Path, monkeypatch, report_folder: Path):
    setup = None
    if item.marker("after-python"):
        earlier = [i for i in ITEMS if i.doc == item.doc and i.kind == "python" and i.line < item.line]
        setup = earlier[-1]
    workdir(tmp_path, item.text + (setup.text if setup else ""), report_folder)
    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    if setup is not None:
        run_python(setup)
    if item.kind == "python":
        run_python(item)
    else:
        run_command(item)
