"""One case from files to a confusion histogram: load (threads) → decode + count (device) → check labels.

The three steps are separate so that file decoding runs in worker threads while the kernel runs
on the compute device (:func:`segeval.api.score` wires them together).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from segeval.config import ScoreConfig
from segeval.errors import InputError
from segeval.io.pairing import CasePair
from segeval.io.readers import ImageData, read_image
from segeval.metrics.confusion import RawCounts, drop_reference_value, joint_histograms, remap_values
from segeval.predictions import class_axis_for, decode_prediction, decode_reference, to_tensor

BACKGROUND = 0
"""The label of background: what a missing prediction predicts, and what mean Dice leaves out."""


@dataclass
class CaseRecord:
    """Everything segeval knows about one case; ``counts`` is set once it has been scored."""

    case: str
    pred: Path | None
    gt: Path
    status: str = "ok"
    """``ok``, ``missing_pred`` (scored as an empty prediction) or ``failed``."""
    error: str | None = None
    pred_kind: str | None = None
    class_axis: int | None = None
    threshold: float | None = None
    shape: tuple[int, ...] | None = None
    spacing_mm: tuple[float, ...] | None = None
    spacing_source: str | None = None
    notes: list[str] = field(default_factory=list)
    counts: RawCounts | None = None
    distances: dict[int, dict[str, tuple[float, str]]] | None = None
    """Distance metrics per label: ``{label: {metric: (value, status)}}``, when asked for."""

    def fail(self, error: Exception) -> CaseRecord:
        self.status = "failed"
        self.error = str(error) if isinstance(error, InputError) else f"internal error: {type(error).__name__}: {error}"
        self.counts = None
        self.distances = None
        return self

    @property
    def scored(self) -> bool:
        return self.status != "failed" and self.counts is not None

    @property
    def voxel_volume(self) -> float:
        return float(np.prod(self.spacing_mm)) if self.spacing_mm else 1.0


@dataclass
class LoadedCase:
    """A case whose files are decoded and checked against each other, ready for the kernel."""

    record: CaseRecord
    pred: ImageData | None
    gt: ImageData


def load_case(pair: CasePair, config: ScoreConfig, palette: dict | None) -> LoadedCase | CaseRecord:
    """Read both files of ``pair`` and check shapes and geometry; a failure returns the failed record."""
    record = CaseRecord(case=pair.case, pred=pair.pred, gt=pair.gt)
    if pair.pred is None:
        record.status = "missing_pred"
    try:
        gt = read_image(pair.gt, palette=palette)
        pred = read_image(pair.pred, palette=palette) if pair.pred is not None else None
        record.shape = tuple(gt.array.shape)
        if pred is not None:
            record.class_axis = class_axis_for(
                pred.array.shape,
                gt.array.shape,
                requested=config.channel_axis,
                format_hint=pred.channel_axis,
                path=pred.path,
            )
        record.spacing_mm, record.spacing_source = _spacing(pred, gt, config)
        return LoadedCase(record=record, pred=pred, gt=gt)
    except Exception as exc:  # one bad case never stops the run; it is reported as failed
        return record.fail(exc)


def _spacing(pred: ImageData | None, gt: ImageData, config: ScoreConfig) -> tuple[tuple[float, ...], str]:
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
        return spacing, "option"
    if gt.spacing_mm is not None:
        return _spatial(gt, ndim), "reference file"
    if pred is not None and pred.spacing_mm is not None:
        return _spatial(pred, ndim), "prediction file"
    return (1.0,) * ndim, "default (1 per pixel)"


def _spatial(image: ImageData, ndim: int) -> tuple[float, ...]:
    spacing = image.spacing_mm
    if len(spacing) != ndim:
        raise InputError(f"{image.path}: spacing {spacing} does not fit the {ndim}-D image")
    return spacing


def _check_geometry(pred: ImageData, gt: ImageData, tolerance: float) -> None:
    for name in ("spacing_mm", "origin_mm", "direction"):
        a, b = getattr(pred, name), getattr(gt, name)
        if a is None or b is None:
            continue
        if len(a) != len(b) or not np.allclose(a, b, rtol=tolerance, atol=tolerance):
            label = name.replace("_mm", "")
            raise InputError(
                f"{pred.path}: {label} {_fmt(a)} differs from the ground truth's {_fmt(b)} ({gt.path.name})",
                hint="resample the prediction, or raise --geometry-tolerance",
            )


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def count_batch(
    batch: list[LoadedCase],
    config: ScoreConfig,
    device: torch.device,
    distance_names: list[str] | None = None,
    distance_options=None,
) -> list[CaseRecord]:
    """Decode each prediction and reference on ``device``, count the batch's joint histograms, and
    compute the distance metrics ``distance_names`` of each case when asked for."""
    ready: list[tuple[LoadedCase, torch.Tensor, torch.Tensor]] = []
    for item in batch:
        record = item.record
        try:
            gt = decode_reference(to_tensor(item.gt.array, device), path=item.gt.path)
            if item.pred is None:
                pred = torch.full_like(gt, BACKGROUND)
            else:
                decoded = decode_prediction(
                    to_tensor(item.pred.array, device),
                    kind=config.pred_kind,
                    class_axis=record.class_axis,
                    threshold=config.threshold,
                    path=item.pred.path,
                )
                pred = (
                    _channel_labels(decoded.labels, item, config) if decoded.class_axis is not None else decoded.labels
                )
                record.pred_kind, record.threshold = decoded.kind.value, decoded.threshold
            ready.append((item, pred, gt))
        except Exception as exc:
            record.fail(exc)
    for (item, pred, gt), counts in zip(ready, joint_histograms([p for _, p, _ in ready], [g for _, _, g in ready])):
        try:
            item.record.counts = check_labels(counts, item, config)
            if distance_names:
                item.record.distances = case_distances(item.record, pred, gt, config, distance_names, distance_options)
        except Exception as exc:
            item.record.fail(exc)
    return [item.record for item in batch]


def _channel_labels(channels: torch.Tensor, item: LoadedCase, config: ScoreConfig) -> torch.Tensor:
    """Label values of arg-max channel indices: channel i is ``config.labels[i]`` when labels are declared."""
    if config.labels is None or list(config.labels) == list(range(len(config.labels))):
        return channels
    n_channels = item.pred.array.shape[item.record.class_axis]
    if n_channels != len(config.labels):
        raise InputError(
            f"{item.pred.path}: {n_channels} channels but {len(config.labels)} declared labels "
            f"{list(config.labels)}; channel i is scored as the i-th label"
        )
    return torch.tensor(config.labels, device=channels.device)[channels]


def case_distances(
    record: CaseRecord, pred: torch.Tensor, gt: torch.Tensor, config: ScoreConfig, names: list[str], options
) -> dict[int, dict[str, tuple[float, str]]]:
    """Distance metrics of every label present in the case (background only with ``include_background``).

    The label maps are the ones counted: 0/255 masks mapped to 0/1, and reference pixels equal to
    the ignore index set to background on both sides (they belong to no surface).
    """
    from segeval.metrics.distance import distance_metrics

    pred_np, gt_np = pred.cpu().numpy(), gt.cpu().numpy()
    if any(note.startswith("prediction 0/255") for note in record.notes):
        pred_np = np.where(pred_np == 255, 1, pred_np)
    if any(note.startswith("ground truth 0/255") for note in record.notes):
        gt_np = np.where(gt_np == 255, 1, gt_np)
    if config.ignore_index is not None:
        ignored = gt_np == config.ignore_index
        if ignored.any():
            pred_np, gt_np = np.where(ignored, BACKGROUND, pred_np), np.where(ignored, BACKGROUND, gt_np)
    labels = [int(v) for v in record.counts.values if config.include_background or v != BACKGROUND]
    return distance_metrics(pred_np, gt_np, labels, record.spacing_mm, names, options)


def check_labels(counts: RawCounts, item: LoadedCase, config: ScoreConfig) -> RawCounts:
    """Map 0/255 binary images to 0/1, drop ignored pixels, and refuse undeclared label values."""
    declared = set(config.labels) if config.labels is not None else None
    for side, image, present in (("gt", item.gt, counts.gt_values), ("pred", item.pred, counts.pred_values)):
        if image is not None and image.format == "image" and _is_binary_255(present, declared, config.ignore_index):
            counts = remap_values(counts, {255: 1}, side=side)
            item.record.notes.append(f"{'ground truth' if side == 'gt' else 'prediction'} 0/255 mapped to 0/1")
    if config.ignore_index is not None:
        counts = drop_reference_value(counts, config.ignore_index)
        if config.ignore_index in counts.pred_values:
            raise InputError(
                f"{item.pred.path if item.pred else item.record.case}: prediction holds the ignore index "
                f"{config.ignore_index} on pixels the ground truth labels; predictions must hold class labels"
            )
    if declared is not None:
        for side, image, present in (("gt", item.gt, counts.gt_values), ("pred", item.pred, counts.pred_values)):
            unknown = sorted(set(present.tolist()) - declared)
            if unknown:
                path = image.path if image is not None else item.record.case
                raise InputError(
                    f"{path}: label value {unknown[0]} is not among the declared labels "
                    f"{', '.join(map(str, sorted(declared)))}"
                    + (f" (also {', '.join(map(str, unknown[1:6]))})" if len(unknown) > 1 else "")
                )
    return counts


def _is_binary_255(present: np.ndarray, declared: set[int] | None, ignore_index: int | None) -> bool:
    values = set(present.tolist())
    return 255 in values and values <= {0, 255} and ignore_index != 255 and (declared is None or 255 not in declared)
