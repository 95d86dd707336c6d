"""The HTML report in a real browser: headless Chromium (the system's ``chromium``) driven by Playwright.

Not skipped in CI: with ``CI`` set, a missing browser fails the tests (``.ci/run`` installs Debian's
``chromium`` when it is missing); elsewhere they are skipped without one. Screenshots go to
``build/screenshots/``.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import segeval
from segeval.report.html_score import write_score_page
from segeval.report.thumbnails import COLOURS, ThumbnailRequest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
HOSTILE = "<img src=x onerror=alert(1)>"
FP_RGB = np.array([int(COLOURS["false positive"][i : i + 2], 16) for i in (1, 3, 5)])
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""What Chromium needs on a machine without a display and with a closed network."""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: CI must run the browser tests (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Loaded:
    """A page opened from a file, with what it logged, requested and tried to pop up."""

    def __init__(self, browser, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url, wait_until="load")


FP_BOX = (slice(4, 12), slice(40, 52))
"""Where the false positive of case ``worst_fp`` is (rows, columns of a 48 × 64 image)."""


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Eight 2-D cases of three classes; ``worst_fp`` has a false-positive block at :data:`FP_BOX` and the
    lowest Dice; one case has a hostile name."""
    root = tmp_path_factory.mktemp("browser")
    names = [f"case_{i}" for i in range(6)] + ["worst_fp", HOSTILE]
    for i, name in enumerate(names):
        gt = np.zeros((48, 64), np.uint8)
        gt[16:40, 8:36] = 1
        gt[20:44, 40:60] = 2
        pred = gt.copy()
        pred[16 : 16 + i, 8:36] = 0
        if name == "worst_fp":
            pred[FP_BOX] = 2
            pred[16:36, 8:36] = 0
        for side, array in (("gts", gt), ("preds", pred)):
            (root / side).mkdir(exist_ok=True)
            Image.fromarray(array).save(root / side / f"{name}.png")
    result = segeval.score(root / "preds", root / "gts", thumbnails=ThumbnailRequest(worst=4))
    result.write(root / "out")
    write_score_page(root / "out", root / "page.html")
    return root


@pytest.fixture(scope="module")
def loaded(browser, scored):
    view = Loaded(browser, scored / "page.html")
    yield view
    view.page.close()


def test_page_loads_without_console_errors_or_network(loaded):
    assert loaded.errors == []
    assert loaded.requests == [loaded.url]  # the page itself, nothing else
    assert loaded.page.title() == "segeval report"


def column_texts(page, table: str, column: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr:not([hidden])", f"rows => rows.map(r => r.cells[{column}].textContent.trim())"
    )


def test_case_table_sorts_when_a_header_is_clicked(loaded):
    page = loaded.page
    headers = page.eval_on_selector_all("#case-table thead th", "cells => cells.map(c => c.textContent)")
    dice = headers.index("dice")
    page.click(f"#case-table thead th >> nth={dice}")
    values = [float(v) for v in column_texts(page, "case-table", dice) if v]
    assert values == sorted(values) and len(values) > 3
    assert page.get_attribute(f"#case-table thead th >> nth={dice}", "aria-sort") == "ascending"
    page.click(f"#case-table thead th >> nth={dice}")
    values = [float(v) for v in column_texts(page, "case-table", dice) if v]
    assert values == sorted(values, reverse=True)
    page.click("#case-table thead th >> nth=0")
    cases = column_texts(page, "case-table", 0)
    assert cases[0] == HOSTILE  # "<" sorts before letters
    assert cases[-1] == "worst_fp"


def test_summary_table_sorts_on_a_header_click_and_by_keyboard(loaded):
    page = loaded.page
    headers = page.eval_on_selector_all("#summary-table thead th", "cells => cells.map(c => c.textContent)")
    mean = headers.index("mean")
    page.click(f"#summary-table thead th >> nth={mean}")
    values = [float(v) for v in column_texts(page, "summary-table", mean) if v]
    assert values == sorted(values) and len(values) > 5
    page.focus(f"#summary-table thead th >> nth={mean}")
    page.keyboard.press("Enter")
    values = [float(v) for v in column_texts(page, "summary-table", mean) if v]
    assert values == sorted(values, reverse=True)


def test_case_table_filters_by_class(loaded):
    page = loaded.page
    total = len(column_texts(page, "case-table", 1))
    page.select_option("form.filters select[name=class]", "2")
    classes = column_texts(page, "case-table", 1)
    assert set(classes) == {"2"} and len(classes) == 8  # one row per case
    assert page.text_content("form.filters output") == "8 row(s) shown"
    page.select_option("form.filters select[name=class]", "")
    assert len(column_texts(page, "case-table", 1)) == total


def test_worst_case_thumbnails_are_drawn_with_the_false_positive_where_it_was_put(loaded):
    page = loaded.page
    figures = page.query_selector_all("#worst-cases figure")
    assert len(figures) == 4
    captions = [f.query_selector("figcaption").text_content() for f in figures]
    assert captions[0].startswith("worst_fp")
    for figure in figures:
        image = figure.query_selector("img")
        assert page.evaluate("img => img.complete && img.naturalWidth > 0", image)
        assert image.get_attribute("alt").startswith("Overlay of case")
        shot = np.asarray(Image.open(io.BytesIO(image.screenshot())).convert("RGB")).astype(int)
        assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 2  # not blank
    shot = np.asarray(Image.open(io.BytesIO(figures[0].query_selector("img").screenshot())).convert("RGB"))
    height, width = shot.shape[:2]
    rows, cols = FP_BOX
    box = shot[
        int(rows.start / 48 * height) + 2 : int(rows.stop / 48 * height) - 2,
        int(cols.start / 64 * width) + 2 : int(cols.stop / 64 * width) - 2,
    ].astype(int)
    assert (np.abs(box - FP_RGB).max(axis=-1) <= 8).mean() > 0.9
    outside = shot[int(44 / 48 * height) :, : int(8 / 64 * width)].astype(int)
    assert (np.abs(outside - FP_RGB).max(axis=-1) <= 8).mean() == 0


def test_a_case_link_opens_its_details(loaded, scored):
    page = loaded.page
    page.select_option("form.filters select[name=class]", "all")
    page.fill("form.filters input[name=text]", "worst")
    page.click("#case-table tbody a")
    assert page.is_visible("#case-detail")
    assert str(scored / "preds" / "worst_fp.png") in page.text_content("#case-detail")
    page.click("form.filters button[type=reset]")


def test_a_hostile_file_name_is_shown_as_text_and_never_runs(loaded):
    page = loaded.page
    page.click("form.filters button[type=reset]")
    assert loaded.dialogs == []
    assert page.eval_on_selector_all('img[src="x"]', "nodes => nodes.length") == 0
    assert HOSTILE in page.text_content("#case-table")


def test_screenshot_is_not_blank(loaded):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "score_report.png"
    loaded.page.evaluate("window.scrollTo(0, 0)")
    loaded.page.screenshot(path=str(path))
    picture = np.asarray(Image.open(path).convert("L"))
    assert picture.shape == (800, 1280)
    assert picture.std() > 10 and len(np.unique(picture)) > 20


def test_thousand_cases_page_is_small_and_opens_quickly(browser, tmp_path):
    """1,000 generated 2-D cases: the file is at most 10 MB and DOMContentLoaded comes within 2 s."""
    rng = np.random.default_rng(0)
    for side in ("gts", "preds"):
        (tmp_path / side).mkdir()
    base = np.zeros((64, 64), np.uint8)
    base[8:40, 8:40] = 1
    base[30:60, 34:62] = 2
    for i in range(1000):
        shift = rng.integers(-3, 4, size=2)
        pred = np.roll(base, tuple(shift), axis=(0, 1))
        Image.fromarray(base).save(tmp_path / "gts" / f"c{i:04d}.png")
        Image.fromarray(pred).save(tmp_path / "preds" / f"c{i:04d}.png")
    result = segeval.score(tmp_path / "preds", tmp_path / "gts", thumbnails=ThumbnailRequest(worst=20))
    result.write(tmp_path / "out")
    page_path = write_score_page(tmp_path / "out", tmp_path / "page.html")
    assert page_path.stat().st_size <= 10 * 1024 * 1024
    view = Loaded(browser, page_path)
    started = time.perf_counter()
    loaded_ms = view.page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0]; return n.domContentLoadedEventEnd; }"
    )
    assert view.errors == [] and view.requests == [view.url]
    assert loaded_ms <= 2000, f"DOMContentLoaded after {loaded_ms:.0f} ms"
    assert view.page.text_content("form.filters output") == "4000 row(s) shown"  # classes 0, 1, 2 and "all"
    assert len(column_texts(view.page, "case-table", 0)) == 300  # drawn a page at a time
    assert view.page.text_content("#case-table-more") == "show all 4000 rows"
    assert time.perf_counter() - started < 60
    view.page.close()


def test_sweep_legend_shows_one_loss_and_hover_names_a_curve(browser, tmp_path):
    from segeval.analysis.sweep import run_sweep
    from segeval.report.html_losses import write_sweep_page

    result = run_sweep(shape=(32, 32), losses=["bce", "ce", "dice"], degradations=["shift"])
    view = Loaded(browser, write_sweep_page(result, tmp_path / "sweep.html"))
    page = view.page
    assert view.errors == [] and view.requests == [view.url]

    def shown(name: str) -> bool:
        return page.evaluate(f"getComputedStyle(document.getElementById('c-{name}--shift')).display") != "none"

    page.click('button[data-curve="ce"]')
    assert shown("ce") and not shown("bce")
    assert shown("dice") and shown("hard_dice")  # other families and the metrics stay
    page.click('button[data-curve="ce"]')
    assert shown("bce") and shown("ce")
    point = page.evaluate(
        """() => {
        const path = document.querySelector('#c-dice--shift path');
        for (let f = 0.95; f > 0.2; f -= 0.05) {
          const p = path.getPointAtLength(path.getTotalLength() * f).matrixTransform(path.getScreenCTM());
          const hit = document.elementFromPoint(p.x, p.y);
          if (hit && hit.closest('g[id^="c-"]') && hit.closest('g[id^="c-"]').id === 'c-dice--shift') return [p.x, p.y];
        }
        return null;
      }"""
    )
    assert point is not None, "no point of the dice curve is on top"
    page.mouse.move(*point)
    assert page.text_content(".hover-name") == "dice"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sweep.png"))
    view.page.close()
