"""Overlay thumbnails of cases, rendered during scoring (``--html``, ``--worst``) with Pillow and NumPy.

The per-case work (:func:`draw`, called by :func:`segeval.pipeline.count.count_batch`) draws one
small palette PNG per case from the label maps exactly as they were counted, and the record carries
its bytes (records travel between processes: no arrays). The client (:class:`WorstKeeper`) keeps
only the N worst cases by the ranking metric, and the failed cases that could be drawn, so memory
stays bounded; :func:`write_thumbnails` writes them into ``<out>/thumbnails/``.

Colours (Okabe & Ito, "Color Universal Design", https://jfly.uni-koeln.de/color/): the reference
label map in shades of grey (or the image of ``--images`` in grey with the reference outlined in
white), false negatives (reference foreground predicted as background) sky blue, false positives
(prediction foreground on reference background) vermillion, wrong class (both foreground, labels
differ) yellow. A 3-D case shows the axial, coronal and sagittal slices (array axes 0, 1, 2) through
the largest connected error, each scaled to its physical aspect ratio from the spacing.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import math
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from segeval.status import Status

MAX_SIDE = 192
"""Longest side of a 2-D thumbnail, and of each 3-D panel, in pixels."""
GAP = 4
"""Pixels between the panels of a 3-D thumbnail."""

N_GREYS = 64
OUTLINE, FN, FP, WRONG = 64, 65, 66, 67
COLOURS = {"reference outline": "#ffffff", "false negative": "#56b4e9", "false positive": "#d55e00"}
COLOURS["wrong class"] = "#f0e442"
BACKGROUND_GREY = 5
CLASS_GREYS = (55, 38, 47, 29, 51, 34, 43, 25)
"""Palette indices (grey levels) of foreground labels 1, 2, … in turn; background is :data:`BACKGROUND_GREY`."""
THUMBNAIL_FILE = "{digest}.png"


def _palette() -> list[int]:
    greys = [round(i * 255 / (N_GREYS - 1)) for i in range(N_GREYS)]
    rgb = [channel for g in greys for channel in (g, g, g)]
    for hex_colour in COLOURS.values():
        rgb += [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return rgb


PALETTE = _palette()


def grey_index(label: int) -> int:
    """Palette index of the grey that shows reference label ``label``."""
    return BACKGROUND_GREY if label == 0 else CLASS_GREYS[(int(label) - 1) % len(CLASS_GREYS)]


def class_colour(label: int) -> str:
    """``#rrggbb`` of reference label ``label`` in a thumbnail (for the legend)."""
    value = PALETTE[3 * grey_index(label)]
    return f"#{value:02x}{value:02x}{value:02x}"


@dataclass(frozen=True)
class Thumbnail:
    """One case's overlay picture: PNG bytes, and for a 3-D case the slice index of each view."""

    png: bytes
    slices: dict[str, int] | None = None
    base: str = "reference"
    """What is under the errors: ``reference`` (the label map) or ``image`` (``--images``)."""
    error_pixels: int = 0


@dataclass(frozen=True)
class ThumbnailRequest:
    """What to draw and keep: the ``worst`` cases by ``metric`` (of ``class_`` or the foreground mean).

    ``class_`` is a label value; ``None`` ranks by the case-level value, or the foreground mean of a
    per-class metric. ``images`` is a folder of images named like the cases (``--images``).
    """

    worst: int = 20
    metric: str = "dice"
    class_: int | None = None
    images: Path | None = None

    def keeper(self, config) -> WorstKeeper:
        return WorstKeeper(self, config)


# ----------------------------------------------------------------------------- drawing (per-case work)


def draw(record, pred: np.ndarray, gt: np.ndarray, request: ThumbnailRequest):
    """``record`` with the overlay thumbnail of its label maps as counted (:func:`render`), on the image of
    ``--images`` when there is one. A drawing failure never fails the case: it only goes without a picture."""
    try:
        image = _case_image(request.images, record.case, gt.shape)
        return replace(record, thumbnail=render(pred, gt, record.spacing_mm, image))
    except Exception:  # a picture is a convenience: a case that cannot be drawn goes without
        return record


IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".nii.gz", ".nii", ".mha", ".nrrd", ".npy")


