"""The HTML page of a report folder: a view of the folder's files, escaped, locked down by its CSP.

The browser checks (sorting, filtering, thumbnails, no network, no script from a file name) are in
test_report_browser.py; these run without a browser.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from segeval.cli import app
from segeval.report.folder import read_summary
from segeval.report.schema import SCHEMA_VERSION

HOSTILE = "<img src=x onerror=alert(1)>"
runner = CliRunner()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A scored folder of three 2-D cases, one with a hostile name, and hostile class names."""
    from PIL import Image

    root = tmp_path_factory.mktemp("html")
    rng = np.random.default_rng(3)
    for name in ("a", "b", HOSTILE):
        gt = np.zeros((24, 32), np.uint8)
        gt[4:20, 4:28] = 1
        gt[8:14, 8:14] = 2
        pred = gt.copy()
        pred[rng.integers(0, 24, 30), rng.integers(0, 32, 30)] = 0
        for side, array in (("gts", gt), ("preds", pred)):
            (root / side).mkdir(exist_ok=True)
            Image.fromarray(array).save(root / side / f"{name}.png")
    out = root / "out"
    result = runner.invoke(
        app,
        [
            "score",
            str(root / "preds"),
            str(root / "gts"),
            "--out",
            str(out),
            "--html",
            str(root / "page.html"),
            "--class-names",
            "bg,<b>liver</b>,<script>alert(2)</script>",
            "--gate",
            "dice>=0.5",
            "-f",
            "quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return root


def test_page_has_a_csp_that_allows_exactly_its_script(report):
    page = (report / "page.html").read_text()
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1])
    assert "default-src 'none'" in csp and "img-src data:" in csp and "style-src 'unsafe-inline'" in csp
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp


def test_hostile_file_and_class_names_are_escaped(report):
    page = (report / "page.html").read_text()
    assert HOSTILE not in page and "<b>liver</b>" not in page and "<script>alert(2)" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;liver&lt;/b&gt;" in page


def test_page_loads_nothing_from_elsewhere(report):
    page = (report / "page.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert not re.search(r"<(link|iframe|object|embed)\b", page)
    sources = re.findall(r"""\ssrc="([^"]*)""", page)
    assert sources and all(s.startswith("data:image/") for s in sources)


def test_page_shows_gates_counts_and_conventions(report):
    page = (report / "page.html").read_text()
    assert "all gates pass" in page and "dice&gt;=0.5" in page
    assert "absent from both prediction and reference is NaN" in page
    assert 'id="worst-cases"' in page and page.count('<figure class="case">') == 3


def test_page_is_a_view_of_the_folder_not_a_second_computation(report, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(report / "out", folder)
    table = pd.read_csv(folder / "summary.csv", dtype={"class": str})
    table.loc[(table["metric"] == "iou") & (table["class"] == "1"), "mean"] = 0.123456
    table.to_csv(folder / "summary.csv", index=False)
    result = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "page.html")])
    assert result.exit_code == 0, result.output
    assert ">0.1235<" in (tmp_path / "page.html").read_text()


def test_report_without_thumbnails_says_so(report, tmp_path):
    folder = tmp_path / "plain"
    shutil.copytree(report / "out", folder, ignore=shutil.ignore_patterns("thumbnails"))
    document = json.loads((folder / "summary.json").read_text())
    del document["thumbnails"]
    (folder / "summary.json").write_text(json.dumps(document))
    result = runner.invoke(app, ["report", str(folder), "--output", str(tmp_path / "page.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "page.html").read_text()
    assert 'id="no-thumbnails"' in page and "--worst N" in page


@pytest.mark.parametrize(
    ("version", "exit_code", "message"),
    [
        (None, 0, None),  # written before the key existed: schema 1, read
        (1, 0, None),
        (SCHEMA_VERSION, 0, None),
        (SCHEMA_VERSION + 1, 3, f"report schema version {SCHEMA_VERSION + 1}"),
        ("2", 3, "is not a version number"),
    ],
)
def test_report_reads_older_schema_versions_and_refuses_newer_ones(report, tmp_path, version, exit_code, message):
    folder = tmp_path / "versioned"
    shutil.copytree(report / "out", folder)
    document = json.loads((folder / "summary.json").read_text())
    document.pop("schema_version")
    if version is not None:
        document["schema_version"] = version
    (folder / "summary.json").write_text(json.dumps(document))
    result = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "page.html")])
    assert result.exit_code == exit_code, result.output
    if message:
        assert message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "page.html").exists()
    else:
        assert read_summary(folder)["schema_version"] == (version or 1)


def test_thumbnail_paths_from_a_hostile_summary_are_not_followed(report, tmp_path):
    folder = tmp_path / "hostile"
    shutil.copytree(report / "out", folder)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\nSECRET")
    document = json.loads((folder / "summary.json").read_text())
    document["thumbnails"]["cases"][0]["file"] = "../secret.png"
    (folder / "summary.json").write_text(json.dumps(document))
    result = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "page.html")])
    assert result.exit_code == 0, result.output
    assert base64.b64encode(secret.read_bytes()).decode() not in (tmp_path / "page.html").read_text()


def test_report_of_a_missing_folder_is_one_line(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere"), "-o", str(tmp_path / "page.html")])
    assert result.exit_code == 3
    assert "no summary.json here" in result.output and "Traceback" not in result.output


def test_lesion_table_is_shown_when_the_folder_has_lesions_csv(report, tmp_path):
    folder = tmp_path / "lesions"
    shutil.copytree(report / "out", folder)
    result = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "without.html")])
    assert result.exit_code == 0 and 'id="lesion-table"' not in (tmp_path / "without.html").read_text()
    rows = [
        "case,class,side,lesion_id,dice,status",
        "a,1,reference,1,0.75,matched",
        f"{HOSTILE},1,reference,2,0,missed",
    ]
    (folder / "lesions.csv").write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "with.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "with.html").read_text()
    table = page[page.index('id="lesion-table"') : page.index("</table>", page.index('id="lesion-table"'))]
    assert "<td>matched</td>" in table and "<td>0.75</td>" in table and HOSTILE not in table


def test_a_tampered_summary_is_a_one_line_input_error(report, tmp_path):
    folder = tmp_path / "tampered"
    shutil.copytree(report / "out", folder)
    document = json.loads((folder / "summary.json").read_text())
    document["cases"] = ["not", "a", "case"]
    (folder / "summary.json").write_text(json.dumps(document))
    result = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "page.html")])
    assert result.exit_code == 3, result.output
    assert "not a report this segeval can show" in result.output and "Traceback" not in result.output
