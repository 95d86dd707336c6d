"""Regenerate the screenshots of docs/report.md (``python docs/images/make_report_screenshots.py``).

Scores the bundled sample data with ``--html`` (2-D PNG masks, and 3-D NIfTI volumes), compares two
reports, runs a small loss sweep, opens each page in headless Chromium (the system's ``chromium``,
driven by Playwright) at 1280 px wide, and saves one screenshot per panel as docs/images/report-*.png.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from segeval.cli import app

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = {
    "score.html": [
        ("report-header.png", None, 520),
        ("report-distributions.png", "#distributions", 640),
        ("report-confusion.png", "#confusion", 420),
        ("report-worst.png", "#worst", 520),
        ("report-per-case.png", "#per-case", 520),
    ],
    "volumes.html": [("report-worst-3d.png", "#worst", 420)],
    "compare.html": [("report-compare.png", None, 800), ("report-compare-cases.png", "#cases", 520)],
    "sweep.html": [("report-sweep.png", "#curves", 800)],
}
"""Page → (screenshot, element scrolled to the top or None for the page's top, height in px)."""


def run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    if result.exit_code not in (0, 1):
        raise SystemExit(f"segeval {' '.join(args)} exited {result.exit_code}:\n{result.output}")


def shifted_predictions(source: Path, target: Path) -> None:
    """A worse model: every other prediction shifted by 3 pixels, one missing."""
    target.mkdir(parents=True)
    for index, path in enumerate(sorted(source.glob("*.png"))):
        array = np.asarray(Image.open(path))
        if index == 1:
            continue
        Image.fromarray(np.roll(array, 3, axis=1) if index % 2 == 0 else array).save(target / path.name)


def main() -> None:
    from playwright.sync_api import sync_playwright

    data = ROOT / "sample_data"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gate = ["--gate", "dice>=0.9", "--gate", "failed==0", "-f", "quiet"]
        run("score", str(data / "png2d/preds"), str(data / "png2d/gts"), "--out", str(work / "main"), *gate)
        run(
            "score",
            str(data / "png2d/preds"),
            str(data / "png2d/gts"),
            "--out",
            str(work / "a"),
            "--html",
            str(work / "score.html"),
            "--worst",
            "4",
            *gate,
        )
        run(
            "score",
            str(data / "nifti3d/preds"),
            str(data / "nifti3d/gts"),
            "--html",
            str(work / "volumes.html"),
            "--worst",
            "2",
            "-f",
            "quiet",
        )
        shifted_predictions(data / "png2d/preds", work / "worse")
        run("score", str(work / "worse"), str(data / "png2d/gts"), "--out", str(work / "b"), "--allow-missing", *gate)
        run("compare", str(work / "main"), str(work / "b"), "--html", str(work / "compare.html"), "-f", "quiet")
        run("losses", "sweep", "-d", "shift", "-d", "dilate", "-d", "imbalance", "--html", str(work / "sweep.html"))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
            for page_name, shots in SHOTS.items():
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto((work / page_name).as_uri())
                for file_name, selector, height in shots:
                    top = 0 if selector is None else page.eval_on_selector(selector, "e => e.offsetTop")
                    shot = page.screenshot(full_page=True, clip=dict(x=0, y=top, width=1280, height=height))
                    picture = Image.open(io.BytesIO(shot)).convert("RGB").quantize(colors=256)
                    picture.save(IMAGES / file_name, optimize=True)
                    print(f"wrote {IMAGES / file_name}")
                page.close()
            browser.close()


if __name__ == "__main__":
    main()