def _case_image(folder: Path | None, case: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """The image of ``case`` from ``--images`` scaled to [0, 1] (its 1st/99th percentiles), if it has the shape."""
    if folder is None:
        return None
    from segeval.io.readers import decode_image, read_header

    for suffix in IMAGE_SUFFIXES:
        path = Path(folder) / f"{case}{suffix}"
        if path.is_file():
            array = np.asarray(decode_image(read_header(path)).array, dtype=np.float64)
            if array.ndim == len(shape) + 1 and array.shape[-1] in (3, 4):
                array = array[..., :3].mean(axis=-1)
            if array.shape != tuple(shape):
                return None
            low, high = np.percentile(array, [1, 99])
            return np.clip((array - low) / (high - low), 0, 1) if high > low else np.zeros(shape)
    return None


def render(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...] | None, image=None) -> Thumbnail:
    """The thumbnail of one case from its label maps (2-D, or 3-D as three orthogonal slices)."""
    from PIL import Image

    spacing = tuple(spacing) if spacing else (1.0,) * gt.ndim
    errors = pred != gt
    slices = None
    if gt.ndim == 3:
        z, y, x = _largest_error_point(errors, gt)
        slices = {"axial": z, "coronal": y, "sagittal": x}
        views = [
            (np.s_[z, :, :], (spacing[1], spacing[2]), False),
            (np.s_[:, y, :], (spacing[0], spacing[2]), True),
            (np.s_[:, :, x], (spacing[0], spacing[1]), True),
        ]
        longest = max(n * mm for n, mm in zip(gt.shape, spacing))
        panels = []
        for where, (row_mm, col_mm), flip in views:
            panel = _panel(pred[where], gt[where], None if image is None else image[where], row_mm, col_mm, longest)
            panels.append(panel[::-1] if flip else panel)
        indices = _side_by_side(panels)
    else:
        indices = _panel(pred, gt, image, spacing[0], spacing[1])
    picture = Image.fromarray(indices, mode="P")
    picture.putpalette(PALETTE)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return Thumbnail(
        png=buffer.getvalue(),
        slices=slices,
        base="reference" if image is None else "image",
        error_pixels=int(errors.sum()),
    )


