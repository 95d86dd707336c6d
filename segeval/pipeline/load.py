"""Stage 2, load: read both files of a case and check them against each other.

A :class:`CaseRecord` is born here. Records are small and immutable: each later stage returns a
new record (``dataclasses.replace``), so a chunk's records can travel between processes.
"""

from __future__ import annotations

import enum
import threading
import weakref
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from segeval.config import ScoreConfig
from segeval.errors import InputError
from segeval.io.pairing import CasePair
from segeval.io.readers import ImageData, ImageHeader, decode_image, read_header
from segeval.metrics.confusion import RawCounts
from segeval.pipeline.decode import class_axis_for
from segeval.status import Status

if TYPE_CHECKING:
    from segeval.report.thumbnails import Thumbnail

BACKGROUND = 0
"""The label of background: what a missing prediction predicts, and what mean Dice leaves out."""


class SpacingSource(enum.StrEnum):
    """Where the spacing of a case comes from."""

    OPTION = "option"
    REFERENCE = "reference file"
    PREDICTION = "prediction file"
    DEFAULT = "default (1 per pixel)"


@dataclass(frozen=True)
class CaseRecord:
    """Everything segeval knows about one case; ``counts`` is set once it has been scored."""

    case: str
    pred: Path | None
    gt: Path
    status: Status = Status.OK
    """``ok``, ``missing_pred`` (scored as an empty prediction) or ``failed``."""
    error: str | None = None
    pred_kind: str | None = None
    class_axis: int | None = None
    threshold: float | None = None
    shape: tuple[int, ...] | None = None
    spacing_mm: tuple[float, ...] | None = None
    spacing_source: SpacingSource | None = None
    gt_remapped_0_255: bool = False
    """The ground truth was a 0/255 binary image, read as labels 0/1."""
    pred_remapped_0_255: bool = False
    """The prediction was a 0/255 binary image, read as labels 0/1."""
    pred_scale: float | None = None
    """An integer prediction read as a probability image was divided by this (255 or 65535)."""
    ignored_pixels: int = 0
    """Reference pixels equal to the ignore index (counted nowhere)."""
    gt_binary_255_ignored: bool = False
    """A 0/255 ground-truth image whose 255 pixels the ignore index 255 removes (a binary mask read as ignored)."""
    counts: RawCounts | None = None
    distances: dict[int, dict[str, tuple[float, Status]]] | None = None
    """Distance metrics per label: ``{label: {metric: (value, status)}}``, when asked for."""
    lesions: dict[int | str, object] | None = None
    """Lesion-wise results per label (:class:`segeval.metrics.lesion.LesionResult`: small rows, no arrays), when
    asked for."""
    thumbnail: Thumbnail | None = None
    """The case's overlay picture, when the run draws them (``--html``, ``--worst``): PNG bytes, no arrays."""

    def failed(self, error: Exception) -> CaseRecord:
        """This record as a failed case, with the one-line reason of ``error``."""
        if isinstance(error, InputError):
            message = str(error) + (f"; {error.hint}" if error.hint else "")
        else:
            message = f"internal error: {type(error).__name__}: {error}"
        return replace(self, status=Status.FAILED, error=message, counts=None, distances=None, lesions=None)

    @property
    def scored(self) -> bool:
        return self.status is not Status.FAILED and self.counts is not None

    @property
    def voxel_volume(self) -> float:
        return float(np.prod(self.spacing_mm)) if self.spacing_mm else 1.0

    @property
    def notes(self) -> list[str]:
        """What was done to the inputs, in words (``summary.json``)."""
        notes = [
            f"{side} 0/255 mapped to 0/1"
            for side, remapped in (("ground truth", self.gt_remapped_0_255), ("prediction", self.pred_remapped_0_255))
            if remapped
        ]
        if self.pred_scale is not None:
            notes.append(f"integer prediction read as probabilities (value / {self.pred_scale:g})")
        if self.gt_binary_255_ignored:
            notes.append("ground truth 0/255: the 255 pixels are the ignore index")
        return notes


@dataclass(frozen=True)
class LoadedCase:
    """A case whose files are read and checked against each other, ready for the device."""

    record: CaseRecord
    pred: ImageData | None
    gt: ImageData


