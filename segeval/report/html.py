"""Self-contained HTML pages: Jinja2 templates (autoescaped), one script of our own, figures inline.

Every page is one file that needs nothing at view time: styles, the script and every picture are
inline (pictures as ``data:`` URIs or inline SVG). A Content-Security-Policy meta tag allows only
that: no request of any kind (``default-src 'none'``), images from ``data:`` only, inline styles, and
the one script by its sha256 hash, so that text from files (case, class and file names) can never
run as a script even if it reached the page unescaped. The pages are views of report folders
(:mod:`segeval.report.html_score`, :mod:`segeval.report.html_compare`, :mod:`segeval.report.html_losses`);
they compute nothing that the reports do not hold.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import re
from pathlib import Path

from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"
SCRIPT_FILE = TEMPLATES / "report.js"
STYLE_FILE = TEMPLATES / "report.css"


@functools.cache
def environment():
    """The Jinja2 environment of the pages: autoescape on for every template, undefined names are errors."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = number
    env.filters["pct"] = lambda value: "" if _missing(value) else f"{100 * value:.1f}%"
    return env


def script_hash(script: str) -> str:
    """The CSP source of an inline script: ``'sha256-…'`` of its exact text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(script: str) -> str:
    """No network, images from ``data:`` only, inline styles, and only the script whose text is ``script``."""
    return (
        f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src {script_hash(script)}; "
        "base-uri 'none'; form-action 'none'"
    )


def render_page(template: str, **context) -> str:
    """The page ``template`` with ``context``, the shared style and script, and its CSP."""
    script = SCRIPT_FILE.read_text(encoding="utf-8")
    return (
        environment()
        .get_template(template)
        .render(
            style=Markup(STYLE_FILE.read_text(encoding="utf-8")),
            script=Markup(script),
            csp=content_security_policy(script),
            **context,
        )
    )


def write_page(path: str | Path, text: str) -> Path:
    """Write the page atomically (:func:`segeval.report.writers.write_atomic`)."""
    from segeval.report.writers import write_atomic

    path = Path(path)
    write_atomic(path, lambda handle: handle.write(text))
    return path


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def number(value, digits: int = 4) -> str:
    """A table number: 4 significant digits, integers as they are, NaN/None empty."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value)}"
    return f"{value:.{digits}g}"


def new_figure(width: float, height: float, *, dpi: int = 90, layout: str | None = "constrained"):
    """A matplotlib figure on its own Agg canvas (never through ``pyplot``: the caller's backend is left alone)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def png_data_uri(data: bytes) -> str:
    """A ``data:`` URI of PNG bytes (the only kind of image the CSP allows)."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_png(figure) -> str:
    """A matplotlib figure as a ``data:`` URI of a 256-colour PNG."""
    from PIL import Image

    figure.canvas.draw()
    import numpy as np

    rgba = np.asarray(figure.canvas.buffer_rgba())
    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3])).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return png_data_uri(buffer.getvalue())


def figure_svg(figure) -> Markup:
    """A matplotlib figure as inline SVG (its ``<svg>`` element; artists keep their ``gid`` as ``id``).

    Text is drawn as paths, so no text of a file reaches the SVG as markup.
    """
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    start = text.index("<svg")
    return Markup(text[start:])


def figure_svg_uri(figure) -> str:
    """A matplotlib figure as a ``data:`` URI of its SVG (an ``<img>``: its ids stay out of the page)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_text(text: object) -> str:
    """``text`` for a matplotlib label: ``$`` would start mathtext, so it is escaped."""
    return re.sub(r"([$\\])", r"\\\1", str(text))