def _largest_error_point(errors: np.ndarray, gt: np.ndarray) -> tuple[int, int, int]:
    """A voxel of the largest connected error (26-connectivity), the one nearest its centroid; without
    errors, the centre of the reference foreground, or of the volume."""
    from scipy import ndimage

    mask = errors
    if errors.any():
        components, n = ndimage.label(errors, structure=np.ones((3, 3, 3), dtype=bool))
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        mask = components == int(sizes.argmax()) if n > 1 else errors
    elif (gt != 0).any():
        mask = gt != 0
    else:
        return tuple(s // 2 for s in gt.shape)
    points = np.argwhere(mask)
    nearest = points[np.argmin(((points - points.mean(axis=0)) ** 2).sum(axis=1))]
    return tuple(int(v) for v in nearest)


def _panel(
    pred: np.ndarray, gt: np.ndarray, image, row_mm: float, col_mm: float, mm_per_side: float | None = None
) -> np.ndarray:
    """Palette indices of one 2-D view, :data:`MAX_SIDE` pixels for ``mm_per_side`` (default: its longer side)."""
    if image is None:
        if gt.size and 0 <= gt.min() and gt.max() < 65536:
            indices = np.array([grey_index(v) for v in range(int(gt.max()) + 1)], dtype=np.uint8)[gt]
        else:
            indices = np.full(gt.shape, BACKGROUND_GREY, dtype=np.uint8)
            for label in np.unique(gt):
                indices[gt == label] = grey_index(int(label))
    else:
        indices = np.round(image * (N_GREYS - 1)).astype(np.uint8)
        indices[_outline(gt)] = OUTLINE
    indices[(pred != gt) & (gt != 0) & (pred == 0)] = FN
    indices[(pred != gt) & (gt == 0) & (pred != 0)] = FP
    indices[(pred != gt) & (gt != 0) & (pred != 0)] = WRONG
    return _fit(indices, row_mm, col_mm, mm_per_side)


def _outline(gt: np.ndarray) -> np.ndarray:
    """Pixels whose right or lower neighbour has another reference label."""
    edge = np.zeros(gt.shape, dtype=bool)
    edge[:-1, :] |= gt[:-1, :] != gt[1:, :]
    edge[:, :-1] |= gt[:, :-1] != gt[:, 1:]
    return edge


def _fit(indices: np.ndarray, row_mm: float, col_mm: float, mm_per_side: float | None = None) -> np.ndarray:
    """Resample to the physical aspect ratio, :data:`MAX_SIDE` pixels for ``mm_per_side`` millimetres (default:
    the view's longer side). Each output pixel keeps the highest palette index of the source pixels it
    covers, so that a one-pixel error stays visible when shrinking."""
    rows, cols = indices.shape
    scale = MAX_SIDE / (mm_per_side or max(rows * row_mm, cols * col_mm))
    height, width = max(1, round(rows * row_mm * scale)), max(1, round(cols * col_mm * scale))
    starts_r = np.arange(height) * rows // height
    starts_c = np.arange(width) * cols // width
    return np.maximum.reduceat(np.maximum.reduceat(indices, starts_r, axis=0), starts_c, axis=1)


def _side_by_side(panels: list[np.ndarray]) -> np.ndarray:
    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + GAP * (len(panels) - 1)
    out = np.full((height, width), N_GREYS - 1, dtype=np.uint8)
    left = 0
    for panel in panels:
        out[: panel.shape[0], left : left + panel.shape[1]] = panel
        left += panel.shape[1] + GAP
    return out


# ----------------------------------------------------------------------------- keeping (client)


@dataclass
class ThumbnailSet:
    """The thumbnails a run kept: the worst cases by the request's metric, and failed cases."""

    request: ThumbnailRequest
    worst: dict[str, tuple[float, Thumbnail]] = field(default_factory=dict)
    """case → (ranking value, thumbnail), worst first."""
    failed: dict[str, Thumbnail] = field(default_factory=dict)

    def file_name(self, case: str) -> str:
        return THUMBNAIL_FILE.format(digest=hashlib.sha256(case.encode("utf-8", "surrogatepass")).hexdigest()[:20])

    def as_dict(self) -> dict:
        """The ``thumbnails`` key of ``summary.json``."""

        def entry(case: str, thumbnail: Thumbnail, value: float | None) -> dict:
            return {
                "case": case,
                "file": f"thumbnails/{self.file_name(case)}",
                "value": value,
                "slices": thumbnail.slices,
                "base": thumbnail.base,
                "error_pixels": thumbnail.error_pixels,
            }

        return {
            "metric": self.request.metric,
            "class": self.request.class_,
            "worst": self.request.worst,
            "colours": COLOURS,
            "cases": [entry(case, thumb, value) for case, (value, thumb) in self.worst.items()],
            "failed": [entry(case, thumb, None) for case, thumb in self.failed.items()],
        }


RANK_BATCH = 256
"""Cases ranked together (one vectorised :func:`segeval.pipeline.derive.derive` call per batch)."""


class WorstKeeper:
    """Takes each record's thumbnail off it, and keeps the ``worst`` cases' (a bounded heap) and failed ones'.

    Records wait in batches of :data:`RANK_BATCH` to be ranked; at most ``worst`` + a batch of thumbnails
    are held at any time.
    """

    def __init__(self, request: ThumbnailRequest, config) -> None:
        from segeval.metrics.catalog import resolve_metric

        self.request = request
        self.config = config
        self.spec = resolve_metric(request.metric)
        self._heap: list[tuple[float, int, str, float, Thumbnail]] = []
        self._pending: list[tuple[object, Thumbnail]] = []
        self._seen = 0
        self.failed: dict[str, Thumbnail] = {}

    def offer(self, record):
        """``record`` without its thumbnail; the thumbnail is kept while the case is among the worst."""
        thumbnail = record.thumbnail
        if thumbnail is None:
            return record
        record = replace(record, thumbnail=None)
        if record.status is Status.FAILED:
            if len(self.failed) < max(self.request.worst, 1):
                self.failed[record.case] = thumbnail
        elif record.scored:
            self._pending.append((record, thumbnail))
            if len(self._pending) >= RANK_BATCH:
                self._rank()
        return record

    def _rank(self) -> None:
        if not self._pending:
            return
        values = self.values([record for record, _ in self._pending])
        for (record, thumbnail), value in zip(self._pending, values):
            if math.isnan(value):
                continue
            badness = -value if self.spec.direction.higher_is_better else value
            self._seen += 1
            item = (float(badness), -self._seen, record.case, float(value), thumbnail)
            if len(self._heap) < self.request.worst:
                heapq.heappush(self._heap, item)
            else:
                heapq.heappushpop(self._heap, item)
        self._pending.clear()

    def values(self, records: list) -> np.ndarray:
        """Each case's ranking value: the metric of the class, the case-level value, or the foreground mean
        (:func:`segeval.pipeline.derive.derive` on the cases; labels: the declared ones, else those present)."""
        from segeval.metrics.catalog import Level
        from segeval.pipeline.derive import derive
        from segeval.pipeline.load import BACKGROUND

        config = self.config
        if config.labels is not None:
            labels = list(config.labels)
        else:
            labels = sorted(set().union(*(set(r.counts.values.tolist()) for r in records)))
        with_distances = self.spec.needs_distances and all(r.distances is not None for r in records)
        derived = derive(
            records,
            labels,
            include_background=config.include_background,
            empty_score=config.empty_score,
            distance_names=[self.spec.name] if with_distances else [],
        )
        if self.spec.level is Level.CASE:
            return derived.per_case[self.spec.name][0]
        if self.spec.name not in derived.per_class:
            return np.full(len(records), math.nan)
        values = derived.per_class[self.spec.name][0]
        if self.request.class_ is not None:
            if self.request.class_ not in labels:
                return np.full(len(records), math.nan)
            return values[:, labels.index(self.request.class_)]
        chosen = values[:, [i for i, v in enumerate(labels) if config.include_background or v != BACKGROUND]]
        counted = np.isfinite(chosen).sum(axis=1)
        return np.where(counted > 0, np.nansum(chosen, axis=1) / np.maximum(counted, 1), math.nan)

    def result(self) -> ThumbnailSet:
        self._rank()
        ordered = sorted(self._heap, key=lambda item: item[:2], reverse=True)
        return ThumbnailSet(
            request=self.request,
            worst={case: (value, thumbnail) for _, _, case, value, thumbnail in ordered},
            failed=dict(self.failed),
        )


def write_thumbnails(out: Path, thumbnails: ThumbnailSet) -> Path:
    """Write the kept thumbnails into ``out/thumbnails/`` (each atomically); remove stale ones of ours."""
    folder = Path(out) / "thumbnails"
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for case, (_, thumbnail) in thumbnails.worst.items():
        wanted[thumbnails.file_name(case)] = thumbnail.png
    for case, thumbnail in thumbnails.failed.items():
        wanted[thumbnails.file_name(case)] = thumbnail.png
    for name, data in wanted.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    for stale in folder.glob("*.png"):
        if stale.name not in wanted and len(stale.stem) == 20 and all(c in "0123456789abcdef" for c in stale.stem):
            stale.unlink()
    return folder


DEFAULT_WORST = 20
"""Worst cases drawn for ``--html`` when ``--worst`` is not given."""


def thumbnail_request(
    config, *, worst: int | None, worst_by: str | None, images: Path | None, html: bool
) -> ThumbnailRequest | None:
    """What ``--worst``, ``--worst-by``, ``--images`` and ``--html`` ask for; ``None`` draws nothing.

    The ranking metric is ``--worst-by`` (``METRIC`` or ``METRIC[CLASS]``), else the first gate's metric
    (and class), else ``dice`` (each case's foreground mean). A class name needs declared labels
    (``--labels``/``--num-classes``) for ``--worst-by``; a gate's class name without them ranks by the
    foreground mean.

    Raises
    ------
    UsageError
        An unknown metric or class, a bad ``--worst-by``, or an ``--images`` path that is not a folder.
    """
    from segeval.errors import UsageError
    from segeval.metrics.catalog import resolve_metric

    count = worst if worst is not None else (DEFAULT_WORST if html else 0)
    if count == 0:
        return None
    if images is not None and not Path(images).is_dir():
        raise UsageError(f"--images {images}: not a folder")
    metric, class_text, explicit = "dice", None, worst_by is not None
    if explicit:
        match = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*(?:\[(.+)\])?\s*", worst_by)
        if match is None:
            raise UsageError(f"--worst-by expects METRIC or METRIC[CLASS], e.g. dice[liver]; got {worst_by!r}")
        metric, class_text = match[1], match[2]
    else:
        gates = [gate for gate in config.parsed_gates() if gate.is_metric]
        if gates:
            metric, class_text = gates[0].metric, gates[0].class_
    spec = resolve_metric(metric)
    if spec.needs_distances and spec.name not in config.distance_metrics():
        raise UsageError(
            f"--worst-by {spec.name}: that metric is not computed in this run", hint=f"add --metrics {spec.name}"
        )
    return ThumbnailRequest(
        worst=count, metric=spec.name, class_=_class_value(config, class_text, explicit), images=images
    )


def _class_value(config, text: str | None, explicit: bool) -> int | None:
    from segeval.errors import UsageError
    from segeval.quality.gates import resolve_class

    if text is None:
        return None
    if re.fullmatch(r"-?\d+", text.strip()):
        return int(text)
    if config.labels is None:
        if explicit:
            raise UsageError(
                f"--worst-by: class {text!r} is a name; give its label value, or declare --labels/--num-classes"
            )
        return None
    labels = list(config.labels)
    return int(resolve_class(text.strip(), labels, config.named_classes(labels)))