class VoxelBudget:
    """Values (voxels × channels) decoded and not yet done with, across this process's loader threads.

    A load waits until its values fit under the limit (``--max-voxels``), except when nothing is in
    flight (a case larger than the limit then runs alone) or when its ``owner`` already holds
    values: a chunk thread counts its cases only once it has loaded them all, so it never waits on
    itself, and a thread that never waits cannot be part of a deadlock.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_flight = 0
        self._held: Counter = Counter()

    def acquire(self, values: int, limit: int, owner: object | None = None, *, wait: bool = True) -> bool:
        """Take ``values`` from the budget; ``False`` when they do not fit and ``wait`` is false."""
        with self._changed:
            while self._in_flight and self._in_flight + values > limit and not (owner and self._held[owner]):
                if not wait:
                    return False
                self._changed.wait()
            self._in_flight += values
            if owner:
                self._held[owner] += values
            return True

    def release(self, values: int, owner: object | None = None) -> None:
        """Give ``values`` back."""
        with self._changed:
            self._in_flight -= values
            if owner:
                self._held[owner] -= values
                if not self._held[owner]:
                    del self._held[owner]
            self._changed.notify_all()


VOXEL_BUDGET = VoxelBudget()
"""The process's budget: every load of :func:`load_case` and :func:`load_ahead` draws on it."""


@dataclass(frozen=True)
class OpenedCase:
    """A case whose headers are read and whose shapes fit each other; no pixel decoded yet."""

    record: CaseRecord
    gt: ImageHeader
    pred: ImageHeader | None
    values: int
    """Values of both files together: what decoding them will take from the budget."""


def open_case(pair: CasePair, config: ScoreConfig) -> OpenedCase | CaseRecord:
    """Read the headers of ``pair`` and check the prediction's shape against the ground truth's."""
    record = CaseRecord(
        case=pair.case, pred=pair.pred, gt=pair.gt, status=Status.MISSING_PRED if pair.pred is None else Status.OK
    )
    try:
        gt = read_header(pair.gt, max_voxels=config.max_voxels)
        record = replace(record, shape=gt.shape)
        if pair.pred is None:
            return OpenedCase(record=record, gt=gt, pred=None, values=gt.values)
        pred = read_header(pair.pred, max_voxels=config.max_voxels)
        axis = class_axis_for(
            pred.shape, gt.shape, requested=config.channel_axis, format_hint=pred.channel_axis, path=pred.path
        )
        return OpenedCase(record=replace(record, class_axis=axis), gt=gt, pred=pred, values=gt.values + pred.values)
    except Exception as exc:  # one bad case never stops the run; it is reported as failed
        return record.failed(exc)


def read_case(opened: OpenedCase, config: ScoreConfig, palette: dict | None) -> LoadedCase | CaseRecord:
    """Decode both files of an opened case and check their geometry; a failure returns the failed record."""
    record = opened.record
    try:
        gt = decode_image(opened.gt, palette=palette)
        pred = decode_image(opened.pred, palette=palette) if opened.pred is not None else None
        if gt.array.shape != record.shape:
            raise InputError(f"{record.gt}: changed while it was read (shape {gt.array.shape}, was {record.shape})")
        spacing, source = case_spacing(pred, gt, config)
        record = replace(record, spacing_mm=spacing, spacing_source=source)
        return LoadedCase(record=record, pred=pred, gt=gt)
    except Exception as exc:  # one bad case never stops the run; it is reported as failed
        return record.failed(exc)


def load_case(pair: CasePair, config: ScoreConfig, palette: dict | None) -> LoadedCase | CaseRecord:
    """Read both files of ``pair`` and check shapes and geometry; a failure returns the failed record.

    Headers come first: a file over ``--max-voxels`` or a prediction whose shape does not fit the
    ground truth fails before either is decoded. Decoding then waits for room in
    :data:`VOXEL_BUDGET`; the values are given back when the returned case is garbage, i.e. once
    it has been counted.
    """
    opened = open_case(pair, config)
    if isinstance(opened, CaseRecord):
        return opened
    owner = threading.get_ident()
    VOXEL_BUDGET.acquire(opened.values, config.max_voxels, owner)
    loaded = read_case(opened, config, palette)
    if isinstance(loaded, LoadedCase):
        weakref.finalize(loaded, VOXEL_BUDGET.release, opened.values, owner)
    else:
        VOXEL_BUDGET.release(opened.values, owner)
    return loaded


def case_spacing(pred: ImageData | None, gt: ImageData, config: ScoreConfig) -> tuple[tuple[float, ...], SpacingSource]:
    """Spacing of a case and where it came from: --spacing, the reference file, the prediction file, or 1."""
    ndim = gt.array.ndim
    if pred is not None and pred.spacing_mm is not None and gt.spacing_mm is not None:
        _check_geometry(pred, gt, config.geometry_tolerance)
    if config.spacing is not None:
        spacing = config.spacing * ndim if len(config.spacing) == 1 else config.spacing
        if len(spacing) != ndim:
            raise InputError(
                f"{gt.path}: --spacing has {len(config.spacing)} values for a {ndim}-D image of shape {gt.array.shape}"
            )
        return spacing, SpacingSource.OPTION
    if gt.spacing_mm is not None:
        return _spatial(gt, ndim), SpacingSource.REFERENCE
    if pred is not None and pred.spacing_mm is not None:
        return _spatial(pred, ndim), SpacingSource.PREDICTION
    return (1.0,) * ndim, SpacingSource.DEFAULT


def _spatial(image: ImageData, ndim: int) -> tuple[float, ...]:
    spacing = image.spacing_mm
    if len(spacing) != ndim:
        raise InputError(f"{image.path}: spacing {spacing} does not fit the {ndim}-D image")
    return spacing


def _check_geometry(pred: ImageData, gt: ImageData, tolerance: float) -> None:
    """Spacing, origin and direction must agree; the message gives them in the file's (x, y, z) order."""
    for name in ("spacing_mm", "origin_mm", "direction"):
        a, b = getattr(pred, name), getattr(gt, name)
        if a is None or b is None:
            continue
        if len(a) != len(b) or not np.allclose(a, b, rtol=tolerance, atol=tolerance):
            label = "direction"  # SimpleITK's row-major matrix, already in the file's (x, y, z) order
            if name != "direction":  # stored in array-axis order (z, y, x): back to the file's order
                a, b = a[::-1], b[::-1]
                label = f"{name.removesuffix('_mm')} ({', '.join('xyzt'[: len(a)])})"
            raise InputError(
                f"{pred.path}: {label} {_fmt(a)} differs from the ground truth's {_fmt(b)} ({gt.path.name}) "
                f"by more than --geometry-tolerance {tolerance:g}",
                hint="resample the prediction, or raise --geometry-tolerance",
            )


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def load_ahead(
    pairs: list[CasePair], config: ScoreConfig, palette: dict | None, workers: int
) -> Iterator[LoadedCase | CaseRecord]:
    """Load cases in ``workers`` threads, yielding them in order (the loss commands, which compute on
    the main thread), at most ``2 × workers`` ahead and within :data:`VOXEL_BUDGET`.

    The budget is taken here, in case order, and a case's values are given back when the consumer
    asks for the next one; this thread waits for room only when nothing of its own is in flight.
    """
    pending: deque[tuple[Future | CaseRecord, int]] = deque()
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segeval-load") as pool:
            for pair in pairs:
                opened = open_case(pair, config)
                values = opened.values if isinstance(opened, OpenedCase) else 0
                while pending and (
                    len(pending) >= 2 * workers or not VOXEL_BUDGET.acquire(values, config.max_voxels, wait=False)
                ):
                    yield _result(pending[0][0])
                    VOXEL_BUDGET.release(pending.popleft()[1])
                if not pending:
                    VOXEL_BUDGET.acquire(values, config.max_voxels)
                item = pool.submit(read_case, opened, config, palette) if isinstance(opened, OpenedCase) else opened
                pending.append((item, values))
            while pending:
                yield _result(pending[0][0])
                VOXEL_BUDGET.release(pending.popleft()[1])
    finally:
        for _, values in pending:
            VOXEL_BUDGET.release(values)


def _result(item: Future | CaseRecord) -> LoadedCase | CaseRecord:
    return item.result() if isinstance(item, Future) else item
